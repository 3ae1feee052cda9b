"""What INSTANCE reports about each trace, measured back from the written counts: amplitude statistics and
spikes, peak ground motion and response spectra, signal-to-noise ratio.

Why measure rather than reuse the synthesiser's inputs: the metadata must describe the file as written (after
noise, digitisation, spikes and clipping), as INGV's do for real records.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from scipy import signal

from seisbind.data.instance_schema import SAMPLING_RATE_HZ
from seisbind.data.synthetic.waveforms import SENSITIVITY_COUNTS, butter_sos


@functools.lru_cache(maxsize=8)
def _oscillator(period_s: float) -> tuple[np.ndarray, np.ndarray]:
    """5 %-damped single-degree-of-freedom oscillator, ground acceleration -> relative displacement (bilinear)."""
    omega = 2 * math.pi / period_s
    return signal.bilinear([-1.0], [1.0, 2 * 0.05 * omega, omega**2], fs=SAMPLING_RATE_HZ)


def count_statistics(counts: np.ndarray) -> dict[str, np.ndarray]:
    """Per-channel amplitude statistics of the written counts (E, N, Z order) and isolated-spike counts."""
    x = counts.astype(np.float64)
    q25, q50, q75 = np.percentile(x, [25, 50, 75], axis=-1)
    diff = np.diff(x, axis=-1)
    threshold = 20.0 * 1.4826 * np.median(np.abs(diff - np.median(diff, axis=-1, keepdims=True)), axis=-1) + 1.0
    left, right = x[:, 1:-1] - x[:, :-2], x[:, 1:-1] - x[:, 2:]
    isolated = ((np.abs(left) > threshold[:, None]) & (np.abs(right) > threshold[:, None])
                & (np.sign(left) == np.sign(right))
                & (np.abs(x[:, 2:] - x[:, :-2]) < threshold[:, None] / 4))
    return {"median": q50, "mean": x.mean(axis=-1), "min": x.min(axis=-1), "max": x.max(axis=-1),
            "rms": np.sqrt(np.mean(x**2, axis=-1)), "lower_quartile": q25, "upper_quartile": q75,
            "spikes": isolated.sum(axis=-1)}


def ground_motion(counts: np.ndarray, channel: str, p_sample: int) -> dict[str, np.ndarray]:
    """PGA (cm/s^2), PGV (cm/s), their times (s after trace start) and 5 %-damped PSA at 0.3, 1, 3 s."""
    x = counts.astype(np.float64)
    x -= np.mean(x[:, : max(p_sample, 50)], axis=-1, keepdims=True)
    x /= SENSITIVITY_COUNTS[channel]
    highpass = butter_sos(2, 0.1, "highpass")
    if channel == "HN":
        acceleration = x
        velocity = signal.sosfilt(highpass, np.cumsum(x, axis=-1) / SAMPLING_RATE_HZ, axis=-1)
    else:
        velocity = x
        acceleration = np.gradient(x, 1.0 / SAMPLING_RATE_HZ, axis=-1)
    out = {"pga_cmps2": 100.0 * np.max(np.abs(acceleration), axis=-1),
           "pgv_cmps": 100.0 * np.max(np.abs(velocity), axis=-1),
           "pga_time": np.argmax(np.abs(acceleration), axis=-1) / SAMPLING_RATE_HZ,
           "pgv_time": np.argmax(np.abs(velocity), axis=-1) / SAMPLING_RATE_HZ}
    out["pga_perc"] = out["pga_cmps2"] / 980.665 * 100.0
    for period_s, key in ((0.3, "sa03_cmps2"), (1.0, "sa10_cmps2"), (3.0, "sa30_cmps2")):
        omega = 2 * math.pi / period_s
        displacement = signal.lfilter(*_oscillator(period_s), acceleration, axis=-1)
        out[key] = 100.0 * omega**2 * np.max(np.abs(displacement), axis=-1)
    return out


def snr_db(counts: np.ndarray, p_sample: int) -> np.ndarray | None:
    """20 log10 of RMS 5 s after P over RMS up to 5 s before P, above 1 Hz (microseisms would mask small events).

    None when less than 0.5 s of noise is left after skipping the first second (filter transient).
    """
    noise_start = max(100, p_sample - 500)
    if p_sample - 10 - noise_start < 50:
        return None
    x = counts.astype(np.float64)
    x -= x[:, :p_sample].mean(axis=-1, keepdims=True)
    x = signal.sosfilt(butter_sos(4, 1.0, "highpass"), x, axis=-1)
    noise_rms = np.sqrt(np.mean(x[:, noise_start: p_sample - 10] ** 2, axis=-1))
    signal_rms = np.sqrt(np.mean(x[:, p_sample: p_sample + 500] ** 2, axis=-1))
    return 20.0 * np.log10(signal_rms / np.maximum(noise_rms, 1e-9))
