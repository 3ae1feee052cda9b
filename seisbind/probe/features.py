"""Per-window features of the pre-event vs background study, one row per window.

Every family is computed for all windows at once: the records (catalog events, trace metadata rows, ODBA bins,
embedded traces) are sorted by time once, each window's records are the range `searchsorted(start) :
searchsorted(end)`, and sums come from cumulative sums, so the cost is O(records + windows) whatever the window
count or overlap. A window holds the records with start <= time < end. Undefined values are NaN, never 0
pretending to be data (an hour without traces has n_traces 0 but mean_snr_db NaN).
"""

from __future__ import annotations

import fnmatch
import logging
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from seisbind.errors import SeisbindInputError
from seisbind.geodesy import epicentral_km
from seisbind.seismicity.window_features import segment_reduce, window_catalog_features
from seisbind.times import to_utc_ns

log = logging.getLogger(__name__)

CATALOG_FEATURES = ["n_events", "max_magnitude", "log10_cumulative_moment_Nm", "spatial_spread_km", "b_value", "mc",
                    "rate_per_hour", "mean_depth_km"]
WAVEFORM_META_FEATURES = ["n_stations", "n_traces", "mean_snr_db", "max_pga_cmps2", "mean_rms_counts"]
TIME_OF_DAY_FEATURES = ["time_of_day_sin", "time_of_day_cos"]
ANIMAL_FEATURES = ["animal_odba_log10", "animal_odba_deviation", "animal_coverage"]
EMBEDDING_PREFIX = "emb_"
SNR_COLUMNS = [f"trace_{c}_snr_db" for c in "ENZ"]
RMS_COLUMNS = [f"trace_{c}_rms_counts" for c in "ENZ"]
PGA_COLUMN = "trace_pga_cmps2"
WAVEFORM_META_COLUMNS = ["trace_start_time", "source_origin_time", "station_network_code", "station_code",
                         PGA_COLUMN, *SNR_COLUMNS, *RMS_COLUMNS]
"""The INSTANCE metadata columns the waveform features read (plus trace_name, which readers always add)."""


def window_ranges(times_ns: np.ndarray, windows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Index ranges [lo, hi) of sorted record times inside each window [start_time, end_time)."""
    lo = np.searchsorted(times_ns, to_utc_ns(windows["start_time"]), side="left")
    hi = np.searchsorted(times_ns, to_utc_ns(windows["end_time"]), side="left")
    return lo, hi


def window_sum(values: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Sum of values[lo:hi] along axis 0 for every window, from one cumulative sum (float64)."""
    cumulative = np.zeros((values.shape[0] + 1,) + values.shape[1:])
    np.cumsum(values, axis=0, out=cumulative[1:])
    return cumulative[hi] - cumulative[lo]


def _window_nanmean(values: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Mean of the finite values in each window; NaN where a window holds none."""
    finite = np.isfinite(values)
    total = window_sum(np.where(finite, values, 0.0), lo, hi)
    count = window_sum(finite.astype(np.float64), lo, hi)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / count, np.nan)


# ------------------------------------------------------------------------------------------------- catalog
def catalog_features(catalog: pd.DataFrame, windows: pd.DataFrame, min_count_b: int = 50,
                     radius_km: float | None = None) -> pd.DataFrame:
    """Seismicity of the catalog events in each window (seisbind.seismicity.window_features.window_catalog_features):
    n_events, max_magnitude, log10 cumulative moment, spatial spread, b-value and Mc (NaN below `min_count_b`
    magnitudes, with the reason in `b_value_reason`), mean depth, rate per hour.

    radius_km: only the events within that epicentral distance of the window's centre (its target,
    seisbind.probe.windows.with_centres) count, so a study area holding several sequences looks at each
    target's own; None counts every event of the catalog."""
    if radius_km is None or windows.empty:
        features = window_catalog_features(catalog, windows["start_time"], windows["end_time"],
                                           min_count_b=min_count_b)
        features.index = windows.index
        return features
    parts = []
    for (latitude_deg, longitude_deg), rows in _by_centre(windows).items():
        near = catalog[within_km(catalog, latitude_deg, longitude_deg, radius_km)]
        part = window_catalog_features(near, windows["start_time"].iloc[rows], windows["end_time"].iloc[rows],
                                       min_count_b=min_count_b)
        parts.append(part.set_axis(rows))
    features = pd.concat(parts).sort_index()
    features.index = windows.index
    return features


def _by_centre(windows: pd.DataFrame) -> dict[tuple[float, float], np.ndarray]:
    """Positions of the windows sharing each centre epicentre (degrees); every window needs one."""
    centres = windows.reindex(columns=["centre_latitude_deg", "centre_longitude_deg"])
    if centres.isna().any(axis=None):
        raise SeisbindInputError(f"{int(centres.isna().any(axis=1).sum())} windows have no centre epicentre "
                                 "(seisbind.probe.windows.with_centres): a radius needs one for every window")
    return centres.groupby(list(centres.columns), sort=False).indices


def within_km(catalog: pd.DataFrame, latitude_deg: float, longitude_deg: float, radius_km: float) -> np.ndarray:
    """Which catalog events lie within radius_km (epicentral, ObsPy's spherical Earth) of a point in degrees;
    an event without an epicentre lies nowhere near."""
    return epicentral_km(latitude_deg, longitude_deg, catalog["latitude_deg"].to_numpy(np.float64),
                         catalog["longitude_deg"].to_numpy(np.float64)) <= radius_km


def near_centres(catalog: pd.DataFrame, windows: pd.DataFrame, radius_km: float | None) -> pd.DataFrame:
    """The catalog events within radius_km of some window's centre: the seismicity `catalog_features` with that
    radius sees, all of it (None: the whole catalog)."""
    if radius_km is None:
        return catalog
    near = np.zeros(len(catalog), dtype=bool)
    for latitude_deg, longitude_deg in _by_centre(windows):
        near |= within_km(catalog, latitude_deg, longitude_deg, radius_km)
    return catalog[near]


# ------------------------------------------------------------------------------------------ waveform metadata
def trace_times_ns(metadata: pd.DataFrame) -> np.ndarray:
    """When a trace counts as seen: its trace_start_time, but never before its event's origin time.

    INSTANCE traces start seconds before the P arrival, often before the origin time, so by trace_start_time
    alone a pre-event window [t - h, t) would hold the target's own records (its PGA, its station count) and
    "predict" the target from the target. max(trace start, source origin) keeps every trace of an event at or
    after that event; noise traces (no origin) keep their start time.
    """
    start = to_utc_ns(metadata["trace_start_time"])
    if "source_origin_time" not in metadata:
        return start
    origin = pd.DatetimeIndex(metadata["source_origin_time"]).as_unit("ns").asi8
    return np.where(metadata["source_origin_time"].notna().to_numpy(), np.maximum(start, origin), start)


def waveform_meta_features(metadata: pd.DataFrame, windows: pd.DataFrame) -> pd.DataFrame:
    """INSTANCE trace statistics of the traces seen in each window (`trace_times_ns`: trace start, not before
    the event's origin).

    n_traces, n_stations (distinct network.station), mean_snr_db (mean over traces of the mean E/N/Z SNR),
    max_pga_cmps2 (largest trace_pga_cmps2), mean_rms_counts (mean over traces of the mean E/N/Z RMS). Columns a
    source lacks (SeisBench sets without SNR) give NaN features, logged once.
    """
    missing = [c for c in WAVEFORM_META_COLUMNS if c not in metadata and c != "source_origin_time"]
    if "trace_start_time" in missing:
        raise SeisbindInputError("trace metadata has no trace_start_time column: waveform features need it")
    if missing:
        log.warning("trace metadata lacks %s: the features built from them are NaN", missing)
    seen = trace_times_ns(metadata)
    order = np.argsort(seen, kind="stable")
    meta, times = metadata.iloc[order], seen[order]
    lo, hi = window_ranges(times, windows)

    def row_mean(columns: list[str]) -> np.ndarray:
        """Mean over the channels of each trace that have a value (NaN when none has)."""
        values = meta[[c for c in columns if c in meta]].to_numpy(dtype=np.float64)
        finite = np.isfinite(values)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(finite, values, 0.0).sum(axis=1) / finite.sum(axis=1)

    pga = meta[PGA_COLUMN].to_numpy(dtype=np.float64) if PGA_COLUMN in meta else np.full(len(meta), np.nan)
    station = (meta["station_network_code"].astype(str) + "." + meta["station_code"].astype(str)
               if {"station_network_code", "station_code"} <= set(meta) else pd.Series(np.zeros(len(meta))))
    return pd.DataFrame({
        "n_stations": distinct_per_window(pd.factorize(station)[0], lo, hi),
        "n_traces": hi - lo,
        "mean_snr_db": _window_nanmean(row_mean(SNR_COLUMNS), lo, hi),
        "max_pga_cmps2": segment_reduce(np.fmax, pga, lo, hi, np.nan),
        "mean_rms_counts": _window_nanmean(row_mean(RMS_COLUMNS), lo, hi),
    }, index=windows.index)


def distinct_per_window(codes: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Number of distinct integer codes in codes[lo:hi] per window, without a loop over windows: the
    (window, code) pairs of all windows are enumerated and the distinct pairs counted per window."""
    lengths = hi - lo
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(lo.size, dtype=np.int64)
    window_of = np.repeat(np.arange(lo.size), lengths)
    offsets = np.arange(total) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    pairs = window_of.astype(np.int64) * (int(codes.max()) + 1) + codes[lo[window_of] + offsets]
    distinct = np.unique(pairs) // (int(codes.max()) + 1)
    return np.bincount(distinct, minlength=lo.size)


# ---------------------------------------------------------------------------------------------- time of day
def time_of_day_features(windows: pd.DataFrame) -> pd.DataFrame:
    """sin and cos of the UTC hour of each window's centre (period 24 h): the control for diurnal patterns
    (cultural noise by day lowers detection, animals rest at night)."""
    centre_ns = (to_utc_ns(windows["start_time"]) // 2 + to_utc_ns(windows["end_time"]) // 2)
    hours = (centre_ns % (86400 * 10**9)) / 3.6e12
    angle = 2 * np.pi * hours / 24.0
    return pd.DataFrame({"time_of_day_sin": np.sin(angle), "time_of_day_cos": np.cos(angle)}, index=windows.index)


# ---------------------------------------------------------------------------------------------------- animal
def animal_features(odba: pd.DataFrame, windows: pd.DataFrame, min_coverage: float = 0.5) -> pd.DataFrame:
    """ODBA level and its deviation from each animal's own diurnal baseline, averaged over the animals.

    `odba` is the wide table of seisbind.data.movebank.odba_bins (regular bins x individuals, NaN gaps). Per
    animal: log10 ODBA; its baseline is the animal's mean log10 ODBA at the same time of day (bin of the day),
    over its whole record; deviation = (log10 ODBA - baseline) / the animal's SD of that difference. These use
    no window labels. Per window, an animal counts when at least `min_coverage` of the window's bins hold its
    data; animal_odba_log10 and animal_odba_deviation are means over the counted animals, NaN where none counts;
    animal_coverage is the fraction of (bin, animal) cells observed.
    """
    if not len(odba.columns):
        raise SeisbindInputError("animal data holds no individual")
    bin_ns = int(pd.Timedelta(odba.index.freq or (odba.index[1] - odba.index[0])).value)
    logged = np.log10(odba.to_numpy(dtype=np.float64).clip(min=1e-12))
    logged[~np.isfinite(odba.to_numpy(dtype=np.float64))] = np.nan
    starts = odba.index.as_unit("ns").asi8
    slot = ((starts % (86400 * 10**9)) // bin_ns).astype(np.int64)
    baseline = pd.DataFrame(logged).groupby(slot).transform("mean").to_numpy()
    residual = logged - baseline
    with np.errstate(invalid="ignore"):
        deviation = residual / np.nanstd(residual, axis=0).clip(min=1e-12)
    lo, hi = window_ranges(starts, windows)
    n_bins = np.maximum(np.round((to_utc_ns(windows["end_time"]) - to_utc_ns(windows["start_time"])) / bin_ns), 1)
    observed = window_sum(np.isfinite(logged).astype(np.float64), lo, hi)
    counted = observed >= min_coverage * n_bins[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        level = window_sum(np.nan_to_num(logged), lo, hi) / observed
        dev = window_sum(np.nan_to_num(deviation), lo, hi) / observed
        n_counted = counted.sum(axis=1)
        return pd.DataFrame({
            "animal_odba_log10": np.where(n_counted > 0, np.where(counted, level, 0).sum(axis=1) / n_counted, np.nan),
            "animal_odba_deviation": np.where(n_counted > 0, np.where(counted, dev, 0).sum(axis=1) / n_counted,
                                              np.nan),
            "animal_coverage": observed.sum(axis=1) / (n_bins * logged.shape[1]),
        }, index=windows.index)


# ---------------------------------------------------------------------------------------------- feature sets
def resolve_feature_set(patterns: Sequence[str], columns: Iterable[str]) -> list[str]:
    """Columns named by a feature set: exact names or shell patterns (`emb_*`), in the order given."""
    columns = list(columns)
    chosen: list[str] = []
    for pattern in patterns:
        matched = fnmatch.filter(columns, pattern) if any(ch in pattern for ch in "*?[") else \
            ([pattern] if pattern in columns else [])
        chosen += [c for c in matched if c not in chosen]
    return chosen


def usable_windows(features: pd.DataFrame, columns: Sequence[str], family_of: Callable[[str], str]) -> np.ndarray:
    """Windows where every family of `columns` (`family_of(column)`, seisbind/probe/families.py) is observed (some
    column of it defined): the windows a feature set can be evaluated on. A missing b-value (too few events)
    keeps the window; a window no animal covers leaves every animal feature NaN and drops out of the animal
    sets."""
    usable = np.ones(len(features), dtype=bool)
    by_family: dict[str, list[str]] = {}
    for column in columns:
        by_family.setdefault(family_of(column), []).append(column)
    for family_columns in by_family.values():
        usable &= features[family_columns].notna().any(axis=1).to_numpy()
    return usable


def read_trace_metadata(root: str | Path, filters: dict | None = None) -> pd.DataFrame:
    """The trace metadata of a data root reduced to what the waveform features need.

    INSTANCE CSVs are read column-selectively (WAVEFORM_META_COLUMNS only: 10 of 115 columns); a SeisBench
    folder is read whole and the columns it has are kept (its sets often lack SNR or PGA, which then give NaN
    features). `filters` are seisbind.data.trace_filter.MetadataFilter fields, as for training.
    """
    from seisbind.data.trace_index import Layout, TraceIndex

    columns = None if Layout.find(root).events.seisbench else WAVEFORM_META_COLUMNS
    metadata = TraceIndex.open(root, columns, filters=filters).table
    return metadata[[c for c in [*WAVEFORM_META_COLUMNS, "trace_name"] if c in metadata]]
