"""The waveform modality's input: raw 3-component traces, read per batch from HDF5 that each worker opens lazily.

The spectrum modality (configs/modality/spectrum.yaml) feeds it to its on-device spectrogram
(seisbind/modalities/spectra.py) and the spectrum transformer; it is the only input that reads from disk in `batch`.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd
import torch

from seisbind.data.instance_schema import TRACE_NPTS
from seisbind.errors import BadTraceError
from seisbind.protocols import InputData

log = logging.getLogger(__name__)


class WaveformInput:
    """The raw 3-component trace (E, N, Z counts, float32); the spectrum modality turns it into a spectrogram
    on the training device. A bad trace is absent (and logged with its reason) under `on_bad_trace=skip`."""

    columns = ("trace_name",)
    context_hours = 0.0

    def __init__(self, n_samples: int = TRACE_NPTS) -> None:
        self.n_samples = n_samples

    def setup(self, index: pd.DataFrame, data: InputData, on_bad_trace: str) -> None:
        self.trace_names = index["trace_name"].to_numpy(dtype=object)
        self.files = index["waveform_file"].to_numpy(dtype=np.int8)
        self.readers = data.waveforms
        self.on_bad_trace = on_bad_trace
        # Readers of blocked files (seisbind/data/convert.py) locate every row once here, so that a batch is
        # read with one selection per block and no per-trace work.
        self.block = np.full(len(index), -1, dtype=np.int64)
        self.block_row = np.full(len(index), -1, dtype=np.int64)
        self.block_keys: dict[int, list[tuple[str, str, str]]] = {}
        for file, reader in enumerate(self.readers):
            if hasattr(reader, "locate_blocks"):
                rows = np.flatnonzero(self.files == file)
                self.block[rows], self.block_row[rows], self.block_keys[file] = reader.locate_blocks(
                    self.trace_names[rows])

    @property
    def shape(self) -> tuple[int, ...]:
        return (3, self.n_samples)

    def batch(self, rows: np.ndarray) -> dict[str, Any]:
        """The traces of `rows` as one (B, 3, n_samples) tensor. A bad trace is zeros with present=False,
        bad=True, and "trace<TAB>reason" in `skipped` (empty strings for good ones), so that the run's skips are
        counted once, with reasons."""
        rows = np.asarray(rows, dtype=np.int64)
        x = np.zeros((rows.size, *self.shape), dtype=np.float32)
        problems: dict[int, BadTraceError] = {}
        blocked = np.flatnonzero(self.block[rows] >= 0)
        one_by_one = list(np.flatnonzero(self.block[rows] < 0))
        pairs = self.files[rows[blocked]].astype(np.int64) * (1 << 40) + self.block[rows[blocked]]
        for pair in np.unique(pairs):
            positions = blocked[pairs == pair]
            file, code = divmod(int(pair), 1 << 40)
            unique, inverse = np.unique(self.block_row[rows[positions]], return_inverse=True)
            try:
                traces, finite = self.readers[file].read_block_rows(self.block_keys[file][code], unique)
            except BadTraceError:
                one_by_one += list(positions)  # trace by trace, each with its own reason
                continue
            if traces.shape[-1] < self.n_samples:
                one_by_one += list(positions)
                continue
            x[positions] = traces[inverse, :, : self.n_samples]
            for j in positions[~finite[inverse]]:
                problems[int(j)] = BadTraceError(str(self.readers[file].folder), self.trace_names[rows[j]],
                                                 "NaN or Inf samples")
        for j in one_by_one:
            reader, name = self.readers[self.files[rows[j]]], self.trace_names[rows[j]]
            try:
                trace = reader.read(name)
                if trace.shape[-1] < self.n_samples:
                    raise BadTraceError(str(getattr(reader, "path", reader)), name,
                                        f"{trace.shape[-1]} samples, need {self.n_samples}")
                x[j] = trace[:, : self.n_samples]
            except BadTraceError as err:
                problems[int(j)] = err
        bad = np.zeros(rows.size, dtype=bool)
        skipped = [""] * rows.size
        for j, err in problems.items():
            if self.on_bad_trace == "raise":
                raise err
            log.warning("skipping bad trace: %s", err)
            bad[j] = True
            x[j] = 0.0
            skipped[j] = f"{err.trace_name}\t{err.reason.replace(err.trace_name, '<trace>')}"
        return {"x": torch.from_numpy(x), "present": torch.from_numpy(~bad), "bad": torch.from_numpy(bad),
                "skipped": skipped}
