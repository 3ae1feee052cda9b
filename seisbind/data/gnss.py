"""GNSS daily positions (NGL `.tenv3`, EarthScope/UNAVCO PBO `.pos`): readers into one table.

Readers turn either published format into one long table of daily east/north/up positions in metres
(`read_gnss`), with gross one-day outliers dropped and counted; seisbind/data/gnss_displacement.py turns it into
the displacements the GNSS modality (seisbind/modalities/gnss.py) uses.
"""

from __future__ import annotations

import logging
import math
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from seisbind.errors import SeisbindInputError
from seisbind.geodesy import median_positions

log = logging.getLogger(__name__)

COLUMNS = ["station", "time", "east_m", "north_m", "up_m", "sigma_east_m", "sigma_north_m", "sigma_up_m",
           "latitude_deg", "longitude_deg", "height_m"]
"""The columns of `read_gnss`, in order; positions and sigmas in metres, coordinates in degrees and metres."""

DAY_NS = 86_400 * 10**9
NOON_NS = DAY_NS // 2

OUTLIER_SIDE_DAYS = 5
"""Solutions on each side of a day whose median the day is compared with (`_drop_outliers`)."""

OUTLIER_ROBUST_SIGMAS = 10.0
"""How far (in robust sigmas of the station's day-to-day scatter) a position may lie from the medians of its
neighbours on both sides before it is a gross outlier: Gaussian noise gets there about once in 10^23 days."""

OUTLIER_FLOOR_M = 0.05
"""The smallest departure (m) called a gross outlier, whatever the scatter: ten times NGL's typical vertical daily
noise (4-8 mm), and more than any slow transient moves a station in the days around one."""

_TENV3_FIELDS = (20, 23)
_POS_FIELDS = 25
_MONTHS = {name: number for number, name in enumerate(
    ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"), start=1)}
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


# --------------------------------------------------------------------------------------------------------- readers
def read_tenv3(path: str | Path) -> pd.DataFrame:
    """One NGL `.tenv3` file (geodesy.unr.edu) as the `read_gnss` table.

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


def read_gnss_positions(paths: list[Path]) -> pd.DataFrame:
    """Where each station is: one row per station (seisbind.geodesy.median_positions: sensor, latitude_deg,
    longitude_deg, n_fixes), the median of the daily coordinates `read_gnss` gives. A station whose file has none
    (an NGL `.tenv3` of the older layout) is left out, so the table may be empty."""
    series = read_gnss(paths)
    return median_positions(series["station"], series["latitude_deg"], series["longitude_deg"])


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
    from_before = enu - nan_median(windows[:n])[..., 0]
    from_after = enu - nan_median(windows[side + 1: side + 1 + n])[..., 0]
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


def nan_median(values: np.ndarray) -> np.ndarray:
    """Median over the last axis ignoring NaN, kept as a length-1 axis (NaN where all are NaN): one sort, where
    numpy.nanmedian masks slice by slice."""
    ordered = np.sort(values, axis=-1)
    n = np.isfinite(values).sum(axis=-1, keepdims=True)
    low = np.take_along_axis(ordered, np.clip((n - 1) // 2, 0, None), axis=-1)
    high = np.take_along_axis(ordered, np.clip(n // 2, 0, None), axis=-1)
    return np.where(n > 0, (low + high) / 2.0, np.nan)
