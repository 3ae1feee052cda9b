"""The one epicentral distance of seisbind: ObsPy's great-circle angle on its spherical Earth, in km."""

from __future__ import annotations

import numpy as np
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
