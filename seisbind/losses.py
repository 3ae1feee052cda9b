"""ImageBind-style pairwise contrastive loss: symmetric InfoNCE of each modality against the anchor.

Stateless and explicit about distribution (open_clip's "local loss + gather with grad"): each rank scores its own
rows against the columns of every rank, with labels offset by rank.

Scaling under DDP, spelled out. Let N be the global number of present rows and S_r the sum of the per-row
cross-entropies (both directions) of rank r's present rows. The single-process loss on the concatenated batch is
L = sum_r S_r / (2N). With gather-with-grad, the backward of all_gather sums the gradients that every rank's loss
sends to a rank's embeddings, so rank r's parameter gradient is that of (sum_r' loss_r') restricted to its own
samples; DDP then averages over the W ranks. Choosing loss_r = W * S_r / (2N) makes that average exactly dL/dtheta
(the logit scale, used locally on every rank, follows the same arithmetic). Returning W * S_r / (2N) as the value
would differ between ranks, so its value is replaced by L (one scalar gather) while its gradient is kept:
every rank reports the single-process loss and DDP's mean yields the single-process gradients.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

Gather = Callable[[Tensor], Tensor]
"""tensor (B, ...) -> (world, B, ...) with gradients, e.g. `lambda t: module.all_gather(t, sync_grads=True)`."""

_IGNORE = -100


def _gather(gather: Gather, tensor: Tensor) -> Tensor:
    gathered = gather(tensor)
    # Lightning's all_gather returns its input unchanged when no process group exists: a world of one.
    return gathered.unsqueeze(0) if gathered.dim() == tensor.dim() else gathered


def pairwise_infonce(
    a: Tensor,
    b: Tensor,
    present: Tensor,
    logit_scale: Tensor | float,
    *,
    gather: Gather | None = None,
    rank: int = 0,
) -> Tensor:
    """Symmetric InfoNCE, (CE over rows + CE over columns) / 2, over the samples where both modalities are present.

    a, b: (B, D) L2-normalised embeddings of this rank's samples (row i of a pairs with row i of b).
    present: (B,) bool, False where either modality is missing; such samples are excluded from the rows and the
    columns of the similarity matrix (as if the batch did not hold them), not zero-filled.
    logit_scale: scalar inverse temperature.
    gather / rank: for data-parallel training every rank passes the same B (pad + mask) and its rank; the result
    equals the single-process loss on the concatenated batch, and so do the gradients after DDP's mean all-reduce
    (see the module docstring). With gather=None the batch is the whole batch.
    Computed in at least float32 (bf16 logits lose the ranking between close pairs). No present sample -> 0.
    """
    if a.shape != b.shape or a.dim() != 2 or present.shape != a.shape[:1]:
        raise ValueError(
            f"pairwise_infonce: need a, b of equal shape (B, D) and present (B,); got {tuple(a.shape)}, "
            f"{tuple(b.shape)}, {tuple(present.shape)}"
        )
    dtype = torch.promote_types(a.dtype, torch.float32)
    a, b, present = a.to(dtype), b.to(dtype), present.bool()
    n_local, dim = a.shape
    if gather is None:
        world, rank, all_a, all_b, all_present = 1, 0, a, b, present
    else:
        packed = _gather(gather, torch.cat([a, b, present[:, None].to(dtype)], dim=1))
        world = packed.shape[0]
        if packed.shape[1] != n_local or not 0 <= rank < world:
            raise ValueError(
                f"pairwise_infonce: gathered {tuple(packed.shape[:2])} (world, batch) for a local batch of {n_local} "
                f"on rank {rank}; every rank must pass the same batch size (pad and mask, drop_last=True)"
            )
        packed = packed.flatten(0, 1)
        all_a, all_b, all_present = packed[:, :dim], packed[:, dim : 2 * dim], packed[:, 2 * dim] > 0.5
    labels = torch.arange(n_local, device=a.device) + rank * n_local
    labels = labels.masked_fill(~present, _IGNORE)
    absent_columns = ~all_present[None, :]
    lowest = torch.finfo(dtype).min  # exp(lowest - max) == 0 exactly: the column drops out of the softmax
    # Autocast (precision=bf16-mixed) would run these matmuls in bf16 whatever their inputs' dtype, and `lowest`
    # does not fit in bf16.
    with torch.autocast(a.device.type, enabled=False):
        logits_ab = (logit_scale * a @ all_b.T).masked_fill(absent_columns, lowest)
        logits_ba = (logit_scale * b @ all_a.T).masked_fill(absent_columns, lowest)
    row_sum = F.cross_entropy(logits_ab, labels, ignore_index=_IGNORE, reduction="sum") + F.cross_entropy(
        logits_ba, labels, ignore_index=_IGNORE, reduction="sum"
    )
    n_pairs = 2 * all_present.sum().clamp(min=1)
    if gather is None:
        return row_sum / n_pairs
    scaled = world * row_sum / n_pairs
    global_loss = _gather(gather, row_sum.detach().reshape(1)).sum() / n_pairs
    return scaled + (global_loss - scaled).detach()


@dataclass(frozen=True)
class Pair:
    """One trained pair: `modality` is contrasted with `anchor`; the loss is logged as "anchor-modality"."""

    anchor: str
    modality: str
    weight: float = 1.0

    @property
    def name(self) -> str:
        return f"{self.anchor}-{self.modality}"


def _as_pair(spec: Pair | Mapping | Sequence) -> Pair:
    if isinstance(spec, Pair):
        return spec
    if isinstance(spec, Mapping):
        return Pair(str(spec["anchor"]), str(spec["modality"]), float(spec.get("weight", 1.0)))
    if isinstance(spec, Sequence) and not isinstance(spec, str) and len(spec) in (2, 3):
        return Pair(str(spec[0]), str(spec[1]), float(spec[2]) if len(spec) == 3 else 1.0)
    raise ValueError(
        f"ContrastiveObjective: cannot read pair {spec!r}; give [anchor, modality, weight] "
        "or {anchor: ..., modality: ..., weight: ...}"
    )


class ContrastiveObjective:
    """Weighted sum of `pairwise_infonce` over the configured (anchor, modality, weight) pairs.

    A pair's temperature is the non-anchor modality's logit scale (ImageBind: each modality's postprocessor
    carries its own scale). Returns the total and the per-pair losses keyed "anchor-modality".
    """

    def __init__(self, pairs: Iterable[Pair | Mapping | Sequence]) -> None:
        self.pairs = [_as_pair(spec) for spec in pairs]
        if not self.pairs:
            raise ValueError("ContrastiveObjective: no pairs configured; give at least one [anchor, modality, weight]")
        names = [pair.name for pair in self.pairs]
        for pair in self.pairs:
            if pair.anchor == pair.modality:
                raise ValueError(f"ContrastiveObjective: pair {pair.name!r} contrasts a modality with itself")
            if not pair.weight >= 0:
                raise ValueError(f"ContrastiveObjective: pair {pair.name!r} has weight {pair.weight}; need >= 0")
            if names.count(pair.name) > 1:
                raise ValueError(f"ContrastiveObjective: pair {pair.name!r} is configured twice")

    @property
    def modalities(self) -> set[str]:
        return {name for pair in self.pairs for name in (pair.anchor, pair.modality)}

    def check_modalities(self, available: Iterable[str]) -> None:
        """Raise, naming the pair, when a pair refers to a modality that is not configured."""
        available = set(available)
        for pair in self.pairs:
            missing = [name for name in (pair.anchor, pair.modality) if name not in available]
            if missing:
                raise ValueError(
                    f"loss pair {pair.name!r} names modality {missing[0]!r}, which is not among the configured "
                    f"modalities {sorted(available)}; add it to `modality` or drop the pair"
                )

    def __call__(
        self,
        embeddings: Mapping[str, Tensor],
        present: Mapping[str, Tensor],
        logit_scales: Mapping[str, Tensor | float],
        *,
        gather: Gather | None = None,
        rank: int = 0,
    ) -> tuple[Tensor, dict[str, Tensor]]:
        """embeddings[name] (B, D) normalised; present[name] (B,) bool; logit_scales[name] scalar."""
        losses: dict[str, Tensor] = {}
        total = None
        for pair in self.pairs:
            both = present[pair.anchor].bool() & present[pair.modality].bool()
            loss = pairwise_infonce(
                embeddings[pair.anchor],
                embeddings[pair.modality],
                both,
                logit_scales[pair.modality],
                gather=gather,
                rank=rank,
            )
            losses[pair.name] = loss
            total = pair.weight * loss if total is None else total + pair.weight * loss
        return total, losses
