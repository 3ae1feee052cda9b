"""Detrended GNSS displacements: how far a station moved over the days before a given time, beyond what its own
steady motion predicts.

The model input per trace (seisbind.modalities.gnss.GnssInput) and the study's feature family per window
(seisbind.modalities.gnss.GnssFamily, which reduces each window's stations to a few numbers) both need this
quantity; the residual (daily positions of a `read_gnss` table minus the station's prior trend, in mm;
`_residuals`) is computed here once for both, at the stations near each query (`displacement_windows`).

Which days precede a time: a daily solution averages the observations of its UTC day, so it says nothing about the
time `end` only if the whole day has ended by then. The days before `end` are therefore those with
(day start + 24 h) <= `end`; a day whose 12:00 epoch is before `end` but whose afternoon is not would carry, e.g.,
part of the co-seismic step of an earthquake at `end` into a window meant to precede it.

Co-seismic offsets: an earthquake moves nearby stations by a step (tens of mm within ~30 km of an M6, about a mm at
50 km) that the trend cannot absorb. Inside a window it is most of the residual (a background window matched within
weeks of a mainshock holds its step or its aftershocks'), and in the days that anchor the trend it shifts the whole
window by the step. So, as NGL's steps file lets users do (geodesy.unr.edu/NGLStationPages/steps_readme.txt), the
offset of every catalogued earthquake that may have moved a station is removed before the residual
(`_remove_offsets`), using only the days up to the query's end.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from seisbind.data.gnss import DAY_NS, nan_median
from seisbind.errors import SeisbindInputError
from seisbind.geodesy import epicentral_km

log = logging.getLogger(__name__)

_CHUNK_VALUES = 4_000_000
"""Days x components gathered at once by `_residuals` (float64: about 32 MB per array)."""


ANCHOR_DAYS = 5
"""Prior positions whose median anchors the trend line: five daily positions cut the white noise of one by about
half and ignore one outlier, and a step more than five days before the window has left them all."""

VELOCITY_LAG_DAYS = 5
"""Separation (days) of the position pairs whose median rate is the prior velocity. Day-to-day differences are
mostly noise: their median misses the rate by about 0.14 sigma/day over 60 trend days (sigma = daily noise;
simulated), i.e. 0.2 mm/day or 6 mm over a 30-day window at 1.5 mm. Pairs five days apart cut that to 0.03 sigma/day,
and a step still spoils only the five pairs that straddle it, so the median moves by about as much as it does for
day-to-day pairs (~0.04 sigma/day over 60 days), not by a fraction of the step as a least-squares line would."""

STEP_RADIUS_LOG10_KM = (0.5, -0.8)
"""NGL's rule for which earthquakes may have moved a station (steps file, code 2): epicentre within
r0 = 10^(0.5 M - 0.8) km, i.e. 16 km at M4, 50 km at M5, 158 km at M6 (geodesy.unr.edu/NGLStationPages/
steps_readme.txt)."""

STEP_MIN_MAGNITUDE = 5.0
"""Default smallest magnitude whose offset is removed. Each removal costs the error of the difference of two daily
positions (`_remove_offsets`), ~2.1 mm per horizontal component at 1.5 mm daily noise. The static offset of a point
source, M0 / (4 pi mu R^2) with mu = 30 GPa (Aki & Richards 2002, ch. 4; M0 from Mw, Hanks & Kanamori 1979), is
4 mm at 5 km and 1 mm at 10 km hypocentral distance for an M5, but 0.8 mm and 0.2 mm for an M4.5: below M5, a
removal would add more noise than it takes away."""


# ------------------------------------------------------------------------------------------------ the daily grid
@dataclass(frozen=True)
class _Grid:
    """Every station's positions on one grid of consecutive days.

    enu_m (stations, 3, days) east/north/up in m, NaN on days without a solution; present (stations, days);
    count (stations, days + 1) the cumulative number of present days, so that any span's count is one subtraction;
    first_day is the day number (days since 1970-01-01) of column 0; step (stations, days) marks the UTC days of the
    earthquakes whose co-seismic offset `_residuals` removes (`_step_days`).
    """

    stations: np.ndarray
    latitude_deg: np.ndarray
    longitude_deg: np.ndarray
    first_day: int
    enu_m: np.ndarray
    present: np.ndarray
    count: np.ndarray
    step: np.ndarray

    def present_days(self, station: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """Number of present days with grid index in [lo, hi) (indices may lie outside the grid)."""
        n_days = self.present.shape[1]
        return self.count[station, np.clip(hi, 0, n_days)] - self.count[station, np.clip(lo, 0, n_days)]


def _daily_grid(series: pd.DataFrame, events: pd.DataFrame | None = None,
                step_min_magnitude: float = STEP_MIN_MAGNITUDE) -> _Grid:
    """The `_Grid` of a `read_gnss` table; station coordinates are the medians of their daily values; the steps are
    those of `events` (`_step_days`; none without events)."""
    missing = [name for name in ("station", "time", "east_m", "north_m", "up_m") if name not in series.columns]
    if missing:
        raise SeisbindInputError(f"GNSS series lacks columns {missing}; expected the read_gnss table")
    stations, station_index = np.unique(series["station"].astype(str).to_numpy(), return_inverse=True)
    days = pd.DatetimeIndex(series["time"]).as_unit("ns").asi8 // DAY_NS
    first_day = int(days.min()) if days.size else 0
    n_days = int(days.max()) - first_day + 1 if days.size else 0
    enu = np.full((stations.size, 3, n_days), np.nan)
    enu[station_index, :, days - first_day] = series[["east_m", "north_m", "up_m"]].to_numpy(np.float64)
    present = np.isfinite(enu).all(axis=1)
    count = np.zeros((stations.size, n_days + 1), np.int64)
    np.cumsum(present, axis=1, out=count[:, 1:])
    coordinates = {}
    for name in ("latitude_deg", "longitude_deg"):
        values = series[name] if name in series.columns else pd.Series(np.nan, index=series.index)
        coordinates[name] = values.groupby(station_index).median().reindex(range(stations.size)).to_numpy(float)
    step = _step_days(coordinates["latitude_deg"], coordinates["longitude_deg"], first_day, n_days, events,
                      step_min_magnitude)
    return _Grid(stations, coordinates["latitude_deg"], coordinates["longitude_deg"], first_day, enu, present, count,
                 step)


def _step_days(latitude_deg: np.ndarray, longitude_deg: np.ndarray, first_day: int, n_days: int,
               events: pd.DataFrame | None, min_magnitude: float) -> np.ndarray:
    """(stations, days) bool: the UTC days of the `events` (time, latitude_deg, longitude_deg, magnitude) of
    magnitude >= `min_magnitude` whose epicentre is within NGL's radius of the station (`STEP_RADIUS_LOG10_KM`)."""
    step = np.zeros((latitude_deg.size, n_days), bool)
    if events is None or not len(events):
        return step
    magnitude = events["magnitude"].to_numpy(np.float64)
    large = events[np.nan_to_num(magnitude, nan=-np.inf) >= min_magnitude]
    day = pd.DatetimeIndex(large["time"]).as_unit("ns").asi8 // DAY_NS - first_day
    slope, intercept = STEP_RADIUS_LOG10_KM
    radius_km = 10.0 ** (slope * large["magnitude"].to_numpy(np.float64) + intercept)
    distance_km = epicentral_km(latitude_deg[:, None], longitude_deg[:, None],
                                large["latitude_deg"].to_numpy(np.float64)[None, :],
                                large["longitude_deg"].to_numpy(np.float64)[None, :])
    station, event = np.nonzero((distance_km <= radius_km[None, :]) & (day >= 0) & (day < n_days))
    step[station, day[event]] = True
    return step


def _end_index(grid: _Grid, ends_ns: np.ndarray) -> np.ndarray:
    """Grid index of the last day whose 24-h solution has ended by each end time (module docstring)."""
    return ends_ns // DAY_NS - 1 - grid.first_day


# ------------------------------------------------------------------------------------------------- the residual
def _residuals(grid: _Grid, station: np.ndarray, end_index: np.ndarray, window_days: int,
               trend_days: int) -> np.ndarray:
    """Residual displacement (pairs, 3, window_days) east/north/up in mm, NaN on days without a solution.

    For each (station, end day) pair: the positions of the `window_days` days ending at the end day, minus the
    station's prior trend extrapolated over them, after removing the co-seismic offsets of the grid's step days
    (`_remove_offsets`). The trend comes from the `trend_days` days before the window.
    Its velocity (m/day, per component) is the median, over pairs of present days about `_velocity_lag` days apart,
    of the position difference divided by the day gap: a co-seismic step (or an outage) spoils only the pairs that
    straddle it and the median ignores them, where a least-squares line would tilt towards the step
    (`VELOCITY_LAG_DAYS` says why not day-to-day pairs). The line is anchored at the median of the last
    `ANCHOR_DAYS` present prior positions after removing that velocity, so the residual is ~0 at the window start
    and measures what moved since. Its error grows from the anchor on by the velocity error per day: with 1.5 mm
    daily noise and 60 trend days about 0.05 mm/day, 1.5 mm at the end of a 30-day window. A slow transient in the
    trend period is not steady motion but tilts the velocity all the same: a 5 mm slip over 5 days inside 30 trend
    days at 1.5 mm noise biases it by ~0.17 mm/day (simulated: the same for lags of 1 to 5 days, more for longer
    ones, 0.25 for least squares), ~1.3 mm at the end of a 5-day window and its anchor lag; only a longer
    `trend_days` dilutes it. Every pair needs `_velocity_lag` + 1 present trend days (`_counted` ensures it).
    With `trend_days` 0 no velocity is removed: the anchor is the median of the `ANCHOR_DAYS` days before the window
    (`prior_days`) and the residual is the displacement since (why the probe's family does so:
    seisbind.modalities.gnss.GnssFamily).
    """
    prior = prior_days(trend_days)
    span = prior + window_days
    n_days = grid.present.shape[1]
    out = np.empty((station.size, 3, window_days))
    step = max(1, _CHUNK_VALUES // (span * 3))
    offsets = np.arange(span) - span + 1
    position = np.arange(span, dtype=np.float64)
    for lo in range(0, station.size, step):
        s, end = station[lo: lo + step, None], end_index[lo: lo + step, None]
        index = end + offsets[None, :]
        inside = (index >= 0) & (index < n_days)
        clipped = np.clip(index, 0, max(n_days - 1, 0))
        present = inside & grid.present[s, clipped]
        x = np.where(present[:, None, :], grid.enu_m[s, :, clipped].transpose(0, 2, 1), np.nan)
        x, present = _remove_offsets(x, present, inside & grid.step[s, clipped])
        trend, trend_present = x[:, :, :prior], present[:, None, :prior]
        velocity = (_median_velocity(trend, trend_present, _velocity_lag(trend_days)) if trend_days
                    else np.zeros((x.shape[0], 3, 1)))
        detrended = trend - velocity * position[:prior]
        from_end = np.cumsum(trend_present[:, :, ::-1], axis=2)[:, :, ::-1]
        anchor = nan_median(np.where(trend_present & (from_end <= ANCHOR_DAYS), detrended, np.nan))
        out[lo: lo + step] = (x[:, :, prior:] - anchor - velocity * position[prior:]) * 1000.0
    return out


def _remove_offsets(x: np.ndarray, present: np.ndarray, step: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions x (pairs, 3, days) in m with `present` (pairs, days) after removing the co-seismic offset at each
    `step` day (pairs, days), earliest first; returns the new (x, present).

    The offset is the position of the first present day after the event's day minus that of the last present day
    before it (each within `ANCHOR_DAYS`), subtracted from every later day; the event's own day mixes both levels
    (its solution averages the whole UTC day) and is dropped. Single days rather than medians of several: any slow
    motion around the event (a transient building up to the next earthquake of a sequence, afterslip) enters the
    offset in proportion to the days between the two levels, 2 for single days, 6 for 5-day medians, and is removed
    from the residual with the step; the price is the noise of two single days, ~2.1 mm per horizontal component at
    1.5 mm daily noise (5-day medians: 1.2 mm). On synthetic roots with the planted transient (17 seeds, 24-h
    windows) single days give the GNSS AUC (mean of the features) of the same roots written without steps, 0.610
    vs 0.614, where 5-day medians give 0.586.
    The days come from the query's span only, which ends before the query's end: an offset is never estimated from
    positions after it (for a pre-event window, those would hold its own target's step). Where no day before the
    event is present, the earlier days cannot be tied to the later ones and are dropped; where none after it is,
    the later days are.
    """
    x, present = x.copy(), present & ~step
    x[np.broadcast_to(step[:, None, :], x.shape)] = np.nan
    days = np.arange(x.shape[-1])
    for day in np.flatnonzero(step.any(axis=0)):
        rows = np.flatnonzero(step[:, day])
        near = present[rows] & (np.abs(days - day) <= ANCHOR_DAYS)
        before = _position_at(x[rows], near & (days < day), last=True)
        after = _position_at(x[rows], near & (days > day), last=False)
        x[rows, :, day + 1:] -= np.nan_to_num(after - before)
        cut = np.where(np.isnan(before[:, 0]), days < day, np.isnan(after[:, 0]) & (days > day))
        present[rows] &= ~cut
        x[rows] = np.where(cut[:, None, :], np.nan, x[rows])
    return x, present


def _position_at(x: np.ndarray, eligible: np.ndarray, last: bool) -> np.ndarray:
    """Position (rows, 3, 1) of the last (or first) `eligible` day (rows, days) of x (rows, 3, days); NaN where no
    day is eligible."""
    n_days = eligible.shape[-1]
    ranked = np.where(eligible, np.arange(n_days), -1 if last else n_days)
    day = ranked.max(axis=-1) if last else ranked.min(axis=-1)
    value = x[np.arange(x.shape[0]), :, np.clip(day, 0, n_days - 1)]
    return np.where(eligible.any(axis=-1)[:, None], value, np.nan)[:, :, None]


def _median_velocity(x: np.ndarray, present: np.ndarray, lag: int) -> np.ndarray:
    """Median of difference / day gap over pairs (each present day, the first present day >= `lag` days later),
    m/day: x (pairs, 3, days) with present (pairs, 1, days) -> (pairs, 3, 1)."""
    n_days = x.shape[-1]
    position = np.arange(n_days)
    upcoming = np.minimum.accumulate(np.where(present, position, n_days)[..., ::-1], axis=-1)[..., ::-1]
    partner = np.full(upcoming.shape, n_days)
    partner[..., : n_days - lag] = upcoming[..., lag:]
    after = np.take_along_axis(x, np.broadcast_to(np.clip(partner, 0, n_days - 1), x.shape), axis=-1)
    rate = (after - x) / np.maximum(partner - position, 1)
    return nan_median(np.where(present & (partner < n_days), rate, np.nan))


def _velocity_lag(trend_days: int) -> int:
    """Days between the two positions of each velocity pair: `VELOCITY_LAG_DAYS`, fewer for a short trend period
    (at most a quarter of it, so that pairs exist and a step spoils a minority of them)."""
    return max(1, min(VELOCITY_LAG_DAYS, trend_days // 4))


def _hold_gaps(residual: np.ndarray) -> np.ndarray:
    """Fill each missing day with the previous day's residual, 0 before the first present one (..., days)."""
    present = np.isfinite(residual)
    last = np.maximum.accumulate(np.where(present, np.arange(residual.shape[-1]), -1), axis=-1)
    held = np.take_along_axis(residual, np.clip(last, 0, None), axis=-1)
    return np.where(last >= 0, held, 0.0)


def prior_days(trend_days: int) -> int:
    """Days before the window that a residual uses: the trend period, or the anchor's days without a trend."""
    return trend_days or ANCHOR_DAYS


def _check_days(window_days: int, trend_days: int) -> None:
    if window_days < 1 or trend_days < 0 or trend_days == 1:
        raise SeisbindInputError(f"window_days must be >= 1 and trend_days 0 (no velocity removed) or >= 2 (got "
                                 f"{window_days}, {trend_days})")


def _counted(grid: _Grid, station: np.ndarray, end_index: np.ndarray, window_days: int, trend_days: int,
             min_window: int, min_trend: int) -> np.ndarray:
    """Whether each (station, end day) pair has `min_window` present window days and `min_trend` present days in
    the `prior_days` before them (never fewer than a velocity pair needs, or than one anchor day)."""
    window_start = end_index + 1 - window_days
    n_window = grid.present_days(station, window_start, end_index + 1)
    n_trend = grid.present_days(station, window_start - prior_days(trend_days), window_start)
    needed = _velocity_lag(trend_days) + 1 if trend_days else 1
    return (n_window >= min_window) & (n_trend >= max(min_trend, needed))


# ------------------------------------------------------------------------ per query: model inputs, probe features
def displacement_windows(series: pd.DataFrame, ends_ns: np.ndarray, latitudes_deg: np.ndarray,
                         longitudes_deg: np.ndarray, *, radius_km: float, window_days: int, trend_days: int,
                         max_stations: int, min_coverage: float, events: pd.DataFrame | None = None,
                         step_min_magnitude: float = STEP_MIN_MAGNITUDE) -> tuple[np.ndarray, np.ndarray]:
    """Residual daily displacement at the stations near each query, before its end time (both consumers).

    Query i is an end time `ends_ns[i]` (ns since 1970 UTC, or datetime64) and a location (degrees): a trace's start
    and its event's epicentre, or a probe window's end and its target's epicentre. Its stations are those within
    `radius_km` (great circle) whose channels count, nearest first, up to `max_stations`; a station counts for that
    end when at least `min_coverage` of its `window_days` days before the end and of its `prior_days(trend_days)`
    days before those have a solution. The co-seismic offsets of `events` (a catalog: time, latitude_deg, longitude_deg,
    magnitude; module docstring) from `step_min_magnitude` up are removed first; None removes none. Returns

    - values float32 (n, max_stations * 3, window_days): residual east, north, up (mm; `_residuals`) of station 0,
      then station 1, ..., oldest day first; a missing day holds the previous day's residual, 0 before the first;
      slots without a station are 0;
    - mask bool (n, max_stations * 3): which channels hold a station.

    A query with a NaN location or end, or no counted station nearby, has an all-False mask. Work is shared by the
    queries of one (end day, location), e.g. the traces of one event in one day, and the residual of a
    (station, end day) pair is computed once, so the cost grows with events and stations, not traces or windows.
    """
    _check_days(window_days, trend_days)
    if radius_km <= 0 or max_stations < 1 or not 0 < min_coverage <= 1:
        raise SeisbindInputError(f"radius_km must be > 0, max_stations >= 1 and min_coverage in (0, 1] (got "
                                 f"{radius_km}, {max_stations}, {min_coverage})")
    ends = _as_ns(ends_ns)
    lat = np.asarray(latitudes_deg, dtype=np.float64)
    lon = np.asarray(longitudes_deg, dtype=np.float64)
    if not ends.shape == lat.shape == lon.shape or ends.ndim != 1:
        raise SeisbindInputError(f"ends_ns, latitudes_deg and longitudes_deg must be 1-D of one length (got shapes "
                                 f"{ends.shape}, {lat.shape}, {lon.shape})")
    n, channels = ends.size, max_stations * 3
    values = np.zeros((n, channels, window_days), np.float32)
    mask = np.zeros((n, channels), bool)
    grid = _daily_grid(series, events, step_min_magnitude)
    located = np.isfinite(grid.latitude_deg) & np.isfinite(grid.longitude_deg)
    if not located.all():
        log.warning("GNSS stations without coordinates are not used: %s", ", ".join(grid.stations[~located]))
    valid = (ends != np.iinfo(np.int64).min) & np.isfinite(lat) & np.isfinite(lon)
    if not valid.any() or not located.any():
        return values, mask
    end_index = _end_index(grid, ends[valid])
    keys, key_of_query = np.unique(np.column_stack([end_index, lat[valid], lon[valid]]), axis=0, return_inverse=True)
    key_end = keys[:, 0].astype(np.int64)
    places, place_of_key = np.unique(keys[:, 1:], axis=0, return_inverse=True)
    usable = np.flatnonzero(located)
    distance_km = epicentral_km(places[:, :1], places[:, 1:], grid.latitude_deg[usable][None, :],
                                grid.longitude_deg[usable][None, :])
    min_window = math.ceil(min_coverage * window_days - 1e-9)
    min_trend = math.ceil(min_coverage * prior_days(trend_days) - 1e-9)

    chosen = np.full((keys.shape[0], max_stations), -1, np.int64)
    step = max(1, _CHUNK_VALUES // usable.size)
    for lo in range(0, keys.shape[0], step):
        end = key_end[lo: lo + step, None]
        counted = _counted(grid, usable[None, :], end, window_days, trend_days, min_window, min_trend)
        order_key = np.where(counted & (distance_km[place_of_key[lo: lo + step]] <= radius_km),
                             distance_km[place_of_key[lo: lo + step]], np.inf)
        order = np.argsort(order_key, axis=1, kind="stable")[:, :max_stations]
        found = np.isfinite(np.take_along_axis(order_key, order, axis=1))
        chosen[lo: lo + step, : order.shape[1]] = np.where(found, usable[order], -1)

    key_slot = np.argwhere(chosen >= 0)
    pairs, pair_of_slot = np.unique(np.column_stack([chosen[key_slot[:, 0], key_slot[:, 1]],
                                                     key_end[key_slot[:, 0]]]), axis=0, return_inverse=True)
    residual = _hold_gaps(_residuals(grid, pairs[:, 0], pairs[:, 1], window_days, trend_days))
    key_values = np.zeros((keys.shape[0], max_stations, 3, window_days), np.float32)
    key_values[key_slot[:, 0], key_slot[:, 1]] = residual[pair_of_slot]
    key_mask = np.repeat(chosen >= 0, 3, axis=1)
    values[valid] = key_values.reshape(keys.shape[0], channels, window_days)[key_of_query]
    mask[valid] = key_mask[key_of_query]
    return values, mask


def _as_ns(times: np.ndarray) -> np.ndarray:
    """Times as int64 ns since 1970 UTC (NaT = int64 min) from int64 ns, datetime64 or pandas datetimes."""
    array = np.asarray(times)
    if np.issubdtype(array.dtype, np.datetime64):
        return array.astype("datetime64[ns]").astype(np.int64)
    if array.dtype == object or isinstance(times, (pd.Series, pd.Index)):
        return pd.DatetimeIndex(pd.to_datetime(pd.Series(np.ravel(array)), utc=True)).as_unit("ns").asi8.reshape(
            array.shape)
    return array.astype(np.int64)
