"""Retrieval recall@k and its interval: exact on known rankings, Wilson as scipy computes it."""

from __future__ import annotations

import pytest
import torch
from scipy.stats import binomtest

from seisbind.confidence import wilson_interval
from seisbind.retrieval import retrieval_recall


def _unit(x: torch.Tensor) -> torch.Tensor:
    return x / x.norm(dim=1, keepdim=True)


@pytest.mark.parametrize(("hits", "n"), [(0, 40), (3, 40), (20, 40), (40, 40), (1, 200)])
def test_wilson_interval_matches_scipy(hits: int, n: int) -> None:
    expected = binomtest(hits, n).proportion_ci(confidence_level=0.95, method="wilson")
    assert wilson_interval(hits / n, n) == pytest.approx((expected.low, expected.high), abs=1e-9)


def test_aligned_pairs_reach_recall_one_and_their_interval_excludes_chance() -> None:
    a = _unit(torch.randn(64, 16, generator=torch.Generator().manual_seed(0)))
    result = retrieval_recall(a, a, [1, 5])
    assert result[1].recall == 1.0 and result[1].chance == pytest.approx(1 / 64)
    assert result[1].low > 0.9 and result[1].high == 1.0
    assert result[5].low > result[5].chance


def test_unrelated_pairs_have_an_interval_that_covers_chance() -> None:
    g = torch.Generator().manual_seed(1)
    a, b = _unit(torch.randn(400, 16, generator=g)), _unit(torch.randn(400, 16, generator=g))
    result = retrieval_recall(a, b, [1, 20])
    for k in (1, 20):
        assert result[k].low <= result[k].chance <= result[k].high, result[k]
        assert result[k].low <= result[k].recall <= result[k].high


def test_half_the_partners_swapped_gives_recall_one_half() -> None:
    a = _unit(torch.eye(10))
    b = a.clone()
    b[[0, 1, 2, 3, 4]] = b[[1, 2, 3, 4, 0]]  # samples 0-4 point at a neighbour's partner, 5-9 at their own
    assert retrieval_recall(a, b, [1])[1].recall == pytest.approx(0.5)
    assert retrieval_recall(a[:1], b[:1], [1])[1].recall != retrieval_recall(a[:1], b[:1], [1])[1].recall  # NaN
