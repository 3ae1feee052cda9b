"""Readers for the INSTANCE dataset (Michelini et al. 2021) as INGV distributes it.

Three parts: finding the files in a folder (full set, `_10k`/`_1k` samples, v1/v2/v3 metadata), reading the metadata
CSV into a compact index (the full table is 1.2 M rows x 115 columns, so only the needed columns are read, in chunks,
with float32 numbers and categorical codes), and reading single waveforms from the HDF5 file (`data/<trace_name>`,
(3, 12000), E, N, Z at 100 Hz, any stored numeric dtype) lazily and fork-safely for DataLoader workers.
"""

from __future__ import annotations

import csv
import logging
import os
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
from pandas.api.types import union_categoricals

from seisbind.data.instance_schema import (
    CATEGORY_COLUMNS,
    EVENT_COLUMNS,
    NOISE_COLUMNS,
    TEXT_COLUMNS,
    TIME_COLUMNS,
    TRACE_NPTS,
    V1_RENAMES,
)
from seisbind.data.trace_filter import Kind, MetadataFilter
from seisbind.errors import BadTraceError, SeisbindInputError

log = logging.getLogger(__name__)

INDEX_COLUMNS: list[str] = [
    "source_id", "station_network_code", "station_code", "station_location_code", "station_channels",
    "station_latitude_deg", "station_longitude_deg", "station_elevation_m",
    "source_origin_time", "source_latitude_deg", "source_longitude_deg", "source_depth_km", "source_magnitude",
    "source_magnitude_type", "path_ep_distance_km", "path_hyp_distance_km", "path_backazimuth_deg",
    "trace_start_time", "trace_P_arrival_sample", "trace_S_arrival_sample",
    "trace_E_snr_db", "trace_N_snr_db", "trace_Z_snr_db", "trace_pga_cmps2", "trace_name",
]
"""Event-metadata columns a training index needs (identity, geometry, time, size, picks, quality)."""

NUMERIC_COLUMNS: frozenset[str] = frozenset(EVENT_COLUMNS + NOISE_COLUMNS) - TEXT_COLUMNS
"""Every schema column that is not text holds numbers (possibly written as 'None' or left empty)."""

MISSING_TEXT: tuple[str, ...] = ("", "None", "none", "nan", "NaN", "NA", "null")
"""Cell texts that mean 'no value' in the INSTANCE CSVs; numeric and time columns read them as NaN / NaT."""

_SAMPLE_SUFFIXES = ("", "_10k", "_1k")
"""Full set first, then INGV's sample sets: a folder holding several uses the largest."""


@dataclass(frozen=True)
class InstanceFiles:
    """The INSTANCE files found in one folder; the noise pair is optional."""

    events_csv: Path
    events_hdf5: Path
    noise_csv: Path | None = None
    noise_hdf5: Path | None = None


def _pick(root: Path, pattern: str, suffix: str, preferences: Sequence[str]) -> Path | None:
    """The file in `root` matching `pattern` (groups: variant, sample suffix) with this suffix, best variant first."""
    found = {}
    for path in root.iterdir():
        match = re.fullmatch(pattern, path.name)
        if match and (match.group(2) or "") == suffix:
            found[match.group(1) or ""] = path
    return next((found[v] for v in preferences if v in found), None)


def find_instance_files(root: str | os.PathLike) -> InstanceFiles:
    """Locate the INSTANCE event (and optional noise) CSV/HDF5 pairs in `root`.

    Accepts `metadata_Instance_events{,_v2,_v3}{,_10k,_1k}.csv` (newest version preferred) with
    `Instance_events_counts*.hdf5` (preferred) or `Instance_events_gm*.hdf5` of the same sample suffix, and
    `metadata_Instance_noise*.csv` with `Instance_noise*.hdf5`. Half a pair is an error, not a silent skip.
    """
    root = Path(root)
    if not root.is_dir():
        raise SeisbindInputError(f"{root}: not a folder (expected INSTANCE files in it)")
    for suffix in _SAMPLE_SUFFIXES:
        events_csv = _pick(root, r"metadata_Instance_events(_v[23])?(_10k|_1k)?\.csv", suffix, ["_v3", "_v2", ""])
        if events_csv is None:
            continue
        events_hdf5 = _pick(root, r"Instance_events_(counts|gm)(_10k|_1k)?\.hdf5", suffix, ["counts", "gm"])
        if events_hdf5 is None:
            raise SeisbindInputError(
                f"{events_csv}: found event metadata but no waveform file Instance_events_counts{suffix}.hdf5 "
                f"or Instance_events_gm{suffix}.hdf5 in {root}"
            )
        for noise_suffix in _SAMPLE_SUFFIXES:
            noise_csv = _pick(root, r"metadata_Instance_noise()(_10k|_1k)?\.csv", noise_suffix, [""])
            noise_hdf5 = _pick(root, r"Instance_noise()(_10k|_1k)?\.hdf5", noise_suffix, [""])
            if (noise_csv is None) != (noise_hdf5 is None):
                raise SeisbindInputError(
                    f"{root}: noise files come in pairs, found only {noise_csv or noise_hdf5} "
                    f"(expected metadata_Instance_noise{noise_suffix}.csv and Instance_noise{noise_suffix}.hdf5)"
                )
            if noise_csv is not None:
                break
        return InstanceFiles(events_csv, events_hdf5, noise_csv, noise_hdf5)
    raise SeisbindInputError(
        f"{root}: no INSTANCE event metadata (metadata_Instance_events[_v2|_v3][_10k|_1k].csv)"
    )


def _parse_times(values: pd.Series, column: str, path: Path, first_row: int) -> pd.Series:
    """ISO-8601 UTC strings (`%Y-%m-%dT%H:%M:%S.%fZ`, fraction optional) -> datetime64[ns, UTC]; missing -> NaT."""
    present = values.where(~values.isin(MISSING_TEXT))
    try:
        parsed = pd.to_datetime(present, format="ISO8601", utc=True)
    except (ValueError, TypeError):
        coerced = pd.to_datetime(present, format="ISO8601", utc=True, errors="coerce")
        position = int(np.flatnonzero(coerced.isna().to_numpy() & present.notna().to_numpy())[0])
        raise SeisbindInputError(
            f"{path}: column {column!r}, data row {first_row + position + 1}: "
            f"cannot parse time {values.iloc[position]!r} (expected e.g. 2016-10-30T06:40:18.000000Z)"
        ) from None
    return parsed.astype("datetime64[ns, UTC]")


@dataclass
class _Coercions:
    """Non-numeric cells read as NaN in numeric columns, gathered per file for one summary warning."""

    counts: Counter = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)

    def to_float32(self, values: pd.Series, column: str) -> pd.Series:
        """Numbers from text cells; 'None'/empty -> NaN quietly, any other text -> NaN and counted."""
        numbers = pd.to_numeric(values, errors="coerce")
        failed = numbers.isna() & ~values.isin(MISSING_TEXT)
        if failed.any():
            self.counts[column] += int(failed.sum())
            self.examples.setdefault(column, values[failed].iloc[0])
        return numbers.astype(np.float32)

    def warn(self, path: Path) -> None:
        for column, count in self.counts.items():
            log.warning("%s: column %r: %d non-numeric value(s) read as NaN (e.g. %r)", path, column, count,
                        self.examples[column])


def compact_columns(
    frame: pd.DataFrame, path: Path, *, first_row: int = 0, coercions: _Coercions | None = None
) -> pd.DataFrame:
    """Give the INSTANCE-named columns of `frame` seisbind's dtypes, in place, and return it.

    Times -> datetime64[ns, UTC], code columns -> category, other text -> str (missing text -> ""), every other
    column the schema knows -> float32. Columns outside the schema keep their dtype. Shared with the SeisBench
    reader, whose metadata is renamed to INSTANCE names first. `first_row` numbers rows in error messages.
    """
    coercions = _Coercions() if coercions is None else coercions
    for column in frame.columns:
        values = frame[column]
        if column in TIME_COLUMNS:
            if not isinstance(values.dtype, pd.DatetimeTZDtype):
                frame[column] = _parse_times(values.fillna("").astype(str), column, path, first_row)
        elif column in CATEGORY_COLUMNS:
            if not isinstance(values.dtype, pd.CategoricalDtype):
                frame[column] = values.fillna("").astype(str).astype("category")
        elif column in TEXT_COLUMNS:
            if not (isinstance(values.dtype, pd.StringDtype) and not values.hasnans):
                frame[column] = values.fillna("").astype(str)
        elif column in NUMERIC_COLUMNS and values.dtype != np.float32:
            frame[column] = (
                values.astype(np.float32) if values.dtype.kind in "biuf" else coercions.to_float32(values, column)
            )
    return frame


def _read_header(path: Path) -> list[str]:
    """Column names of a CSV in seisbind spelling (v1 names mapped to v2/v3); duplicates are an error."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:  # a BOM would join the first column name
            header = [V1_RENAMES.get(name, name) for name in next(csv.reader(handle), [])]
    except FileNotFoundError:
        raise SeisbindInputError(f"{path}: no such file") from None
    except (UnicodeDecodeError, csv.Error) as error:
        raise SeisbindInputError(f"{path}: cannot read the CSV header: {error}") from None
    if not header:
        raise SeisbindInputError(f"{path}: empty file, no CSV header")
    duplicated = sorted({name for name in header if header.count(name) > 1})
    if duplicated:
        raise SeisbindInputError(f"{path}: duplicated column name(s) in the header: {', '.join(duplicated)}")
    return header


def read_instance_metadata(
    path: str | os.PathLike,
    columns: Sequence[str] | None = None,
    *,
    kind: Kind = "events",
    filters: MetadataFilter | None = None,
    chunk_rows: int = 20_000,
) -> pd.DataFrame:
    """Read an INSTANCE metadata CSV (events or noise, v1/v2/v3) into a compact frame.

    Only `columns` (all columns when None; `trace_name` always) are kept, in the order asked; columns a filter
    needs are read as well and dropped after filtering. The file is parsed `chunk_rows` rows at a time with
    `keep_default_na=False`, so peak memory stays near the size of the result: about 40 bytes a row for the
    ~25 `INDEX_COLUMNS`. Numbers are float32 ('None', empty -> NaN; other text -> NaN, counted in a warning),
    code columns are categories, times are datetime64[ns, UTC].

    Raises SeisbindInputError naming the file for a missing column, a malformed row, an unparseable time or a
    `trace_name` on more than one row (the HDF5 holds one waveform per name, so a repeated name would give one
    row's metadata another row's waveform); the whole file is checked, filtered-out rows included.
    """
    path = Path(path)
    header = _read_header(path)
    wanted = list(dict.fromkeys([*(columns if columns is not None else header), "trace_name"]))
    filter_columns = filters.columns(kind) if filters is not None else []
    needed = list(dict.fromkeys(wanted + filter_columns))
    missing = [name for name in needed if name not in header]
    if missing:
        raise SeisbindInputError(
            f"{path}: missing column(s) {', '.join(missing)} in {kind} metadata ({len(header)} columns in the file)"
        )
    try:
        frame, rows_read = _read_rows(path, header, needed, wanted, kind, filters, chunk_rows, parse_numbers=True)
    except _TextInNumbers:
        log.info("%s: numeric columns hold text; re-reading with text-to-NaN coercion", path)
        frame, rows_read = _read_rows(path, header, needed, wanted, kind, filters, chunk_rows, parse_numbers=False)
    log.info("%s: %d of %d %s rows kept", path, len(frame), rows_read, kind)
    return frame


class _TextInNumbers(Exception):
    """A numeric column holds text other than MISSING_TEXT, so the C parser's float conversion gave up."""


def _read_rows(
    path: Path, header: list[str], needed: list[str], wanted: list[str], kind: Kind, filters: MetadataFilter | None,
    chunk_rows: int, *, parse_numbers: bool,
) -> tuple[pd.DataFrame, int]:
    """(rows kept, rows read). With `parse_numbers` the C parser converts numeric columns itself (fast; raises
    _TextInNumbers on unexpected text); without, they are read as text and coerced, counting the failures."""
    numeric = [name for name in needed if name in NUMERIC_COLUMNS] if parse_numbers else []
    dtypes = {
        name: "category" if name in CATEGORY_COLUMNS else np.float32 if name in numeric else str for name in needed
    }
    # Seisbind names replace the header, which renames v1 columns on the way.
    reader = pd.read_csv(
        path, header=0, names=header, usecols=needed, dtype=dtypes, keep_default_na=False,
        na_values={name: list(MISSING_TEXT) for name in numeric}, chunksize=chunk_rows, encoding="utf-8-sig",
    )
    pieces: list[pd.DataFrame] = []
    name_hashes: list[np.ndarray] = []
    coercions = _Coercions()
    rows_read = 0
    while True:
        try:
            chunk = next(reader, None)
        except (pd.errors.ParserError, UnicodeDecodeError) as error:
            raise SeisbindInputError(f"{path}: malformed CSV after data row {rows_read}: {error}") from None
        except ValueError:
            if parse_numbers:
                raise _TextInNumbers from None
            raise
        if chunk is None:
            break
        _check_trace_names(chunk, path, rows_read)
        name_hashes.append(pd.util.hash_array(chunk["trace_name"].to_numpy()))
        chunk = compact_columns(chunk, path, first_row=rows_read, coercions=coercions)
        rows_read += len(chunk)
        if filters is not None:
            chunk = chunk[filters.mask(chunk, kind)]
        pieces.append(chunk[wanted])
    if pd.Series(np.concatenate([np.empty(0, dtype=np.uint64), *name_hashes])).duplicated().any():
        # 8-byte hashes keep the whole-file check small; the names themselves are read only to report
        names = pd.read_csv(path, usecols=["trace_name"], dtype=str, keep_default_na=False, encoding="utf-8-sig")
        check_unique_trace_names(names["trace_name"], path)
    coercions.warn(path)
    return _concat(pieces, wanted), rows_read


def _check_trace_names(chunk: pd.DataFrame, path: Path, first_row: int) -> None:
    """Reject rows without a trace name: the key of the waveform, and the sign of a short or cut-off row (the C
    parser pads missing trailing fields with empty cells instead of failing)."""
    empty = chunk["trace_name"].to_numpy() == ""
    if empty.any():
        row = first_row + int(np.flatnonzero(empty)[0]) + 1
        raise SeisbindInputError(f"{path}: data row {row} has no trace_name (short, cut-off or malformed row)")


def check_unique_trace_names(names: pd.Series, path: str | os.PathLike) -> None:
    """Raise SeisbindInputError listing each repeated trace name with its data rows (1 = first row after the
    header, as `names` is ordered): a name keys one waveform, so its rows cannot all be right."""
    repeated = names.duplicated(keep=False).to_numpy()
    if not repeated.any():
        return
    rows: dict[str, list[int]] = {}
    for name, row in zip(names.to_numpy()[repeated], np.flatnonzero(repeated) + 1):
        rows.setdefault(name, []).append(int(row))
    shown = "; ".join(f"{name!r} at data rows {', '.join(map(str, at))}" for name, at in list(rows.items())[:5])
    more = f"; and {len(rows) - 5} more names" if len(rows) > 5 else ""
    raise SeisbindInputError(
        f"{path}: {len(rows)} trace_name(s) on more than one row (data rows: one per CSV record, 1 = the first "
        f"after the header): {shown}{more}; each trace_name keys one waveform, so keep one row per name"
    )


def _concat(pieces: list[pd.DataFrame], columns: list[str]) -> pd.DataFrame:
    """Concatenate chunks, merging each categorical column's categories (plain concat would fall back to object)."""
    frame = pd.concat(pieces, ignore_index=True)
    for column in columns:
        if isinstance(pieces[0][column].dtype, pd.CategoricalDtype) and len(pieces) > 1:
            frame[column] = union_categoricals([piece[column] for piece in pieces], sort_categories=True)
    return frame


class InstanceWaveforms:
    """Waveforms of one INSTANCE HDF5 file (events counts/gm or noise): `data/<trace_name>`, (3, 12000), E, N, Z.

    The file is opened on the first `read` in each process, never in `__init__`, and re-opened when the process id
    changes, so the object can be built in the main process and pickled or forked into DataLoader workers. `read`
    goes through h5py's low-level API straight into a float32 buffer (HDF5 converts any stored int/float dtype),
    which avoids the per-call Python overhead of the high-level Dataset object.
    """

    def __init__(self, hdf5_path: str | os.PathLike, *, group: str = "data", n_samples: int = TRACE_NPTS) -> None:
        self.path = Path(hdf5_path)
        self.group = group
        self.shape = (3, n_samples)
        self._file: h5py.File | None = None
        self._group_id: h5py.h5g.GroupID | None = None
        self._pid: int | None = None

    def _open(self) -> h5py.h5g.GroupID:
        """Open the file in this process (dropping a handle inherited through fork) and return the group id."""
        self.close()
        try:
            handle = h5py.File(self.path, "r")
        except (OSError, ValueError) as error:
            raise SeisbindInputError(f"{self.path}: cannot open HDF5 file: {error}") from None
        if self.group not in handle:
            handle.close()
            raise SeisbindInputError(f"{self.path}: no group {self.group!r} (not an INSTANCE waveform file)")
        self._file, self._group_id, self._pid = handle, handle[self.group].id, os.getpid()
        return self._group_id

    def read(self, trace_name: str) -> np.ndarray:
        """The trace as float32 (3, n_samples), E, N, Z. Raises BadTraceError naming file, trace and reason."""
        group_id = self._group_id if self._pid == os.getpid() else self._open()
        try:
            dataset = h5py.h5d.open(group_id, trace_name.encode())
        except (KeyError, ValueError, OSError):
            raise BadTraceError(str(self.path), trace_name, f"no dataset {self.group}/{trace_name}") from None
        if dataset.shape != self.shape:
            raise BadTraceError(str(self.path), trace_name, f"shape {dataset.shape}, expected {self.shape}")
        out = np.empty(self.shape, dtype=np.float32)
        try:
            dataset.read(h5py.h5s.ALL, h5py.h5s.ALL, out)
        except (OSError, TypeError, ValueError) as error:
            raise BadTraceError(str(self.path), trace_name, f"unreadable ({error})") from None
        if not np.isfinite(out).all():
            raise BadTraceError(str(self.path), trace_name, "NaN or Inf samples")
        return out

    def close(self) -> None:
        """Release the file handle of this process (the next `read` opens it again)."""
        if self._file is not None:
            try:
                self._file.close()
            finally:
                self._file = self._group_id = self._pid = None

    def __getstate__(self) -> dict:
        """Pickle only the location: handles are per process."""
        return {"path": self.path, "group": self.group, "shape": self.shape}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._file = self._group_id = self._pid = None

    def __repr__(self) -> str:
        return f"InstanceWaveforms({str(self.path)!r})"
