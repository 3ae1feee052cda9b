"""The catalog modality: the seismicity before each trace as the encoder's input, and the study's `catalog`
family, the seismicity of each window; both from seisbind.seismicity.window_features.

The family is `simulated`: its features are a function of the event catalog alone, so the clustering nulls
(seisbind/probe/study/nulls/) compute them on simulated catalogs too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import torch

from seisbind.data.tables import TableSource
from seisbind.probe import features
from seisbind.protocols import InputData, StudyData, masked_batch
from seisbind.seismicity.window_features import window_catalog_features


class CatalogInput:
    """Seismicity of the `window_hours` before each trace starts (counts, largest magnitude, moment, spread,
    b-value, ...), standardised over the index. Windows are computed once per distinct start minute, since the
    traces of one event share their context."""

    columns = ("trace_start_time",)

    def __init__(self, source: TableSource | Mapping[str, Any], window_hours: float = 24.0,
                 min_count_b: int = 50) -> None:
        self.source = TableSource.of(source, "catalog input source")
        self.context_hours = float(window_hours)
        self.min_count_b = min_count_b

    def setup(self, index: pd.DataFrame, data: InputData, on_bad_trace: str) -> None:
        inverse, ends = pd.factorize(index["trace_start_time"].dt.floor("min"))
        ends = pd.DatetimeIndex(ends)
        catalog = data.tables.load(self.source, "the catalog input")
        feats = window_catalog_features(catalog, ends - pd.Timedelta(hours=self.context_hours), ends,
                                        min_count_b=self.min_count_b)
        feats = feats.select_dtypes("number")
        for name in ("n_events", "rate_per_hour"):
            if name in feats:
                feats[name] = np.log1p(feats[name])
        values = feats.to_numpy(dtype=np.float64)
        finite = np.isfinite(values)
        mean = np.nanmean(np.where(finite, values, np.nan), axis=0)
        std = np.nanstd(np.where(finite, values, np.nan), axis=0)
        scaled = (values - np.nan_to_num(mean)) / np.where(np.nan_to_num(std) > 0, np.nan_to_num(std), 1.0)
        self.feature_names = tuple(feats.columns)
        self.mask = finite[inverse]
        self.values = np.where(finite, scaled, 0.0).astype(np.float32)[inverse]

    @property
    def shape(self) -> tuple[int, ...]:
        return (len(self.feature_names),)

    def batch(self, rows: np.ndarray) -> dict[str, torch.Tensor]:
        return masked_batch(self.values[rows], self.mask[rows])


class CatalogFamily:
    """Seismicity per window (features.catalog_features) of the events at or above the completeness floor, within
    the study's radius_km of the window's target when it sets one; `min_count_b` events are needed for a b-value
    or Mc. `from_catalog` counts every event of the catalog it is given: the clustering nulls give it catalogs
    simulated from the seismicity within the radius (seisbind/probe/study/nulls/), whose simulated epicentres are
    drawn at random and so cannot say which events are near a simulated target."""

    name = "catalog"
    columns = tuple(features.CATALOG_FEATURES)
    simulated = True
    lookback_hours = 0.0
    """Only the events inside a window count."""

    def __init__(self, min_count_b: int = 50) -> None:
        self.min_count_b = int(min_count_b)

    def compute(self, data: StudyData, windows: pd.DataFrame) -> pd.DataFrame:
        return features.catalog_features(data.catalog, windows, min_count_b=self.min_count_b,
                                         radius_km=data.radius_km)

    def from_catalog(self, catalog: pd.DataFrame, windows: pd.DataFrame) -> pd.DataFrame:
        return features.catalog_features(catalog, windows, min_count_b=self.min_count_b)
