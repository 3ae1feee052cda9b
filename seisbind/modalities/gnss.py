"""The GNSS deformation modality: detrended daily displacements of the stations near a trace, and per-window
displacement features for the pre-event study.

The data are daily positions (NGL `.tenv3` or PBO `.pos`, read by seisbind.data.gnss.read_gnss from the files the
modality's `source` names); the arithmetic (prior-trend removal, station selection, gaps) is in
seisbind/data/gnss.py. The encoder is the shared seisbind.modalities.timeseries.TimeSeriesEncoder: one channel per
(station, component), absent where no station is near enough or its data are too sparse.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import torch

from seisbind.data.gnss import FEATURE_COLUMNS, displacement_windows, gnss_window_features
from seisbind.data.inputs import DataSources, sample
from seisbind.data.tables import TableSource
from seisbind.probe.families import FamilyUnavailable, StudyData, load_or_unavailable

_HOURS_PER_DAY = 24.0


class GnssInput:
    """For each trace: the east/north/up displacement (mm, beyond each station's prior trend) over the
    `window_days` days before the trace starts at the `max_stations` stations nearest its event (its own station
    for a noise trace) within `radius_km`; shape (max_stations * 3, window_days) with a channel mask."""

    columns = ("trace_start_time", "source_latitude_deg", "source_longitude_deg", "station_latitude_deg",
               "station_longitude_deg")

    def __init__(self, source: TableSource | Mapping[str, Any], window_days: int = 8, trend_days: int = 30,
                 radius_km: float = 50.0, max_stations: int = 4, min_coverage: float = 0.5) -> None:
        self.source = TableSource.of(source, "gnss input source")
        self.window_days, self.trend_days = int(window_days), int(trend_days)
        self.radius_km, self.max_stations, self.min_coverage = float(radius_km), int(max_stations), float(min_coverage)
        # Only the window the encoder sees counts as context for the train/validation gap: the trend period is
        # used to detrend, and its days are at most a steady velocity, not a signal.
        self.context_hours = self.window_days * _HOURS_PER_DAY

    def setup(self, index: pd.DataFrame, sources: DataSources, on_bad_trace: str) -> None:
        series = sources.tables.load(self.source, "the gnss input")
        lat = index["source_latitude_deg"].to_numpy(np.float64)
        lon = index["source_longitude_deg"].to_numpy(np.float64)
        no_source = ~np.isfinite(lat)
        lat = np.where(no_source, index["station_latitude_deg"].to_numpy(np.float64), lat)
        lon = np.where(no_source, index["station_longitude_deg"].to_numpy(np.float64), lon)
        self.values, self.mask = displacement_windows(
            series, pd.DatetimeIndex(index["trace_start_time"]).as_unit("ns").asi8, lat, lon,
            radius_km=self.radius_km, window_days=self.window_days, trend_days=self.trend_days,
            max_stations=self.max_stations, min_coverage=self.min_coverage)

    @property
    def shape(self) -> tuple[int, ...]:
        return (self.max_stations * 3, self.window_days)

    def __call__(self, i: int) -> dict[str, torch.Tensor]:
        return sample(self.values[i], self.mask[i])


class GnssFamily:
    """Probe features per window: the station-averaged absolute displacement per component over the
    `window_days` days before the window ends, beyond each station's trend over the `trend_days` before those
    (seisbind.data.gnss.gnss_window_features), and the number of stations counted (NaN where none: the window
    lacks the family)."""

    name = "gnss"
    columns = tuple(FEATURE_COLUMNS)
    simulated = False

    def __init__(self, source: TableSource | Mapping[str, Any], window_days: int = 7, trend_days: int = 30,
                 min_days: int = 3) -> None:
        self.source = TableSource.of(source, "gnss features source")
        self.window_days, self.trend_days, self.min_days = int(window_days), int(trend_days), int(min_days)

    def compute(self, data: StudyData, windows: pd.DataFrame) -> pd.DataFrame:
        series = load_or_unavailable(data, self.source, "gnss features")
        table = gnss_window_features(series, windows, window_days=self.window_days, trend_days=self.trend_days,
                                     min_days=self.min_days)
        table["gnss_n_stations"] = table["gnss_n_stations"].where(table["gnss_n_stations"] > 0)
        if table["gnss_n_stations"].isna().all():
            raise FamilyUnavailable(f"no GNSS station has {self.min_days} of the {self.window_days} days before any "
                                    f"window ({series['station'].nunique()} stations, {series['time'].min()} to "
                                    f"{series['time'].max()})")
        return table
