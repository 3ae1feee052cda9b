"""The waveform synthesiser: seismic noise, P and S wave packets and the planted spectrum precursor, recorded by
HH/EH velocity or HN acceleration sensors and digitised to int32 counts.

Why physical units first and counts last: the precursor's strength is defined against the noise the instrument
records, and the INSTANCE metadata (PGA, PGV, SNR) are measured back from the counts exactly as from real data.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np
import pandas as pd
from obspy.geodetics import locations2degrees
from scipy import signal

from seisbind.data.instance_schema import SAMPLING_RATE_HZ, TRACE_NPTS
from seisbind.data.synthetic.config import SyntheticConfig
from seisbind.data.synthetic.region import KM_PER_DEG

SENSITIVITY_COUNTS: dict[str, float] = {"HH": 4.8e8, "EH": 1.6e8, "HN": 2.1e5}
"""Counts per m/s (HH broadband, EH short period) or per m/s^2 (HN accelerometer), 24-bit digitizer values."""

_CLIP_COUNTS = 2**23 - 1
"""Full scale of a 24-bit digitizer, where HH and EH channels clip."""


def _unit_rms_shape(shape: np.ndarray) -> np.ndarray:
    """Scale an rfft amplitude shape so that white unit-variance noise filtered by it has unit RMS (Parseval)."""
    n = TRACE_NPTS
    power = shape[0] ** 2 + 2 * np.sum(shape[1:-1] ** 2) + shape[-1] ** 2
    return shape / math.sqrt(power / n)


class WaveformSynth:
    """Ground velocity = seismic noise + P and S wave packets (+ planted low-frequency energy), then counts.

    Noise: secondary microseism (peak ~0.18 Hz, level varying day to day like weather) plus cultural noise above
    1 Hz that is louder in daytime. Amplitudes: log10 PGV_S [m/s] = M - 1.11 log10 R - 0.00189 R +
    amplitude_log10_offset (Hutton-Boore shape), times a station site factor; P peaks at 20-45 % of S. Wave
    packets are white noise under an onset-rise / exponential-coda envelope, band-passed causally between
    corners set by the Brune corner frequency and path attenuation, polarised (P radial-vertical, S mostly
    transverse) by the back-azimuth.
    """

    def __init__(self, config: SyntheticConfig, stations: pd.DataFrame, targets: pd.DataFrame, t0: np.datetime64,
                 period_ms: int, rng: np.random.Generator, noise_rng: np.random.Generator,
                 precursor_rng: np.random.Generator) -> None:
        self.config = config
        self.stations = stations
        self.targets = targets
        self.t0 = t0
        self.rng = rng
        self.noise_rng = noise_rng
        self.precursor_rng = precursor_rng
        f = np.fft.rfftfreq(TRACE_NPTS, 1.0 / SAMPLING_RATE_HZ)
        with np.errstate(divide="ignore"):
            micro = np.where(f > 0, np.exp(-0.5 * (np.log(np.maximum(f, 1e-6) / 0.18) / 0.4) ** 2), 0.0)
            cultural = np.where(f > 0, 1.0 / (1.0 + (1.0 / np.maximum(f, 1e-6)) ** 4) / (1.0 + (f / 30.0) ** 4), 0.0)
        lo, hi = config.precursor.spectrum_band_hz
        self.micro_shape = _unit_rms_shape(micro)
        self.cultural_shape = _unit_rms_shape(cultural)
        self.band_mask = (f >= lo) & (f <= hi)
        self.band_shape = _unit_rms_shape(self.band_mask.astype(np.float64))
        n_days = period_ms // 86_400_000 + 2
        self.weather = np.exp(np.convolve(rng.normal(0.0, 0.5, n_days + 4), np.ones(5) / 5, mode="valid"))[:n_days]
        target_lat = targets["latitude_deg"].to_numpy()
        target_lon = targets["longitude_deg"].to_numpy()
        self.station_target_km = locations2degrees(
            stations["latitude_deg"].to_numpy()[:, None], stations["longitude_deg"].to_numpy()[:, None],
            target_lat[None, :], target_lon[None, :]) * KM_PER_DEG

    def noise(self, rng: np.random.Generator, station: int, start_ms: int) -> np.ndarray:
        """Seismic noise as ground velocity (3, N) in m/s."""
        day = max(int(start_ms // 86_400_000), 0)
        local_hour = (start_ms / 3.6e6 + 1.0) % 24.0
        daytime = 0.5 * (1.0 - math.cos(2 * math.pi * (local_hour - 3.0) / 24.0))
        factor = self.stations.at[station, "noise_factor"]
        spectrum = (8e-7 * self.weather[day] * self.micro_shape
                    + 5e-8 * (0.5 + 1.5 * daytime) * self.cultural_shape) * factor
        white = np.fft.rfft(rng.standard_normal((3, TRACE_NPTS)), axis=-1)
        return np.fft.irfft(white * spectrum, n=TRACE_NPTS, axis=-1)

    def precursor_weight(self, station: int, start_ms: int, source_id: str | None) -> tuple[float, str | None]:
        """Spectrum-precursor strength for a trace at `station` starting at `start_ms` (0 outside every window)."""
        pre = self.config.precursor
        if pre.spectrum <= 0 or self.targets.empty:
            return 0.0, None
        dt_ms = self.targets["time_ms"].to_numpy() - start_ms
        inside = ((dt_ms > 0) & (dt_ms <= pre.spectrum_hours * 3.6e6)
                  & (self.station_target_km[station] <= pre.spectrum_radius_km)
                  & (self.targets["event_id"].to_numpy() != source_id))
        if not inside.any():
            return 0.0, None
        return pre.spectrum, str(self.targets["event_id"].to_numpy()[np.flatnonzero(inside)[0]])

    def precursor_energy(self, weight: float, recorded_noise: np.ndarray) -> np.ndarray:
        """Band-limited (0.5-2 Hz) motion whose band RMS is weight * spectrum_amplitude * the recorded noise's.

        Scaled to what the instrument records (accelerometer self-noise included), so that a strength means the
        same detectability on every channel type.
        """
        spectrum = np.fft.rfft(recorded_noise, axis=-1)
        band_rms = np.sqrt(2.0 * np.sum(np.abs(spectrum[:, self.band_mask]) ** 2, axis=-1)) / TRACE_NPTS
        white = np.fft.rfft(self.precursor_rng.standard_normal((3, TRACE_NPTS)), axis=-1)
        unit = np.fft.irfft(white * self.band_shape, n=TRACE_NPTS, axis=-1)
        return unit * (weight * self.config.precursor.spectrum_amplitude * band_rms)[:, None]

    def event_signal(self, trace: Any) -> np.ndarray:
        """P and S wave packets (3, N) in m/s for one event trace row (`itertuples` of the trace table; see the
        class docstring)."""
        rng = self.rng
        magnitude, hyp_km = trace.ev_magnitude, trace.hyp_km
        site = self.stations.at[trace.station, "site_factor"]
        peak_s = site * 10.0 ** (magnitude - 1.11 * math.log10(hyp_km) - 0.00189 * hyp_km
                                 + self.config.amplitude_log10_offset + rng.normal(0.0, 0.2))
        peak_p = peak_s * rng.uniform(0.2, 0.45)
        moment = 10.0 ** (1.5 * magnitude + 9.1)
        corner_hz = 0.49 * 3500.0 * (3e6 / moment) ** (1 / 3)
        attenuation_hz = 1.0 / (math.pi * (0.02 + hyp_km / (200.0 * self.config.vs_kmps)))
        f_high = float(np.clip(min(2.0 * corner_hz, attenuation_hz), 0.8, 40.0))
        duration_s = 1.0 / corner_hz
        coda_s = 1.0 + 0.015 * hyp_km + duration_s
        rise_s = float(np.clip(0.5 * duration_s, 0.05, 10.0))
        azimuth = math.radians(trace.backazimuth_deg + 180.0)
        radial = np.array([math.sin(azimuth), math.cos(azimuth), 0.0])
        transverse = np.array([math.cos(azimuth), -math.sin(azimuth), 0.0])
        vertical = np.array([0.0, 0.0, 1.0])
        p = self._packet(trace.p_sample, rise_s, coda_s, min(1.5 * f_high, 45.0),
                         [(0.5 * radial + vertical, 1.0)])
        s = self._packet(trace.s_sample, rise_s, 1.5 * coda_s, f_high,
                         [(0.6 * radial + 0.35 * vertical, 1.0), (transverse, 1.0)])
        return peak_p * p / np.max(np.abs(p)) + peak_s * s / np.max(np.abs(s))

    def _packet(self, onset: int, rise_s: float, coda_s: float, f_high: float,
                polarisations: list[tuple[np.ndarray, float]]) -> np.ndarray:
        """Polarised, band-passed noise burst starting at sample `onset` (zero before it: causal filter)."""
        t = (np.arange(TRACE_NPTS) - onset) / SAMPLING_RATE_HZ
        envelope = np.where(t < 0, 0.0, np.minimum(t / rise_s, 1.0) * np.exp(-np.maximum(t - rise_s, 0.0) / coda_s))
        sos = butter_sos(2, (round(max(0.05, min(0.5, f_high / 6.0)), 2), round(f_high, 2)), "bandpass")
        out = 0.15 * self.rng.standard_normal((3, TRACE_NPTS))
        for direction, weight in polarisations:
            out += weight * direction[:, None] * self.rng.standard_normal(TRACE_NPTS)[None, :]
        return signal.sosfilt(sos, out * envelope, axis=-1)

    @staticmethod
    def record(velocity: np.ndarray, channel: str, rng: np.random.Generator | None = None) -> np.ndarray:
        """What the sensor measures: HN acceleration (m/s^2, + self-noise when `rng` is given), HH/EH velocity."""
        if channel != "HN":
            return velocity
        acceleration = np.gradient(velocity, 1.0 / SAMPLING_RATE_HZ, axis=-1)
        return acceleration if rng is None else acceleration + 3e-5 * rng.standard_normal(velocity.shape)

    def digitize(self, rng: np.random.Generator, physical: np.ndarray, station: int, channel: str) -> np.ndarray:
        """Counts: sensitivity, station DC offset, rare single-sample spikes, 24-bit clipping of HH/EH."""
        counts = physical * SENSITIVITY_COUNTS[channel]
        counts += np.asarray(self.stations.at[station, "dc_offset_counts"])[:, None]
        if rng.random() < 0.01:
            channel_index = int(rng.integers(0, 3))
            counts[channel_index, rng.integers(0, TRACE_NPTS, int(rng.integers(1, 3)))] += (
                rng.choice([-1, 1]) * 40 * np.std(counts[channel_index]))
        limit = _CLIP_COUNTS if channel in ("HH", "EH") else np.iinfo(np.int32).max
        return np.clip(np.round(counts), -limit, limit).astype(np.int32)


@functools.lru_cache(maxsize=4096)
def butter_sos(order: int, corner_hz: float | tuple[float, float], kind: str) -> np.ndarray:
    """Butterworth sections at 100 Hz, cached: the design costs more than filtering one trace."""
    return signal.butter(order, corner_hz, btype=kind, fs=SAMPLING_RATE_HZ, output="sos")
