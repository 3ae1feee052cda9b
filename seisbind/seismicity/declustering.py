"""Gardner-Knopoff (1974) declustering: which events of a catalog are mainshocks."""

from __future__ import annotations

import numpy as np
import pandas as pd

from seisbind.geodesy import EARTH_RADIUS_KM, unit_vectors
from seisbind.times import to_utc_ns


def gk_distance_km(magnitude):
    """Gardner-Knopoff (1974) spatial window L = 10**(0.1238 M + 0.983) km."""
    return np.power(10.0, 0.1238 * np.asarray(magnitude, dtype=np.float64) + 0.983)


def gk_time_days(magnitude):
    """Gardner-Knopoff (1974) time window: 10**(0.032 M + 2.7389) d for M >= 6.5, else 10**(0.5409 M - 0.547) d."""
    m = np.asarray(magnitude, dtype=np.float64)
    return np.where(m >= 6.5, np.power(10.0, 0.032 * m + 2.7389), np.power(10.0, 0.5409 * m - 0.547))


def gardner_knopoff_mainshocks(catalog: pd.DataFrame, *, foreshock_fraction: float = 1.0) -> np.ndarray:
    """Boolean mask (catalog row order) of Gardner-Knopoff mainshocks.

    Largest first: each event not yet in a cluster starts one and claims every unclaimed event within
    L(M) km (great circle) and from t - foreshock_fraction*T(M) to t + T(M). With the default 1.0 foreshocks
    are removed like aftershocks (the usual treatment); 0 removes aftershocks only. Events without a
    magnitude come last and claim nothing. Note: on a sequence like Norcia 2016 the M6.5 window
    (~60 km, ~2.4 years) claims the M6.0 and M5.9 events too.
    """
    n = len(catalog)
    t_days = to_utc_ns(catalog["time"]).astype(np.float64) / 86400e9
    mags = catalog["magnitude"].to_numpy(dtype=np.float64)
    xyz = unit_vectors(catalog["latitude_deg"].to_numpy(np.float64), catalog["longitude_deg"].to_numpy(np.float64))
    # chord length c <= 2R sin(L / 2R) is the same test as great-circle distance <= L
    max_chord = 2.0 * np.sin(np.minimum(gk_distance_km(mags) / (2.0 * EARTH_RADIUS_KM), np.pi / 2))
    before, after = foreshock_fraction * gk_time_days(mags), gk_time_days(mags)
    by_time = np.argsort(t_days, kind="stable")
    t_sorted = t_days[by_time]
    order = np.lexsort((t_days, -np.nan_to_num(mags, nan=-np.inf)))
    claimed = np.zeros(n, dtype=bool)
    mainshock = np.zeros(n, dtype=bool)
    for i in order:
        if claimed[i]:
            continue
        mainshock[i] = claimed[i] = True
        if not np.isfinite(mags[i]):
            continue
        lo = np.searchsorted(t_sorted, t_days[i] - before[i], side="left")
        hi = np.searchsorted(t_sorted, t_days[i] + after[i], side="right")
        candidates = by_time[lo:hi]
        candidates = candidates[~claimed[candidates]]
        chord = np.linalg.norm(xyz[candidates] - xyz[i], axis=1)
        claimed[candidates[chord <= max_chord[i]]] = True
    return mainshock
