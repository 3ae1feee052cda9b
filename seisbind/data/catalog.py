"""Earthquake catalogs: readers for INGV FDSN text, QuakeML and plain CSV.

Every reader returns the same frame: event_id (str), time (datetime64[ns, UTC]), latitude_deg, longitude_deg,
depth_km, magnitude, magnitude_type, event_type, sorted by time. Magnitudes are used as given (ML or Mw); the
statistics computed from them live in seisbind.seismicity.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from seisbind.data.catalog_repeats import read_once
from seisbind.errors import SeisbindInputError

log = logging.getLogger(__name__)

CATALOG_COLUMNS = [
    "event_id",
    "time",
    "latitude_deg",
    "longitude_deg",
    "depth_km",
    "magnitude",
    "magnitude_type",
    "event_type",
]

# FDSN text header names (lower case, '#' stripped) -> internal names.
_FDSN_FIELDS = {
    "eventid": "event_id",
    "time": "time",
    "latitude": "latitude_deg",
    "longitude": "longitude_deg",
    "depth/km": "depth_km",
    "depth/m": "depth_m",
    "magnitude": "magnitude",
    "magtype": "magnitude_type",
    "eventtype": "event_type",
}
# Plain-CSV column aliases (normalised: lower case, spaces and hyphens as underscores), first match wins.
_CSV_ALIASES = {
    "event_id": ("event_id", "eventid", "id", "event", "source_id"),
    "time": ("time", "origin_time", "source_origin_time", "datetime", "date_time", "event_time", "time_string"),
    "latitude_deg": ("latitude_deg", "latitude", "lat", "source_latitude_deg"),
    "longitude_deg": ("longitude_deg", "longitude", "lon", "lng", "long", "source_longitude_deg"),
    "depth_km": ("depth_km", "depth/km", "source_depth_km"),
    "depth_m": ("depth_m", "depth/m", "source_depth_m"),
    "depth": ("depth",),
    "magnitude": ("magnitude", "mag", "m", "source_magnitude"),
    "magnitude_type": ("magnitude_type", "magtype", "mag_type", "source_magnitude_type"),
    "event_type": ("event_type", "eventtype", "type"),
}
_REQUIRED = ("time", "latitude_deg", "longitude_deg", "magnitude")
# A column only QuakeML has (the origin's evaluationMode) marks a CSV flattened from QuakeML, as seismostats writes
# the Swiss Seismological Service's catalog: its plain "depth" is QuakeML's origin depth, in metres.
_QUAKEML_MARKER = "evaluationmode"
# Depth columns by unit, in the order a reader prefers them, with their units per kilometre; a plain "depth" (CSV) is
# taken as km unless its values show metres (see _refuse_depths_in_metres).
_DEPTH_UNITS_PER_KM = {"depth_km": 1.0, "depth_m": 1000.0, "depth": 1.0}
# No earthquake is deeper than about 700 km (the base of the mantle transition zone; the deepest located events,
# Tonga and Bonin, lie near 700 km): a depth below 800 km, location error included, is not a depth in km but a
# value in metres or a typo.
MAX_DEPTH_KM = 800.0
_ASSUMED_TYPE = "earthquake"


# ----------------------------------------------------------------------------------------------- bad rows
def apply_bad_row_policy(path: str | Path, bad: list[tuple[str, str, str]], on_bad: str) -> None:
    """Raise on the first bad record or log how many were skipped, per reason.

    `bad` holds (where, reason, detail) in file order, e.g. ("line 12", "bad time", "'2016-13-01'"). With
    on_bad="raise" the error names the file and the first record; with "skip" the caller drops the records and
    this logs a summary, so nothing is dropped silently.
    """
    if on_bad not in ("raise", "skip"):
        raise SeisbindInputError(f"on_bad must be 'raise' or 'skip', got {on_bad!r}")
    if not bad:
        return
    if on_bad == "raise":
        where, reason, detail = bad[0]
        raise SeisbindInputError(f"{path}: {where}: {reason}: {detail}")
    by_reason: dict[str, list[str]] = {}
    for where, reason, _ in bad:
        by_reason.setdefault(reason, []).append(where)
    summary = "; ".join(
        f"{reason}: {len(wheres)} ({', '.join(wheres[:5])}{', ...' if len(wheres) > 5 else ''})"
        for reason, wheres in by_reason.items()
    )
    log.warning("%s: skipped %d malformed records: %s", path, len(bad), summary)


def describe_events(events: pd.DataFrame, n: int = 5) -> str:
    """The first `n` events as 'event_id (ISO time)', for messages a user can search the catalog file with."""
    shown = [f"{event_id} ({pd.Timestamp(t).isoformat()})"
             for event_id, t in zip(events["event_id"].iloc[:n], events["time"].iloc[:n])]
    return ", ".join(shown) + (f", and {len(events) - n} more" if len(events) > n else "")


# ----------------------------------------------------------------------------------------------- readers
def read_catalogs(paths: Sequence[str | Path]) -> pd.DataFrame:
    """The events of one or more catalog files (each read by `read_catalog`), sorted by time; the reader a
    catalog source names (seisbind/data/tables.py). An event listed by two files is read once, as within one
    file (seisbind.data.catalog_repeats.read_once)."""
    frames = [read_catalog(path) for path in paths]
    if len(frames) == 1:
        return frames[0]
    events = pd.concat(frames, ignore_index=True)
    files = np.concatenate([np.full(len(f), str(p), dtype=object) for f, p in zip(frames, paths)])
    events = read_once(events, files)
    events = events.sort_values("time", kind="stable").reset_index(drop=True)
    events.attrs = {"source": ", ".join(str(p) for p in paths),
                    "n_without_magnitude": int(events["magnitude"].isna().sum())}
    return events


def read_catalog(
    path: str | Path,
    *,
    event_types: Sequence[str] | None = ("earthquake",),
    on_bad: str = "raise",
) -> pd.DataFrame:
    """Read an earthquake catalog into the common frame (see module docstring), sorted by time.

    Format by suffix: .txt/.fdsn/.text = INGV FDSN event text, .xml/.quakeml/.qml = QuakeML (ObsPy),
    .csv = plain CSV. `event_types` keeps those types (case-insensitive; None keeps all); what is dropped is
    counted per type, logged and kept in ``df.attrs["dropped_event_types"]``. Events whose source gives no
    type (13-column FDSN text, QuakeML without type) are taken as earthquakes, and that is logged.
    Malformed records raise SeisbindInputError naming file and line (on_bad="raise") or are skipped and
    counted (on_bad="skip"); a depth deeper than MAX_DEPTH_KM is such a record. Depths are km: QuakeML's metres,
    an FDSN `Depth/m` field and a CSV `depth_m` column are converted, and a CSV `depth` column without a unit is
    refused when its values are metres.

    An event without a magnitude (QuakeML event with none, empty magnitude cell) is kept with magnitude NaN,
    counted in ``df.attrs["n_without_magnitude"]`` and logged as a warning with a few ids and times. Dropping it
    would also drop it from the event counts, rates, spreads and depths, and would hide it from target selection,
    which names such events: a mainshock without its magnitude cannot be a target, so an aftershock may take its
    place. Records of one event listed twice are read once (seisbind.data.catalog_repeats), counted in
    ``df.attrs["n_read_once"]``.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: catalog file not found")
    suffix = path.suffix.lower()
    if suffix in (".txt", ".fdsn", ".text"):
        raw = _read_fdsn_text(path, on_bad)
    elif suffix in (".xml", ".quakeml", ".qml"):
        from seisbind.data.quakeml import read_quakeml  # here: quakeml.py builds on this module's columns

        raw = read_quakeml(path, on_bad)
    elif suffix == ".csv":
        raw = _read_plain_csv(path, on_bad)
    else:
        raise SeisbindInputError(f"{path}: unknown catalog format {suffix!r} (use .txt, .xml or .csv)")
    return _finish(path, raw, event_types)


def _read_fdsn_text(path: Path, on_bad: str) -> pd.DataFrame:
    """INGV FDSN `format=text`: '#'-header naming the '|'-separated fields, one event per line."""
    with open(path, encoding="utf-8-sig", errors="replace") as f:
        lines = f.read().splitlines()
    header_at = next((i for i, line in enumerate(lines) if line.strip()), None)
    if header_at is None or not lines[header_at].lstrip().startswith("#"):
        raise SeisbindInputError(f"{path}: line {(header_at or 0) + 1}: expected the '#EventID|Time|...' header")
    names = [h.strip().lower() for h in lines[header_at].lstrip().lstrip("#").split("|")]
    missing = [f for f in ("eventid", "time", "latitude", "longitude", "magnitude") if f not in names]
    if "depth/km" not in names and "depth/m" not in names:
        missing.append("depth/km")
    if missing:
        raise SeisbindInputError(f"{path}: header lacks field(s) {missing}; got {names}")

    bad: list[tuple[int, str, str]] = []
    rows, line_numbers = [], []
    for i in range(header_at + 1, len(lines)):
        text = lines[i]
        if not text.strip() or text.lstrip().startswith("#"):
            continue
        parts = text.split("|")
        if len(parts) != len(names):
            bad.append((i + 1, "wrong field count", f"{len(parts)} fields, header has {len(names)}"))
            continue
        rows.append([p.strip() for p in parts])
        line_numbers.append(i + 1)
    table = pd.DataFrame(rows, columns=names, dtype=object)
    table = table[[n for n in names if n in _FDSN_FIELDS]].rename(columns=_FDSN_FIELDS)
    return _parse_fields(path, table, np.asarray(line_numbers, dtype=np.int64), bad, on_bad)


def _read_plain_csv(path: Path, on_bad: str) -> pd.DataFrame:
    """Plain CSV with the internal column names or common aliases (lat, lon, mag, depth, ...), USGS ComCat's CSV,
    pyCSEP's (lon, lat, M, time_string, depth in km, catalog_id, event_id) and seismostats' (QuakeML flattened,
    depth in metres). depth_m or Depth/m is converted to km, a plain depth is taken as km unless its values are
    metres (then refused). Rows without an event_id are named by file and line."""
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise SeisbindInputError(f"{path}: unreadable CSV: {err}") from err
    line_numbers = np.arange(len(table), dtype=np.int64) + 2
    _refuse_several_catalogs(path, table)
    chosen = _csv_columns(path, table)
    table = table[list(chosen)].rename(columns=chosen)
    if "depth" in table:
        depth_name = next(name for name, internal in chosen.items() if internal == "depth")
        _refuse_depths_in_metres(path, depth_name, table["depth"], line_numbers)
    generated = pd.Series([f"{path.stem}:{n}" for n in line_numbers], index=table.index)
    given = table["event_id"].astype(str).str.strip() if "event_id" in table else pd.Series("", index=table.index)
    table["event_id"] = given.where(given != "", generated)
    return _parse_fields(path, table, line_numbers, [], on_bad)


def _csv_columns(path: Path, table: pd.DataFrame) -> dict[str, str]:
    """The CSV column read for each internal name (first alias that matches), one depth column (the one whose unit
    is surest, order of _DEPTH_UNITS_PER_KM); a plain depth beside the QuakeML marker is metres."""
    normalised = {c: c.strip().lower().replace(" ", "_").replace("-", "_") for c in table.columns}
    by_name = {v: k for k, v in reversed(list(normalised.items()))}
    chosen = {}
    for internal, aliases in _CSV_ALIASES.items():
        found = next((by_name[a] for a in aliases if a in by_name), None)
        if found is not None:
            chosen[found] = internal
    missing = [c for c in _REQUIRED if c not in chosen.values()]
    if missing:
        raise SeisbindInputError(f"{path}: missing required column(s) {missing}; columns are {list(table.columns)}")
    for extra in [c for c, internal in chosen.items() if internal in _DEPTH_UNITS_PER_KM][1:]:
        del chosen[extra]
    plain_depth = next((c for c, internal in chosen.items() if internal == "depth"), None)
    if plain_depth is not None and _QUAKEML_MARKER in by_name:
        log.info("%s: column %r read as metres (QuakeML's origin depth: the file has QuakeML's %r column)",
                 path, plain_depth, by_name[_QUAKEML_MARKER])
        chosen[plain_depth] = "depth_m"
    return chosen


def _refuse_several_catalogs(path: Path, table: pd.DataFrame) -> None:
    """pyCSEP writes a catalog-based forecast as many simulated catalogs in one file, told apart by catalog_id:
    read as one catalog they would be one impossible sequence, so a file with several is refused."""
    column = next((c for c in table.columns if c.strip().lower() == "catalog_id"), None)
    if column is None:
        return
    ids = list(dict.fromkeys(table[column].astype(str).str.strip()))
    if len(ids) > 1:
        raise SeisbindInputError(
            f"{path}: column {column!r} holds {len(ids)} catalogs ({', '.join(ids[:5])}"
            f"{', ...' if len(ids) > 5 else ''}), as pyCSEP writes simulated catalogs of a forecast: keep the rows "
            f"of one catalog_id (the observed catalog)"
        )


def _refuse_depths_in_metres(path: Path, name: str, text: pd.Series, line_numbers: np.ndarray) -> None:
    """A depth column without a unit whose deepest value exceeds MAX_DEPTH_KM holds metres, not km: refused,
    since reading it as km would put crustal events hundreds of km deep (and skipping those rows would keep the
    shallow ones, misread)."""
    values = pd.to_numeric(text.astype(str).str.strip(), errors="coerce").to_numpy(dtype=np.float64)
    if not (np.abs(values) > MAX_DEPTH_KM).any():
        return
    deepest = int(np.nanargmax(np.abs(values)))
    raise SeisbindInputError(
        f"{path}: column {name!r} holds depths up to {text.iloc[deepest].strip()} (line {line_numbers[deepest]}), "
        f"deeper than any earthquake ({MAX_DEPTH_KM:g} km) if read as km: rename the column depth_m if it is in "
        f"metres, or depth_km if it is in km (a deeper row is then a bad record)"
    )


def _parse_fields(
    path: Path, table: pd.DataFrame, line_numbers: np.ndarray, bad: list[tuple[int, str, str]], on_bad: str
) -> pd.DataFrame:
    """Typed columns from text fields; each unparsable value becomes a bad record at its line.

    Time, latitude and longitude must parse (and lie in range); an empty depth or magnitude is NaN (FDSN
    allows it), a non-empty unparsable one is bad, and so is a depth deeper than MAX_DEPTH_KM. A depth in metres
    (column depth_m) is converted to km.
    """
    out = pd.DataFrame(index=table.index)
    text = table["time"].astype(str).str.strip()
    out["time"] = pd.to_datetime(text, format="ISO8601", utc=True, errors="coerce")
    checks = [("time", out["time"].isna().to_numpy(), text, "")]
    depth = next((c for c in _DEPTH_UNITS_PER_KM if c in table), "depth_km")
    fields = [("latitude_deg", "latitude_deg", 1.0), ("longitude_deg", "longitude_deg", 1.0),
              ("depth_km", depth, _DEPTH_UNITS_PER_KM[depth]), ("magnitude", "magnitude", 1.0)]
    limits = {"latitude_deg": 90.0, "longitude_deg": 360.0}
    for column, source, units_per_km in fields:
        if source not in table:
            out[column] = np.nan
            continue
        text = table[source].astype(str).str.strip()
        out[column] = pd.to_numeric(text, errors="coerce").astype(np.float64) / units_per_km
        invalid = out[column].isna().to_numpy().copy()
        if column in limits:
            invalid |= (out[column].abs() > limits[column]).to_numpy()
        else:
            invalid &= (text != "").to_numpy()
        checks.append((source, invalid, text, ""))
        if column == "depth_km":
            hint = f" (deeper than any earthquake, {MAX_DEPTH_KM:g} km: a depth in metres?)"
            checks.append((source, (out[column].abs() > MAX_DEPTH_KM).to_numpy(), text, hint))
    bad_rows = np.zeros(len(table), dtype=bool)
    for column, invalid, text, hint in checks:
        rows = np.flatnonzero(invalid & ~bad_rows)
        bad += [(int(line_numbers[r]), f"bad {column}", repr(text.iloc[r]) + hint) for r in rows]
        bad_rows |= invalid
    apply_bad_row_policy(path, [(f"line {line}", reason, detail) for line, reason, detail in sorted(bad)], on_bad)
    out = out[~bad_rows]
    table = table[~bad_rows]
    out.insert(0, "event_id", table["event_id"].astype(str).str.strip())
    for column in ("magnitude_type", "event_type"):
        out[column] = table[column].astype(str).str.strip() if column in table else ""
    return out


def _finish(path: Path, raw: pd.DataFrame, event_types: Sequence[str] | None) -> pd.DataFrame:
    """Common tail of the readers: assumed types, type filter with counts, dtypes, each event once, sort by
    time."""
    df = raw.copy()
    df["event_type"] = df["event_type"].astype(str).str.strip().str.lower()
    untyped = (df["event_type"] == "") | (df["event_type"] == "nan")
    if untyped.any():
        log.info("%s: %d events carry no event type; taken as %s", path, int(untyped.sum()), _ASSUMED_TYPE)
        df.loc[untyped, "event_type"] = _ASSUMED_TYPE
    dropped: dict[str, int] = {}
    if event_types is not None:
        keep = df["event_type"].isin([t.strip().lower() for t in event_types])
        dropped = dict(Counter(df.loc[~keep, "event_type"]))
        df = df[keep]
        if dropped:
            log.info(
                "%s: kept %d events of type %s; dropped %s",
                path, len(df), list(event_types), ", ".join(f"{k}={v}" for k, v in sorted(dropped.items())),
            )
    df["time"] = pd.to_datetime(df["time"], utc=True).dt.as_unit("ns")
    df["event_id"] = df["event_id"].astype(str)
    df["magnitude_type"] = df["magnitude_type"].astype(str)
    for column in ("latitude_deg", "longitude_deg", "depth_km", "magnitude"):
        df[column] = df[column].astype(np.float64)
    df = df[CATALOG_COLUMNS].sort_values("time", kind="stable").reset_index(drop=True)
    listed = len(df)
    df = read_once(df, np.full(len(df), str(path), dtype=object)).reset_index(drop=True)
    without = df["magnitude"].isna()
    if without.any():
        log.warning("%s: %d events without a magnitude, kept with magnitude NaN (they cannot be targets; add the "
                    "magnitudes to the catalog): %s", path, int(without.sum()), describe_events(df[without]))
    df.attrs["n_without_magnitude"] = int(without.sum())
    df.attrs["dropped_event_types"] = dropped
    df.attrs["n_read_once"] = listed - len(df)
    df.attrs["source"] = str(path)
    return df
