"""Analyses of a trained model or of raw data: `run(cfg)` calls the entry point the selected probe config names."""

from __future__ import annotations

from typing import Any

from hydra.utils import get_method
from omegaconf import DictConfig

from seisbind.files import folder_lock


def run(cfg: DictConfig) -> Any:
    """Dispatch to `cfg.probe.entry` (e.g. seisbind.probe.study.run, seisbind.probe.stations.analysis.run), holding
    the lock of the `out` folder (seisbind.files.folder_lock) while it writes there."""
    with folder_lock(cfg.out, "out"):
        return get_method(cfg.probe.entry)(cfg)
