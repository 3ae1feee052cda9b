"""Reader for datasets in SeisBench's on-disk format, mapped onto seisbind's INSTANCE conventions.

A SeisBench folder holds `metadata.csv` + `waveforms.hdf5`, or chunks `metadata<C>.csv` + `waveforms<C>.hdf5` named
in a `chunks` file. The HDF5 group `data_format` says how a trace is laid out (`dimension_order` such as "CW" or
"WC", `component_order` such as "ZNE"); traces are single datasets or rows of blocks, addressed by names like
`bucket3$12,:3,:12000` (dataset `data/bucket3`, numpy index `[12, :3, :12000]`). seisbind returns every trace as
float32 (3, n_samples) in E, N, Z order and renames metadata columns to their INSTANCE counterparts.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np
import pandas as pd

from seisbind.data.instance import check_unique_trace_names, compact_columns
from seisbind.data.instance_schema import CHANNEL_ORDER
from seisbind.errors import BadTraceError, SeisbindInputError

SEISBENCH_RENAMES: dict[str, str] = {
    "trace_p_arrival_sample": "trace_P_arrival_sample",
    "trace_s_arrival_sample": "trace_S_arrival_sample",
    "trace_p_arrival_time": "trace_P_arrival_time",
    "trace_s_arrival_time": "trace_S_arrival_time",
    "trace_p_arrival_uncertainty_s": "trace_P_uncertainty_s",
    "trace_s_arrival_uncertainty_s": "trace_S_uncertainty_s",
    "trace_p_status": "trace_eval_P",
    "trace_s_status": "trace_eval_S",
    "trace_p_polarity": "trace_polarity",
    "trace_channel": "station_channels",
    "path_back_azimuth_deg": "path_backazimuth_deg",
    "source_origin_uncertainty_sec": "source_origin_uncertainty_s",
    "source_error_sec": "source_stderror_s",
}
"""SeisBench metadata names -> INSTANCE names with the same meaning and unit. Names both use (source_magnitude,
station_network_code, trace_start_time, ...) stay; a rename never overwrites a column already present."""

SEISBENCH_SCALED: dict[str, tuple[str, float]] = {
    "trace_pga_mps2": ("trace_pga_cmps2", 100.0),
    "trace_pgv_mps": ("trace_pgv_cmps", 100.0),
}
"""SeisBench columns in SI units -> (INSTANCE column, factor): m/s^2 -> cm/s^2, m/s -> cm/s."""


def seisbench_chunks(folder: str | os.PathLike) -> list[str]:
    """Chunk names of a SeisBench folder: [""] when unchunked, [] when the folder holds no SeisBench files.

    The `chunks` file (one name a line) wins; without it, chunks are the names C for which both
    `metadata<C>.csv` and `waveforms<C>.hdf5` exist.
    """
    folder = Path(folder)
    listing = folder / "chunks"
    if listing.is_file():
        names = [line.strip() for line in listing.read_text().splitlines() if line.strip()]
        if names:
            return sorted(names)
    metadata = {m.group(1) for p in folder.glob("metadata*.csv") if (m := re.fullmatch(r"metadata(.*)\.csv", p.name))}
    waveforms = {
        m.group(1) for p in folder.glob("waveforms*.hdf5") if (m := re.fullmatch(r"waveforms(.*)\.hdf5", p.name))
    }
    return sorted(metadata & waveforms)


def _chunk_files(folder: Path, chunk: str) -> tuple[Path, Path]:
    """(metadata CSV, waveform HDF5) of one chunk; a listed chunk whose files are missing is an error."""
    metadata, waveforms = folder / f"metadata{chunk}.csv", folder / f"waveforms{chunk}.hdf5"
    for path in (metadata, waveforms):
        if not path.is_file():
            raise SeisbindInputError(f"{path}: missing (chunk {chunk!r} of the SeisBench dataset in {folder})")
    return metadata, waveforms


def _read_data_format(handle: h5py.File) -> dict[str, object]:
    """The `data_format` group as a dict: its datasets and attributes (writers use either), bytes decoded."""
    if "data_format" not in handle:
        return {}
    group = handle["data_format"]
    entries = dict(group.attrs) | {key: group[key][()] for key in group.keys()}
    return {key: value.decode() if isinstance(value, bytes) else value for key, value in entries.items()}


@dataclass(frozen=True)
class TraceLayout:
    """How one chunk stores a trace: axis of the components and the rows that give E, N, Z."""

    component_axis: int
    enz_rows: tuple[int, int, int]
    n_components: int

    @classmethod
    def from_data_format(cls, data_format: dict[str, object], path: Path) -> TraceLayout:
        dimension_order = str(data_format.get("dimension_order", "CW"))
        if sorted(dimension_order) != ["C", "W"]:
            raise SeisbindInputError(
                f"{path}: data_format/dimension_order {dimension_order!r} is not 'CW' or 'WC' (one 3-C trace)"
            )
        if "component_order" not in data_format:
            raise SeisbindInputError(f"{path}: data_format has no component_order, so E, N, Z cannot be found")
        component_order = str(data_format["component_order"])
        missing = [c for c in CHANNEL_ORDER if c not in component_order]
        if missing:
            raise SeisbindInputError(
                f"{path}: component_order {component_order!r} lacks {''.join(missing)} "
                f"(seisbind needs {CHANNEL_ORDER}; rotate 1/2 components first)"
            )
        rows = tuple(component_order.index(c) for c in CHANNEL_ORDER)
        return cls(dimension_order.index("C"), rows, len(component_order))


def parse_trace_location(trace_name: str) -> tuple[str, tuple[int | slice, ...] | None]:
    """Split a SeisBench trace name into (dataset name, index); index None means the whole dataset.

    `bucket3$12,:3,:12000` -> ("bucket3", (12, slice(None, 3), slice(None, 12000))). Elements are an integer or a
    slice `a:b` with either bound optional; steps are not part of the format.
    """
    dataset, sep, location = trace_name.partition("$")
    if not sep:
        return dataset, None
    index: list[int | slice] = []
    for element in location.split(","):
        element = element.strip()
        if re.fullmatch(r"\d+", element):
            index.append(int(element))
        elif match := re.fullmatch(r"(\d*):(\d*)", element):
            start, stop = (int(g) if g else None for g in match.groups())
            index.append(slice(start, stop))
        else:
            raise ValueError(f"bad location element {element!r} in {trace_name!r}")
    return dataset, tuple(index)


def _hyperslab(index: tuple[int | slice, ...] | None, shape: tuple[int, ...]) -> tuple[list, list, list]:
    """(start, count, kept axes) of a numpy-style index on a dataset of `shape`; raises ValueError when outside."""
    index = index or ()
    if len(index) > len(shape):
        raise ValueError(f"index has {len(index)} axes, dataset has {len(shape)}")
    start, count, kept = [], [], []
    for axis, size in enumerate(shape):
        element = index[axis] if axis < len(index) else slice(None)
        if isinstance(element, int):
            if element >= size:
                raise ValueError(f"row {element} outside axis {axis} of size {size}")
            start.append(element)
            count.append(1)
        else:
            low, high = element.start or 0, size if element.stop is None else element.stop
            if high > size or low >= high:
                raise ValueError(f"slice {low}:{high} outside axis {axis} of size {size}")
            start.append(low)
            count.append(high - low)
            kept.append(axis)
    return start, count, kept


@dataclass
class _OpenChunk:
    """Handles of one chunk in the current process: the file, its `data` group and the datasets used so far."""

    handle: h5py.File
    group_id: h5py.h5g.GroupID
    layout: TraceLayout
    datasets: dict[str, h5py.h5d.DatasetID] = field(default_factory=dict)
    blocks: dict[str, h5py.Dataset] = field(default_factory=dict)


class SeisBenchWaveforms:
    """Waveforms of a SeisBench-format folder, read as float32 (3, n_samples) E, N, Z (same API as InstanceWaveforms).

    Names are the metadata's `trace_name`; in a chunked folder they carry the chunk as `<chunk>/<trace_name>`, as
    `read_seisbench_metadata` writes them. Files are opened lazily per process and chunk (fork- and pickle-safe);
    only handles are kept, never waveform data. Reads use h5py's low-level hyperslab API into a float32 buffer.
    """

    def __init__(self, folder: str | os.PathLike) -> None:
        self.folder = Path(folder)
        self.chunks = seisbench_chunks(self.folder)
        if not self.chunks:
            raise SeisbindInputError(f"{self.folder}: no SeisBench files (metadata.csv + waveforms.hdf5, or chunks)")
        self._chunked = self.chunks != [""]
        self._open_chunks: dict[str, _OpenChunk] = {}
        self._pid: int | None = None

    def _chunk(self, chunk: str) -> _OpenChunk:
        if self._pid != os.getpid():
            self.close()
            self._pid = os.getpid()
        opened = self._open_chunks.get(chunk)
        if opened is None:
            if chunk not in self.chunks:
                raise SeisbindInputError(f"{self.folder}: no chunk {chunk!r} (chunks: {self.chunks})")
            _, path = _chunk_files(self.folder, chunk)
            try:
                handle = h5py.File(path, "r")
            except (OSError, ValueError) as error:
                raise SeisbindInputError(f"{path}: cannot open HDF5 file: {error}") from None
            if "data" not in handle:
                handle.close()
                raise SeisbindInputError(f"{path}: no group 'data' (not a SeisBench waveform file)")
            layout = TraceLayout.from_data_format(_read_data_format(handle), path)
            opened = self._open_chunks[chunk] = _OpenChunk(handle, handle["data"].id, layout)
        return opened

    def read(self, trace_name: str) -> np.ndarray:
        """The trace as float32 (3, n_samples), E, N, Z. Raises BadTraceError naming file, trace and reason."""
        chunk, name = ("", trace_name)
        if self._chunked:
            chunk, separator, name = trace_name.partition("/")
            if not separator:
                raise BadTraceError(str(self.folder), trace_name, "chunked dataset: expected <chunk>/<trace_name>")
        opened = self._chunk(chunk)
        path = opened.handle.filename
        try:
            dataset_name, index = parse_trace_location(name)
        except ValueError as error:
            raise BadTraceError(path, trace_name, str(error)) from None
        dataset = opened.datasets.get(dataset_name)
        if dataset is None:
            try:
                dataset = opened.datasets[dataset_name] = h5py.h5d.open(opened.group_id, dataset_name.encode())
            except (KeyError, ValueError, OSError):
                raise BadTraceError(path, trace_name, f"no dataset data/{dataset_name}") from None
        try:
            start, count, kept = _hyperslab(index, dataset.shape)
        except ValueError as error:
            raise BadTraceError(path, trace_name, f"{error} (dataset shape {dataset.shape})") from None
        trace_shape = tuple(count[axis] for axis in kept)
        layout = opened.layout
        if len(trace_shape) != 2 or trace_shape[layout.component_axis] != layout.n_components:
            raise BadTraceError(
                path, trace_name, f"trace shape {trace_shape} does not hold {layout.n_components} components"
            )
        file_space = dataset.get_space()
        file_space.select_hyperslab(tuple(start), tuple(count))
        out = np.empty(count, dtype=np.float32)
        try:
            dataset.read(h5py.h5s.create_simple(tuple(count)), file_space, out)
        except (OSError, TypeError, ValueError) as error:
            raise BadTraceError(path, trace_name, f"unreadable ({error})") from None
        return _as_enz(out.reshape(trace_shape), layout, path, trace_name)

    def locate_blocks(self, trace_names: Sequence[str]) -> tuple[np.ndarray, np.ndarray, list[tuple[str, str, str]]]:
        """Where each trace lies in a block, for `read_block_rows`: (block code per name, -1 for a name that is not
        a block row; the row in the block; the blocks as (chunk, dataset, trailing slices)). Names of one block
        (`bucket3$12,:3,:12000`, the same trailing slices) share a code. Vectorised over names: a data module
        locates its whole index once, in setup."""
        pattern = r"^(?:(?P<chunk>[^/]*)/)?(?P<dataset>[^/$]+)\$(?P<row>\d+)(?:,(?P<rest>.*))?$" if self._chunked \
            else r"^(?P<chunk>)(?P<dataset>[^$]+)\$(?P<row>\d+)(?:,(?P<rest>.*))?$"
        parts = pd.Series(np.asarray(trace_names, dtype=object), dtype="string").str.extract(pattern)
        blocked = parts["dataset"].notna().to_numpy()
        keys = parts[["chunk", "dataset", "rest"]].fillna("").astype(str)
        codes, uniques = pd.factorize(pd.MultiIndex.from_frame(keys))
        codes = np.where(blocked, codes, -1).astype(np.int64)
        rows = np.where(blocked, pd.to_numeric(parts["row"], errors="coerce").fillna(-1), -1).astype(np.int64)
        return codes, rows, [tuple(key) for key in uniques]

    def read_block_rows(self, block: tuple[str, str, str], rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Rows `rows` (sorted, distinct) of one block as float32 (k, 3, n_samples) E, N, Z with one HDF5
        selection, and which of them are finite. The Python cost of a read is then paid per block, not per
        trace, which lets a batch from a few blocks come off the disk at the rate of the block layout. Raises
        BadTraceError (naming the block) when the block cannot be read as traces."""
        chunk, dataset_name, rest = block
        opened = self._chunk(chunk)
        path, layout = opened.handle.filename, opened.layout
        where = f"{dataset_name}${rows[0]},{rest}" if rest else f"{dataset_name}${rows[0]}"
        try:
            dataset = opened.blocks.get(dataset_name)
            if dataset is None:
                dataset = opened.blocks[dataset_name] = opened.handle["data"][dataset_name]
            trailing = parse_trace_location(f"x$0,{rest}")[1][1:] if rest else ()
            if rows[-1] >= dataset.shape[0]:
                raise ValueError(f"row {rows[-1]} outside a block of {dataset.shape[0]}")
            values = dataset[rows][(slice(None), *trailing)]
        except (KeyError, ValueError, OSError, TypeError) as error:
            raise BadTraceError(path, where, f"block data/{dataset_name} unreadable ({error})") from None
        if values.ndim != 3 or values.shape[1 + layout.component_axis] != layout.n_components:
            raise BadTraceError(path, where, f"trace shape {values.shape[1:]} does not hold "
                                             f"{layout.n_components} components")
        # The whole selection at once: component order and the finiteness check per block, not per trace.
        enz = values[:, layout.enz_rows, :] if layout.component_axis == 0 else \
            values[:, :, layout.enz_rows].transpose(0, 2, 1)
        enz = np.ascontiguousarray(enz, dtype=np.float32)
        return enz, np.isfinite(enz).all(axis=(1, 2))


    def close(self) -> None:
        """Release this process's file handles (the next `read` opens again)."""
        opened, self._open_chunks, self._pid = self._open_chunks, {}, None
        for chunk in opened.values():
            chunk.handle.close()

    def __getstate__(self) -> dict:
        """Pickle only the location: handles are per process."""
        return {"folder": self.folder, "chunks": self.chunks, "_chunked": self._chunked}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._open_chunks, self._pid = {}, None

    def __repr__(self) -> str:
        return f"SeisBenchWaveforms({str(self.folder)!r})"


def _as_enz(trace: np.ndarray, layout: TraceLayout, path: str, trace_name: str) -> np.ndarray:
    """A stored 2-D trace as float32 (3, n_samples) E, N, Z; NaN or Inf samples are a BadTraceError."""
    if trace.ndim != 2 or trace.shape[layout.component_axis] != layout.n_components:
        raise BadTraceError(path, trace_name, f"trace shape {trace.shape} does not hold {layout.n_components} "
                                              "components")
    enz = trace[layout.enz_rows, :] if layout.component_axis == 0 else trace[:, layout.enz_rows].T
    if not np.isfinite(enz).all():
        raise BadTraceError(path, trace_name, "NaN or Inf samples")
    return np.ascontiguousarray(enz, dtype=np.float32)


def _data_format_of(path: Path) -> dict[str, object]:
    try:
        with h5py.File(path, "r") as handle:
            return _read_data_format(handle)
    except (OSError, ValueError) as error:
        raise SeisbindInputError(f"{path}: cannot open HDF5 file: {error}") from None


def _to_instance_names(frame: pd.DataFrame, data_format: dict[str, object], path: Path) -> pd.DataFrame:
    """Rename/convert SeisBench columns to INSTANCE ones; sampling rate -> trace_dt_s (s) = 1 / rate."""
    frame = frame.rename(columns={k: v for k, v in SEISBENCH_RENAMES.items() if v not in frame.columns})
    for column, (target, factor) in SEISBENCH_SCALED.items():
        if column in frame.columns and target not in frame.columns:
            frame[target] = pd.to_numeric(frame.pop(column), errors="coerce") * factor
    if "trace_dt_s" not in frame.columns:
        if "trace_sampling_rate_hz" in frame.columns:
            frame["trace_dt_s"] = 1.0 / pd.to_numeric(frame.pop("trace_sampling_rate_hz"), errors="coerce")
        elif "sampling_rate" in data_format:
            frame["trace_dt_s"] = 1.0 / float(data_format["sampling_rate"])
    if "trace_component_order" in frame.columns:
        orders = set(frame["trace_component_order"].dropna().astype(str))
        if orders - {str(data_format.get("component_order"))}:
            raise SeisbindInputError(
                f"{path}: per-trace component orders {sorted(orders)} differ from data_format/component_order "
                f"{data_format.get('component_order')!r}; seisbind reads one order per file"
            )
    return frame


def read_seisbench_metadata(folder: str | os.PathLike, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Metadata of a SeisBench folder with INSTANCE column names and seisbind dtypes (see `compact_columns`).

    Chunked folders get a `trace_chunk` column and `trace_name` = `<chunk>/<name>`, the key `SeisBenchWaveforms`
    reads. `columns` (INSTANCE names; `trace_name` always kept) selects columns; a missing one is an error, and so
    is a `trace_name` repeated within one metadata file (it would pair one row's metadata with another's waveform).
    """
    folder = Path(folder)
    chunks = seisbench_chunks(folder)
    if not chunks:
        raise SeisbindInputError(f"{folder}: no SeisBench files (metadata.csv + waveforms.hdf5, or chunks)")
    frames = []
    for chunk in chunks:
        metadata_path, waveforms_path = _chunk_files(folder, chunk)
        try:
            frame = pd.read_csv(metadata_path, low_memory=False, encoding="utf-8-sig")
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
            raise SeisbindInputError(f"{metadata_path}: cannot read: {error}") from None
        if "trace_name" not in frame.columns:
            raise SeisbindInputError(f"{metadata_path}: missing column trace_name")
        check_unique_trace_names(frame["trace_name"].astype(str), metadata_path)
        frame = _to_instance_names(frame, _data_format_of(waveforms_path), metadata_path)
        if chunk:
            frame["trace_chunk"] = chunk
            frame["trace_name"] = chunk + "/" + frame["trace_name"].astype(str)
        if columns is not None:
            wanted = list(dict.fromkeys([*columns, "trace_name"]))
            missing = [name for name in wanted if name not in frame.columns]
            if missing:
                raise SeisbindInputError(f"{metadata_path}: missing column(s) {', '.join(missing)}")
            frame = frame[wanted]
        frames.append(compact_columns(frame, metadata_path))
    frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    return compact_columns(frame, folder)
