"""One entry point for waveform data: a folder of INSTANCE files or a SeisBench-format folder.

The rest of seisbind sees only (metadata with INSTANCE column names, reader with `read(trace_name)` returning
float32 (3, n_samples) E, N, Z), whichever format the user downloaded.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
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


def open_waveforms(
    root: str | os.PathLike,
    columns: Sequence[str] | None = None,
    *,
    kind: Kind = "events",
    filters: MetadataFilter | None = None,
) -> tuple[pd.DataFrame, WaveformReader]:
    """(metadata, reader) for the data in `root`, INSTANCE files preferred over SeisBench files.

    INSTANCE: `metadata_Instance_events*.csv` with its HDF5 (or the noise pair when `kind="noise"`); SeisBench:
    `metadata.csv` + `waveforms.hdf5` or chunks. `columns` and `filters` mean the same for both (INSTANCE names).
    """
    root = Path(root)
    if not root.is_dir():
        raise SeisbindInputError(f"{root}: not a folder")
    if any(root.glob("metadata_Instance_*.csv")):
        files = find_instance_files(root)
        csv_path, hdf5_path = (
            (files.events_csv, files.events_hdf5) if kind == "events" else (files.noise_csv, files.noise_hdf5)
        )
        if csv_path is None or hdf5_path is None:
            raise SeisbindInputError(f"{root}: no INSTANCE noise files (metadata_Instance_noise*.csv + hdf5)")
        metadata = read_instance_metadata(csv_path, columns, kind=kind, filters=filters)
        return metadata, InstanceWaveforms(hdf5_path)
    if seisbench_chunks(root):
        wanted = None if columns is None else [*columns, *(filters.columns(kind) if filters else [])]
        metadata = read_seisbench_metadata(root, wanted)
        if filters is not None:
            metadata = metadata[filters.mask(metadata, kind)].reset_index(drop=True)
        if columns is not None:
            metadata = metadata[list(dict.fromkeys([*columns, "trace_name"]))]
        return metadata, SeisBenchWaveforms(root)
    raise SeisbindInputError(
        f"{root}: no waveform data found: expected INSTANCE files (metadata_Instance_events*.csv + "
        f"Instance_events_counts*.hdf5) or a SeisBench folder (metadata.csv + waveforms.hdf5, or chunks)"
    )
