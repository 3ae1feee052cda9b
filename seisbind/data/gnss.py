"""GNSS daily positions (NGL `.tenv3`, EarthScope/UNAVCO PBO `.pos`) and the detrended displacements drawn from them.

Readers turn either published format into one long table of daily east/north/up positions in metres
(`read_gnss`). Its two consumers, the model input per trace (seisbind.modalities.gnss.GnssInput) and the probe's
feature family per window (seisbind.modalities.gnss.GnssFamily, which reduces each window's stations to a few
numbers), both need the same quantity: how far a station moved over the days before a given time, beyond what its
own steady motion predicts. That quantity, the residual (daily positions minus the station's prior trend, in mm;
`_residuals`), is computed here once for both, at the stations near each query (`displacement_windows`).

Which days precede a time: a daily solution averages the observations of its UTC day, so it says nothing about the
time `end` only if the whole day has ended by then. The days before `end` are therefore those with
(day start + 24 h) <= `end`; a day whose 12:00 epoch is before `end` but whose afternoon is not would carry, e.g.,
part of the co-seismic step of an earthquake at `end` into a window meant to precede it.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from seisbind.errors import SeisbindInputError
from seisbind.geodesy import epicentral_km

log = logging.getLogger(__name__)

COLUMNS = ["station", "time", "east_m", "north_m", "up_m", "sigma_east_m", "sigma_north_m", "sigma_up_m",
           "latitude_deg", "longitude_deg", "height_m"]
"""The columns of `read_gnss`, in order; positions and sigmas in metres, coordinates in degrees and metres."""

DAY_NS = 86_400 * 10**9
NOON_NS = DAY_NS // 2

VELOCITY_LAG_DAYS = 5
"""Separation (days) of the position pairs whose median rate is the prior velocity. Day-to-day differences are
mostly noise: their median misses the rate by about 0.14 sigma/day over 60 trend days (sigma = daily noise;
simulated), i.e. 0.2 mm/day or 6 mm over a 30-day window at 1.5 mm. Pairs five days apart cut that to 0.03 sigma/day,
and a step still spoils only the five pairs that straddle it, so the median moves by about as much as it does for
day-to-day pairs (~0.04 sigma/day over 60 days), not by a fraction of the step as a least-squares line would."""

ANCHOR_DAYS = 5
"""Prior positions whose median anchors the trend line: five daily positions cut the white noise of one by about
half and ignore one outlier, and a step more than five days before the window has left them all."""

OUTLIER_SIDE_DAYS = 5
"""Solutions on each side of a day whose median the day is compared with (`_drop_outliers`)."""

OUTLIER_ROBUST_SIGMAS = 10.0
"""How far (in robust sigmas of the station's day-to-day scatter) a position may lie from the medians of its
neighbours on both sides before it is a gross outlier: Gaussian noise gets there about once in 10^23 days."""

OUTLIER_FLOOR_M = 0.05
"""The smallest departure (m) called a gross outlier, whatever the scatter: ten times NGL's typical vertical daily
noise (4-8 mm, REFERENCE.md section 9), and more than any slow transient moves a station in the days around one."""

_TENV3_FIELDS = (20, 23)
_POS_FIELDS = 25
_MONTHS = {name: number for number, name in enumerate(
    ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"), start=1)}
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_CHUNK_VALUES = 4_000_000
"""Days x components gathered at once by `_residuals` (float64: about 32 MB per array)."""


# --------------------------------------------------------------------------------------------------------- readers
def read_tenv3(path: str | Path) -> pd.DataFrame:
    """One NGL `.tenv3` file (REFERENCE.md section 9) as the `read_gnss` table.

    Each position is the integer part plus the fractional part (east `_e0(m)` + `__east(m)`, north `____n0(m)` +
    `_north(m)`, up `u0(m)` + `____up(m)`), metres from the reference meridian, the equator and the ellipsoid.
    Latitude, longitude and height come from the last three columns; files written before NGL added them stop after
    the correlations, and then they are NaN (logged once per file). Longitudes in 0-360 become [-180, 180). The
    century of the two-digit year in `YYMMMDD` is the one nearest the decimal-year column. A missing day is a gap.
    A line with another field count, a non-numeric value, a bad date, another station's code or a day already read
    raises SeisbindInputError naming the file and the line(s).
    """
    path = Path(path)
    rows, numbers = _data_lines(path, header_prefix="site")
    for row, number in zip(rows, numbers):
        if len(row) not in _TENV3_FIELDS:
            raise SeisbindInputError(f"{path}: line {number}: {len(row)} fields, a .tenv3 line has 20 (older files) "
                                     f"or 23 (with latitude, longitude, height)")
    if not rows:
        return _empty_table()
    station = _one_station(path, [row[0] for row in rows], numbers)
    table = _numbers(path, rows, numbers, 2, 23)
    days = np.array([_tenv3_day(path, number, row[1], table[i, 0]) for i, (row, number) in
                     enumerate(zip(rows, numbers))], dtype=np.int64)
    if any(len(row) == 20 for row in rows):
        log.info("%s: no latitude/longitude/height columns (older .tenv3 layout); they are NaN", path)
    # table columns: 0 decimal year, 1 MJD, 2 week, 3 day of week, 4 reflon, 5-6 east, 7-8 north, 9-10 up,
    # 11 antenna height, 12-14 sigmas, 15-17 correlations, 18 latitude, 19 longitude, 20 height.
    return _table(path, station, days, numbers, east=table[:, 5] + table[:, 6], north=table[:, 7] + table[:, 8],
                  up=table[:, 9] + table[:, 10], sigmas=table[:, 12:15], latitude=table[:, 18],
                  longitude=table[:, 19], height=table[:, 20])


def read_pos(path: str | Path) -> pd.DataFrame:
    """One EarthScope/UNAVCO PBO `.pos` file (format version 1.1) as the `read_gnss` table.

    The station is the header's `4-character ID:`; data rows follow `End Field Description` and the `*YYYYMMDD`
    column row. Positions are dE, dN, dU (m from the file's NEU reference position; only differences in time matter
    downstream), sigmas Se, Sn, Su, coordinates NLat, Elong (0-360 in these files, wrapped to [-180, 180)) and
    Height. Each row is a daily solution and is placed at 12:00 UTC of its date, like NGL's. The same errors as
    `read_tenv3` (field count, non-numeric value, bad date, duplicated day), naming file and line.
    """
    path = Path(path)
    lines = _read_lines(path)
    station = None
    body = None
    for number, line in enumerate(lines, start=1):
        if line.startswith("4-character ID:"):
            station = line.split(":", 1)[1].strip()
        if line.strip() == "End Field Description":
            body = number
            break
    if station is None or body is None:
        missing = "'4-character ID:'" if station is None else "'End Field Description'"
        raise SeisbindInputError(f"{path}: no {missing} header line; not a PBO .pos file (format version 1.1)")
    rows, numbers = [], []
    for number, line in enumerate(lines[body:], start=body + 1):
        if line.strip() and not line.lstrip().startswith("*"):
            rows.append(line.split())
            numbers.append(number)
    for row, number in zip(rows, numbers):
        if len(row) != _POS_FIELDS:
            raise SeisbindInputError(f"{path}: line {number}: {len(row)} fields, a .pos data row has {_POS_FIELDS}")
    if not rows:
        return _empty_table()
    table = _numbers(path, rows, numbers, 2, 24)
    days = np.array([_pos_day(path, number, row[0], row[1]) for row, number in zip(rows, numbers)], dtype=np.int64)
    # table columns: 0 MJD, 1-3 XYZ, 4-6 their sigmas, 7-9 correlations, 10 NLat, 11 Elong, 12 Height,
    # 13 dN, 14 dE, 15 dU, 16 Sn, 17 Se, 18 Su, 19-21 correlations.
    return _table(path, station, days, numbers, east=table[:, 14], north=table[:, 13], up=table[:, 15],
                  sigmas=table[:, [17, 16, 18]], latitude=table[:, 10], longitude=table[:, 11], height=table[:, 12])


_READERS = {".tenv3": read_tenv3, ".pos": read_pos}


def read_gnss(paths: list[Path]) -> pd.DataFrame:
    """Daily positions of every station in `paths` (`.tenv3` and `.pos` alike), one row per station and day.

    Columns `COLUMNS`: station (str), time (datetime64[ns, UTC], 12:00 of the solution's day), east_m, north_m,
    up_m (m, each station against its own fixed origin), sigma_east_m, sigma_north_m, sigma_up_m (m),
    latitude_deg, longitude_deg (degrees, [-180, 180)), height_m; sorted by (station, time).

    A modality's glob takes a whole folder (`gnss/*`), so that neither format hides the other; what else is there
    (NGL's steps.txt, a README) and files with no daily position (empty or header only, as a failed download
    leaves them) are skipped, counted and named in one warning each. Gross outliers are dropped the same way
    (`_drop_outliers`). No daily position in any file, or one station in two files, raises SeisbindInputError
    naming the file(s).
    """
    paths = [Path(p) for p in paths]
    known = [p for p in paths if p.suffix.lower() in _READERS]
    _warn_skipped([p for p in paths if p not in known], "not .tenv3 (NGL) or .pos (EarthScope/UNAVCO PBO)")
    if not known:
        raise SeisbindInputError(f"no GNSS files (.tenv3 or .pos) among {_names(paths) or 'no files'}")
    frames, origin, empty = [], {}, []
    for path in known:
        frame = _READERS[path.suffix.lower()](path)
        if frame.empty:
            empty.append(path)
            continue
        for station in frame["station"].unique():
            if station in origin:
                raise SeisbindInputError(f"station {station} is in two GNSS files: {origin[station]} and {path}")
            origin[station] = path
        frames.append(_drop_outliers(path, frame))
    if not frames:
        raise SeisbindInputError(f"no daily position in any of the {len(known)} GNSS file(s) (empty or header "
                                 f"only): {_names(known)}")
    _warn_skipped(empty, "no daily position (empty or header only)")
    series = pd.concat(frames, ignore_index=True)
    return series.sort_values(["station", "time"], kind="stable").reset_index(drop=True)


def _names(paths: list[Path], shown: int = 5) -> str:
    """The first `shown` paths, and how many more, for a one-line message."""
    more = f" and {len(paths) - shown} more" if len(paths) > shown else ""
    return ", ".join(map(str, paths[:shown])) + more


def _warn_skipped(paths: list[Path], reason: str) -> None:
    if paths:
        log.warning("skipped %d GNSS file(s), %s: %s", len(paths), reason, _names(paths))


def _drop_outliers(path: Path, frame: pd.DataFrame) -> pd.DataFrame:
    """The table of one file without its gross outliers (`_gross_outliers`), the dropped days counted and the first
    three named in one warning with component and departure (m)."""
    enu = frame[["east_m", "north_m", "up_m"]].to_numpy(np.float64)
    outlier, signed = _gross_outliers(enu)
    bad = outlier.any(axis=1)
    if not bad.any():
        return frame
    shown = []
    for row in np.flatnonzero(bad)[:3]:
        component = int(np.argmax(np.where(outlier[row], np.abs(signed[row]), -1.0)))
        shown.append(f"{frame['time'].iloc[row].date()} {('east', 'north', 'up')[component]} "
                     f"{signed[row, component]:+.3f} m")
    log.warning("%s: dropped %d daily position(s) as gross outliers (beyond max(%g robust sigmas, %g m) of the "
                "medians of the %d solutions on each side): %s%s", path, int(bad.sum()), OUTLIER_ROBUST_SIGMAS,
                OUTLIER_FLOOR_M, OUTLIER_SIDE_DAYS, "; ".join(shown), " ..." if bad.sum() > 3 else "")
    return frame[~bad].reset_index(drop=True)


def _gross_outliers(enu: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Which positions of one station's days (days, 3; m, in time order) are gross outliers, and their departures
    from the nearer neighbour median (m).

    A position is one when it lies beyond both the median of the `OUTLIER_SIDE_DAYS` solutions before it and that
    of the solutions after it, on the same side and each by more than max(`OUTLIER_ROBUST_SIGMAS` robust sigmas,
    `OUTLIER_FLOOR_M`) (at either end of the series, beyond the one median there is). Robust sigma = 1.4826 MAD
    of the day-to-day differences / sqrt(2), which steps and outliers barely move. Asking both sides keeps a
    co-seismic step (the days after it agree with the days after them), the day of an earthquake whose solution
    lies between the levels before and after, and the days between two steps in one direction. A position is also
    kept when the solution just before or after it lies within the threshold, so that a level held between two
    earthquakes of opposite motion survives: a gross error repeated on two consecutive days is therefore kept, and
    a one-day level between opposite jumps is dropped; the positions alone cannot tell either from the other.
    """
    side, n = OUTLIER_SIDE_DAYS, len(enu)
    if n < 3:
        return np.zeros(enu.shape, bool), np.zeros(enu.shape)
    padded = np.concatenate([np.full((side, 3), np.nan), enu, np.full((side, 3), np.nan)])
    windows = np.lib.stride_tricks.sliding_window_view(padded, side, axis=0)   # (n + side + 1, 3, side)
    from_before = enu - _nan_median(windows[:n])[..., 0]
    from_after = enu - _nan_median(windows[side + 1: side + 1 + n])[..., 0]
    from_before, from_after = (np.where(np.isnan(from_before), from_after, from_before),
                               np.where(np.isnan(from_after), from_before, from_after))
    signed = np.where(np.abs(from_before) <= np.abs(from_after), from_before, from_after)
    jumps = np.abs(np.diff(enu, axis=0))
    threshold = np.maximum(OUTLIER_ROBUST_SIGMAS * 1.4826 * np.median(jumps, axis=0) / np.sqrt(2.0), OUTLIER_FLOOR_M)
    no_end = np.full((1, 3), np.inf)
    alone = np.fmin(np.concatenate([no_end, jumps]), np.concatenate([jumps, no_end]))
    outlier = (np.sign(from_before) == np.sign(from_after)) & (np.abs(signed) > threshold) & (alone > threshold)
    return outlier, signed


def _read_lines(path: Path) -> list[str]:
    try:
        # utf-8-sig: a byte-order mark left by a Windows editor is not part of the first station code
        return path.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise SeisbindInputError(f"{path}: cannot be read as text ({error})") from error


def _data_lines(path: Path, header_prefix: str) -> tuple[list[list[str]], list[int]]:
    """The fields of the non-empty lines and their 1-based numbers, the first line dropped if it is the header."""
    rows, numbers = [], []
    for number, line in enumerate(_read_lines(path), start=1):
        if not line.strip() or (number == 1 and line.startswith(header_prefix)):
            continue
        rows.append(line.split())
        numbers.append(number)
    return rows, numbers


def _numbers(path: Path, rows: list[list[str]], numbers: list[int], first: int, last: int) -> np.ndarray:
    """Fields [first, last) of every row as float64 (rows, fields); NaN where a row is shorter. A non-numeric or
    non-finite field is an error naming file and line (found line by line only once the fast conversion fails)."""
    width = last - first
    given = np.array([len(row[first:last]) for row in rows])
    try:
        table = np.array([row[first:last] + ["nan"] * (width - n) for row, n in zip(rows, given)], dtype=np.float64)
        failed = bool((~np.isfinite(table) & (np.arange(width)[None, :] < given[:, None])).any())
    except ValueError:
        failed = True
    if failed:
        for row, number in zip(rows, numbers):
            for field in row[first:last]:
                if not _is_finite_number(field):
                    raise SeisbindInputError(f"{path}: line {number}: {field!r} is not a finite number")
    return table


def _is_finite_number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def _one_station(path: Path, codes: list[str], numbers: list[int]) -> str:
    """The station code of a .tenv3 file; a line with another code is an error naming it."""
    for code, number in zip(codes, numbers):
        if code != codes[0]:
            raise SeisbindInputError(f"{path}: line {number}: station {code!r}, but line {numbers[0]} is "
                                     f"{codes[0]!r}; a .tenv3 file holds one station")
    return codes[0]


def _tenv3_day(path: Path, number: int, text: str, decimal_year: float) -> int:
    """Days since 1970-01-01 of a `YYMMMDD` date, the century taken from the decimal year."""
    month = _MONTHS.get(text[2:5].upper()) if len(text) == 7 else None
    if month is None or not (text[:2].isdigit() and text[5:].isdigit()):
        raise SeisbindInputError(f"{path}: line {number}: bad date {text!r} (expected YYMMMDD, e.g. 16AUG24)")
    yy = int(text[:2])
    year = yy + 100 * round((decimal_year - yy) / 100)
    return _day_number(path, number, text, year, month, int(text[5:]))


def _pos_day(path: Path, number: int, day: str, clock: str) -> int:
    """Days since 1970-01-01 of a `YYYYMMDD` date (its `HHMMSS` checked but not used: daily solutions are days)."""
    if not (len(day) == 8 and day.isdigit() and len(clock) == 6 and clock.isdigit()
            and int(clock[:2]) < 24 and int(clock[2:4]) < 60 and int(clock[4:]) < 60):
        raise SeisbindInputError(f"{path}: line {number}: bad epoch {day} {clock} (expected YYYYMMDD HHMMSS)")
    return _day_number(path, number, day, int(day[:4]), int(day[4:6]), int(day[6:]))


def _day_number(path: Path, number: int, text: str, year: int, month: int, day: int) -> int:
    try:
        return date(year, month, day).toordinal() - _EPOCH_ORDINAL
    except ValueError:
        raise SeisbindInputError(f"{path}: line {number}: bad date {text!r} (no such day)") from None


def _table(path: Path, station: str, days: np.ndarray, numbers: list[int], *, east: np.ndarray, north: np.ndarray,
           up: np.ndarray, sigmas: np.ndarray, latitude: np.ndarray, longitude: np.ndarray,
           height: np.ndarray) -> pd.DataFrame:
    """The `COLUMNS` table of one file, after the duplicated-day check."""
    order = np.argsort(days, kind="stable")
    repeated = np.flatnonzero(np.diff(days[order]) == 0)
    if repeated.size:
        first, second = sorted((numbers[order[repeated[0]]], numbers[order[repeated[0] + 1]]))
        day = pd.Timestamp(int(days[order[repeated[0]]]) * DAY_NS).date()
        raise SeisbindInputError(f"{path}: lines {first} and {second}: station {station} has two positions for "
                                 f"{day}")
    times = pd.to_datetime(days * DAY_NS + NOON_NS, unit="ns", utc=True)
    return pd.DataFrame({
        "station": station, "time": times, "east_m": east, "north_m": north, "up_m": up,
        "sigma_east_m": sigmas[:, 0], "sigma_north_m": sigmas[:, 1], "sigma_up_m": sigmas[:, 2],
        "latitude_deg": latitude, "longitude_deg": (longitude + 180.0) % 360.0 - 180.0, "height_m": height,
    }, columns=COLUMNS)


def _empty_table() -> pd.DataFrame:
    table = pd.DataFrame({name: pd.Series(dtype=np.float64) for name in COLUMNS})
    table["station"] = pd.Series(dtype=str)
    table["time"] = pd.Series(dtype="datetime64[ns, UTC]")
    return table


# ------------------------------------------------------------------------------------------------ the daily grid
@dataclass(frozen=True)
class _Grid:
    """Every station's positions on one grid of consecutive days.

    enu_m (stations, 3, days) east/north/up in m, NaN on days without a solution; present (stations, days);
    count (stations, days + 1) the cumulative number of present days, so that any span's count is one subtraction;
    first_day is the day number (days since 1970-01-01) of column 0.
    """

    stations: np.ndarray
    latitude_deg: np.ndarray
    longitude_deg: np.ndarray
    first_day: int
    enu_m: np.ndarray
    present: np.ndarray
    count: np.ndarray

    def present_days(self, station: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """Number of present days with grid index in [lo, hi) (indices may lie outside the grid)."""
        n_days = self.present.shape[1]
        return self.count[station, np.clip(hi, 0, n_days)] - self.count[station, np.clip(lo, 0, n_days)]


def _daily_grid(series: pd.DataFrame) -> _Grid:
    """The `_Grid` of a `read_gnss` table; station coordinates are the medians of their daily values."""
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
    return _Grid(stations, coordinates["latitude_deg"], coordinates["longitude_deg"], first_day, enu, present, count)


def _end_index(grid: _Grid, ends_ns: np.ndarray) -> np.ndarray:
    """Grid index of the last day whose 24-h solution has ended by each end time (module docstring)."""
    return ends_ns // DAY_NS - 1 - grid.first_day


# ------------------------------------------------------------------------------------------------- the residual
def _residuals(grid: _Grid, station: np.ndarray, end_index: np.ndarray, window_days: int,
               trend_days: int) -> np.ndarray:
    """Residual displacement (pairs, 3, window_days) east/north/up in mm, NaN on days without a solution.

    For each (station, end day) pair: the positions of the `window_days` days ending at the end day, minus the
    station's prior trend extrapolated over them. The trend comes from the `trend_days` days before the window.
    Its velocity (m/day, per component) is the median, over pairs of present days about `_velocity_lag` days apart,
    of the position difference divided by the day gap: a co-seismic step (or an outage) spoils only the pairs that
    straddle it and the median ignores them, where a least-squares line would tilt towards the step
    (`VELOCITY_LAG_DAYS` says why not day-to-day pairs). The line is anchored at the median of the last
    `ANCHOR_DAYS` present prior positions after removing that velocity, so the residual is ~0 at the window start
    and measures what moved since. Its error grows from the anchor on by the velocity error per day: with 1.5 mm
    daily noise and 60 trend days about 0.05 mm/day, 1.5 mm at the end of a 30-day window. Every pair needs
    `_velocity_lag` + 1 present trend days (`_counted` ensures it).
    """
    span = trend_days + window_days
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
        trend, trend_present = x[:, :, :trend_days], present[:, None, :trend_days]
        velocity = _median_velocity(trend, trend_present, _velocity_lag(trend_days))
        detrended = trend - velocity * position[:trend_days]
        from_end = np.cumsum(trend_present[:, :, ::-1], axis=2)[:, :, ::-1]
        anchor = _nan_median(np.where(trend_present & (from_end <= ANCHOR_DAYS), detrended, np.nan))
        out[lo: lo + step] = (x[:, :, trend_days:] - anchor - velocity * position[trend_days:]) * 1000.0
    return out


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
    return _nan_median(np.where(present & (partner < n_days), rate, np.nan))


def _velocity_lag(trend_days: int) -> int:
    """Days between the two positions of each velocity pair: `VELOCITY_LAG_DAYS`, fewer for a short trend period
    (at most a quarter of it, so that pairs exist and a step spoils a minority of them)."""
    return max(1, min(VELOCITY_LAG_DAYS, trend_days // 4))


def _nan_median(values: np.ndarray) -> np.ndarray:
    """Median over the last axis ignoring NaN, kept as a length-1 axis (NaN where all are NaN): one sort, where
    numpy.nanmedian masks slice by slice."""
    ordered = np.sort(values, axis=-1)
    n = np.isfinite(values).sum(axis=-1, keepdims=True)
    low = np.take_along_axis(ordered, np.clip((n - 1) // 2, 0, None), axis=-1)
    high = np.take_along_axis(ordered, np.clip(n // 2, 0, None), axis=-1)
    return np.where(n > 0, (low + high) / 2.0, np.nan)


def _hold_gaps(residual: np.ndarray) -> np.ndarray:
    """Fill each missing day with the previous day's residual, 0 before the first present one (..., days)."""
    present = np.isfinite(residual)
    last = np.maximum.accumulate(np.where(present, np.arange(residual.shape[-1]), -1), axis=-1)
    held = np.take_along_axis(residual, np.clip(last, 0, None), axis=-1)
    return np.where(last >= 0, held, 0.0)


def _check_days(window_days: int, trend_days: int) -> None:
    if window_days < 1 or trend_days < 2:
        raise SeisbindInputError(f"window_days must be >= 1 and trend_days >= 2 (got {window_days}, {trend_days})")


def _counted(grid: _Grid, station: np.ndarray, end_index: np.ndarray, window_days: int, trend_days: int,
             min_window: int, min_trend: int) -> np.ndarray:
    """Whether each (station, end day) pair has `min_window` present window days and `min_trend` present trend days
    (never fewer than a velocity pair needs)."""
    window_start = end_index + 1 - window_days
    n_window = grid.present_days(station, window_start, end_index + 1)
    n_trend = grid.present_days(station, window_start - trend_days, window_start)
    return (n_window >= min_window) & (n_trend >= max(min_trend, _velocity_lag(trend_days) + 1))


# ------------------------------------------------------------------------ per query: model inputs, probe features
def displacement_windows(series: pd.DataFrame, ends_ns: np.ndarray, latitudes_deg: np.ndarray,
                         longitudes_deg: np.ndarray, *, radius_km: float, window_days: int, trend_days: int,
                         max_stations: int, min_coverage: float) -> tuple[np.ndarray, np.ndarray]:
    """Residual daily displacement at the stations near each query, before its end time (both consumers).

    Query i is an end time `ends_ns[i]` (ns since 1970 UTC, or datetime64) and a location (degrees): a trace's start
    and its event's epicentre, or a probe window's end and its target's epicentre. Its stations are those within
    `radius_km` (great circle) whose channels count, nearest first, up to `max_stations`; a station counts for that
    end when at least `min_coverage` of its `window_days` days before the end and of its `trend_days` days before
    those have a solution. Returns

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
    grid = _daily_grid(series)
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
    min_trend = math.ceil(min_coverage * trend_days - 1e-9)

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
