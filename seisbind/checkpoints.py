"""Checkpoint files: loaded without running code from them, written atomically, `last.ckpt` always current.

A checkpoint is a pickle, and unpickling runs whatever the file asks for. Every file a user names (`ckpt=`,
`ckpt_path=`, `model.init_from=`, a SeisCLIP weight file) is read with `torch.load(weights_only=True)`, which
only rebuilds tensors and plain containers; anything else is refused with the file named. The hyperparameters
that rebuild the model then choose what `hydra.utils.instantiate` calls, so their `_target_`s must be on the
allowlist of seisbind/allowlist.py too.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO

from seisbind.allowlist import check_targets, current_names
from seisbind.errors import SeisbindInputError
from seisbind.files import atomic_path

LAST_NAME = "last.ckpt"


def load_untrusted(path: str | os.PathLike, key: str) -> Any:
    """The object in a user-supplied torch file, rebuilt with `weights_only=True`; `key` is the config key that
    named it (e.g. "ckpt"), so the error says what to change."""
    path = Path(path)
    if not path.is_file():
        raise SeisbindInputError(f"{key}={path}: no such file")
    if path.stat().st_size == 0:
        raise SeisbindInputError(f"{key}={path}: the file is empty (an interrupted copy or save?)")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises UnpicklingError, RuntimeError, EOFError, IndexError ... on bad files
        raise SeisbindInputError(f"{key}={path}: {_refusal(error)}") from error


def _refusal(error: Exception) -> str:
    """Why torch.load refused a file, in one line: torch's own messages run over many lines of advice."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    if lines and lines[0].startswith("Weights only load failed"):
        code = next((line for line in lines if "GLOBAL" in line), None)
        if code:
            return (f"refused: loading it would run code from the file ({code}); only tensors and plain values "
                    "are loaded (weights_only=True)")
        return "not a file written by torch.save (or one holding objects other than tensors and plain values)"
    first = lines[0].split(". ")[0] if lines else ""
    return f"corrupt or truncated ({type(error).__name__}: {first}); copy or save the file again"


def read_checkpoint(path: str | os.PathLike, key: str = "ckpt") -> dict[str, Any]:
    """A Lightning checkpoint dict (with `state_dict`) from a user-supplied file, its hyperparameters naming only
    buildable targets (seisbind/allowlist.py) whichever path uses them, by their current names."""
    checkpoint = load_untrusted(path, key)
    if not isinstance(checkpoint, Mapping) or not isinstance(checkpoint.get("state_dict"), Mapping):
        raise SeisbindInputError(f"{key}={path}: not a seisbind/Lightning checkpoint (no 'state_dict' mapping)")
    checkpoint = dict(checkpoint)
    if "hyper_parameters" in checkpoint:
        checkpoint["hyper_parameters"] = current_names(checkpoint["hyper_parameters"])
    check_targets(checkpoint.get("hyper_parameters"), f"{key}={path}: hyper_parameters")
    return checkpoint


def mismatched_tensors(own: Mapping[str, torch.Tensor], state: Mapping[str, Any]) -> list[str]:
    """"name: (checkpoint shape) vs (model shape)" for every tensor of `state` that `own` holds in another
    shape."""
    return [f"{k}: {tuple(v.shape)} vs {tuple(own[k].shape)}" for k, v in state.items()
            if k in own and getattr(v, "shape", None) != own[k].shape]


def check_resumable(model: torch.nn.Module, checkpoint: Mapping[str, Any], path: str | os.PathLike) -> None:
    """Refuse, in one line, a `ckpt_path=` checkpoint whose weights do not fit `model` (another experiment, other
    modalities or sizes): Lightning would otherwise fail deep in `load_state_dict`."""
    own, state = model.state_dict(), checkpoint["state_dict"]
    missing, unexpected = sorted(set(own) - set(state)), sorted(set(state) - set(own))
    wrong = mismatched_tensors(own, state)
    if missing or unexpected or wrong:
        found = "; ".join(f"{what} {names[:3]}{' ...' if len(names) > 3 else ''}" for what, names in
                          (("missing", missing), ("unexpected", unexpected), ("other shape", wrong)) if names)
        raise SeisbindInputError(f"ckpt_path={path}: not a checkpoint of this run's model ({found}); resume with the "
                                 "experiment, modalities and model settings it was trained with")


class SafeCheckpointIO(TorchCheckpointIO):
    """Lightning's checkpoint I/O with the two guarantees above: resume (`ckpt_path=`) loads with
    `weights_only=True` and names a bad file; saves go through a temporary name (see seisbind/files.py)."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: str | os.PathLike,
                        storage_options: Any | None = None) -> None:
        with atomic_path(path) as tmp:
            super().save_checkpoint(checkpoint, tmp, storage_options)

    def load_checkpoint(self, path: str | os.PathLike, map_location: Callable | None = None,
                        weights_only: bool | None = None) -> dict[str, Any]:
        # Also reads ddp_spawn's hand-back of the workers' weights (a bare state dict), hence no structure check.
        checkpoint = load_untrusted(path, key="ckpt_path")
        if isinstance(checkpoint, Mapping):
            check_targets(checkpoint.get("hyper_parameters"), f"ckpt_path={path}: hyper_parameters")
        return checkpoint


class LastCheckpoint(L.Callback):
    """Writes `last.ckpt` at the end of every training epoch and when fitting ends, whatever validation did.

    Lightning's `ModelCheckpoint(save_last=True)` refreshes `last.ckpt` only together with a top-k save, so after
    epochs whose validation loss rose it holds an earlier epoch; and a run stopped by `max_steps` before any
    validation gets none. The file printed as `checkpoint:`, probed and resumed from must be the final state."""

    def __init__(self, dirpath: str | os.PathLike) -> None:
        self.path = Path(dirpath) / LAST_NAME
        self.saved_step = -1

    def _save(self, trainer: L.Trainer) -> None:
        if trainer.global_step != self.saved_step and not trainer.sanity_checking:
            trainer.save_checkpoint(self.path, weights_only=False)   # the whole state: resume needs it
            self.saved_step = trainer.global_step

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._save(trainer)

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._save(trainer)
