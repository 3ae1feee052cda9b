"""The traces of a data root: one table and the readers of its waveforms, whichever layout the user downloaded.

A root holds INSTANCE files (the event pair, optionally the noise pair; seisbind/data/instance.py) or a SeisBench
folder (seisbind/data/seisbench_format.py). `Layout.find` tells which, once per root; everything else sees
metadata with INSTANCE column names and readers whose `read(trace_name)` returns float32 (3, n_samples) E, N, Z.
`TraceIndex.open` is what training (seisbind/data/datamodule.py, which adds only the split and the loaders) and
the probe (trace statistics, embeddings) read a root with.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd

from seisbind.config import plain
from seisbind.data.instance import InstanceWaveforms, find_instance_files, read_instance_metadata
from seisbind.data.instance_schema import NOISE_COLUMNS
from seisbind.data.seisbench_format import SeisBenchWaveforms, read_seisbench_metadata, seisbench_chunks
from seisbind.data.tables import SideTables
from seisbind.data.trace_filter import Kind, MetadataFilter
from seisbind.errors import SeisbindInputError
from seisbind.protocols import InputData, ModalityInput

log = logging.getLogger(__name__)


class WaveformReader(Protocol):
    """What the dataset needs from a waveform file: picklable, opened lazily per process."""

    def read(self, trace_name: str) -> np.ndarray: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Files:
    """One set of traces: its metadata (an INSTANCE CSV, or a SeisBench folder) and its waveforms."""

    metadata: Path
    waveforms: Path
    seisbench: bool

    def reader(self) -> WaveformReader:
        return SeisBenchWaveforms(self.waveforms) if self.seisbench else InstanceWaveforms(self.waveforms)


@dataclass(frozen=True)
class Layout:
    """Where the traces of one root are: the event traces, and INSTANCE's noise traces when the root has them."""

    events: Files
    noise: Files | None

    @classmethod
    def find(cls, root: str | os.PathLike) -> Layout:
        """INSTANCE files (`metadata_Instance_events*.csv` with its HDF5 and the optional noise pair, any version
        or sample suffix; seisbind.data.instance.find_instance_files) preferred over a SeisBench folder
        (`metadata.csv` + `waveforms.hdf5` or chunks)."""
        root = Path(root)
        if not root.is_dir():
            raise SeisbindInputError(f"{root}: not a folder (a data root holds INSTANCE files or a SeisBench dataset)")
        if any(root.glob("metadata_Instance_*.csv")):
            found = find_instance_files(root)
            noise = Files(found.noise_csv, found.noise_hdf5, False) if found.noise_csv is not None else None
            return cls(Files(found.events_csv, found.events_hdf5, False), noise)
        if seisbench_chunks(root):
            return cls(Files(root, root, True), None)
        raise SeisbindInputError(
            f"{root}: no waveform data found: expected INSTANCE files (metadata_Instance_events*.csv + "
            f"Instance_events_counts*.hdf5) or a SeisBench folder (metadata.csv + waveforms.hdf5, or chunks)")

    def files(self, kind: Kind) -> Files:
        if kind == "events":
            return self.events
        if self.noise is None:
            raise SeisbindInputError(f"{self.events.metadata.parent}: no INSTANCE noise files "
                                     "(metadata_Instance_noise*.csv + Instance_noise*.hdf5)")
        return self.noise


def read_metadata(files: Files, columns: Sequence[str] | None = None, *, kind: Kind = "events",
                  filters: MetadataFilter | None = None) -> pd.DataFrame:
    """The trace metadata of `files` (INSTANCE names, `trace_name` = the key its reader takes), no waveform opened.

    `columns` (None = all the file has) and `filters` mean the same for both layouts. ``attrs["source"]`` names the
    CSV or SeisBench folder read.
    """
    if files.seisbench:
        wanted = None if columns is None else [*columns, *(filters.columns(kind) if filters else [])]
        metadata = read_seisbench_metadata(files.metadata, wanted)
        if filters is not None:
            metadata = metadata[filters.mask(metadata, kind)].reset_index(drop=True)
        if columns is not None:
            metadata = metadata[list(dict.fromkeys([*columns, "trace_name"]))]
    else:
        metadata = read_instance_metadata(files.metadata, columns, kind=kind, filters=filters)
    metadata.attrs["source"] = str(files.metadata)
    return metadata


def open_waveforms(root: str | os.PathLike, columns: Sequence[str] | None = None, *, kind: Kind = "events",
                   filters: MetadataFilter | None = None) -> tuple[pd.DataFrame, WaveformReader]:
    """(metadata, reader) of one kind of traces in `root`."""
    files = Layout.find(root).files(kind)
    return read_metadata(files, columns, kind=kind, filters=filters), files.reader()


@dataclass
class TraceIndex:
    """The traces of a root as one table (`waveform_file` = which of `readers` holds each row) and the readers.

    Noise rows have no source columns: those stay NaN, so source-based inputs mark them absent.
    """

    root: Path
    table: pd.DataFrame
    readers: list[WaveformReader]

    @classmethod
    def open(cls, root: str | os.PathLike, columns: Sequence[str] | None = None, *,
             filters: Mapping | None = None, noise: bool = False, events_csv: str | None = None,
             events_hdf5: str | None = None) -> TraceIndex:
        """The event traces of `root` (or of `events_csv` + `events_hdf5`, given together), plus its noise traces
        when `noise` and the root has them (a warning when it has not); `filters` are MetadataFilter fields, the
        magnitude bounds not applying to noise traces."""
        root = Path(root)
        filters = plain(filters) or {}
        if events_csv or events_hdf5:
            if not (events_csv and events_hdf5):
                raise SeisbindInputError("data.events_csv and data.events_hdf5 must be given together")
            layout = Layout(Files(Path(events_csv), Path(events_hdf5), False), None)
        else:
            layout = Layout.find(root)
        events = read_metadata(layout.events, columns, filters=MetadataFilter(**filters))
        frames, readers = [events.assign(waveform_file=np.int8(0))], [layout.events.reader()]
        if noise and layout.noise is None:
            log.warning("data.include_noise=true, but %s has no INSTANCE noise pair (metadata_Instance_noise*.csv + "
                        "Instance_noise*.hdf5): %d event traces only (data.include_noise=false silences this)",
                        root, len(events))
        elif noise:
            noise_filters = MetadataFilter(**(filters | {"min_magnitude": None, "max_magnitude": None}))
            noise_columns = None if columns is None else [c for c in columns if c in NOISE_COLUMNS]
            traces = read_metadata(layout.noise, noise_columns, kind="noise", filters=noise_filters)
            frames.append(traces.assign(waveform_file=np.int8(1)))
            readers.append(layout.noise.reader())
            log.info("%d event and %d noise traces", len(events), len(traces))
        return cls(root, pd.concat(frames, ignore_index=True), readers)

    def prepare(self, inputs: Mapping[str, ModalityInput], on_bad_trace: str) -> None:
        """Set up each modality input on this index: their arrays for all rows, computed once here."""
        data = InputData(waveforms=self.readers, tables=SideTables(self.root))
        for inp in inputs.values():
            inp.setup(self.table, data, on_bad_trace)
