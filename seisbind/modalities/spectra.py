"""Waveform -> spectrogram transforms, run batched on the training device (not per sample in loader workers).

Two families:
- `LogSpectrogram`: the default, a per-(sample, channel) standardised log10 power spectrogram of a 100 Hz trace.
- `SeisCLIPSpectrum`: the SeisCLIP preset (Si et al., arXiv 2309.02320): per-channel z-score, then the magnitude of
  `scipy.signal.stft(x, fs=100, window="hann", nperseg=L, noverlap=L/2, nfft=100, boundary="zeros")` with the DC
  bin and the first frame dropped, as (channel, time, frequency). `seisclip_stft` reproduces scipy with torch.stft.

Every module has `output_shape(n_samples) -> (C, T, F)` so that an encoder whose patch grid does not fit the
spectrum is rejected when the model is built, not mid-epoch.
"""

from __future__ import annotations

import torch
import torchaudio
from torch import Tensor, nn

SEISCLIP_NFFT = 100
"""SeisCLIP's FFT length: 100 samples at 100 Hz = 1 Hz bins, 51 one-sided bins of which 50 are kept."""


def _check_nperseg(nperseg: int) -> None:
    if nperseg < 2 or nperseg % 2 or nperseg > SEISCLIP_NFFT:
        raise ValueError(
            f"nperseg={nperseg}: SeisCLIP's STFT needs an even segment length in [2, {SEISCLIP_NFFT}] "
            "(noverlap = nperseg/2 must be an integer and the segment must fit the 100-point FFT)"
        )


def seisclip_stft_frames(n_samples: int, nperseg: int) -> int:
    """Number of time frames `seisclip_stft` returns for `n_samples` input samples (after dropping frame 0)."""
    _check_nperseg(nperseg)
    hop = nperseg // 2
    return -(-n_samples // hop)  # ceil: scipy's padded=True extends the end to a whole number of hops


def seisclip_stft(x: Tensor, nperseg: int = 20) -> Tensor:
    """Magnitude STFT as SeisCLIP computes it with scipy, but in torch so it runs batched on the training device.

    x: float tensor (..., n_samples), typically (..., 3, 6000) at 100 Hz.
    Returns (..., T, 50): (..., 3, 600, 50) for nperseg=20, (..., 3, 120, 50) for nperseg=100.

    Why the torch call looks the way it does:
    - scipy's `boundary="zeros"` pads nperseg/2 zeros on both sides and frames start every nperseg/2 samples; the
      nperseg-long segment is zero-padded at its end to nfft=100. torch.stft with win_length < n_fft instead centres
      the window inside each n_fft frame, shifting it by (n_fft - nperseg)/2 samples. That extra shift plus the
      boundary padding is exactly n_fft/2 on each side, i.e. torch's `center=True` with constant padding, and a time
      shift inside the segment only changes the phase, not the magnitude we keep.
    - scipy's `padded=True` appends zeros so the signal spans a whole number of hops: done explicitly below.
    - window: scipy's "hann" for spectral analysis is the periodic Hann window, torch.hann_window's default.
    - scaling="spectrum" divides by the window sum.
    """
    _check_nperseg(nperseg)
    hop = nperseg // 2
    n_samples = x.shape[-1]
    lead_shape = x.shape[:-1]
    flat = x.reshape(-1, n_samples)
    flat = nn.functional.pad(flat, (0, (-n_samples) % hop))
    window = torch.hann_window(nperseg, periodic=True, dtype=flat.dtype, device=flat.device)
    spec = torch.stft(
        flat,
        n_fft=SEISCLIP_NFFT,
        hop_length=hop,
        win_length=nperseg,
        window=window,
        center=True,
        pad_mode="constant",
        onesided=True,
        return_complex=True,
    )
    magnitude = spec.abs() / window.sum()
    magnitude = magnitude[:, 1:, 1:].transpose(-1, -2)  # drop DC and frame 0; (time, freq)
    return magnitude.reshape(*lead_shape, *magnitude.shape[-2:])


def zscore_channels(x: Tensor, eps: float = 1e-3) -> Tensor:
    """SeisCLIP's per-channel normalisation `(x - mean) / (std + eps)` over the last (time) axis.

    std is the population standard deviation (numpy's default); eps keeps dead channels finite.
    """
    mean = x.mean(dim=-1, keepdim=True)
    std = x.std(dim=-1, keepdim=True, unbiased=False)
    return (x - mean) / (std + eps)


class SeisCLIPSpectrum(nn.Module):
    """SeisCLIP preprocessing: crop a window of the trace, z-score per channel, `seisclip_stft`.

    INSTANCE traces are 12000 samples (120 s); SeisCLIP was trained on 6000-sample STEAD traces, so a
    `window_samples` window starting at `offset_samples` is cut out first.
    Input (B, C, n_samples) -> output (B, C, T, 50).
    """

    def __init__(
        self,
        nperseg: int = 100,
        window_samples: int = 6000,
        offset_samples: int = 0,
        n_channels: int = 3,
        zscore_eps: float = 1e-3,
    ) -> None:
        super().__init__()
        _check_nperseg(nperseg)
        if window_samples < nperseg or offset_samples < 0:
            raise ValueError(
                f"SeisCLIPSpectrum: window_samples={window_samples} must be >= nperseg={nperseg} "
                f"and offset_samples={offset_samples} must be >= 0"
            )
        self.nperseg = nperseg
        self.window_samples = window_samples
        self.offset_samples = offset_samples
        self.n_channels = n_channels
        self.zscore_eps = zscore_eps

    def _check_length(self, n_samples: int) -> None:
        end = self.offset_samples + self.window_samples
        if n_samples < end:
            raise ValueError(
                f"SeisCLIPSpectrum: traces of {n_samples} samples are shorter than offset_samples + window_samples "
                f"= {self.offset_samples} + {self.window_samples}; lower the offset or the window"
            )

    def output_shape(self, n_samples: int) -> tuple[int, int, int]:
        """(C, T, F) produced for traces of `n_samples` samples."""
        self._check_length(n_samples)
        return self.n_channels, seisclip_stft_frames(self.window_samples, self.nperseg), SEISCLIP_NFFT // 2

    def forward(self, x: Tensor) -> Tensor:
        self._check_length(x.shape[-1])
        window = x[..., self.offset_samples : self.offset_samples + self.window_samples]
        return seisclip_stft(zscore_channels(window, self.zscore_eps), self.nperseg)


class LogSpectrogram(nn.Module):
    """Default spectrum transform: demean, Hann power spectrogram, log10, standardise each (sample, channel).

    Input (B, C, n_samples) at `sample_rate_hz` -> output (B, C, T, F) with T = n_samples // hop_length + 1
    (centred frames) and F the one-sided bins with frequency in [f_min_hz, f_max_hz].

    - The configured default (configs/modality/spectrum.yaml) is 4 s Hann windows every 2 s (n_fft=400, hop 200
      at 100 Hz), 0.25-25 Hz in 0.25 Hz bins: (3, 61, 100) for a 120 s INSTANCE trace. The resolution below 2 Hz
      is what lets an encoder see a change of the ambient noise between the microseism peak (~0.2 Hz) and
      cultural noise (> 1 Hz); with 1 Hz bins (n_fft=100) a 0.5-2 Hz band is 2 of 50 bins and a planted 0.5-2 Hz
      precursor that a band-power ratio separates at trace AUC 0.92 was seen at 0.62-0.72 by the best embedding
      dimension (README, "Power of the embedding path").
    - The keyword defaults are the former configuration (1 Hz bins from 1 Hz, (3, 241, 50)) and stay so: a
      checkpoint's hyperparameters hold the preprocess arguments its config named, and one saved when the config
      named only n_fft and hop_length must rebuild the module it was trained with.
    - The DC bin is dropped (f_min_hz >= one bin): after demeaning it holds only numerical noise, whose log would
      dominate the standardisation.
    - The log floor is relative (`eps` times the mean power of that sample and channel), so the output does not
      depend on the trace's units (counts or m/s) and an all-zero channel maps to zeros rather than to -inf.
    - Standardising per (sample, channel) removes the amplitude, which mostly encodes magnitude and distance;
      the encoder then sees the spectral shape.
    """

    def __init__(
        self,
        n_fft: int = 100,
        hop_length: int = 50,
        sample_rate_hz: float = 100.0,
        f_min_hz: float = 1.0,
        f_max_hz: float | None = None,
        n_channels: int = 3,
        eps: float = 1e-10,
    ) -> None:
        super().__init__()
        nyquist_hz = sample_rate_hz / 2
        f_max_hz = nyquist_hz if f_max_hz is None else f_max_hz
        if not 0 <= f_min_hz < f_max_hz <= nyquist_hz:
            raise ValueError(
                f"LogSpectrogram: need 0 <= f_min_hz ({f_min_hz}) < f_max_hz ({f_max_hz}) <= Nyquist ({nyquist_hz})"
            )
        if hop_length < 1 or n_fft < 2:
            raise ValueError(f"LogSpectrogram: n_fft={n_fft} must be >= 2 and hop_length={hop_length} >= 1")
        bin_hz = sample_rate_hz / n_fft
        freqs_hz = torch.arange(n_fft // 2 + 1) * bin_hz
        keep = ((freqs_hz >= f_min_hz - 1e-9) & (freqs_hz <= f_max_hz + 1e-9)).nonzero().flatten()
        if keep.numel() == 0:
            raise ValueError(
                f"LogSpectrogram: no frequency bin (resolution {bin_hz} Hz) lies in [{f_min_hz}, {f_max_hz}] Hz"
            )
        self.first_bin, self.n_bins = int(keep[0]), int(keep.numel())
        self.hop_length = hop_length
        self.n_channels = n_channels
        self.eps = eps
        self.spectrogram = torchaudio.transforms.Spectrogram(
            n_fft=n_fft, hop_length=hop_length, window_fn=torch.hann_window, power=2.0, center=True
        )

    def output_shape(self, n_samples: int) -> tuple[int, int, int]:
        """(C, T, F) produced for traces of `n_samples` samples."""
        if n_samples <= self.spectrogram.n_fft // 2:
            raise ValueError(
                f"LogSpectrogram: traces of {n_samples} samples are too short for n_fft={self.spectrogram.n_fft} "
                "(reflect padding needs more than n_fft/2 samples)"
            )
        return self.n_channels, n_samples // self.hop_length + 1, self.n_bins

    def forward(self, x: Tensor) -> Tensor:
        x = x - x.mean(dim=-1, keepdim=True)
        power = self.spectrogram(x)[..., self.first_bin : self.first_bin + self.n_bins, :]
        floor = self.eps * power.mean(dim=(-2, -1), keepdim=True) + torch.finfo(power.dtype).tiny
        log_power = torch.log10(power + floor).transpose(-1, -2)  # (..., T, F)
        mean = log_power.mean(dim=(-2, -1), keepdim=True)
        std = log_power.std(dim=(-2, -1), keepdim=True, unbiased=False)
        return (log_power - mean) / (std + 1e-6)
