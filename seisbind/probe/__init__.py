"""Analyses of a trained model or of raw data: `run(cfg)` calls the entry point the selected probe config names."""

from __future__ import annotations

from typing import Any

from hydra.utils import get_method
from omegaconf import DictConfig


def run(cfg: DictConfig) -> Any:
    """Dispatch to `cfg.probe.entry` (e.g. seisbind.probe.study.run, seisbind.probe.stations.analysis.run)."""
    return get_method(cfg.probe.entry)(cfg)
