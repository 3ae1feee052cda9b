"""Simulated studies made of the real study's own windows, each window's events simulated from its real past.

A null that conditions on the catalog before each window (the ETAS null's `conditioning: past`) simulates the
stretches of time the features look at, not whole catalogs: one `Span` per target (its longest pre-event window)
and one per background window, each reaching `lookback_hours` before its windows (a simulated family's features
may count events that long before a window, seisbind/protocols.py). `assemble` lays the simulated spans out on
separate stretches of a synthetic time axis, far enough apart that no window sees another span's events, and
scores them through the study's own feature code, so the simulated study holds the real targets, windows, groups
and strata, and only the events inside the windows differ.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from seisbind.probe.study.config import MAIN_TYPES
from seisbind.times import NS_PER_DAY, to_utc_ns

_GAP_DAYS = 1.0


@dataclass(frozen=True)
class Span:
    """[start, end) in days from the period start; `rows`: the windows (positions) it holds; `target`: True for a
    target's pre-event windows, which all end at the target's time `end`, with the target's magnitude."""

    start: float
    end: float
    rows: np.ndarray
    target: bool
    target_magnitude: float = np.nan


def main_windows(windows: pd.DataFrame) -> pd.DataFrame:
    """The pre-event and background windows, which the simulated studies score."""
    return windows[windows["window_type"].isin(MAIN_TYPES)].reset_index(drop=True)


def spans_of(windows: pd.DataFrame, period_start: pd.Timestamp, lookback_hours: float) -> list[Span]:
    """One span per target (pre-event windows of every horizon) and per background window of `windows`
    (main_windows), each starting `lookback_hours` before its earliest window."""
    start = (to_utc_ns(windows["start_time"]) - period_start.value) / NS_PER_DAY - lookback_hours / 24.0
    end = (to_utc_ns(windows["end_time"]) - period_start.value) / NS_PER_DAY
    pre = (windows["window_type"] == MAIN_TYPES[0]).to_numpy()
    targets = windows["target_event_id"].to_numpy()
    spans = []
    for target in pd.unique(targets[pre]):
        rows = np.flatnonzero(pre & (targets == target))
        spans.append(Span(float(start[rows].min()), float(end[rows].max()), rows, True,
                          float(windows["target_magnitude"].iloc[rows[0]])))
    spans += [Span(float(start[i]), float(end[i]), np.array([i]), False) for i in np.flatnonzero(~pre)]
    return spans


def assemble(windows: pd.DataFrame, spans: list[Span], events: list[tuple[np.ndarray, np.ndarray]],
             where: np.ndarray, period_start: pd.Timestamp,
             features_of: Callable[[pd.DataFrame, pd.DataFrame], pd.DataFrame]) -> pd.DataFrame:
    """Features of `windows` (main_windows) when span j holds the events `events[j]` (times in days from
    `period_start`, magnitudes; epicentres and depths from the rows of `where`, in event order): every span is
    moved to a stretch of its own, its windows with it."""
    slot = max(s.end - s.start for s in spans) + _GAP_DAYS
    shift = np.zeros(len(windows))
    times, magnitudes = [np.empty(0)], [np.empty(0)]
    for j, (span, (t, m)) in enumerate(zip(spans, events)):
        offset = j * slot - span.start
        shift[span.rows] = offset
        times.append(t + offset)
        magnitudes.append(m)
    t, m = np.concatenate(times), np.concatenate(magnitudes)

    def moved(column: str) -> pd.DatetimeIndex:
        days = (to_utc_ns(windows[column]) - period_start.value) / NS_PER_DAY + shift
        return pd.to_datetime(period_start.value + np.round(days * NS_PER_DAY).astype(np.int64), utc=True)

    order = np.argsort(t, kind="stable")
    catalog = pd.DataFrame({
        "event_id": [f"w{i}" for i in range(t.size)],
        "time": pd.to_datetime(period_start.value + np.round(t[order] * NS_PER_DAY).astype(np.int64), utc=True),
        "latitude_deg": where[order, 0], "longitude_deg": where[order, 1], "depth_km": where[order, 2],
        "magnitude": m[order]})
    return features_of(catalog, windows.assign(start_time=moved("start_time"), end_time=moved("end_time"))
                       ).reset_index(drop=True)
