"""The traces of the index as batches: a dict keyed by modality, each built by its input for all rows at once."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from seisbind.protocols import ModalityInput

Batch = dict[str, dict[str, Any]]


class TraceDataset(Dataset):
    """`rows` are positions in the metadata index shared by all inputs; `info.row` carries the position through
    batching so that embeddings can be joined back to their traces.

    torch's DataLoader fetches a batch with `__getitems__`, and every input builds its part of the batch from its
    arrays in one gather (the waveform input with one HDF5 selection per block), so no per-trace tensors are made
    and collated: the loaders use `collate` below, which passes the batch through. `dataset[k]` is the batch of
    one trace (every tensor with a leading dimension of 1)."""

    def __init__(self, rows: np.ndarray, inputs: dict[str, ModalityInput]) -> None:
        self.rows = np.asarray(rows, dtype=np.int64)
        self.inputs = inputs

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, k: int) -> Batch:
        return self.__getitems__([k])

    def __getitems__(self, ks: list[int]) -> Batch:
        rows = self.rows[np.asarray(ks, dtype=np.int64)]
        return {name: make.batch(rows) for name, make in self.inputs.items()} | {
            "info": {"row": torch.from_numpy(rows.copy())}}


def collate(batch: Batch) -> Batch:
    """The DataLoader's collate_fn for TraceDataset: its batches come collated (module-level, so workers can
    pickle it)."""
    return batch
