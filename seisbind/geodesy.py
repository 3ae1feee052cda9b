"""The one epicentral distance of seisbind: ObsPy's great-circle angle on its spherical Earth, in km."""

from __future__ import annotations

import numpy as np
from obspy.geodetics import degrees2kilometers, locations2degrees


def epicentral_km(lat1, lon1, lat2, lon2) -> np.ndarray:
    """Great-circle distance (km) between points given in degrees; numpy broadcasting over all four arguments
    (obspy.geodetics.locations2degrees, Earth radius 6371 km)."""
    return degrees2kilometers(locations2degrees(np.asarray(lat1, float), np.asarray(lon1, float),
                                                np.asarray(lat2, float), np.asarray(lon2, float)))
