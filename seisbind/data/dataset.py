"""One sample per trace: a dict keyed by modality, built by the configured inputs."""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from seisbind.data.inputs import ModalityInput


class TraceDataset(Dataset):
    """`rows` are positions in the metadata index shared by all inputs; `info.row` carries the position through
    batching so that embeddings can be joined back to their traces."""

    def __init__(self, rows: np.ndarray, inputs: dict[str, ModalityInput]) -> None:
        self.rows = np.asarray(rows, dtype=np.int64)
        self.inputs = inputs

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, k: int) -> dict[str, dict[str, torch.Tensor]]:
        i = int(self.rows[k])
        sample = {name: make(i) for name, make in self.inputs.items()}
        sample["info"] = {"row": torch.tensor(i)}
        return sample

    def __getitems__(self, ks: list[int]) -> list[dict[str, dict[str, torch.Tensor]]]:
        """A whole batch at once (torch's DataLoader calls this when it exists): inputs that can read many rows
        together (`batch`, e.g. traces from blocks) do so; the others build their samples one by one."""
        rows = self.rows[np.asarray(ks, dtype=np.int64)]
        by_input = {name: make.batch(rows) if hasattr(make, "batch") else [make(int(i)) for i in rows]
                    for name, make in self.inputs.items()}
        return [{name: samples[j] for name, samples in by_input.items()} | {"info": {"row": torch.tensor(int(i))}}
                for j, i in enumerate(rows)]
