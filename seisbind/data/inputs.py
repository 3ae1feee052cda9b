"""Per-modality inputs: what the data layer hands each encoder for a batch of traces.

Each input is configured under `modality.<name>.input` and knows three things: which metadata columns it needs,
how far back in time it looks (`context_hours`, used to keep train and validation windows from overlapping),
and how to turn index rows into one batch `{"x": Tensor (B, ...), "present": BoolTensor (B,), "mask": Tensor}`.
Everything that can be computed for all traces at once (metadata scaling, catalog features, the ODBA matrix) is
computed in `setup`, in the main process, as compact numpy arrays; `batch` only slices them with the batch's rows
(one numpy gather and one tensor per key, not one per trace), and only the waveform input reads from disk (HDF5,
opened lazily in each worker).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pandas as pd
import torch

from seisbind.data.instance_schema import TRACE_NPTS
from seisbind.data.movebank import odba_bins
from seisbind.data.tables import SideTables, TableSource
from seisbind.errors import BadTraceError, SeisbindInputError
from seisbind.seismicity.window_features import window_catalog_features

log = logging.getLogger(__name__)


@dataclass
class DataSources:
    """What a data root offers the inputs: its waveform readers, and the side tables (catalog, animal tags, ...)
    that inputs name through their `source` config (seisbind/data/tables.py), each read once on first use."""

    waveforms: list[Any]
    """Readers with `.read(trace_name) -> float32 (3, n)`; the index column `waveform_file` picks one per row."""
    tables: SideTables


class ModalityInput(Protocol):
    columns: tuple[str, ...]
    context_hours: float

    def setup(self, index: pd.DataFrame, sources: DataSources, on_bad_trace: str) -> None: ...

    @property
    def shape(self) -> tuple[int, ...]: ...

    def batch(self, rows: np.ndarray) -> dict[str, Any]: ...


def masked_batch(x: np.ndarray, mask: np.ndarray) -> dict[str, torch.Tensor]:
    """Pack one batch (B, ...) with its mask (B, ...); a sample is absent when nothing in it was observed."""
    return {"x": torch.from_numpy(np.ascontiguousarray(x)), "mask": torch.from_numpy(np.ascontiguousarray(mask)),
            "present": torch.from_numpy(mask.reshape(len(mask), -1).any(axis=1))}



class WaveformInput:
    """The raw 3-component trace (E, N, Z counts, float32); the spectrum modality turns it into a spectrogram
    on the training device. A bad trace is absent (and logged with its reason) under `on_bad_trace=skip`."""

    columns = ("trace_name",)
    context_hours = 0.0

    def __init__(self, n_samples: int = TRACE_NPTS) -> None:
        self.n_samples = n_samples

    def setup(self, index: pd.DataFrame, sources: DataSources, on_bad_trace: str) -> None:
        self.trace_names = index["trace_name"].to_numpy(dtype=object)
        self.files = index["waveform_file"].to_numpy(dtype=np.int8)
        self.readers = sources.waveforms
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


class MetadataInput:
    """Selected INSTANCE columns divided by a fixed scale each (`{column: scale}`); NaN -> 0 with a mask, so the
    encoder can tell a missing S pick from an S pick at sample 0."""

    context_hours = 0.0

    def __init__(self, columns: dict[str, float]) -> None:
        if not columns:
            raise SeisbindInputError("metadata input needs at least one column: {column: scale}")
        self.scales = {str(k): float(v) for k, v in columns.items()}
        self.columns = tuple(self.scales)

    def setup(self, index: pd.DataFrame, sources: DataSources, on_bad_trace: str) -> None:
        values = index[list(self.columns)].to_numpy(dtype=np.float32) / np.asarray(
            list(self.scales.values()), dtype=np.float32)
        self.mask = np.isfinite(values)
        self.values = np.where(self.mask, values, 0.0).astype(np.float32)

    @property
    def shape(self) -> tuple[int, ...]:
        return (len(self.columns),)

    def batch(self, rows: np.ndarray) -> dict[str, torch.Tensor]:
        return masked_batch(self.values[rows], self.mask[rows])


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

    def setup(self, index: pd.DataFrame, sources: DataSources, on_bad_trace: str) -> None:
        inverse, ends = pd.factorize(index["trace_start_time"].dt.floor("min"))
        ends = pd.DatetimeIndex(ends)
        catalog = sources.tables.load(self.source, "the catalog input")
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

    def setup(self, index: pd.DataFrame, sources: DataSources, on_bad_trace: str) -> None:
        odba = odba_bins(sources.tables.load(self.source, "the animal input"), bin_minutes=self.bin_minutes)
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


SEISCLIP_WINDOW_SAMPLES = 6000
"""Samples (60 s at 100 Hz) of the STEAD window SeisCLIP was trained on (Si et al., arXiv 2309.02320)."""


def coda_duration_s(magnitude: np.ndarray, distance_km: np.ndarray) -> np.ndarray:
    """Signal duration from the P onset to the end of the coda (s), by inverting the duration-magnitude relation
    of Lee, Bennett & Meagher (1972, USGS OFR 72-223): M = -0.87 + 2.00 log10(tau) + 0.0035 distance_km."""
    return 10.0 ** ((magnitude + 0.87 - 0.0035 * distance_km) / 2.0)


class SeisCLIPInfoInput:
    """SeisCLIP's 8 info fields, in its order and scaling, from INSTANCE columns; NaN -> 0 with a mask.

    SeisCLIP (STEAD)    INSTANCE                                                   scale
    p_arrival_sample    trace_P_arrival_sample - offset_samples                     / 6000
    p_weight            path_weight_phase_location_P                                / 1
    p_travel_sec        path_travel_time_P_s                                        / 60
    s_arrival_sample    trace_S_arrival_sample - offset_samples                     / 6000
    s_weight            path_weight_phase_location_S                                / 1
    source_distance_km  path_ep_distance_km                                         / 300
    back_azimuth_deg    path_backazimuth_deg                                        / 360
    coda_end_sample     estimated: P + coda_duration_s(source_magnitude,            / 6000
                        path_ep_distance_km) * sampling_rate_hz, at most window_samples

    INSTANCE has no coda end. The estimate keeps the field in the range SeisCLIP saw (it trained on STEAD
    earthquakes only, which all have one) instead of a 0 that STEAD never held for an earthquake; it is cut at
    the end of the window the spectrum sees, since a coda beyond it cannot be picked there. `offset_samples`
    must equal the spectrum preprocess's offset (the samples it drops before its 6000-sample window). A trace
    with none of the fields (a noise trace) is absent.
    """

    columns = ("trace_P_arrival_sample", "path_weight_phase_location_P", "path_travel_time_P_s",
               "trace_S_arrival_sample", "path_weight_phase_location_S", "path_ep_distance_km",
               "path_backazimuth_deg", "source_magnitude")
    context_hours = 0.0

    def __init__(self, window_samples: int = SEISCLIP_WINDOW_SAMPLES, offset_samples: int = 0,
                 sampling_rate_hz: float = 100.0) -> None:
        if window_samples < 1 or offset_samples < 0 or sampling_rate_hz <= 0:
            raise SeisbindInputError(
                f"SeisCLIPInfoInput: window_samples={window_samples} must be >= 1, offset_samples="
                f"{offset_samples} >= 0 and sampling_rate_hz={sampling_rate_hz} > 0")
        self.window_samples = window_samples
        self.offset_samples = offset_samples
        self.sampling_rate_hz = sampling_rate_hz

    def setup(self, index: pd.DataFrame, sources: Any, on_bad_trace: str) -> None:
        col = {name: index[name].to_numpy(dtype=np.float64) for name in self.columns}
        p_sample = col["trace_P_arrival_sample"] - self.offset_samples
        s_sample = col["trace_S_arrival_sample"] - self.offset_samples
        duration_s = coda_duration_s(col["source_magnitude"], col["path_ep_distance_km"])
        coda_sample = np.minimum(p_sample + duration_s * self.sampling_rate_hz, self.window_samples)
        values = np.stack([
            p_sample / SEISCLIP_WINDOW_SAMPLES, col["path_weight_phase_location_P"],
            col["path_travel_time_P_s"] / 60.0, s_sample / SEISCLIP_WINDOW_SAMPLES,
            col["path_weight_phase_location_S"], col["path_ep_distance_km"] / 300.0,
            col["path_backazimuth_deg"] / 360.0, coda_sample / SEISCLIP_WINDOW_SAMPLES], axis=1)
        self.mask = np.isfinite(values)
        self.values = np.where(self.mask, values, 0.0).astype(np.float32)

    @property
    def shape(self) -> tuple[int, ...]:
        return (8,)

    def batch(self, rows: np.ndarray) -> dict[str, torch.Tensor]:
        return masked_batch(self.values[rows], self.mask[rows])
