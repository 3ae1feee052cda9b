"""Cross-modal retrieval recall, the validation measure of contrastive alignment."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch

from seisbind.confidence import wilson_interval


class Recall(NamedTuple):
    """Recall@k with its chance level k / n and a 95 % Wilson interval (all fractions in [0, 1])."""

    recall: float
    chance: float
    low: float
    high: float


def retrieval_recall(a: torch.Tensor, b: torch.Tensor, ks: Sequence[int]) -> dict[int, Recall]:
    """Recall@k of finding sample i's partner among n candidates, averaged over both directions (a->b, b->a).

    `a`, `b`: (n, D) L2-normalised embeddings of the same n samples. Returns {k: Recall} with chance =
    min(k, n) / n, the recall of random embeddings. The interval counts n trials, not 2n: a sample's two
    directions share its pair and are not independent. NaN everywhere when n < 2.
    """
    n = a.shape[0]
    if n < 2:
        return {k: Recall(*(4 * [float("nan")])) for k in ks}
    sim = a.float() @ b.float().T
    target = torch.arange(n, device=sim.device)
    # Rank of the true partner = number of candidates scoring strictly higher.
    rank_ab = (sim > sim[target, target][:, None]).sum(dim=1)
    rank_ba = (sim.T > sim[target, target][:, None]).sum(dim=1)
    out = {}
    for k in ks:
        recall = 0.5 * ((rank_ab < k).float().mean() + (rank_ba < k).float().mean()).item()
        out[k] = Recall(recall, min(k, n) / n, *wilson_interval(recall, n))
    return out
