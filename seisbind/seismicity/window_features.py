"""The seismicity of a catalog within time windows: counts, moment, spatial spread, depth, rate, Mc and b.

These are the catalog modality's input (seisbind/modalities/catalog.py) and the catalog feature family of the study
(seisbind.probe.features), computed for all windows at once.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from seisbind.errors import SeisbindInputError
from seisbind.geodesy import EARTH_RADIUS_KM, unit_vectors
from seisbind.seismicity.magnitudes import magnitude_bins, moment_Nm
from seisbind.times import to_utc_ns

FEATURE_COLUMNS = [
    "n_events",
    "max_magnitude",
    "log10_cumulative_moment_Nm",
    "spatial_spread_km",
    "mean_depth_km",
    "rate_per_hour",
    "b_value",
    "mc",
    "b_value_reason",
]
"""Columns of `window_catalog_features`, in order."""

def segment_reduce(ufunc: np.ufunc, values: np.ndarray, lo: np.ndarray, hi: np.ndarray, empty: float) -> np.ndarray:
    """ufunc over values[lo:hi] along the first axis for each window (reduceat on interleaved bounds), `empty` where
    lo == hi; values of shape (n, ...) give (windows, ...)."""
    padded = np.concatenate([values, values[:1] if len(values) else np.full((1,) + values.shape[1:], empty)])
    bounds = np.empty(2 * lo.size, dtype=np.int64)
    bounds[0::2], bounds[1::2] = lo, hi
    result = ufunc.reduceat(padded, bounds, axis=0)[0::2] if lo.size else np.empty((0,) + values.shape[1:])
    return np.where((hi > lo).reshape((-1,) + (1,) * (values.ndim - 1)), result, empty)


def window_catalog_features(
    catalog: pd.DataFrame,
    starts,
    ends,
    *,
    min_count_b: int = 50,
    dm: float = 0.1,
    mc_correction: float = 0.2,
) -> pd.DataFrame:
    """Seismicity features of the catalog events in each window [start, end), one row per window.

    n_events, max_magnitude, log10_cumulative_moment_Nm (sum of moment_Nm), spatial_spread_km (RMS distance of
    epicentres from their centroid, measured as 3-D chords on a sphere of radius 6371 km: equal to epicentral
    distance to < 0.1 % up to ~100 km), mean_depth_km, rate_per_hour, and, for windows with at least
    `min_count_b` magnitudes, mc (maximum curvature + mc_correction) and b_value (Aki-Utsu above that Mc);
    b_value_reason says why b is NaN ("" when defined). Empty windows give NaN for all but n_events and rate.
    Vectorised: event ranges by searchsorted on sorted times, sums by cumulative sums, maxima by reduceat,
    Mc and b from per-magnitude-bin counts (one searchsorted per bin), no loop over windows.
    """
    start_ns, end_ns = to_utc_ns(starts), to_utc_ns(ends)
    if start_ns.shape != end_ns.shape:
        raise SeisbindInputError(f"starts ({start_ns.size}) and ends ({end_ns.size}) differ in length")
    if np.any(end_ns <= start_ns):
        raise SeisbindInputError(f"{int(np.sum(end_ns <= start_ns))} windows end at or before their start")
    times = to_utc_ns(catalog["time"])
    order = np.argsort(times, kind="stable")
    times = times[order]
    mags = catalog["magnitude"].to_numpy(np.float64)[order]
    depth = catalog["depth_km"].to_numpy(np.float64)[order]
    xyz = unit_vectors(catalog["latitude_deg"].to_numpy(np.float64)[order],
                        catalog["longitude_deg"].to_numpy(np.float64)[order])
    lo = np.searchsorted(times, start_ns, side="left")
    hi = np.searchsorted(times, end_ns, side="left")
    n = hi - lo

    def window_sum(values: np.ndarray) -> np.ndarray:
        cumulative = np.concatenate([np.zeros((1,) + values.shape[1:]), np.cumsum(values, axis=0)])
        return cumulative[hi] - cumulative[lo]

    with np.errstate(invalid="ignore", divide="ignore"):
        moment = window_sum(np.nan_to_num(moment_Nm(mags), nan=0.0))
        n_depth = window_sum(np.isfinite(depth).astype(np.float64))
        # variance about the centroid, with positions taken relative to the catalog's mean direction so the
        # cumulative sums hold small numbers and the difference E|d|^2 - |E d|^2 keeps its precision
        offset = xyz - xyz.mean(axis=0) if len(xyz) else xyz
        mean_offset = window_sum(offset) / n[:, None]
        variance = window_sum(np.sum(offset**2, axis=1)) / n - np.sum(mean_offset**2, axis=1)
        spread = EARTH_RADIUS_KM * np.sqrt(np.clip(variance, 0.0, None))
        features = pd.DataFrame(
            {
                "n_events": n,
                "max_magnitude": segment_reduce(np.fmax, mags, lo, hi, np.nan),
                "log10_cumulative_moment_Nm": np.where(moment > 0, np.log10(moment), np.nan),
                "spatial_spread_km": np.where(n > 0, spread, np.nan),
                "mean_depth_km": np.where(n_depth > 0, window_sum(np.nan_to_num(depth)) / n_depth, np.nan),
                "rate_per_hour": n / ((end_ns - start_ns) / 3.6e12),
            }
        )
    b, mc, reason = _window_b_values(times, mags, start_ns, end_ns, min_count_b, dm, mc_correction)
    features["b_value"], features["mc"], features["b_value_reason"] = b, mc, reason
    return features


def _window_b_values(
    times: np.ndarray, mags: np.ndarray, start_ns: np.ndarray, end_ns: np.ndarray,
    min_count: int, dm: float, correction: float, chunk: int = 32768,
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Mc (max curvature) and Aki-Utsu b per window from a (window x magnitude bin) count matrix.

    Same numbers as mc_max_curvature / b_value_aki_utsu on each window's magnitudes. Windows are processed
    in chunks so the count matrix stays small for any number of windows.
    """
    finite = np.isfinite(mags)
    bins = magnitude_bins(mags[finite], dm)
    bin_values = np.unique(bins)
    bin_times = [times[finite][bins == v] for v in bin_values]
    b = np.full(start_ns.size, np.nan)
    mc = np.full(start_ns.size, np.nan)
    n_used = np.zeros(start_ns.size, dtype=np.int64)
    n_above = np.zeros(start_ns.size, dtype=np.int64)
    for first in range(0, start_ns.size, chunk):
        part = slice(first, first + chunk)
        counts = np.stack(
            [np.searchsorted(t, end_ns[part], "left") - np.searchsorted(t, start_ns[part], "left") for t in bin_times],
            axis=1,
        ) if bin_values.size else np.zeros((start_ns[part].size, 0), dtype=np.int64)
        total = counts.sum(axis=1)
        n_used[part] = total
        ok = total >= min_count
        if not ok.any():
            continue
        counts, rows = counts[ok], np.flatnonzero(ok) + first
        mc_rows = np.round(bin_values[np.argmax(counts, axis=1)] * dm + correction, 10)
        mc_bin = magnitude_bins(mc_rows, dm)
        above = bin_values[None, :] >= mc_bin[:, None]
        count_above = np.sum(counts * above, axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean_above = np.sum(counts * above * bin_values[None, :], axis=1) / count_above * dm
            b_rows = np.log10(np.e) / (mean_above - (mc_bin * dm - dm / 2.0))
        mc[rows] = mc_rows
        n_above[rows] = count_above
        b[rows] = np.where(count_above >= min_count, b_rows, np.nan)
    reason = [
        "" if np.isfinite(bi)
        else f"{nu} events with a magnitude, fewer than min_count={min_count}" if nu < min_count
        else f"{na} events >= Mc={m:.2f}, fewer than min_count={min_count}"
        for bi, nu, na, m in zip(b, n_used, n_above, mc)
    ]
    return b, mc, reason

