"""LightningDataModule over a data root: one sample per trace, one input per configured modality.

The traces and their readers come from seisbind/data/trace_index.py; this module adds the split and the loaders.
Metadata and the side tables the inputs name (seisbind/data/tables.py) are read once in `setup` (main process)
into compact arrays; waveforms are read per sample from HDF5 that each worker opens lazily. The split keeps every
event, and every pair of traces whose context windows overlap, on one side: overlapping windows split at random
would put the same seconds of data in training and validation.
"""

from __future__ import annotations

import logging
from pathlib import Path

import lightning as L
import numpy as np
import pandas as pd
import torch
from sklearn.model_selection import GroupShuffleSplit
from torch.utils.data import DataLoader, Sampler

from seisbind.config import plain
from seisbind.data.convert import block_of
from seisbind.data.dataset import TraceDataset, collate
from seisbind.data.trace_index import TraceIndex
from seisbind.errors import SeisbindInputError
from seisbind.protocols import ModalityInput

log = logging.getLogger(__name__)

BASE_COLUMNS = ("trace_name", "source_id", "trace_start_time", "source_origin_time", "station_code",
                "station_network_code")


def split_rows(index: pd.DataFrame, strategy: str, val_fraction: float, gap_hours: float,
               seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Train and validation row positions.

    `time`: the latest `val_fraction` of events (by origin time, noise traces by start) validate; training traces
    that start within `gap_hours` before the cut are dropped, so no context window spans both sides.
    `event`: a seeded share of events validates (GroupShuffleSplit on source_id; noise traces are their own group).
    """
    groups = index["source_id"].astype("string").fillna(index["trace_name"].astype("string")).to_numpy()
    rows = np.arange(len(index))
    if strategy == "event":
        train, val = next(GroupShuffleSplit(n_splits=1, test_size=val_fraction, random_state=seed).split(
            rows, groups=groups))
        return np.sort(train), np.sort(val)
    if strategy != "time":
        raise SeisbindInputError(f"data.split.strategy={strategy!r}: choose 'time' or 'event'")
    origin = index["source_origin_time"].fillna(index["trace_start_time"]) \
        if "source_origin_time" in index else index["trace_start_time"]
    event_time = origin.groupby(groups).transform("min")
    cut = event_time.quantile(1.0 - val_fraction)
    val = rows[(event_time >= cut).to_numpy()]
    keep = (event_time < cut - pd.Timedelta(hours=gap_hours)) & (index["trace_start_time"] < cut)
    train = rows[keep.to_numpy()]
    dropped = len(rows) - len(train) - len(val)
    if dropped:
        log.info("time split at %s: %d traces within the %.1f h gap before the cut were left out", cut, dropped,
                 gap_hours)
    return train, val


class EpochShuffleSampler(Sampler[int]):
    """A permutation drawn from (seed, epoch) alone: Lightning calls `set_epoch`, so a run resumed from a
    checkpoint sees the same order in its remaining epochs as an uninterrupted one."""

    def __init__(self, n: int, seed: int) -> None:
        self.n, self.seed, self.epoch = n, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.n

    def __iter__(self):
        generator = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        return iter(torch.randperm(self.n, generator=generator).tolist())


class BlockShuffleSampler(EpochShuffleSampler):
    """Training order for traces stored in blocks (seisbind/data/convert.py): the blocks in a random order, then
    the traces of each run of `window_blocks` consecutive (in that order) blocks shuffled together. Reads stay
    within a few blocks at a time, so the page cache and HDF5's chunk cache serve them, while a batch still
    mixes traces of `window_blocks` blocks. Seeded by (seed, epoch) like EpochShuffleSampler, so resume holds."""

    def __init__(self, blocks: np.ndarray, seed: int, window_blocks: int = 8) -> None:
        super().__init__(len(blocks), seed)
        self.blocks = np.asarray(blocks)
        self.window_blocks = max(1, int(window_blocks))

    def __iter__(self):
        rng = np.random.default_rng([self.seed, self.epoch])
        order = rng.permutation(np.unique(self.blocks))
        rank = np.empty(order.max() + 1 if order.size else 0, np.int64)
        rank[order] = np.arange(order.size)
        window = rank[self.blocks] // self.window_blocks
        keys = rng.random(self.n)
        return iter(np.lexsort((keys, window)).tolist())


class SeisBindDataModule(L.LightningDataModule):
    def __init__(self, root: str, inputs: dict[str, ModalityInput], events_csv: str | None = None,
                 events_hdf5: str | None = None, include_noise: bool = False, filters: dict | None = None,
                 split: dict | None = None,
                 on_bad_trace: str = "skip", batch_size: int = 32, num_workers: int = 0, pin_memory: bool = False,
                 persistent_workers: bool = False) -> None:
        super().__init__()
        if on_bad_trace not in ("skip", "raise"):
            raise SeisbindInputError(f"data.on_bad_trace={on_bad_trace!r}: choose 'skip' or 'raise'")
        if not isinstance(batch_size, int) or batch_size < 1:
            raise SeisbindInputError(f"data.batch_size={batch_size!r}: must be a whole number >= 1")
        self.root = Path(root)
        self.inputs = inputs
        self.paths = {"events_csv": events_csv, "events_hdf5": events_hdf5}
        self.include_noise = include_noise
        self.filters = plain(filters) or {}
        self.split = {"strategy": "time", "val_fraction": 0.2, "gap_hours": None, "seed": 0} | (plain(split) or {})
        self.on_bad_trace = on_bad_trace
        self.loader_args = {"batch_size": batch_size, "num_workers": num_workers, "pin_memory": pin_memory,
                            "persistent_workers": persistent_workers and num_workers > 0, "collate_fn": collate}
        self.index: pd.DataFrame | None = None

    def setup(self, stage: str | None = None) -> None:
        if self.index is not None:
            return
        columns = sorted(set(BASE_COLUMNS).union(*(inp.columns for inp in self.inputs.values())))
        traces = TraceIndex.open(self.root, columns, filters=self.filters, noise=self.include_noise,
                                 **self.paths)
        self.index = traces.table
        if len(self.index) < 2:
            raise SeisbindInputError(f"{self.root}: {len(self.index)} traces left after the filters {self.filters}")
        traces.prepare(self.inputs, self.on_bad_trace)
        gap = self.split["gap_hours"]
        if gap is None:
            gap = max(inp.context_hours for inp in self.inputs.values())
        self.train_rows, self.val_rows = split_rows(self.index, self.split["strategy"], self.split["val_fraction"],
                                                    float(gap), int(self.split["seed"]))
        log.info("%d traces: %d train, %d validation (%s split)", len(self.index), len(self.train_rows),
                 len(self.val_rows), self.split["strategy"])
        if not len(self.train_rows) or not len(self.val_rows):
            raise SeisbindInputError(f"the {self.split['strategy']} split left an empty side "
                                     f"({len(self.train_rows)} train, {len(self.val_rows)} validation traces); "
                                     "change data.split.val_fraction or the filters")
        world = self.trainer.world_size if self.trainer is not None else 1
        per_rank = len(self.train_rows) // world
        if stage == "fit" and self.loader_args["batch_size"] > per_rank:
            # Training batches drop the incomplete last one (the distributed gather needs equal shapes): no batch.
            raise SeisbindInputError(
                f"data.batch_size={self.loader_args['batch_size']} is larger than the {per_rank} training traces "
                f"per process ({len(self.train_rows)} on {world}): no training batch would be drawn; lower "
                "data.batch_size or use more data")

    def input_shapes(self) -> dict[str, list[int]]:
        return {name: list(inp.shape) for name, inp in self.inputs.items()}

    def dataset(self, rows: np.ndarray | None = None) -> TraceDataset:
        """All traces (or the given rows) of the index, e.g. for embedding every window in the probe."""
        return TraceDataset(np.arange(len(self.index)) if rows is None else rows, self.inputs)

    def train_dataloader(self) -> DataLoader:
        # drop_last keeps every rank's batch the same shape, which the gather of the distributed loss needs.
        blocks = block_of(self.index["trace_name"].iloc[self.train_rows])
        sampler = EpochShuffleSampler(len(self.train_rows), int(self.split["seed"])) if blocks is None else \
            BlockShuffleSampler(blocks, int(self.split["seed"]))
        return DataLoader(self.dataset(self.train_rows), sampler=sampler, drop_last=True, **self.loader_args)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.dataset(self.val_rows), shuffle=False, **self.loader_args)

    def predict_dataloader(self) -> DataLoader:
        return DataLoader(self.dataset(), shuffle=False, **self.loader_args)

