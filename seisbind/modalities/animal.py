"""The animal modality: ODBA (overall dynamic body acceleration) of tagged animals, from Movebank acceleration
files (seisbind.data.movebank), as a time series before each trace for the encoder, and the study's `animal`
family, the ODBA level and deviation per window (Wikelski et al. 2020).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import torch

from seisbind.data.movebank import odba_bins
from seisbind.data.tables import TableSource
from seisbind.probe import features
from seisbind.protocols import FamilyUnavailable, InputData, StudyData, load_or_unavailable, masked_batch


class AnimalInput:
    """ODBA of every tagged animal over the `window_hours` before each trace, in `bin_minutes` bins, as log10 ODBA
    standardised per animal. An animal with under `min_coverage` of the window observed is masked; a trace no
    animal covers is absent (`present=False`), never zero-filled data."""

    columns = ("trace_start_time",)

    def __init__(self, source: TableSource | Mapping[str, Any], window_hours: float = 20.0, bin_minutes: float = 15.0,
                 min_coverage: float = 0.5) -> None:
        self.source = TableSource.of(source, "animal input source")
        self.context_hours = float(window_hours)
        self.bin_minutes = float(bin_minutes)
        self.min_coverage = min_coverage
        self.n_bins = int(round(window_hours * 60 / bin_minutes))

    def setup(self, index: pd.DataFrame, data: InputData, on_bad_trace: str) -> None:
        odba = odba_bins(data.tables.load(self.source, "the animal input"), bin_minutes=self.bin_minutes)
        logged = np.log10(odba.to_numpy(dtype=np.float64).clip(min=1e-6))
        standardised = (logged - np.nanmean(logged, axis=0)) / np.nanstd(logged, axis=0).clip(min=1e-6)
        self.individuals = tuple(map(str, odba.columns))
        # Padded with a window of NaN on each side so that every slice has the same length.
        pad = np.full((self.n_bins, len(self.individuals)), np.nan, dtype=np.float32)
        self.series = np.concatenate([pad, standardised.astype(np.float32), pad])
        bin_starts = odba.index.asi8
        ends = pd.DatetimeIndex(index["trace_start_time"]).asi8
        # A bin belongs to the window when it ends at or before the trace start.
        bin_ns = int(self.bin_minutes * 60e9)
        self.end_bin = np.clip(np.searchsorted(bin_starts + bin_ns, ends, side="right"), 0, len(bin_starts))
        self.end_bin = (self.end_bin + self.n_bins).astype(np.int64)

    @property
    def shape(self) -> tuple[int, ...]:
        return (len(self.individuals), self.n_bins)

    def batch(self, rows: np.ndarray) -> dict[str, torch.Tensor]:
        bins = self.end_bin[rows][:, None] + np.arange(-self.n_bins, 0)
        window = self.series[bins].transpose(0, 2, 1)       # (B, animals, bins)
        observed = np.isfinite(window)
        mask = observed.mean(axis=2) >= self.min_coverage
        return masked_batch(np.where(observed, window, 0.0).astype(np.float32), mask)


class AnimalFamily:
    """ODBA level and deviation per window (features.animal_features) from the Movebank files of `source`,
    binned in `bin_minutes`; an animal counts in a window when `min_coverage` of its bins hold data."""

    name = "animal"
    columns = tuple(features.ANIMAL_FEATURES)
    simulated = False

    def __init__(self, source: TableSource | Mapping[str, Any], bin_minutes: float = 15.0,
                 min_coverage: float = 0.5) -> None:
        self.source = TableSource.of(source, "animal features source")
        self.bin_minutes, self.min_coverage = float(bin_minutes), float(min_coverage)

    def compute(self, data: StudyData, windows: pd.DataFrame) -> pd.DataFrame:
        odba = odba_bins(load_or_unavailable(data, self.source, "animal features"), bin_minutes=self.bin_minutes)
        animal = features.animal_features(odba, windows, min_coverage=self.min_coverage)
        if not animal["animal_odba_log10"].notna().any():
            raise FamilyUnavailable(
                f"the animal data ({odba.index.min()} to {odba.index.max()}, {odba.shape[1]} animals) covers none "
                f"of the windows for >= {self.min_coverage:.0%} of their time")
        return animal
