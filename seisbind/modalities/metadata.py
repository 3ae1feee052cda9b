"""The metadata modality: per-trace INSTANCE fields (picks, path, source depth) as the encoder's input, their
SeisCLIP variant, and the study's `waveform_meta` family, which summarises the traces recorded in each window.

Per trace the fields describe one recording; per window the family counts and averages the recordings the window
holds (seisbind.probe.features.waveform_meta_features), so both read the same INSTANCE metadata.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from seisbind.errors import SeisbindInputError
from seisbind.probe import features
from seisbind.protocols import FamilyUnavailable, InputData, StudyData, masked_batch


class MetadataInput:
    """Selected INSTANCE columns divided by a fixed scale each (`{column: scale}`); NaN -> 0 with a mask, so the
    encoder can tell a missing S pick from an S pick at sample 0."""

    context_hours = 0.0

    def __init__(self, columns: dict[str, float]) -> None:
        if not columns:
            raise SeisbindInputError("metadata input needs at least one column: {column: scale}")
        self.scales = {str(k): float(v) for k, v in columns.items()}
        self.columns = tuple(self.scales)

    def setup(self, index: pd.DataFrame, data: InputData, on_bad_trace: str) -> None:
        values = index[list(self.columns)].to_numpy(dtype=np.float32) / np.asarray(
            list(self.scales.values()), dtype=np.float32)
        self.mask = np.isfinite(values)
        self.values = np.where(self.mask, values, 0.0).astype(np.float32)

    @property
    def shape(self) -> tuple[int, ...]:
        return (len(self.columns),)

    def batch(self, rows: np.ndarray) -> dict[str, torch.Tensor]:
        return masked_batch(self.values[rows], self.mask[rows])


class WaveformMetaFamily:
    """INSTANCE statistics of the traces recorded in each window (features.waveform_meta_features)."""

    name = "waveform_meta"
    columns = tuple(features.WAVEFORM_META_FEATURES)
    simulated = False

    def compute(self, data: StudyData, windows: pd.DataFrame) -> pd.DataFrame:
        if data.metadata is None:
            raise FamilyUnavailable(data.metadata_missing)
        return features.waveform_meta_features(data.metadata, windows)


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

    def setup(self, index: pd.DataFrame, data: InputData, on_bad_trace: str) -> None:
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
