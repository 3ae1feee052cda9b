"""The LightningModule: one encoder + head per configured modality, pairwise InfoNCE against the anchor, and
optionally the anchor's segment pair (seisbind/segments.py).

Modalities are data: the module loops over `modality` (a plain dict of configs, saved as hyperparameters so that
`SeisBindModule.load_from_checkpoint(path)` rebuilds everything) and never branches on a modality's name.
"""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

import lightning as L
import numpy as np
import torch
from hydra.utils import instantiate
from torch import nn

from seisbind.allowlist import check_targets
from seisbind.checkpoints import mismatched_tensors, read_checkpoint
from seisbind.config import build, plain
from seisbind.errors import SeisbindInputError
from seisbind.losses import ContrastiveObjective, pairwise_infonce
from seisbind.modalities.head import ModalityHead
from seisbind.retrieval import retrieval_recall
from seisbind.segments import SegmentPair

Batch = dict[str, dict[str, torch.Tensor]]


class SeisBindModule(L.LightningModule):
    """`modality[name]` holds `encoder` (a `_target_` config that receives `input_shape`), optional `preprocess`
    (a module applied batched on the device, e.g. the STFT) and `head` (logit-scale settings); `input_shapes`
    are the per-sample shapes the data module reported, so the encoders can be built before any data is seen."""

    def __init__(self, modality: dict, input_shapes: dict[str, list[int]], anchor: str,
                 pairs: dict[str, float] | None = None, embed_dim: int = 128, optimizer: dict | None = None,
                 scheduler: dict | None = None, retrieval_k: list[int] = (1, 5), init_from: str | None = None,
                 segment_pair: dict | None = None) -> None:
        super().__init__()
        modality, optimizer, scheduler = plain(modality), plain(optimizer), plain(scheduler)
        check_targets(modality, "modality")   # before anything is built (seisbind/allowlist.py)
        check_targets(optimizer, "model.optimizer")
        segment_pair = plain(segment_pair) or {}
        self.save_hyperparameters({"modality": modality, "input_shapes": plain(input_shapes), "anchor": anchor,
                                   "pairs": plain(pairs), "embed_dim": embed_dim, "optimizer": optimizer,
                                   "scheduler": scheduler, "retrieval_k": list(retrieval_k),
                                   "segment_pair": segment_pair})
        # init_from is not a hyperparameter: the checkpoint holds the weights, so reloading it must not need the
        # file the run started from.
        self.preprocess = nn.ModuleDict()
        self.encoders = nn.ModuleDict()
        self.heads = nn.ModuleDict()
        encoder_shapes = {}   # per-sample shape each encoder receives, after its preprocess
        for name, cfg in modality.items():
            shape = tuple(input_shapes[name])
            if cfg.get("preprocess"):
                self.preprocess[name] = build(cfg["preprocess"], f"modality.{name}.preprocess")
                shape = tuple(self.preprocess[name].output_shape(shape[-1]))
            encoder_shapes[name] = shape
            self.encoders[name] = build(cfg["encoder"], f"modality.{name}.encoder", input_shape=shape)
            head = dict(cfg.get("head") or {})
            if name == anchor:
                # A pair uses the other modality's temperature: the anchor's scale never enters a loss, and a
                # parameter without gradient would stall DDP.
                head["logit_scale_learnable"] = False
            self.heads[name] = ModalityHead(self.encoders[name].out_dim, embed_dim, **head)
        weights = pairs or {name: 1.0 for name in modality if name != anchor}
        self.objective = ContrastiveObjective([(anchor, name, weight) for name, weight in weights.items()])
        try:
            self.segment_pair = SegmentPair(**segment_pair)
            if self.segment_pair.weight > 0:
                self.segment_pair.check_input(anchor, encoder_shapes[anchor])
        except (TypeError, ValueError) as err:
            raise SeisbindInputError(f"model.segment_pair: {err}") from err
        self.val_outputs: list[dict[str, torch.Tensor]] = []
        self.skipped: dict[str, str] = {}   # trace name -> why it was skipped, over the whole run
        if init_from:
            self.load_encoder_weights(init_from)

    # -- forward ------------------------------------------------------------------------------------------------
    def embed(self, batch: Batch) -> dict[str, torch.Tensor]:
        """L2-normalised embeddings (B, embed_dim) of every configured modality present in `batch`."""
        return self._embed(batch, self._encoder_inputs(batch))

    def _encoder_inputs(self, batch: Batch) -> dict[str, torch.Tensor]:
        """What each configured modality present in `batch` feeds its encoder (after its preprocess)."""
        return {name: self._encoder_input(name, batch) for name in self.encoders if name in batch}

    def _embed(self, batch: Batch, inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {name: self._encode(name, x, batch[name].get("mask")) for name, x in inputs.items()}

    def _encoder_input(self, name: str, batch: Batch) -> torch.Tensor:
        x = batch[name]["x"]
        if name in self.preprocess:
            # STFTs have no bf16 kernels and lose precision in half: always float32.
            with torch.autocast(x.device.type, enabled=False):
                x = self.preprocess[name](x.float())
        return x

    def _encode(self, name: str, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        return self.heads[name](self.encoders[name](x, mask))

    def _segment_loss(self, x: torch.Tensor, mask: torch.Tensor | None, present: torch.Tensor, seed: int | None,
                      gather, rank: int) -> torch.Tensor:
        """InfoNCE between two disjoint time segments of each anchor record (seisbind/segments.py), from the
        anchor's encoder input `x`; split points drawn from `seed`, or in the middle when it is None."""
        anchor = self.hparams.anchor
        fraction = None if seed is None else self.segment_pair.draw(x.shape[0], seed)
        first, second = self.segment_pair.views(x, fraction)
        return pairwise_infonce(self._encode(anchor, first, mask), self._encode(anchor, second, mask), present,
                                self.segment_pair.logit_scale, gather=gather, rank=rank)

    def _step(self, batch: Batch, stage: str) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        inputs = self._encoder_inputs(batch)   # the segment pair reuses the anchor's STFT
        embeddings = self._embed(batch, inputs)
        present = {name: batch[name]["present"].bool() for name in embeddings}
        gather = (lambda t: self.all_gather(t, sync_grads=True)) if self.trainer.world_size > 1 else None
        scales = {name: self.heads[name].logit_scale() for name in embeddings}
        loss, per_pair = self.objective(embeddings, present, scales, gather=gather, rank=self.global_rank)
        anchor = self.hparams.anchor
        if self.segment_pair.weight > 0 and anchor in embeddings:
            seed = self.global_step * self.trainer.world_size + self.global_rank if stage == "train" else None
            per_pair[f"{anchor}-segments"] = self._segment_loss(inputs[anchor], batch[anchor].get("mask"),
                                                                present[anchor], seed, gather, self.global_rank)
            loss = loss + self.segment_pair.weight * per_pair[f"{anchor}-segments"]
        batch_size = next(iter(embeddings.values())).shape[0]
        self.log(f"{stage}/loss", loss, prog_bar=True, sync_dist=stage != "train", batch_size=batch_size)
        for pair, value in per_pair.items():
            self.log(f"{stage}/loss/{pair}", value, sync_dist=stage != "train", batch_size=batch_size)
        if stage == "train":
            for name, scale in scales.items():
                self.log(f"train/logit_scale/{name}", scale, batch_size=batch_size)
        for name, mask in present.items():
            self.log(f"{stage}/present/{name}", mask.float().mean(), batch_size=batch_size,
                     sync_dist=stage != "train")
        bad = [batch[name]["bad"] for name in embeddings if "bad" in batch[name]]
        if bad:
            # An epoch total: per-step values are thinned by log_every_n_steps and would hide most skips.
            self.log(f"{stage}/bad_traces", torch.stack(bad).float().sum(), reduce_fx="sum", batch_size=batch_size,
                     on_step=False, on_epoch=True, sync_dist=True)
            for name in embeddings:
                for entry in batch[name].get("skipped", ()):
                    if entry:
                        trace, reason = entry.split("\t", 1)
                        self.skipped[trace] = reason
        return loss, {name: e.detach() for name, e in embeddings.items()} | {
            f"present/{name}": m for name, m in present.items()}

    def training_step(self, batch: Batch, batch_idx: int) -> torch.Tensor:
        return self._step(batch, "train")[0]

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        _, outputs = self._step(batch, "val")
        outputs["row"] = batch["info"]["row"]
        self.val_outputs.append({k: v.cpu() for k, v in outputs.items()})

    def on_validation_epoch_end(self) -> None:
        """Retrieval recall@k over the whole validation set for every modality pair, trained or not (the untrained
        ones measure ImageBind's emergent alignment), each next to its chance level k / n and its 95 % Wilson
        interval (`/ci_low`, `/ci_high`), so that "above chance" can be read off the log.

        Under DDP every rank holds a shard: recall among a shard's samples is an easier task than among all of
        them (fewer candidates), so the shards are gathered and the recall computed once over the whole set,
        the same on every rank. The distributed sampler pads shards to equal length with repeated samples; those
        are dropped by their dataset row."""
        if not self.val_outputs:
            return
        joined = {k: torch.cat([o[k] for o in self.val_outputs]) for k in self.val_outputs[0]}
        self.val_outputs.clear()
        if self.trainer.world_size > 1:
            joined = {k: self.all_gather(v.to(self.device)).flatten(0, 1).cpu() for k, v in joined.items()}
            _, first = np.unique(joined["row"].numpy(), return_index=True)
            joined = {k: v[torch.from_numpy(first)] for k, v in joined.items()}
        names = [n for n in self.encoders if n in joined]
        for i, a in enumerate(names):
            for b in names[i + 1:]:
                both = joined[f"present/{a}"] & joined[f"present/{b}"]
                for k, recall in retrieval_recall(joined[a][both], joined[b][both],
                                                  self.hparams.retrieval_k).items():
                    key = f"val/recall@{k}/{a}-{b}"
                    self.log(key, recall.recall)
                    self.log(f"{key}/chance", recall.chance)
                    self.log(f"{key}/ci_low", recall.low)
                    self.log(f"{key}/ci_high", recall.high)

    def on_train_end(self) -> None:
        """The run's distinct skipped traces, gathered from every rank, printed once with their reasons."""
        skipped = dict(self.skipped)
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            parts: list[dict[str, str]] = [{} for _ in range(torch.distributed.get_world_size())]
            torch.distributed.all_gather_object(parts, skipped)
            skipped = {k: v for part in parts for k, v in part.items()}
        if skipped and self.trainer.is_global_zero:
            reasons = Counter(skipped.values()).most_common()
            print(f"skipped {len(skipped)} bad traces in this run: "
                  + "; ".join(f"{n} x {reason}" for reason, n in reasons), flush=True)

    # -- optimisation ---------------------------------------------------------------------------------------
    def configure_optimizers(self) -> dict:
        """AdamW (from config) without weight decay on norms, biases, tokens and logit scales; linear warm-up then
        cosine decay, stepped per optimiser step."""
        decay, no_decay = [], []
        for name, p in self.named_parameters():
            if not p.requires_grad:
                continue
            (no_decay if p.ndim < 2 or "token" in name or "pos" in name else decay).append(p)
        opt_cfg = dict(self.hparams.optimizer or {"_target_": "torch.optim.AdamW", "_partial_": True})
        optimizer = instantiate(opt_cfg)([{"params": decay}, {"params": no_decay, "weight_decay": 0.0}])
        sched = self.hparams.scheduler or {}
        total = max(1, int(self.trainer.estimated_stepping_batches))
        warmup = int(sched.get("warmup_fraction", 0.05) * total)
        floor = float(sched.get("min_lr_ratio", 0.01))

        def factor(step: int) -> float:
            if step < warmup:
                return (step + 1) / warmup
            progress = min(1.0, (step - warmup) / max(1, total - warmup))
            return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))

        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    # -- weights from elsewhere -----------------------------------------------------------------------------
    @classmethod
    def from_checkpoint(cls, path: str | Path, key: str = "ckpt") -> SeisBindModule:
        """The model of a user-supplied checkpoint, in eval mode on the CPU, loaded without running code from the
        file (seisbind/checkpoints.py); `key` is the config key that named the file."""
        checkpoint = read_checkpoint(path, key)
        try:
            module = cls(**checkpoint["hyper_parameters"])
            module.load_state_dict(checkpoint["state_dict"])
        except (KeyError, TypeError, RuntimeError) as err:
            raise SeisbindInputError(f"{key}={path}: not a checkpoint of this seisbind model ({err})".split("\n")[0]) \
                from err
        return module.eval()

    def load_encoder_weights(self, path: str) -> None:
        """Initialise encoders, heads and preprocessors from another seisbind checkpoint (e.g. an imported SeisCLIP
        one). Only modules present in both are copied; a shape mismatch is an error naming the tensor."""
        state = read_checkpoint(path, key="model.init_from")["state_dict"]
        own = self.state_dict()
        wanted = {k: v for k, v in state.items() if k in own and not k.startswith("objective")}
        wrong = mismatched_tensors(own, wanted)
        if wrong:
            raise SeisbindInputError(f"model.init_from={path}: tensors do not fit this model's configuration: "
                                     f"{wrong[:5]}")
        missing = self.load_state_dict(wanted, strict=False).missing_keys
        if len(missing) == len(own):
            raise SeisbindInputError(f"model.init_from={path}: no tensor of this checkpoint matches the configured "
                                     "modalities")
