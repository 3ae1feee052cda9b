"""Placebo (fake event time) null for the station-anomaly probe.

Why: the bootstrap CI of the pre-vs-background AUC covers sampling noise only. On a real record, slow drift (the
daily cycle of cultural noise, changing microseisms) makes any late span differ from an earlier one, so the CI
can exclude 0.5 at an event time where nothing happened (ObsPy's CH.BALST day at a made-up time: AUC 0.76
[0.55, 0.93]). The control re-runs the same scoring with the event moved to placebo times: the window grid
shifted by whole steps (so every window's features are computed once and reused), the same background and
pre-event span lengths, and spans that overlap neither the real pre-event nor the real post-event windows. The
observed statistic is then ranked among the placebo ones: p = (1 + #placebo >= observed) / (1 + n).

Placebo times one step apart share almost all their windows, so their statistics are strongly correlated; the
summary says how many of the drawn placebos are mutually non-overlapping, which is closer to the number of
independent draws the null rests on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from seisbind.errors import SeisbindInputError
from seisbind.probe.stations.features import Fitter, WindowGrid, leave_out_scores

log = logging.getLogger(__name__)
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


@dataclass(frozen=True)
class StationValues:
    """One station's per-window values (features, or embeddings) on the whole grid, what a placebo re-scores."""

    station: str
    steps: np.ndarray  # (W,) grid steps of the windows the station can score
    values: np.ndarray  # (W, F)


@dataclass(frozen=True)
class Spans:
    """Grid steps of the real analysis: background [background_first, background_last], pre-event
    [pre_first, pre_last], and the last real pre/post window (reserved_last)."""

    background_first: int
    background_last: int
    pre_first: int
    pre_last: int
    reserved_last: int

    @classmethod
    def of(cls, grid: WindowGrid) -> Spans:
        steps = {p: grid.steps[grid.phase == p] for p in ("background", "pre", "post")}
        return cls(int(steps["background"].min()), int(steps["background"].max()), int(steps["pre"].min()),
                   int(steps["pre"].max()), int(np.concatenate([steps["pre"], steps["post"]]).max()))

    @property
    def length_steps(self) -> int:
        """Grid steps from the first background window to the last pre-event one."""
        return self.pre_last - self.background_first


def eligible_shifts(grid: WindowGrid) -> np.ndarray:
    """Shifts k (grid steps) that move the event to a placebo time event_time + k x step_seconds whose background
    and pre-event windows all lie in the record and none overlaps a real pre-event or post-event window (windows
    stride steps apart do not overlap). Negative k fit only when probe.lookback_seconds leaves record before the
    real background; positive k only when probe.post_seconds leaves record after the real post-event span."""
    spans = Spans.of(grid)
    k = np.arange(grid.steps.min() - spans.background_first, grid.steps.max() - spans.pre_last + 1)
    before = spans.pre_last + k <= spans.pre_first - grid.stride
    after = spans.background_first + k >= spans.reserved_last + grid.stride
    return k[before | after]


def draw_placebos(grid: WindowGrid, n_placebo: int, seed: int) -> tuple[np.ndarray, dict]:
    """Up to n_placebo eligible shifts drawn without replacement (seeded), sorted, and what limited them."""
    if n_placebo < 0:
        raise SeisbindInputError(f"probe.n_placebo must be >= 0, got {n_placebo}")
    eligible = eligible_shifts(grid)
    rng = np.random.default_rng(seed)
    shifts = np.sort(rng.choice(eligible, size=min(n_placebo, len(eligible)), replace=False))
    spans = Spans.of(grid)
    info = {"n_requested": int(n_placebo), "n_eligible": len(eligible),
            "span_seconds": (spans.length_steps * grid.step_seconds + grid.window_seconds)}
    if len(eligible) < n_placebo:
        span_h = info["span_seconds"] / 3600
        info["reason"] = (
            f"{len(eligible) or 'no'} placebo event times fit (of {n_placebo} asked for): each needs a "
            f"{span_h:.3g} h background + pre-event span inside the record that overlaps no real pre-event or "
            "post-event window; a shorter "
            f"probe.lookback_seconds (and a probe.post_seconds short of the record end) leaves more room")
    return shifts, info


def n_non_overlapping(shifts: np.ndarray, grid: WindowGrid) -> int:
    """Most placebos among the sorted shifts whose spans are pairwise disjoint (greedy: optimal for equal
    lengths)."""
    gap = Spans.of(grid).length_steps + grid.stride
    count, last = 0, None
    for k in shifts:
        if last is None or k - last >= gap:
            count, last = count + 1, k
    return count


def shifted_scores(stations: Sequence[StationValues], fit: Fitter, grid: WindowGrid, shift: int, *,
                   min_background_windows: int, min_pre_windows: int) -> tuple[dict[str, np.ndarray], int]:
    """Leave-out scores (as in the real analysis) of every station's background and pre-event windows with the
    event moved by `shift` grid steps, as arrays station (index into `stations`), step, is_pre, score; and how
    many stations had too few windows in a phase there and were left out. Shift 0 gives the real analysis's
    background and pre-event scores."""
    spans = Spans.of(grid)
    parts, n_short = [], 0
    for index, station in enumerate(stations):
        steps = station.steps - shift
        is_background = (steps >= spans.background_first) & (steps <= spans.background_last)
        is_pre = (steps >= spans.pre_first) & (steps <= spans.pre_last)
        if is_background.sum() < min_background_windows or is_pre.sum() < min_pre_windows:
            n_short += 1
            continue
        keep = is_background | is_pre
        scores = leave_out_scores(fit, station.values[keep], is_background[keep], steps[keep], grid.stride)
        parts.append((np.full(len(scores), index), steps[keep], is_pre[keep], scores))
    columns = ("station", "step", "is_pre", "score")
    return {name: np.concatenate([part[i] for part in parts]) if parts else np.empty(0)
            for i, name in enumerate(columns)}, n_short


def _quantiles(values: np.ndarray) -> dict:
    values = values[np.isfinite(values)]
    return {f"{q:g}": float(np.quantile(values, q)) for q in QUANTILES} if len(values) else {}


def placebo_null(stations: Sequence[StationValues], fit: Fitter, grid: WindowGrid, *,
                 auc: Callable[[np.ndarray, np.ndarray], float], epicentral: str, observed_auc: float,
                 observed_rank: int, n_placebo: int, seed: int, min_background_windows: int, min_pre_windows: int
                 ) -> tuple[dict, pd.DataFrame]:
    """The placebo null of the network pre-vs-background AUC (`auc` of scores and is_pre) and of the
    epicentral station's rank (1 = lowest mean pre-event score): summary.json's `placebo` entry and one row per
    placebo (event_time, shift_steps, auc, epicentral_rank, n_stations). Rank p-value: how often a placebo
    ranks the epicentral station as low or lower, like the station-permutation p-value. A placebo time at which
    no station has enough windows is not counted in n (placebos_without_stations says how many)."""
    shifts, info = draw_placebos(grid, n_placebo, seed)
    names = [station.station for station in stations]
    epicentral_index = names.index(epicentral) if epicentral in names else -1
    rows, n_short, n_empty = [], 0, 0
    for shift in shifts:
        scores, short = shifted_scores(stations, fit, grid, int(shift), min_background_windows=min_background_windows,
                                       min_pre_windows=min_pre_windows)
        n_short += short
        if not len(scores["score"]):
            n_empty += 1
            continue
        pre = scores["is_pre"].astype(bool)
        scored, station = np.unique(scores["station"][pre], return_inverse=True)
        level = np.bincount(station, scores["score"][pre]) / np.bincount(station)
        ranks = rankdata(level, method="min")
        rows.append({"event_time": grid.event_time + pd.Timedelta(seconds=float(shift) * grid.step_seconds),
                     "shift_steps": int(shift), "auc": auc(scores["score"], pre),
                     "epicentral_rank": float(ranks[scored == epicentral_index][0]) if epicentral_index in scored
                     else np.nan, "n_stations": len(scored)})
    table = pd.DataFrame(rows, columns=["event_time", "shift_steps", "auc", "epicentral_rank", "n_stations"])
    aucs, ranks = table["auc"].to_numpy(float), table["epicentral_rank"].dropna().to_numpy(float)
    summary = {
        "n": len(table), **info, "n_non_overlapping": n_non_overlapping(table["shift_steps"].to_numpy(), grid),
        "station_placebos_short_of_windows": n_short, "placebos_without_stations": n_empty,
        "event_times": [table["event_time"].min(), table["event_time"].max()] if len(table) else None,
        "auc_observed": observed_auc, "auc_quantiles": _quantiles(aucs),
        "p_value": (1 + int((aucs >= observed_auc).sum())) / (1 + len(aucs)) if len(aucs) else None,
        "epicentral_rank_observed": observed_rank, "epicentral_rank_quantiles": _quantiles(ranks),
        "epicentral_rank_n": len(ranks),
        "epicentral_rank_p_value": (1 + int((ranks <= observed_rank).sum())) / (1 + len(ranks)) if len(ranks)
        else None,
    }
    if "reason" in info:
        log.warning("placebo null: %s", info["reason"])
    return summary, table
