"""What a modality provides, and what each of its parts receives.

A modality (seisbind/modalities/<name>.py, configured in configs/modality/<name>.yaml) has an input for training
(`ModalityInput`: index rows -> one batch for its encoder) and, when the pre-event study can use its data, a
feature family (`FeatureFamily`: windows -> per-window features). The training data layer (seisbind.data) and the
study (seisbind.probe) call them only through these protocols, so this module imports neither, and a new modality
is one module plus its config.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import pandas as pd
import torch

if TYPE_CHECKING:
    from seisbind.data.tables import SideTables, TableSource


@dataclass
class InputData:
    """What a data root offers the inputs: its waveform readers, and the side tables (catalog, animal tags, ...)
    that inputs name through their `source` config (seisbind/data/tables.py), each read once on first use."""

    waveforms: list[Any]
    """Readers with `.read(trace_name) -> float32 (3, n)`; the index column `waveform_file` picks one per row."""
    tables: SideTables


class ModalityInput(Protocol):
    """Configured under `modality.<name>.input`. `columns`: the index (trace metadata) columns it needs;
    `context_hours`: how far back before a trace it looks, so that the split keeps train and validation windows
    from overlapping; `setup` computes everything for all traces at once, in the main process, as compact arrays;
    `batch` slices them for one batch: `{"x": Tensor (B, ...), "present": BoolTensor (B,), "mask": Tensor}`."""

    columns: tuple[str, ...]
    context_hours: float

    def setup(self, index: pd.DataFrame, data: InputData, on_bad_trace: str) -> None: ...

    @property
    def shape(self) -> tuple[int, ...]: ...

    def batch(self, rows: np.ndarray) -> dict[str, Any]: ...


def masked_batch(x: np.ndarray, mask: np.ndarray) -> dict[str, torch.Tensor]:
    """Pack one batch (B, ...) with its mask (B, ...); a sample is absent when nothing in it was observed."""
    return {"x": torch.from_numpy(np.ascontiguousarray(x)), "mask": torch.from_numpy(np.ascontiguousarray(mask)),
            "present": torch.from_numpy(mask.reshape(len(mask), -1).any(axis=1))}


class FamilyUnavailable(Exception):
    """The data root cannot give this family its features; the reason goes to metrics.json `skipped`."""


@dataclass
class StudyData:
    """What a family may read: the root's side tables, the study catalog (events at or above its completeness
    floor), the trace metadata (features.read_trace_metadata) or why there is none, and `all_events`, the study
    catalog below the floor too, for features of what sensors felt, where small events count as much as they shook
    (seisbind/modalities/shaking.py; set by the study's feature table, seisbind/probe/study/table.py, and None
    elsewhere, where `catalog` is all there is). `radius_km` (probe.radius_km): the epicentral distance from
    each window's centre (its target) within which the seismicity families count events; None = everywhere."""

    root: Path
    tables: SideTables
    catalog: pd.DataFrame
    metadata: pd.DataFrame | None
    metadata_missing: str = ""
    all_events: pd.DataFrame | None = None
    radius_km: float | None = None


class FeatureFamily(Protocol):
    """Configured under `modality.<name>.features`. `columns`: the features.csv columns it adds (a window "has"
    the family when one of them is defined there); `simulated`: whether its features are a function of the event
    catalog alone, so that a simulated catalog yields them too (the clustering nulls of
    seisbind/probe/study/nulls/ test only such feature sets); such a family also has
    `from_catalog(catalog, windows)` and `lookback_hours`, how long before a window's start its events count.
    `compute` raises FamilyUnavailable when the data root cannot give them.
    A family that finds more than per-window features also holds, after `compute`, `info` (key -> plain values,
    written to metrics.json as `<name>_<key>`) and `skipped` ((what, why) of the parts of that it could not run)."""

    name: str
    columns: tuple[str, ...]
    simulated: bool

    def compute(self, data: StudyData, windows: pd.DataFrame) -> pd.DataFrame: ...


def load_or_unavailable(data: StudyData, source: TableSource, what: str) -> Any:
    """The source's table, or FamilyUnavailable when the root has none of its files (an optional modality)."""
    if not source.paths(data.root):
        raise FamilyUnavailable(f"no file for {what} ({source.describe(data.root)})")
    return data.tables.load(source, what)
