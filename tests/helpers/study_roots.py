"""Small synthetic data roots for the pre-event study, and the probe config that runs on them."""

from __future__ import annotations

from pathlib import Path

from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from seisbind.data.synthetic import AnimalConfig, PrecursorConfig, SyntheticConfig, write_synthetic

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def synthetic(out: Path, n_traces: int = 24, **precursor) -> Path:
    """A small root: ~950 catalog events and 23 targets over Aug 2016 - Jan 2017, 5 tagged animals over
    Sep - Jan, few waveforms (the study reads their metadata only)."""
    write_synthetic(out, SyntheticConfig(
        seed=1, n_traces=n_traces, n_events=900, noise_interval_hours=24 * 365, n_stations=8,
        precursor=PrecursorConfig(**precursor),
        animal=AnimalConfig(n_cows=2, n_sheep=2, n_dogs=1, coverage=["2016-09-01/2017-01-31"])))
    return out


def probe_config(root: Path, out: Path, *overrides: str) -> DictConfig:
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        return compose("probe", overrides=[f"data.root={root}", f"out={out}", f"paths.root_dir={out}",
                                           "probe.other_period.shift_days=-30", *overrides])
