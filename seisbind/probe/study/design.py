"""The study design: the data it reads and the windows it compares, built once.

Windows: pre-event and post-event per horizon and time-matched quiet background windows of the same length
(make_windows, seisbind/probe/windows.py), and other-period copies of the pre-event and background windows.
The completeness floor of the event-count features is measured here too.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from seisbind.config_schema import OtherPeriod, StudyProbe
from seisbind.data.tables import SideTables, TableSource
from seisbind.errors import SeisbindInputError
from seisbind.probe import features
from seisbind.probe.study.config import DESIGNS, MAIN_TYPES, quiet_magnitude, study_period, window_rules
from seisbind.probe.windows import any_between, make_windows, select_targets
from seisbind.protocols import StudyData
from seisbind.seismicity.magnitudes import mc_max_curvature
from seisbind.times import to_utc_ns

log = logging.getLogger(__name__)

OTHER_TYPES = {"pre": "other_pre", "background": "other_background"}


@dataclass
class Horizon:
    """Windows of some types at one horizon: positions in the design's table, labels (1 = the first type) and
    cross-validation groups aligned with them."""

    horizon_hours: float
    index: np.ndarray
    y: np.ndarray
    groups: np.ndarray

    def subset(self, keep: np.ndarray) -> Horizon:
        return Horizon(self.horizon_hours, self.index[keep], self.y[keep], self.groups[keep])


def horizon_of(windows: pd.DataFrame, h: float, types: tuple[str, ...] = MAIN_TYPES) -> Horizon:
    chosen = windows["window_type"].isin(types).to_numpy() & np.isclose(windows["horizon_hours"].to_numpy(), h)
    index = np.flatnonzero(chosen)
    return Horizon(h, index, windows["window_type"].to_numpy()[index] == types[0],
                   windows["group"].astype(str).to_numpy()[index])


@dataclass
class Design:
    """All windows of the study (one table, `window_type` and `period` say which), what the other-period copies
    kept, and the completeness of the catalog."""

    windows: pd.DataFrame
    other_period: dict
    completeness: dict
    targets: dict
    """`targets_by_design`."""


# ------------------------------------------------------------------------------------------------- data
def load_data(root: Path, filters: dict | None, catalog: dict) -> StudyData:
    """The study catalog (`probe.catalog`, required; all of it: the floor is applied by the families) and the
    trace metadata (optional: why there is none is recorded)."""
    if not root.is_dir():
        raise SeisbindInputError(f"data.root={root}: not a folder")
    tables = SideTables(root)
    events = tables.load(TableSource.of(catalog, "probe.catalog"), "the study (probe.catalog)")
    if events.empty:
        raise SeisbindInputError(f"{events.attrs.get('source', 'probe.catalog')}: no earthquake in the catalog")
    data = StudyData(root=root, tables=tables, catalog=events, metadata=None)
    try:
        data.metadata = features.read_trace_metadata(root, filters)
    except SeisbindInputError as err:
        data.metadata_missing = f"no trace metadata: {err}"
    return data


def data_span_ns(data: StudyData) -> tuple[int, int]:
    """The time range the scored sources cover: the catalog span, cut to the trace metadata span when present."""
    times = to_utc_ns(data.catalog["time"])
    lo, hi = int(times.min()), int(times.max())
    if data.metadata is not None and len(data.metadata):
        trace_times = to_utc_ns(data.metadata["trace_start_time"])
        lo, hi = max(lo, int(trace_times.min())), min(hi, int(trace_times.max()))
    return lo, hi


# ---------------------------------------------------------------------------------------------- windows
def build_design(data: StudyData, probe: StudyProbe, seed: int) -> Design:
    windows = main_windows(data.catalog, probe, seed)
    targets = targets_by_design(data.catalog, probe, seed, windows)
    windows, other = with_other_period(windows, data, probe)
    return Design(windows, other, completeness(data.catalog, probe), targets)


def targets_by_design(catalog: pd.DataFrame, probe: StudyProbe, seed: int, windows: pd.DataFrame,
                      n_largest: int = 5) -> dict:
    """Which targets each design (probe.design, DESIGNS) keeps, and what becomes of the `n_largest` events of the
    period in each: the mainshocks a study of a sequence is about, which the quiet rule can drop (Visso follows an
    M5.4 by 2 h, Norcia follows Visso by 4 days)."""
    kept = {probe.design: _targets_of(windows)}
    for name in DESIGNS:
        if name != probe.design:
            kept[name] = _targets_of(make_windows(catalog, **window_rules(replace(probe, design=name), seed)))
    rules = window_rules(probe, seed)
    candidates = set(select_targets(catalog, probe.target_min_magnitude, probe.decluster,
                                    decluster_hours=probe.decluster_hours, decluster_km=probe.decluster_km)["event_id"])
    start, end = study_period(probe)
    times = pd.to_datetime(catalog["time"], utc=True)
    largest = catalog[(times >= start) & (times <= end)].nlargest(n_largest, "magnitude")
    loud_ns = np.sort(to_utc_ns(catalog.loc[catalog["magnitude"] >= probe.quiet_min_magnitude, "time"]))
    reach_ns = int((max(rules["horizons_hours"]) + probe.quiet_hours) * 3.6e12)

    def fate(event, name: str) -> str:
        if str(event.event_id) in kept[name]:
            return "kept"
        if event.event_id not in candidates:
            return f"dropped (declustered: {probe.decluster})"
        t = int(to_utc_ns(pd.Series([event.time]))[0])
        if name == "quiet" and any_between(loud_ns, t - reach_ns, t):
            return "dropped (quiet rule)"
        return "dropped (period edges or no matched background)"

    return {"design": probe.design, "inference": DESIGNS[probe.design],
            "n_targets": {name: len(ids) for name, ids in kept.items()},
            "largest_events": [{"event_id": str(e.event_id), "time": pd.Timestamp(e.time).isoformat(),
                                "magnitude": float(e.magnitude)} | {name: fate(e, name) for name in DESIGNS}
                               for e in largest.itertuples()]}


def _targets_of(windows: pd.DataFrame) -> set[str]:
    return set(windows.loc[windows["window_type"] == "pre", "target_event_id"].astype(str))


def main_windows(catalog: pd.DataFrame, probe: StudyProbe, seed: int) -> pd.DataFrame:
    """Pre-event, background and post-event windows (make_windows)."""
    windows = make_windows(catalog, **window_rules(probe, seed))
    if not (windows["window_type"] == "pre").any():
        magnitudes = catalog["magnitude"]
        raise SeisbindInputError(
            f"no target event: the catalog ({len(catalog)} events, M {magnitudes.min():.1f}-"
            f"{magnitudes.max():.1f}) has no event M >= {probe.target_min_magnitude} (declustering: "
            f"{probe.decluster}) with a full pre-event window inside probe.period that is quiet and matched "
            f"({windows.attrs['n_pre_dropped_not_quiet']} pre-event windows broke the quiet rule, "
            f"{windows.attrs['n_pre_dropped_unmatched']} found no background window); lower "
            "probe.target_min_magnitude, change probe.decluster or widen probe.background.match_days")
    targets = windows.loc[windows["window_type"] == "pre", "target_event_id"].nunique()
    log.info("windows: %d targets M >= %g (%s declustering); %d pre-event windows dropped by the quiet rule, %d "
             "without a matched background window", targets, probe.target_min_magnitude, probe.decluster,
             windows.attrs["n_pre_dropped_not_quiet"], windows.attrs["n_pre_dropped_unmatched"])
    windows["period"] = "main"
    return windows


def with_other_period(windows: pd.DataFrame, data: StudyData, probe: StudyProbe) -> tuple[pd.DataFrame, dict]:
    """The windows plus other-period copies of the pre-event and background ones.

    Every such window is moved by `other_shift`; copies outside the data span, or within quiet_hours of any
    target or (quiet design) M >= quiet_min_magnitude event, are dropped (counted), so the copies hold no real
    pre-event time.
    """
    main = windows[windows["window_type"].isin(MAIN_TYPES)]
    span_lo, span_hi = data_span_ns(data)
    shift = other_shift(probe.other_period, main, span_lo, study_period(probe))
    other = main.assign(start_time=main["start_time"] + shift, end_time=main["end_time"] + shift,
                        window_id="other_" + main["window_id"], window_type=main["window_type"].map(OTHER_TYPES),
                        period="other")
    start_ns, end_ns = to_utc_ns(other["start_time"]), to_utc_ns(other["end_time"])
    inside = (start_ns >= span_lo) & (end_ns <= span_hi)
    catalog = data.catalog
    loud = np.sort(np.r_[to_utc_ns(catalog.loc[catalog["magnitude"] >= quiet_magnitude(probe), "time"]),
                         to_utc_ns(windows.loc[windows["window_type"] == "pre", "target_time"])])
    quiet_ns = int(probe.quiet_hours * 3.6e12)
    near = any_between(loud, start_ns - quiet_ns, end_ns + quiet_ns + 1)  # within quiet_hours on either side
    info = {"shift_days": shift / pd.Timedelta(days=1), "n_copied": int(len(other)),
            "n_outside_data_span": int((~inside).sum()), "n_near_large_events": int((inside & near).sum()),
            "n_kept": int((inside & ~near).sum())}
    return pd.concat([windows, other[inside & ~near]], ignore_index=True), info


def other_shift(other: OtherPeriod, main: pd.DataFrame, span_start_ns: int,
                period: tuple[pd.Timestamp, pd.Timestamp]) -> pd.Timedelta:
    """How far the other-period copies move. `start`: so that the first window begins there; a number of days;
    or `auto`: back by the period's length when the data reach that far before it (the copies then lie wholly
    outside the study period), else -30 days, which keeps most copies inside a short data span."""
    if other.start:
        return pd.Timestamp(other.start, tz="UTC") - main["start_time"].min()
    if other.shift_days != "auto":
        return pd.Timedelta(days=other.shift_days)
    length = period[1] - period[0]
    if span_start_ns <= (period[0] - length).value:
        return -length
    return pd.Timedelta(days=-30)


# ------------------------------------------------------------------------------------------ completeness
def completeness(catalog: pd.DataFrame, probe: StudyProbe, after_days: float = 2.0) -> dict:
    """Completeness magnitude over the study period, and the floor of the event-count features.

    Mc by maximum curvature + 0.2 (seisbind.seismicity.magnitudes.mc_max_curvature) per calendar month with at least
    probe.min_count_b events, and in the `after_days` after each M >= 5, when aftershocks mask small events.
    `probe.min_magnitude: auto` takes the largest monthly Mc as the floor: counts above it do not change when a
    network densifies within the period. The post-M5 values are reported, not used: background windows keep
    quiet_hours from such events, and the floor they would set hides most of the catalog.
    """
    start, end = study_period(probe)
    times = pd.to_datetime(catalog["time"], utc=True)
    inside = catalog[(times >= start) & (times <= end)]
    months = pd.to_datetime(inside["time"], utc=True).dt.strftime("%Y-%m")
    need = probe.min_count_b
    monthly = {month: mc_max_curvature(group["magnitude"]) for month, group in inside.groupby(months)
               if group["magnitude"].notna().sum() >= need}
    after = {}
    inside_ns, magnitudes = to_utc_ns(inside["time"]), inside["magnitude"].to_numpy()
    for t, m in zip(inside_ns[magnitudes >= 5.0], magnitudes[magnitudes >= 5.0]):
        window = magnitudes[(inside_ns > t) & (inside_ns <= t + int(after_days * 86400e9))]
        if np.isfinite(window).sum() >= need:
            after[f"{pd.Timestamp(t, tz='UTC').isoformat()} M{m:.1f}"] = mc_max_curvature(window)
    if probe.min_magnitude == "auto":
        floor = max(monthly.values()) if monthly else float("nan")
        how = (f"largest monthly Mc of {len(monthly)} months" if monthly else f"no month with {need} events: no floor")
    else:
        floor, how = probe.min_magnitude, "probe.min_magnitude"
    return {"floor": floor, "method": how, "monthly_mc": monthly, f"mc_{after_days:g}_days_after_m5": after}
