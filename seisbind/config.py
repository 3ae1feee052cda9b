"""Start-up checks of a composed training config: fail before any data is read, saying what to change."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.errors import InstantiationException
from hydra.types import RunMode
from hydra.utils import instantiate
from omegaconf import DictConfig, ListConfig, OmegaConf

from seisbind.errors import SeisbindInputError


def run_name() -> str:
    """Timestamp naming a run's checkpoint folder; multirun jobs add their job number so they never share one.
    Under SLURM the job id names it instead: a requeued job starts again with the same id and must find the
    checkpoint folder (and last.ckpt) it wrote before."""
    job = os.environ.get("SLURM_ARRAY_JOB_ID") or os.environ.get("SLURM_JOB_ID")
    if job:
        task = os.environ.get("SLURM_ARRAY_TASK_ID")
        return f"slurm{job}" + (f"_{task}" if task else "")
    stamp = datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
    if HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN:
        return f"{stamp}_job{HydraConfig.get().job.num}"
    return stamp


if not OmegaConf.has_resolver("seisbind.run_name"):
    OmegaConf.register_new_resolver("seisbind.run_name", run_name, use_cache=True)


def validate_train_config(cfg: DictConfig) -> None:
    """Checks of a typed training config (seisbind.config_schema.TrainConfig applied) that a schema cannot state:
    the modalities, the anchor and the pairs agree, and the settings that would only fail deep inside pandas or
    Lightning are in range."""
    modalities = list(cfg.get("modality") or {})
    if len(modalities) < 2:
        raise SeisbindInputError(
            f"training needs the anchor and at least one other modality, got {modalities}: "
            "select them with modality=[spectrum,metadata] or an experiment=...")
    for name in modalities:
        missing = [key for key in ("input", "encoder") if not cfg.modality[name].get(key)]
        if missing:
            raise SeisbindInputError(f"modality {name!r} has no {' or '.join(missing)}: "
                                     f"add it to configs/modality/{name}.yaml")
    if cfg.anchor not in modalities:
        raise SeisbindInputError(f"anchor={cfg.anchor!r} is not among the configured modalities {modalities}: "
                                 f"set anchor=<one of them> or add it with modality=[{cfg.anchor},...]")
    for name, weight in (cfg.get("pairs") or {}).items():
        if name not in modalities or name == cfg.anchor:
            raise SeisbindInputError(
                f"pairs.{name} names {'the anchor' if name == cfg.anchor else 'a modality that is not configured'}; "
                f"pairs are contrasted with the anchor {cfg.anchor!r}, choose among "
                f"{[m for m in modalities if m != cfg.anchor]}")
        if float(weight) < 0:
            raise SeisbindInputError(f"pairs.{name}={weight}: pair weights must be >= 0")
    fraction = cfg.data.split.val_fraction
    if not 0 < fraction < 1:
        raise SeisbindInputError(f"data.split.val_fraction={fraction}: give a fraction of the events in (0, 1), "
                                 "e.g. 0.2")
    max_steps = (cfg.get("trainer") or {}).get("max_steps")
    if isinstance(max_steps, int) and max_steps < -1:
        raise SeisbindInputError(f"trainer.max_steps={max_steps}: give -1 (no limit) or a number of steps >= 0")


def build(node: Any, where: str, **kwargs: Any) -> Any:
    """`hydra.utils.instantiate`, but a bad setting is reported with the config key to change (`where`) rather
    than Hydra's wrapper around it; a `SeisbindInputError` from the target passes through as it is."""
    try:
        return instantiate(node, **kwargs)
    except InstantiationException as err:
        cause = err.__cause__
        if isinstance(cause, SeisbindInputError):
            raise cause from None
        raise SeisbindInputError(f"{where}: {cause or err}") from err


def plain(cfg: Any) -> Any:
    """A resolved plain dict/list for an OmegaConf node, anything else unchanged: what goes into checkpoints."""
    return OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, (DictConfig, ListConfig)) else cfg


def wandb_default_offline() -> None:
    """Offline unless the user asked for online or has a key; the key itself is never read or printed."""
    has_key = bool(os.environ.get("WANDB_API_KEY")) or (Path.home() / ".netrc").is_file() and \
        "api.wandb.ai" in (Path.home() / ".netrc").read_text(errors="ignore")
    if "WANDB_MODE" not in os.environ and not has_key:
        os.environ["WANDB_MODE"] = "offline"
