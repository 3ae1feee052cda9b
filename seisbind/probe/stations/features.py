"""Windows over continuous station records, zero-shot window features, and scores against each station's own
background.

Why: the Lambda³ Noto report scores every station and window without labels. Here a window's score is how far its
features (log band powers from an STFT, RMS, kurtosis, max STA/LTA) lie from the same station's background windows
(robust z, then a Ledoit-Wolf Mahalanobis distance), scaled so a typical background window scores about 1. Background
windows are scored leave-out (fitted without themselves and the windows overlapping them), and every window against a
reference of the same size: otherwise background windows would look more (in-sample) or less (smaller reference) typical
than pre-event ones and bias the pre-vs-background AUC.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view
from obspy.signal.trigger import classic_sta_lta
from scipy.signal import welch
from scipy.stats import kurtosis

from seisbind.errors import SeisbindInputError
from seisbind.probe.stations.continuous import StationRecord

MIN_WINDOW_SAMPLES = 32  # below this an STFT has too few bins for separate bands
WINSOR_Z = 3.0  # robust z beyond which a background window does not shape the covariance
PHASES = ("background", "pre", "post")
Scorer = Callable[[np.ndarray, np.ndarray], np.ndarray]
"""(values (N, F), reference set of each value (N,)) -> scores (N,)."""
Fitter = Callable[[np.ndarray], Scorer]
"""Reference sets (G, m, F): G sets of m background windows -> the Scorer against them."""


@dataclass(frozen=True)
class WindowGrid:
    """Windows common to all stations: every window inside the record, starting at event_time + steps x
    step_seconds (a grid anchored at the event). phase is background, pre or post for the windows the analysis
    scores and "" for the rest (those straddling the event or a phase boundary, before the look-back, after the
    post-event span), which are kept because a placebo event time (station_placebo) moves the phases along
    the same grid."""

    starts: pd.DatetimeIndex
    steps: np.ndarray
    phase: np.ndarray
    window_seconds: float
    step_seconds: float
    background_end: pd.Timestamp
    event_time: pd.Timestamp
    n_straddling: int

    @property
    def ends(self) -> pd.DatetimeIndex:
        return self.starts + pd.Timedelta(seconds=self.window_seconds)

    @property
    def stride(self) -> int:
        """Grid steps between two windows that do not overlap."""
        return math.ceil(self.window_seconds / self.step_seconds - 1e-9)


def make_window_grid(
    record_start: pd.Timestamp,
    record_end: pd.Timestamp,
    event_time: pd.Timestamp,
    *,
    sampling_rate_hz: float,
    window_seconds: float | None = None,
    step_seconds: float | None = None,
    background_fraction: float = 0.5,
    post_seconds: float | None = None,
    lookback_seconds: float | None = None,
    target_pre_event_windows: int = 32,
    min_background_windows: int = 8,
    min_pre_windows: int = 3,
) -> WindowGrid:
    """Window starts and phases over [record_start, record_end].

    Unset, window_seconds adapts so that about target_pre_event_windows half-overlapping windows fit before the
    event (never below MIN_WINDOW_SAMPLES), and step_seconds is half the window: a 30-s record still gives
    enough windows, a day-long one gets long windows. Both are rounded to whole samples. The early
    background_fraction of [record_start, event_time] (or of the lookback_seconds before the event) is
    background, the rest pre-event; post-event runs to the record end (or post_seconds after the event).
    """
    if not 0.0 < background_fraction < 1.0:
        raise SeisbindInputError(f"probe.background_fraction must be in (0, 1), got {background_fraction}")
    analysis_start = record_start
    if lookback_seconds is not None:
        analysis_start = event_time - pd.Timedelta(seconds=lookback_seconds)
        if lookback_seconds <= 0 or analysis_start < record_start:
            raise SeisbindInputError(
                f"probe.lookback_seconds={lookback_seconds} must be > 0 and reach no further back than the record "
                f"start {record_start} ({(event_time - record_start).total_seconds():g} s before event.time)")
    pre_event_s = (event_time - analysis_start).total_seconds()
    if window_seconds is None:
        window_seconds = 2 * step_seconds if step_seconds else 2 * pre_event_s / (target_pre_event_windows + 1)
        window_seconds = max(float(f"{window_seconds:.2g}"), MIN_WINDOW_SAMPLES / sampling_rate_hz)  # readable
    step_seconds = step_seconds or window_seconds / 2
    window_seconds = max(round(window_seconds * sampling_rate_hz), 2) / sampling_rate_hz
    step_seconds = max(round(step_seconds * sampling_rate_hz), 1) / sampling_rate_hz
    if step_seconds <= 0 or window_seconds <= 0:
        raise SeisbindInputError(f"window_seconds={window_seconds} and step_seconds={step_seconds} must be > 0")
    step = pd.Timedelta(seconds=step_seconds)
    window = pd.Timedelta(seconds=window_seconds)
    k_first = math.ceil((record_start - event_time) / step)
    k_last = math.floor((record_end - window - event_time) / step)
    steps = np.arange(k_first, k_last + 1)
    starts = event_time + pd.to_timedelta(steps * step_seconds, unit="s")
    ends = starts + window
    n_pre_steps = round((1 - background_fraction) * pre_event_s / step_seconds)
    background_end = event_time - n_pre_steps * step
    phase = np.full(len(starts), "", dtype=object)
    phase[(starts >= analysis_start) & (ends <= background_end)] = "background"
    phase[(starts >= background_end) & (ends <= event_time)] = "pre"
    post_end = record_end if post_seconds is None else min(record_end, event_time + pd.Timedelta(seconds=post_seconds))
    phase[(starts >= event_time) & (ends <= post_end)] = "post"
    straddling = (phase == "") & (starts < event_time) & (ends > analysis_start)
    grid = WindowGrid(pd.DatetimeIndex(starts), steps, phase.astype(str), window_seconds, step_seconds,
                      background_end, event_time, int(straddling.sum()))
    counts = {p: int((grid.phase == p).sum()) for p in PHASES}
    if counts["background"] < min_background_windows or counts["pre"] < min_pre_windows:
        raise SeisbindInputError(
            f"windows of {window_seconds:g} s every {step_seconds:g} s give {counts['background']} background and "
            f"{counts['pre']} pre-event windows between {analysis_start} and event.time {event_time} (need >= "
            f"{min_background_windows} and >= {min_pre_windows}): use shorter probe.window_seconds, a longer "
            f"probe.lookback_seconds or a record that starts earlier")
    return grid


def station_windows(record: StationRecord, grid: WindowGrid, max_gap_fraction: float = 0.0
                    ) -> tuple[np.ndarray, np.ndarray, dict]:
    """(grid indices of the windows this station can score, windows (W, 3, L) float32, counts of dropped ones).

    A window is usable when it lies inside the station's record and at most max_gap_fraction of it is gap."""
    fs = record.sampling_rate_hz
    n_window = int(round(grid.window_seconds * fs))
    offsets = np.round((grid.starts - record.starttime).total_seconds().to_numpy() * fs).astype(np.int64)
    inside = (offsets >= 0) & (offsets + n_window <= record.data.shape[1])
    valid_cumsum = np.concatenate([[0], np.cumsum(record.valid)])
    gap_fraction = np.ones(len(offsets))
    gap_fraction[inside] = 1 - (valid_cumsum[offsets[inside] + n_window] - valid_cumsum[offsets[inside]]) / n_window
    usable = inside & (gap_fraction <= max_gap_fraction)
    index = np.flatnonzero(usable)
    windows = sliding_window_view(record.data, n_window, axis=1)[:, offsets[index]].transpose(1, 0, 2)
    return index, windows, {"outside_record": int((~inside).sum()), "gappy": int((inside & ~usable).sum())}


def feature_names(n_bands: int) -> list[str]:
    return [f"log10_band_power_{i}" for i in range(n_bands)] + ["log10_rms", "kurtosis", "max_sta_lta"]


def band_edges_hz(window_samples: int, sampling_rate_hz: float, native_rate_hz: float, n_bands: int
                  ) -> tuple[np.ndarray, int]:
    """(n_bands + 1 log-spaced edges, STFT segment length) from the second STFT bin up to 0.45 x the lower of the
    native and the common sampling rate, so an upsampled station has no empty (pure-noise) bands."""
    nperseg = int(np.clip(window_samples // 8, 16, 4096))
    nperseg = min(nperseg, window_samples)
    low_hz = 2 * sampling_rate_hz / nperseg
    high_hz = 0.45 * min(sampling_rate_hz, native_rate_hz)
    if high_hz <= low_hz:
        raise SeisbindInputError(
            f"windows of {window_samples} samples at {sampling_rate_hz:g} Hz resolve nothing below the native "
            f"Nyquist ({native_rate_hz / 2:g} Hz): use a longer probe.window_seconds")
    return np.geomspace(low_hz, high_hz, n_bands + 1), nperseg


def window_features(windows: np.ndarray, sampling_rate_hz: float, edges_hz: np.ndarray, nperseg: int,
                    sta_samples: int, lta_samples: int) -> np.ndarray:
    """Features (W, n_bands + 3) of windows (W, C, L) holding only the station's present components.

    Band powers: Welch STFT power summed over components, averaged within each band, log10. RMS over all
    components (after removing each window's mean). Kurtosis (Fisher) and max classic STA/LTA: the largest over
    components, since an impulsive arrival may show on one component only. STA/LTA is computed inside each
    window (its first lta_samples are the warm-up), so every window is treated alike whatever precedes it.
    """
    x = windows.astype(np.float64)
    x -= x.mean(axis=-1, keepdims=True)
    freqs, power = welch(x, fs=sampling_rate_hz, nperseg=nperseg, detrend=False, axis=-1)  # x is demeaned
    power = power.sum(axis=1)
    band_power = np.stack([_band_mean(power, freqs, low, high) for low, high in zip(edges_hz[:-1], edges_hz[1:])],
                          axis=1)
    tiny = np.finfo(np.float64).tiny
    log_rms = 0.5 * np.log10(np.maximum((x**2).mean(axis=(1, 2)), tiny))
    kurt = np.nan_to_num(kurtosis(x, axis=-1), nan=0.0).max(axis=1)
    sta_lta = np.array([max(classic_sta_lta(trace, sta_samples, lta_samples)[lta_samples:].max(initial=0.0)
                            for trace in window) for window in x])
    return np.column_stack([np.log10(np.maximum(band_power, tiny)), log_rms, kurt, sta_lta])


def _band_mean(power: np.ndarray, freqs: np.ndarray, low_hz: float, high_hz: float) -> np.ndarray:
    """Mean power (W,) over the bins in [low_hz, high_hz); the nearest bin when the band is narrower than one."""
    in_band = (freqs >= low_hz) & (freqs < high_hz)
    if not in_band.any():
        in_band = np.arange(len(freqs)) == np.argmin(np.abs(freqs - np.sqrt(low_hz * high_hz)))
    return power[:, in_band].mean(axis=1)


def ledoit_wolf_covariance(x: np.ndarray) -> np.ndarray:
    """Ledoit-Wolf shrunk covariances (G, F, F) of G centred samples x (G, n, F), in one vectorised pass.

    The same estimate as sklearn's LedoitWolf(assume_centered=True) (a test checks parity): sklearn fits one
    sample per call at ~0.4 ms of overhead, and the leave-out scoring of every placebo event time needs
    thousands of small fits. Shrinks the empirical covariance S towards mu I (mu = trace(S) / F) by
    min(beta, delta) / delta, with delta the squared distance of S from mu I and beta the estimated variance
    of S (Ledoit & Wolf 2004).
    """
    n, n_features = x.shape[1:]
    empirical = np.einsum("gnf,gnh->gfh", x, x) / n
    mu = np.trace(empirical, axis1=1, axis2=2) / n_features
    sum_squares = (empirical ** 2).sum(axis=(1, 2))
    beta = (((x ** 2).sum(axis=2) ** 2).sum(axis=1) / n - sum_squares) / (n_features * n)
    delta = (sum_squares - n_features * mu ** 2) / n_features
    shrinkage = np.divide(np.minimum(beta, delta), delta, out=np.zeros_like(delta), where=delta > 0)
    eye = np.eye(n_features)
    return (1 - shrinkage)[:, None, None] * empirical + (shrinkage * mu)[:, None, None] * eye


def fit_background(method: str) -> Fitter:
    """Fitter of reference sets of background features (G, m, F) for one score method.

    "robust_z": root-mean-square of (x - median) / (1.4826 MAD) over features. "mahalanobis": the same robust z,
    then a Ledoit-Wolf shrunk Mahalanobis distance, divided by sqrt(F) (shrinkage keeps it defined with few
    background windows and correlated band powers). The covariance is fitted on z clipped to +-WINSOR_Z: one
    transient in the background (a passing truck, a local event) would otherwise inflate it and shrink every
    other window's distance.
    """
    if method not in ("robust_z", "mahalanobis"):
        raise SeisbindInputError(f"probe.score must be 'robust_z' or 'mahalanobis', got {method!r}")

    def fit(references: np.ndarray) -> Scorer:
        median = np.median(references, axis=1)
        scale = 1.4826 * np.median(np.abs(references - median[:, None]), axis=1)
        scale = np.where(scale > 0, scale, references.std(axis=1))
        scale = np.where(scale > 0, scale, 1.0)
        n_features = references.shape[2]
        if method == "robust_z":
            return lambda x, ref: np.sqrt((((x - median[ref]) / scale[ref]) ** 2).mean(axis=1))
        z_references = np.clip((references - median[:, None]) / scale[:, None], -WINSOR_Z, WINSOR_Z)
        precision = np.linalg.pinv(ledoit_wolf_covariance(z_references), hermitian=True)

        def score(x: np.ndarray, ref: np.ndarray) -> np.ndarray:
            z = (x - median[ref]) / scale[ref]
            return np.sqrt(np.maximum(np.einsum("nf,nfh,nh->n", z, precision[ref], z), 0.0) / n_features)

        return score

    return fit


def centroid_cosine(references: np.ndarray) -> Scorer:
    """Scorer of embeddings: 1 - cosine similarity to the mean of the reference set's background embeddings."""
    centroid = references.mean(axis=1)
    centroid /= np.maximum(np.linalg.norm(centroid, axis=1, keepdims=True), np.finfo(float).tiny)
    return lambda x, ref: 1.0 - np.einsum("nd,nd->n", x, centroid[ref]) / np.maximum(np.linalg.norm(x, axis=1),
                                                                                      np.finfo(float).tiny)


def leave_out_scores(fit: Fitter, values: np.ndarray, is_background: np.ndarray, steps: np.ndarray,
                     stride: int) -> np.ndarray:
    """Score each window against the background windows except the 2 x stride - 1 nearest to it in time.

    For a background window those are itself and the windows overlapping it, so it is scored out-of-sample like
    the others; pre- and post-event windows lose the same number (the last background windows, a buffer before
    the pre-event phase), so every window is judged against a reference of the same size. Scored in-sample or
    against a larger reference, background windows would look more typical than pre-event ones and bias the
    pre-vs-background AUC. Windows sharing a reference set share one fit; all sets are fitted in one batch.
    """
    background, bg_steps = values[is_background], steps[is_background]
    n_drop = min(2 * stride - 1, len(background) - 2)
    nearest = np.argsort(np.abs(bg_steps[None, :] - steps[:, None]), axis=1, kind="stable")[:, :n_drop]
    keep = np.ones((len(steps), len(background)), dtype=bool)
    np.put_along_axis(keep, nearest, False, axis=1)
    sets, reference = np.unique(keep, axis=0, return_inverse=True)
    references = background[np.nonzero(sets)[1].reshape(len(sets), -1)]
    return fit(references)(values, reference.reshape(-1))
