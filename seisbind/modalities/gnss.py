"""The GNSS deformation modality: detrended daily displacements of the stations near a trace, and per-window
displacement features for the pre-event study.

The data are daily positions (NGL `.tenv3` or PBO `.pos`, read by seisbind.data.gnss.read_gnss from the files the
modality's `source` names); the arithmetic (co-seismic offsets of catalogued earthquakes, prior-trend removal,
station selection, gaps) is in seisbind/data/gnss_displacement.py, one implementation for the input and the family.
The encoder is the shared seisbind.modalities.timeseries.TimeSeriesEncoder: one channel per (station, component),
absent where no station is near enough or its data are too sparse.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import torch

from seisbind.data.gnss_displacement import STEP_MIN_MAGNITUDE, displacement_windows, prior_days
from seisbind.data.tables import TableSource
from seisbind.errors import SeisbindInputError
from seisbind.protocols import FamilyUnavailable, InputData, StudyData, load_or_unavailable, masked_batch

log = logging.getLogger(__name__)

_HOURS_PER_DAY = 24.0


class GnssInput:
    """For each trace: the east/north/up displacement (mm, beyond each station's prior trend) over the
    `window_days` days before the trace starts at the `max_stations` stations nearest its event (its own station
    for a noise trace) within `radius_km`; shape (max_stations * 3, window_days) with a channel mask. The
    co-seismic offsets of the earthquakes in `catalog` (a source like the catalog modality's) from
    `step_min_magnitude` up are removed first; a root without that catalog keeps them, with a warning."""

    columns = ("trace_start_time", "source_latitude_deg", "source_longitude_deg", "station_latitude_deg",
               "station_longitude_deg")

    def __init__(self, source: TableSource | Mapping[str, Any], window_days: int = 8, trend_days: int = 30,
                 radius_km: float = 50.0, max_stations: int = 4, min_coverage: float = 0.5,
                 catalog: TableSource | Mapping[str, Any] | None = None,
                 step_min_magnitude: float = STEP_MIN_MAGNITUDE) -> None:
        self.source = TableSource.of(source, "gnss input source")
        self.catalog = None if catalog is None else TableSource.of(catalog, "gnss input catalog")
        self.step_min_magnitude = float(step_min_magnitude)
        self.window_days, self.trend_days = int(window_days), int(trend_days)
        self.radius_km, self.max_stations, self.min_coverage = float(radius_km), int(max_stations), float(min_coverage)
        # Only the window the encoder sees counts as context for the train/validation gap: the trend period is
        # used to detrend, and its days are at most a steady velocity, not a signal.
        self.context_hours = self.window_days * _HOURS_PER_DAY

    def setup(self, index: pd.DataFrame, data: InputData, on_bad_trace: str) -> None:
        series = data.tables.load(self.source, "the gnss input")
        lat = index["source_latitude_deg"].to_numpy(np.float64)
        lon = index["source_longitude_deg"].to_numpy(np.float64)
        no_source = ~np.isfinite(lat)
        lat = np.where(no_source, index["station_latitude_deg"].to_numpy(np.float64), lat)
        lon = np.where(no_source, index["station_longitude_deg"].to_numpy(np.float64), lon)
        self.values, self.mask = displacement_windows(
            series, pd.DatetimeIndex(index["trace_start_time"]).as_unit("ns").asi8, lat, lon,
            radius_km=self.radius_km, window_days=self.window_days, trend_days=self.trend_days,
            max_stations=self.max_stations, min_coverage=self.min_coverage, events=self._events(data),
            step_min_magnitude=self.step_min_magnitude)
        if not self.mask.any():   # the pair would train on absent samples only: a loss of nothing
            raise SeisbindInputError(
                f"modality.gnss.input: no trace has a GNSS station within radius_km={self.radius_km:g} with "
                f"min_coverage={self.min_coverage:g} of its {self.window_days} + {prior_days(self.trend_days)} days "
                f"before it "
                f"({series['station'].nunique()} station(s), {series['time'].min().date()} to "
                f"{series['time'].max().date()}, in {self.source.describe(data.tables.root)}; traces "
                f"{index['trace_start_time'].min()} to {index['trace_start_time'].max()})")

    def _events(self, data: InputData) -> pd.DataFrame | None:
        """The catalog whose co-seismic offsets are removed, None when none is configured or the root has none."""
        if self.catalog is None:
            return None
        if not self.catalog.paths(data.tables.root):
            log.warning("modality.gnss.input: no catalog (%s): co-seismic offsets stay in the GNSS displacements",
                        self.catalog.describe(data.tables.root))
            return None
        return data.tables.load(self.catalog, "the gnss input's co-seismic offsets")

    @property
    def shape(self) -> tuple[int, ...]:
        return (self.max_stations * 3, self.window_days)

    def batch(self, rows: np.ndarray) -> dict[str, torch.Tensor]:
        return masked_batch(self.values[rows], self.mask[rows])


class GnssFamily:
    """Probe features per window: how far the GNSS stations near the window's target moved over the
    `window_days` days before the window ends, from the median of their positions over the 5 days before those
    (seisbind.data.gnss_displacement.ANCHOR_DAYS); `trend_days` > 0 also removes each station's velocity over
    that many days before the window.

    Why no velocity by default: over the ~8 days from the anchor to a window's end a steady velocity moves a
    station by at most 0.6 mm (25 mm/yr, plate motion in IGS frames; Apennine stations relative to Eurasia move
    1-5 mm/yr), under the 1.5 mm of daily noise, and by the same amount in the pre-event and matched background
    windows of a stratum (the same stations); a velocity estimated from the 30 days before tilts with any transient
    in them (an earlier precursor, afterslip) by 0.2-0.5 mm/day, 1.5-4 mm at the window's end. Measured on
    synthetic roots with the 15 mm planted transient and stations that move with the shaking (seeds 100-102,
    seisbind/data/synthetic/gnss.py): AUC of the mean horizontal feature 0.74-0.83 with the 30-day velocity,
    0.79-0.95 without.

    A pre-event window's target is its own; a matched background window's is the target of its stratum
    (probe.background.match_days), so both classes of a stratum look at the same stations and station
    differences cancel. Per window: the stations within `radius_km` of the target's epicentre that have
    `min_coverage` of their days (at most `max_stations`, nearest first;
    seisbind.data.gnss_displacement.displacement_windows),
    and per component the log10 of the mean over them of the absolute residual at the last day (mm; absolute
    because a slip transient moves stations in different directions, log10 because co-seismic steps of nearby
    earthquakes reach decimetres where noise is a few mm), with `gnss_n_stations`. The co-seismic offsets of the
    study catalog's earthquakes (below the completeness floor too) from `step_min_magnitude` up are removed first,
    for both classes alike: a background window matched after its target would otherwise carry the target's step
    or its aftershocks'. Windows without a located target (unmatched background) or without a station nearby lack
    the family."""

    name = "gnss"
    columns = ("gnss_east_log10_mm", "gnss_north_log10_mm", "gnss_up_log10_mm", "gnss_n_stations")
    simulated = False

    def __init__(self, source: TableSource | Mapping[str, Any], window_days: int = 5, trend_days: int = 0,
                 radius_km: float = 50.0, max_stations: int = 4, min_coverage: float = 0.6,
                 step_min_magnitude: float = STEP_MIN_MAGNITUDE) -> None:
        self.source = TableSource.of(source, "gnss features source")
        self.window_days, self.trend_days = int(window_days), int(trend_days)
        self.radius_km, self.max_stations, self.min_coverage = float(radius_km), int(max_stations), float(min_coverage)
        self.step_min_magnitude = float(step_min_magnitude)

    def compute(self, data: StudyData, windows: pd.DataFrame) -> pd.DataFrame:
        series = load_or_unavailable(data, self.source, "gnss features")
        target = windows["target_event_id"].astype("string").fillna(windows["stratum"].astype("string"))
        located = data.catalog.assign(event_id=data.catalog["event_id"].astype("string"))
        located = located.drop_duplicates("event_id").set_index("event_id")
        lat = located["latitude_deg"].reindex(target).to_numpy(np.float64)
        lon = located["longitude_deg"].reindex(target).to_numpy(np.float64)
        values, mask = displacement_windows(
            series, pd.DatetimeIndex(windows["end_time"]).as_unit("ns").asi8, lat, lon, radius_km=self.radius_km,
            window_days=self.window_days, trend_days=self.trend_days, max_stations=self.max_stations,
            min_coverage=self.min_coverage, events=data.catalog if data.all_events is None else data.all_events,
            step_min_magnitude=self.step_min_magnitude)
        last = np.abs(values[:, :, -1]).reshape(len(windows), self.max_stations, 3)
        counted = mask.reshape(len(windows), self.max_stations, 3).all(axis=2)
        n = counted.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(counted[:, :, None], last, 0.0).sum(axis=1) / n[:, None]
        with np.errstate(divide="ignore"):
            logged = np.log10(np.maximum(mean, 1e-3))
        table = pd.DataFrame(np.where(n[:, None] > 0, logged, np.nan), index=windows.index,
                             columns=list(self.columns[:3]))
        table["gnss_n_stations"] = np.where(n > 0, n, np.nan)
        if not (n > 0).any():
            raise FamilyUnavailable(f"no GNSS station within {self.radius_km:g} km of any target has "
                                    f"{self.min_coverage:.0%} of the {self.window_days} days before its windows "
                                    f"({series['station'].nunique()} stations, {series['time'].min()} to "
                                    f"{series['time'].max()})")
        return table
