"""The one epicentral distance of seisbind: ObsPy's great-circle angle on its spherical Earth, in km; and the one
way a sensor's many coordinates become its position."""

from __future__ import annotations

import numpy as np
import pandas as pd
from obspy.geodetics import degrees2kilometers, locations2degrees


def epicentral_km(lat1, lon1, lat2, lon2) -> np.ndarray:
    """Great-circle distance (km) between points given in degrees; numpy broadcasting over all four arguments
    (obspy.geodetics.locations2degrees, Earth radius 6371 km)."""
    return degrees2kilometers(locations2degrees(np.asarray(lat1, float), np.asarray(lon1, float),
                                                np.asarray(lat2, float), np.asarray(lon2, float)))


EARTH_RADIUS_KM = 6371.0
"""Mean Earth radius (km), the sphere of `unit_vectors` chords; ObsPy's locations2degrees uses the same sphere."""


def unit_vectors(latitude_deg, longitude_deg) -> np.ndarray:
    """Points on the unit sphere, shape (..., 3): chord lengths between them times EARTH_RADIUS_KM are distances
    that vectorised sums and nearest-point tests can use (a chord c is a great-circle arc 2R asin(c / 2))."""
    lat, lon = np.radians(latitude_deg), np.radians(longitude_deg)
    return np.stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)], axis=-1)


def median_positions(sensor, latitude_deg, longitude_deg) -> pd.DataFrame:
    """One position per sensor (tag, station): the median of its finite coordinates (degrees), with `n_fixes`, the
    coordinates it had; a sensor without any is left out. Columns sensor, latitude_deg, longitude_deg, n_fixes.
    Medians, because a tag's fixes scatter by GPS noise and outliers, and the sensors here move little (a farm,
    a monument); longitudes are averaged as numbers, so this assumes no sensor straddles the antimeridian."""
    fixes = pd.DataFrame({"sensor": np.asarray(sensor).astype(str),
                          "latitude_deg": np.asarray(latitude_deg, dtype=np.float64),
                          "longitude_deg": np.asarray(longitude_deg, dtype=np.float64)})
    fixes = fixes[np.isfinite(fixes["latitude_deg"]) & np.isfinite(fixes["longitude_deg"])]
    grouped = fixes.groupby("sensor", sort=True)
    return grouped[["latitude_deg", "longitude_deg"]].median().assign(n_fixes=grouped.size()).reset_index()
