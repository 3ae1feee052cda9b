"""Cross-modal retrieval recall, the validation measure of contrastive alignment."""

from __future__ import annotations

from collections.abc import Sequence

import torch


def retrieval_recall(a: torch.Tensor, b: torch.Tensor, ks: Sequence[int]) -> dict[int, tuple[float, float]]:
    """Recall@k of finding sample i's partner among n candidates, averaged over both directions (a->b, b->a).

    `a`, `b`: (n, D) L2-normalised embeddings of the same n samples. Returns {k: (recall, chance)} with chance =
    min(k, n) / n, the recall of random embeddings; NaN for both when n < 2.
    """
    n = a.shape[0]
    if n < 2:
        return {k: (float("nan"), float("nan")) for k in ks}
    sim = a.float() @ b.float().T
    target = torch.arange(n, device=sim.device)
    # Rank of the true partner = number of candidates scoring strictly higher.
    rank_ab = (sim > sim[target, target][:, None]).sum(dim=1)
    rank_ba = (sim.T > sim[target, target][:, None]).sum(dim=1)
    return {k: (0.5 * ((rank_ab < k).float().mean() + (rank_ba < k).float().mean()).item(), min(k, n) / n)
            for k in ks}
