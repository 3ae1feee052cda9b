"""The locked torch/torchaudio pair loads together: a pair whose extension ABI differs fails here, first
(tests/conftest.py orders this module before all others)."""

from __future__ import annotations

from pathlib import Path

import torch
import torchaudio

ROOT = Path(__file__).resolve().parents[1]


def test_torchaudio_extension_runs_a_spectrogram() -> None:
    power = torchaudio.transforms.Spectrogram(n_fft=100, hop_length=50)(torch.sin(torch.arange(1200.0)))
    assert power.shape == (51, 25) and torch.isfinite(power).all()


def test_installed_versions_are_the_locked_ones() -> None:
    from importlib.metadata import version

    locked = dict(line.split("==") for line in (ROOT / "requirements.lock").read_text().splitlines()
                  if "==" in line and not line.startswith("#"))
    for name in ("torch", "torchaudio", "lightning", "hydra-core", "h5py", "numpy"):
        assert version(name).split("+")[0] == locked[name], name
