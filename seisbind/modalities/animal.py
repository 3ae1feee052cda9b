"""The animal modality: ODBA (overall dynamic body acceleration) of tagged animals, from Movebank acceleration
files (seisbind.data.movebank), as a time series before each trace for the encoder, and the study's two families:
`animal`, the ODBA level and deviation per window, and `wikelski2020`, the score of Wikelski et al. (2020).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import torch

from seisbind.data.movebank import odba_bins
from seisbind.data.tables import TableSource
from seisbind.errors import SeisbindInputError
from seisbind.probe import animal_baseline as wb
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


class Wikelski2020Family:
    """The Wikelski et al. (2020) score of each window (seisbind/probe/animal_baseline.py:wikelski_score): the
    largest value of their standardised VAR-residual animal series (dog - cow + sheep, SD units) over the 15-min bins
    lying wholly inside the window; NaN when fewer than `min_coverage` of those bins are observed. The VAR includes
    the shaking at the farm, the largest trace PGA (cm/s^2) among the traces recorded in each bin (0 where none), so
    the family needs the trace metadata as well as the Movebank files of `source`. The study judges it as published,
    without refitting (scores.Fixed). After `compute`, `info["detector"]` holds their threshold detector's summary
    with the random-alarm test of Zoller et al. (2021), or None with the reason in `skipped`."""

    name = "wikelski2020"
    columns = ("wikelski2020_score",)
    simulated = False

    def __init__(self, source: TableSource | Mapping[str, Any], min_coverage: float = 0.5) -> None:
        self.source = TableSource.of(source, "Wikelski 2020 score source")
        self.min_coverage = float(min_coverage)
        self.info: dict[str, Any] = {}
        self.skipped: list[tuple[str, str]] = []

    def compute(self, data: StudyData, windows: pd.DataFrame) -> pd.DataFrame:
        self.info, self.skipped = {}, []
        bursts = load_or_unavailable(data, self.source, "the Wikelski 2020 score")
        if data.metadata is None:
            raise FamilyUnavailable(data.metadata_missing or "no trace metadata for the PGA per bin")
        try:
            odba = odba_bins(bursts, bin_minutes=wb.BIN_MINUTES)
            pga = wb.pga_per_bin(trace_pga(data.metadata), odba.index)
            animal = wb.wikelski_residuals(odba, pga)["animal"]
        except SeisbindInputError as err:
            raise FamilyUnavailable(str(err)) from None
        self.info["detector"] = self.detector(animal, pga)
        score = wb.wikelski_score(windows, animal, min_coverage=self.min_coverage)
        return pd.DataFrame({self.columns[0]: score}, index=windows.index)

    def detector(self, animal: pd.Series, pga: pd.Series) -> dict | None:
        """Triggers, detections, alarm fraction and random-alarm p of the threshold detector on the bins with
        shaking (wb.detect_episodes), or None when it cannot run."""
        bins = pga[pga > 0]
        try:
            found = wb.detect_episodes(animal, pd.DataFrame({"time": bins.index, "pga": bins.to_numpy()}))
        except SeisbindInputError as err:
            self.skipped.append((f"{self.name} detector", str(err)))
            return None
        return {"n_triggers": int(len(found.triggers)), "n_detected": int(found.triggers["detected"].sum()),
                "alarm_fraction": found.alarm_fraction, "p_value_random": found.p_value_random}


def trace_pga(metadata: pd.DataFrame) -> pd.DataFrame:
    """Each trace's start time and PGA (cm/s^2, 0 where not given): the network's view of shaking at the farm."""
    return pd.DataFrame({"time": pd.to_datetime(features.trace_times_ns(metadata), utc=True),
                         "pga": metadata["trace_pga_cmps2"].astype(np.float64).fillna(0.0).to_numpy()})
