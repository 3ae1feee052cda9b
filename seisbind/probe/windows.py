"""Time windows of the pre-event study: pre-event windows before target earthquakes,
quiet background windows, and post-event windows as a sanity check.

All windows are half-open [start_time, end_time): a pre window [t - h, t) never contains its target.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence

import numpy as np
import pandas as pd

from seisbind.data.catalog import describe_events
from seisbind.errors import SeisbindInputError
from seisbind.geodesy import epicentral_km
from seisbind.seismicity.declustering import gardner_knopoff_mainshocks
from seisbind.times import to_utc_ns

log = logging.getLogger(__name__)

WINDOW_COLUMNS = [
    "window_id",
    "start_time",
    "end_time",
    "window_type",
    "horizon_hours",
    "target_event_id",
    "target_time",
    "target_magnitude",
    "group",
    "stratum",
    "centre_event_id",
    "centre_latitude_deg",
    "centre_longitude_deg",
]
_NS_PER_S = 1_000_000_000
_S_PER_HOUR = 3600


DECLUSTER_METHODS = ("gardner_knopoff", "preceding", "none")


def _no_larger_before(candidates: pd.DataFrame, hours: float, distance_km: float) -> np.ndarray:
    """True where no event at least as large lies within `distance_km` in the `hours` before (epicentral,
    spherical Earth). Unlike Gardner-Knopoff, whose M6+ windows (~60 km, ~2 years) swallow a whole regional
    sequence, this keeps separate mainshocks of one sequence (Amatrice, Visso, Norcia) and drops their
    aftershocks."""
    t = to_utc_ns(candidates["time"])
    m = candidates["magnitude"].to_numpy(dtype=float)
    lat, lon = candidates["latitude_deg"].to_numpy(float), candidates["longitude_deg"].to_numpy(float)
    order = np.argsort(t, kind="stable")
    sorted_t = t[order]
    # Each candidate meets only those in its own `hours` before (time-sorted), so memory grows with the busiest
    # stretch, not with the square of the catalog (a simulated cascade may hold 10^5 candidates).
    first = np.searchsorted(sorted_t, t - np.int64(round(hours * 3600 * _NS_PER_S)), side="left")
    last = np.searchsorted(sorted_t, t, side="left")
    free = np.ones(t.size, dtype=bool)
    for i in np.flatnonzero(last > first):
        before = order[first[i]:last[i]]
        free[i] = not np.any((m[before] >= m[i]) & (epicentral_km(lat[i], lon[i], lat[before], lon[before])
                                                     <= distance_km))
    return free


def select_targets(catalog: pd.DataFrame, min_magnitude: float = 4.0, decluster: bool | str = "gardner_knopoff",
                   *, decluster_hours: float = 72.0, decluster_km: float = 30.0) -> pd.DataFrame:
    """Target events: magnitude >= min_magnitude, optionally declustered; sorted by time.

    decluster: "gardner_knopoff" (True): GK mainshocks, computed on the events >= min_magnitude alone (the same
    mainshocks as on the whole catalog: largest first, an event can only be claimed by a larger one);
    "preceding": no event at least as large within `decluster_km` in the preceding `decluster_hours`;
    "none" (False): every event >= min_magnitude.
    Events without a magnitude (NaN) can be neither targets nor decluster others: a warning names them, since
    one of them may be a mainshock whose aftershocks are then selected; ``attrs["n_without_magnitude"]`` counts them.
    """
    method = {True: "gardner_knopoff", False: "none"}.get(decluster, decluster)
    if method not in DECLUSTER_METHODS:
        raise SeisbindInputError(f"decluster={decluster!r}: choose one of {', '.join(DECLUSTER_METHODS)}")
    without = catalog["magnitude"].isna()
    if without.any():
        log.warning("targets: %d catalog events without a magnitude are not considered as targets and do not "
                    "decluster later events (give them magnitudes if one may be a mainshock): %s",
                    int(without.sum()), describe_events(catalog[without]))
    candidates = catalog[catalog["magnitude"] >= min_magnitude]
    if method != "none" and len(candidates):
        keep = gardner_knopoff_mainshocks(candidates) if method == "gardner_knopoff" else \
            _no_larger_before(candidates, decluster_hours, decluster_km)
        log.debug("targets: %d events M>=%g, %d kept by %s declustering", len(candidates), min_magnitude,
                 int(keep.sum()), method)
        candidates = candidates[keep]
    targets = candidates.sort_values("time", kind="stable")
    targets.attrs["n_without_magnitude"] = int(without.sum())
    return targets


def make_windows(
    catalog: pd.DataFrame,
    *,
    target_min_magnitude: float = 4.0,
    decluster: bool | str = "gardner_knopoff",
    decluster_hours: float = 72.0,
    decluster_km: float = 30.0,
    horizons_hours: Sequence[float] = (2, 6, 12, 24),
    n_background: int = 200,
    background_hours: float | Sequence[float] | None = None,
    quiet_min_magnitude: float = 4.0,
    quiet_hours: float = 48.0,
    post_start_hours: float = 1.0,
    period: tuple | None = None,
    match_days: float | None = None,
    background_per_target: int = 8,
    seed: int = 0,
) -> pd.DataFrame:
    """The windows table: one row per window, columns WINDOW_COLUMNS, sorted by start_time.

    - pre: [t - h, t) for each target t and each horizon h (horizon_hours = h).
    - post: [t + post_start_hours, t + post_start_hours + h) for each horizon h whose pre window is kept: as long
      as the pre-event window, since the post-event check scores it with that horizon's model against that
      horizon's background (a 1 h window holds fewer events than a 24 h one even after a mainshock).
    - background: for each length L in background_hours (default: the horizons), windows of length L
      (horizon_hours = L), start drawn uniformly (numpy Generator seeded by `seed`) among the whole seconds
      where the window is quiet (below), overlaps no pre/post window and no other background window of its
      length. With `match_days`, each target gets `background_per_target` windows starting within
      +-match_days of it (stratum = that target), so slow changes of rate and completeness over the period
      cancel within a stratum; without, `n_background` windows anywhere in the period (stratum "all"). When
      fewer fit, what fits is returned and the shortfall is logged (``attrs["n_background_placed"]``).
    Quiet, the same rule for both classes: no event M >= quiet_min_magnitude other than a pre window's own
    target from quiet_hours before the window's start to its end, so neither class may sit in another large
    event's aftershocks; pre windows that break it are dropped (``attrs["n_pre_dropped_not_quiet"]``), and so
    are, with match_days, those whose target found no background window of their length
    (``attrs["n_pre_dropped_unmatched"]``).
    Background windows also end quiet_hours before the next such event or target: closer, they would be
    pre-event windows.
    Every window lies inside `period` (default: the catalog span) and inside the catalog span; background
    windows additionally keep quiet_hours from the span's ends, where quietness cannot be checked.
    group: the target's event_id for pre/post, the ISO week of the start ("bg_2016-W35") for background, so
    grouped cross-validation keeps a target's windows, and nearby background windows, together. stratum: the
    matched set a window belongs to, which permutations and the bootstrap keep together. centre_*: the target
    whose epicentre the window looks around (`with_centres`; seisbind.probe.features.catalog_features' radius_km).
    ``attrs["n_without_magnitude"]``: catalog events that could not be targets for want of a magnitude.
    """
    horizons = list(dict.fromkeys(float(h) for h in horizons_hours))
    lengths = horizons if background_hours is None else list(
        dict.fromkeys(float(h) for h in np.atleast_1d(background_hours))
    )
    post_start_h = float(post_start_hours)
    post_end_h = post_start_h + max(horizons, default=0.0)
    if match_days is not None and (match_days <= 0 or background_per_target < 1):
        raise SeisbindInputError(f"matched background needs match_days > 0 and background_per_target >= 1, got "
                                 f"{match_days} and {background_per_target}")
    if not horizons or min(horizons + lengths) <= 0 or post_start_h < 0 or n_background < 0:
        raise SeisbindInputError(
            f"windows need positive horizons/lengths, post_start_hours >= 0 and n_background >= 0; got "
            f"horizons={horizons}, background_hours={lengths}, post_start_hours={post_start_hours}, "
            f"n_background={n_background}"
        )
    if catalog.empty:
        raise SeisbindInputError("make_windows: empty catalog")
    times_ns = to_utc_ns(catalog["time"])
    span = (int(times_ns.min()), int(times_ns.max()))
    first, last = span if period is None else (int(v) for v in to_utc_ns(list(period)))
    first, last = max(first, span[0]), min(last, span[1])
    if first >= last:
        raise SeisbindInputError(f"period {period} does not overlap the catalog span {pd.to_datetime(span, utc=True)}")

    targets = select_targets(catalog, target_min_magnitude, decluster, decluster_hours=decluster_hours,
                             decluster_km=decluster_km).reset_index(drop=True)
    target_ns = to_utc_ns(targets["time"])
    magnitudes = catalog["magnitude"].to_numpy(np.float64)
    loud_ns = np.sort(times_ns[magnitudes >= quiet_min_magnitude])
    rows = []
    for i, (t, event_id, magnitude) in enumerate(zip(target_ns, targets["event_id"], targets["magnitude"])):
        target = {"target_event_id": str(event_id), "target_time": t, "target_magnitude": float(magnitude),
                  "group": str(event_id), "stratum": "all" if match_days is None else str(event_id)}
        for h in horizons:
            rows.append({"window_id": f"pre_h{h:g}_{i:03d}", "start_time": t - _hours_ns(h), "end_time": t,
                         "window_type": "pre", "horizon_hours": h, **target})
            rows.append({"window_id": f"post_h{h:g}_{i:03d}", "start_time": t + _hours_ns(post_start_h),
                         "end_time": t + _hours_ns(post_start_h + h), "window_type": "post", "horizon_hours": h,
                         **target})
    inside = [first <= r["start_time"] and r["end_time"] <= last for r in rows]
    outside = Counter(r["window_type"] for r, ok in zip(rows, inside) if not ok)
    if outside:
        log.debug("dropped target windows reaching outside the period/catalog span: %s", dict(outside))
    rows = [r for r, ok in zip(rows, inside) if ok]
    quiet = [r["window_type"] != "pre" or not any_between(loud_ns, r["start_time"] - _hours_ns(quiet_hours),
                                                          r["end_time"]) for r in rows]
    n_dropped = sum(not ok for ok in quiet)
    if n_dropped:
        log.debug("dropped %d pre-event windows with another M >= %g event within %g h before or inside them",
                 n_dropped, quiet_min_magnitude, quiet_hours)
    rows = [r for r, ok in zip(rows, quiet) if ok]

    quiet_s = np.concatenate([loud_ns, target_ns]) / _NS_PER_S
    # spans a background window may not overlap: (start, end, buffer seconds)
    spans = np.concatenate([
        np.stack([quiet_s, quiet_s, np.full(quiet_s.size, quiet_hours * _S_PER_HOUR)], axis=1),
        np.stack([(target_ns - _hours_ns(max(horizons))) / _NS_PER_S, (target_ns + _hours_ns(post_end_h)) / _NS_PER_S,
                  np.zeros(target_ns.size)], axis=1),
    ])
    rng = np.random.default_rng(seed)
    placed = {}
    lo_s = max(first, span[0] + _hours_ns(quiet_hours)) / _NS_PER_S
    hi_s = min(last, span[1] - _hours_ns(quiet_hours)) / _NS_PER_S
    kept_targets = sorted({(r["target_time"], r["target_event_id"]) for r in rows if r["window_type"] == "pre"})
    matched: set[tuple[float, str]] = set()
    for length_h in lengths:
        length_s = int(round(length_h * _S_PER_HOUR))
        allowed = _allowed_starts(spans, length_s, lo_s, hi_s)
        if match_days is None:
            starts, allowed = _draw_background(allowed, length_s, n_background, rng)
            strata = ["all"] * len(starts)
            wanted = n_background
        else:
            # Round robin, targets in a random order each round: where matched ranges overlap, every target gets
            # its first window before any gets a second, so scarce quiet room is shared rather than taken by the
            # first targets to draw.
            starts, strata = [], []
            for _ in range(background_per_target):
                for j in rng.permutation(len(kept_targets)):
                    t_s, event_id = kept_targets[j][0] / _NS_PER_S, kept_targets[j][1]
                    near = _clip_intervals(allowed, t_s - match_days * 86400, t_s + match_days * 86400 - length_s)
                    drawn, _ = _draw_background(near, length_s, 1, rng)
                    allowed = _remove_windows(allowed, drawn, length_s)
                    starts += drawn.tolist()
                    strata += [event_id] * len(drawn)
                    if len(drawn):
                        matched.add((length_h, event_id))
            order = np.argsort(starts, kind="stable")
            starts, strata = np.asarray(starts, np.int64)[order], [strata[k] for k in order]
            wanted = background_per_target * len(kept_targets)
        placed[length_h] = len(starts)
        if len(starts) < wanted:
            log.warning("background %gh: placed %d of %d requested windows (no more quiet room)",
                        length_h, len(starts), wanted)
        weeks = pd.to_datetime(starts, unit="s", utc=True).isocalendar()
        for k, (s, year, week, stratum) in enumerate(zip(starts, weeks["year"], weeks["week"], strata)):
            rows.append({"window_id": f"bg_h{length_h:g}_{k:04d}", "start_time": int(s) * _NS_PER_S,
                         "end_time": (int(s) + length_s) * _NS_PER_S, "window_type": "background",
                         "horizon_hours": length_h, "target_event_id": None, "target_time": None,
                         "target_magnitude": np.nan, "group": f"bg_{year}-W{week:02d}", "stratum": stratum})

    n_unmatched = 0
    if match_days is not None:
        # A target without a background window of its length has no comparison in its stratum: a permutation
        # within strata would always leave its label in place.
        unmatched = [r["window_type"] == "pre" and r["horizon_hours"] in lengths
                     and (r["horizon_hours"], r["target_event_id"]) not in matched for r in rows]
        n_unmatched = sum(unmatched)
        if n_unmatched:
            log.debug("dropped %d pre-event windows whose target got no matched background window", n_unmatched)
        rows = [r for r, drop in zip(rows, unmatched) if not drop]
    kept_pre = {(r["target_event_id"], r["horizon_hours"]) for r in rows if r["window_type"] == "pre"}
    rows = [r for r in rows if r["window_type"] != "post" or (r["target_event_id"], r["horizon_hours"]) in kept_pre]
    windows = pd.DataFrame(rows, columns=WINDOW_COLUMNS)
    for column in ("start_time", "end_time", "target_time"):
        windows[column] = pd.to_datetime(windows[column], utc=True).dt.as_unit("ns")
    windows = with_centres(windows, targets)
    windows["horizon_hours"] = windows["horizon_hours"].astype(np.float64)
    windows["target_magnitude"] = windows["target_magnitude"].astype(np.float64)
    windows = windows.sort_values(["start_time", "window_id"], kind="stable").reset_index(drop=True)
    windows.attrs["n_without_magnitude"] = targets.attrs["n_without_magnitude"]
    windows.attrs["n_background_requested"] = n_background if match_days is None else \
        background_per_target * len(kept_targets)
    windows.attrs["n_background_placed"] = placed
    windows.attrs["n_pre_dropped_not_quiet"] = n_dropped
    windows.attrs["n_pre_dropped_unmatched"] = n_unmatched
    return windows


def with_centres(windows: pd.DataFrame, targets: pd.DataFrame) -> pd.DataFrame:
    """The windows with the target each one looks around (centre_event_id, and its epicentre in degrees):
    a pre- or post-event window's own target; a background window's stratum target, near which in time it was
    drawn to be compared with it; a background window of no stratum (match_days null), the pre-event target
    nearest in time to the window's middle (the earlier one on a tie), the stratum a time match would give it."""
    centre = windows["target_event_id"].where(windows["target_event_id"].notna(),
                                              windows["stratum"].where(windows["stratum"] != "all"))
    pre = windows[windows["window_type"] == "pre"].drop_duplicates("target_event_id").sort_values("target_time")
    unset = centre.isna().to_numpy()
    if unset.any() and len(pre):
        middle = to_utc_ns(windows["start_time"][unset]) // 2 + to_utc_ns(windows["end_time"][unset]) // 2
        lag = np.abs(middle[:, None] - to_utc_ns(pre["target_time"])[None, :])
        centre[unset] = pre["target_event_id"].to_numpy()[np.argmin(lag, axis=1)]
    where = targets.assign(event_id=targets["event_id"].astype(str)).set_index("event_id")
    return windows.assign(centre_event_id=centre,
                          centre_latitude_deg=centre.map(where["latitude_deg"]).astype(np.float64),
                          centre_longitude_deg=centre.map(where["longitude_deg"]).astype(np.float64))


def _hours_ns(hours: float) -> int:
    return int(round(hours * _S_PER_HOUR * _NS_PER_S))


def any_between(sorted_ns: np.ndarray, lo_ns, hi_ns) -> np.ndarray:
    """For each [lo, hi) (int ns, scalars or arrays), whether the sorted array holds a value in it: the quiet rule's
    test, for pre-event windows here and for the other-period copies (seisbind/probe/study/design.py)."""
    return np.searchsorted(sorted_ns, lo_ns, side="left") < np.searchsorted(sorted_ns, hi_ns, side="left")


Intervals = tuple[np.ndarray, np.ndarray]
"""Closed integer-second intervals (lo, hi) of allowed window starts."""


def _clip_intervals(allowed: Intervals, first: float, last: float) -> Intervals:
    lo, hi = np.maximum(allowed[0], int(np.ceil(first))), np.minimum(allowed[1], int(np.floor(last)))
    keep = hi >= lo
    return lo[keep], hi[keep]


def _remove_windows(allowed: Intervals, starts: np.ndarray, length_s: int) -> Intervals:
    """The allowed starts left once windows [s, s + length) are taken: a start overlapping one is removed."""
    lo, hi = allowed
    for s in starts:
        left_hi, right_lo = np.minimum(hi, s - length_s), np.maximum(lo, s + length_s)
        keep_left, keep_right = left_hi >= lo, hi >= right_lo
        lo = np.concatenate([lo[keep_left], right_lo[keep_right]])
        hi = np.concatenate([left_hi[keep_left], hi[keep_right]])
    return lo, hi


def _allowed_starts(spans: np.ndarray, length_s: int, lo_s: float, hi_s: float) -> Intervals:
    """Closed integer-second intervals of start times s for which [s, s + length) keeps clear of every span.

    A span (a, b, buffer) forbids starts in [a - buffer - length, b + buffer]; the forbidden intervals are
    merged and their complement inside [lo_s, hi_s - length] is returned, rounded inwards to whole seconds.
    """
    first, last = int(np.ceil(lo_s)), int(np.floor(hi_s)) - length_s
    if spans.size == 0:
        return (np.array([first]), np.array([last])) if last >= first else (np.empty(0, int), np.empty(0, int))
    forbid_lo = spans[:, 0] - spans[:, 2] - length_s
    forbid_hi = spans[:, 1] + spans[:, 2]
    order = np.argsort(forbid_lo, kind="stable")
    forbid_lo, reach = forbid_lo[order], np.maximum.accumulate(forbid_hi[order])
    new_group = np.r_[True, forbid_lo[1:] > reach[:-1]]
    merged_lo = forbid_lo[new_group]
    merged_hi = reach[np.r_[np.flatnonzero(new_group)[1:] - 1, reach.size - 1]]
    lo = np.maximum(np.r_[first, np.floor(merged_hi).astype(np.int64) + 1], first)
    hi = np.minimum(np.r_[np.ceil(merged_lo).astype(np.int64) - 1, last], last)
    keep = hi >= lo
    return lo[keep], hi[keep]


def _draw_background(allowed: Intervals, length_s: int, n: int, rng: np.random.Generator) -> tuple[
        np.ndarray, Intervals]:
    """Up to n non-overlapping window starts, each uniform over the allowed seconds left by the earlier ones;
    returns them sorted with the allowed starts that remain."""
    starts = []
    while len(starts) < n and allowed[0].size:
        lo, hi = allowed
        sizes = hi - lo + 1
        ends = np.cumsum(sizes)
        u = int(rng.integers(ends[-1]))
        j = int(np.searchsorted(ends, u, side="right"))
        s = int(lo[j] + u - (ends[j] - sizes[j]))
        starts.append(s)
        allowed = _remove_windows(allowed, [s], length_s)
    return np.sort(np.asarray(starts, dtype=np.int64)), allowed
