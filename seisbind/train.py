"""`train(cfg)`: build data, model, trainer and loggers from a composed config and fit.

A plain function so that tests call it directly; `train.py` at the top level only composes the config.
"""

from __future__ import annotations

from pathlib import Path

import lightning as L
import wandb
from hydra.utils import instantiate
from lightning.pytorch.callbacks import LearningRateMonitor
from lightning.pytorch.loggers import WandbLogger
from omegaconf import DictConfig, OmegaConf

from seisbind.checkpoints import LastCheckpoint, check_resumable, read_checkpoint
from seisbind.config import build, validate_train_config, wandb_default_offline
from seisbind.config_schema import TrainConfig, typed_config
from seisbind.module import SeisBindModule


def build_datamodule(cfg: DictConfig):
    """The data module with one input per configured modality."""
    inputs = {name: build(m.input, f"modality.{name}.input") for name, m in cfg.modality.items()}
    return build(cfg.data, "data", inputs=inputs, _recursive_=False)


def train(cfg: DictConfig) -> dict:
    """Fit the configured model; returns {"checkpoint": last checkpoint path, "best": best path, "metrics": ...}.

    `data` is checked against its schema first (seisbind.config_schema.TrainData): a typo such as `data.rot=` or
    a wrong type such as `data.batch_size=1.5` is an error naming the key before anything is read."""
    cfg = typed_config(cfg, TrainConfig)
    validate_train_config(cfg)
    # A bad file fails here, before any data is read; one of another model once the model is built.
    resume = read_checkpoint(cfg.ckpt_path, key="ckpt_path") if cfg.get("ckpt_path") else None
    L.seed_everything(cfg.seed, workers=True)
    wandb_default_offline()

    datamodule = build_datamodule(cfg)
    datamodule.setup("fit")
    model_cfg = OmegaConf.to_container(cfg.model, resolve=True)
    model = SeisBindModule(modality=OmegaConf.to_container(cfg.modality, resolve=True),
                           input_shapes=datamodule.input_shapes(), anchor=cfg.anchor,
                           pairs=OmegaConf.to_container(cfg.pairs, resolve=True) if cfg.pairs else None,
                           **model_cfg)
    if resume is not None:
        check_resumable(model, resume, cfg.ckpt_path)
        del resume

    if wandb.run is not None:  # a run left open by the caller would swallow this run's logs
        wandb.finish()
    callbacks = [instantiate(c) for c in (cfg.get("callbacks") or {}).values() if c]
    loggers = [instantiate(c) for c in (cfg.get("logger") or {}).values() if c]
    if not loggers:  # logger=none: nothing to report learning rates to
        callbacks = [c for c in callbacks if not isinstance(c, LearningRateMonitor)]
    trainer: L.Trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False)
    for lg in loggers:
        lg.log_hyperparams(OmegaConf.to_container(cfg, resolve=True))

    try:
        trainer.fit(model, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"))
    finally:
        for lg in loggers:
            if isinstance(lg, WandbLogger) and trainer.is_global_zero:
                print(f"wandb run directory: {Path(lg.experiment.dir).parent}")
                lg.experiment.finish()  # flushes the run; `wandb sync DIR` uploads an offline run later

    checkpoint = trainer.checkpoint_callback
    # The path comes from the callback's configuration, not its state: with ddp_spawn that lives in the workers.
    last = next((c.path for c in callbacks if isinstance(c, LastCheckpoint)), None)
    last = str(last.resolve()) if last and last.is_file() else ""
    return {"checkpoint": last, "best": checkpoint.best_model_path if checkpoint else "",
            "metrics": {k: float(v) for k, v in trainer.callback_metrics.items() if v.numel() == 1}}
