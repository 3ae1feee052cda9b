"""One entry point for waveform data: a folder of INSTANCE files or a SeisBench-format folder.

The rest of seisbind sees only (metadata with INSTANCE column names, reader with `read(trace_name)` returning
float32 (3, n_samples) E, N, Z), whichever format the user downloaded.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd

from seisbind.data.instance import InstanceWaveforms, Kind, MetadataFilter, find_instance_files, read_instance_metadata
from seisbind.data.seisbench_format import SeisBenchWaveforms, read_seisbench_metadata, seisbench_chunks
from seisbind.errors import SeisbindInputError


class WaveformReader(Protocol):
    """What the dataset needs from a waveform file: picklable, opened lazily per process."""

    def read(self, trace_name: str) -> np.ndarray: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class _DataFiles:
    """Where the metadata and waveforms of one data root are: an INSTANCE CSV + HDF5, or a SeisBench folder."""

    metadata: Path
    waveforms: Path
    seisbench: bool


def _find_data_files(root: str | os.PathLike, kind: Kind = "events") -> _DataFiles:
    """The files `open_waveforms` reads for `root`, INSTANCE files preferred over SeisBench files.

    INSTANCE: `metadata_Instance_events*.csv` with its HDF5 (or the noise pair when `kind="noise"`), any version
    or sample suffix; SeisBench: `metadata.csv` + `waveforms.hdf5` or chunks (`metadata`/`waveforms` is the folder).
    """
    root = Path(root)
    if not root.is_dir():
        raise SeisbindInputError(f"{root}: not a folder (a data root holds INSTANCE files or a SeisBench dataset)")
    if any(root.glob("metadata_Instance_*.csv")):
        files = find_instance_files(root)
        csv_path, hdf5_path = (
            (files.events_csv, files.events_hdf5) if kind == "events" else (files.noise_csv, files.noise_hdf5)
        )
        if csv_path is None or hdf5_path is None:
            raise SeisbindInputError(f"{root}: no INSTANCE noise files (metadata_Instance_noise*.csv + hdf5)")
        return _DataFiles(csv_path, hdf5_path, seisbench=False)
    if seisbench_chunks(root):
        return _DataFiles(root, root, seisbench=True)
    raise SeisbindInputError(
        f"{root}: no waveform data found: expected INSTANCE files (metadata_Instance_events*.csv + "
        f"Instance_events_counts*.hdf5) or a SeisBench folder (metadata.csv + waveforms.hdf5, or chunks)"
    )


def read_metadata(
    root: str | os.PathLike,
    columns: Sequence[str] | None = None,
    *,
    kind: Kind = "events",
    filters: MetadataFilter | None = None,
) -> pd.DataFrame:
    """The trace metadata of `root` (INSTANCE names, `trace_name` = the key its reader takes), no waveform opened.

    `columns` (None = all the file has) and `filters` mean the same for both layouts. ``attrs["source"]`` names the
    CSV or SeisBench folder read.
    """
    return _read_metadata(_find_data_files(root, kind), columns, kind, filters)


def _read_metadata(
    files: _DataFiles, columns: Sequence[str] | None, kind: Kind, filters: MetadataFilter | None
) -> pd.DataFrame:
    """`read_metadata` on files already found, so `open_waveforms` looks for them once."""
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


def has_noise_pair(root: str | os.PathLike) -> bool:
    """Whether the root holds INSTANCE's noise metadata and waveforms (`metadata_Instance_noise*.csv` +
    `Instance_noise*.hdf5`), by the names `find_instance_files` accepts; half a pair is its error."""
    root = Path(root)
    return root.is_dir() and any(root.glob("metadata_Instance_*.csv")) and \
        find_instance_files(root).noise_csv is not None


def open_waveforms(
    root: str | os.PathLike,
    columns: Sequence[str] | None = None,
    *,
    kind: Kind = "events",
    filters: MetadataFilter | None = None,
) -> tuple[pd.DataFrame, WaveformReader]:
    """(metadata, reader) for the data in `root`: `read_metadata` plus the reader of the files it came from."""
    files = _find_data_files(root, kind)
    reader = SeisBenchWaveforms(files.waveforms) if files.seisbench else InstanceWaveforms(files.waveforms)
    return _read_metadata(files, columns, kind, filters), reader
