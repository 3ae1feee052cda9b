"""Shared fixtures: small synthetic data roots written once per test session, in the real layouts."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, open_dict

from seisbind.data.synthetic import SyntheticConfig, write_synthetic

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The install check runs first: with a broken torch/torchaudio pair nothing else can pass."""
    items.sort(key=lambda item: item.module.__name__ != "tests.test_install")


def small_synthetic(out: Path, **overrides) -> Path:
    """A data root small enough for unit tests: a few hundred catalog events, ~100 event traces."""
    config = SyntheticConfig(**({"seed": 0, "n_traces": 96, "n_events": 900, "noise_interval_hours": 24.0} | overrides))
    write_synthetic(out, config)
    return out


@pytest.fixture(scope="session")
def synthetic_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return small_synthetic(tmp_path_factory.mktemp("synthetic"))


def compose_config(name: str, overrides: list[str], out: Path) -> DictConfig:
    """Compose a config the way `python train.py`/`probe.py` would, with its outputs under `out`."""
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        cfg = compose(name, overrides=[f"paths.root_dir={out}", f"paths.output_dir={out}", *overrides],
                      return_hydra_config=True)
    HydraConfig.instance().set_config(cfg)
    with open_dict(cfg):
        del cfg["hydra"]
    return cfg
