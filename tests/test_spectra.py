from pathlib import Path

import numpy as np
import pytest
import scipy.signal
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf

from seisbind.modalities.spectra import LogSpectrogram, SeisCLIPSpectrum, seisclip_stft, zscore_channels

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def scipy_seisclip(x: np.ndarray, nperseg: int) -> np.ndarray:
    """SeisCLIP's spectrum exactly as Si et al. (arXiv 2309.02320) compute it (the oracle)."""
    _, _, z = scipy.signal.stft(
        x, fs=100, window="hann", nperseg=nperseg, noverlap=nperseg // 2, nfft=100, boundary="zeros"
    )
    return np.abs(z)[..., 1:, 1:].swapaxes(-1, -2)


@pytest.mark.parametrize(
    "nperseg, shape, expected",
    [
        (20, (2, 3, 6000), (2, 3, 600, 50)),
        (100, (2, 3, 6000), (2, 3, 120, 50)),
        (100, (4, 2, 3, 6000), (4, 2, 3, 120, 50)),
        (20, (3, 6005), (3, 601, 50)),  # not a whole number of hops: scipy's padded=True end padding
    ],
)
def test_seisclip_stft_matches_scipy(nperseg, shape, expected):
    rng = np.random.default_rng(nperseg + len(shape))
    x = (rng.standard_normal(shape) * 300 + rng.standard_normal(shape[:-1] + (1,)) * 50).astype(np.float32)
    reference = scipy_seisclip(x.astype(np.float64), nperseg)
    out = seisclip_stft(torch.from_numpy(x), nperseg).numpy()
    assert out.shape == expected == reference.shape
    scale = np.abs(reference).max()
    assert np.abs(out - reference).max() / scale < 1e-4
    np.testing.assert_allclose(out, reference, rtol=1e-4, atol=1e-4 * scale)


def test_seisclip_stft_rejects_odd_segment():
    with pytest.raises(ValueError, match="even segment length"):
        seisclip_stft(torch.zeros(3, 6000), nperseg=25)


def test_zscore_channels_matches_numpy():
    x = torch.randn(2, 3, 500, dtype=torch.float64) * 7 + 3
    reference = (x.numpy() - x.numpy().mean(-1, keepdims=True)) / (x.numpy().std(-1, keepdims=True) + 1e-3)
    np.testing.assert_allclose(zscore_channels(x).numpy(), reference, rtol=1e-10)
    assert torch.isfinite(zscore_channels(torch.zeros(1, 3, 100))).all()


def test_seisclip_spectrum_crops_zscores_and_reports_shape():
    x = torch.randn(2, 3, 12000) * 1000
    module = SeisCLIPSpectrum(nperseg=100, offset_samples=3000)
    out = module(x)
    expected = seisclip_stft(zscore_channels(x[..., 3000:9000]), 100)
    torch.testing.assert_close(out, expected)
    assert tuple(out.shape[1:]) == module.output_shape(12000) == (3, 120, 50)
    assert SeisCLIPSpectrum(nperseg=20).output_shape(12000) == (3, 600, 50)
    with pytest.raises(ValueError, match="shorter than offset_samples"):
        SeisCLIPSpectrum(offset_samples=7000).output_shape(12000)
    with pytest.raises(ValueError, match="shorter than offset_samples"):
        SeisCLIPSpectrum()(torch.randn(1, 3, 5000))


@pytest.mark.parametrize("kwargs", [{}, {"n_fft": 256, "hop_length": 64, "f_max_hz": 20.0}, {"f_min_hz": 0.0}])
def test_log_spectrogram_shape_and_standardisation(kwargs):
    module = LogSpectrogram(**kwargs)
    x = torch.randn(4, 3, 12000)
    out = module(x)
    assert tuple(out.shape[1:]) == module.output_shape(12000)
    flat = out.flatten(-2)
    torch.testing.assert_close(flat.mean(-1), torch.zeros(4, 3), atol=1e-4, rtol=0)
    torch.testing.assert_close(flat.std(-1, unbiased=False), torch.ones(4, 3), atol=1e-4, rtol=0)


def test_log_spectrogram_defaults_and_frequency_axis():
    module = LogSpectrogram()
    # The keyword defaults rebuild checkpoints whose hyperparameters name only n_fft=100 and hop_length=50.
    assert module.output_shape(12000) == (3, 241, 50)  # 0.5 s hop, 1..50 Hz at 1 Hz
    configured = instantiate(OmegaConf.load(CONFIGS / "modality" / "spectrum.yaml").spectrum.preprocess)
    assert configured.output_shape(12000) == (3, 61, 100)  # 2 s hop, 0.25..25 Hz at 0.25 Hz
    t = torch.arange(12000) / 100.0
    x = torch.stack([torch.sin(2 * torch.pi * f * t) for f in (0.75, 5.0, 12.0)])[None]
    peak_bin = configured(x).mean(-2).argmax(-1)[0]
    assert peak_bin.tolist() == [2, 19, 47]  # bin k holds (k + 1) / 4 Hz: the DC bin is cropped
    assert LogSpectrogram(f_max_hz=20.0).output_shape(12000)[-1] == 20


def test_log_spectrogram_ignores_units_and_offset_and_keeps_dead_channels_finite():
    module = LogSpectrogram()
    x = torch.randn(2, 3, 12000, dtype=torch.float64)
    torch.testing.assert_close(module(x), module(x * 1e-6 + 3e-6), atol=1e-5, rtol=0)
    x[0, 1] = 0.0
    out = module(x)
    assert torch.isfinite(out).all() and out[0, 1].abs().max() < 1e-6


def test_log_spectrogram_rejects_bad_bands():
    with pytest.raises(ValueError, match="Nyquist"):
        LogSpectrogram(f_max_hz=60.0)
    with pytest.raises(ValueError, match="too short"):
        LogSpectrogram(n_fft=256).output_shape(100)
