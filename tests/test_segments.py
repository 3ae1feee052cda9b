"""The anchor's segment pair: disjoint segments, and a loss that trains the anchor on records without a partner."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from seisbind.errors import SeisbindInputError
from seisbind.module import SeisBindModule
from seisbind.segments import SegmentPair

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def test_views_keep_two_disjoint_segments_with_the_gap_between() -> None:
    torch.manual_seed(0)
    pair = SegmentPair(weight=1.0, gap_frames=3)
    x = torch.randn(64, 3, 61, 100) + 5.0  # no zero entries: a kept frame is never mistaken for a cut one
    first, second = pair.views(x, pair.draw(64, seed=5))
    kept_first = (first != 0).all(dim=-1).all(dim=1)    # (B, T) frames kept in every channel and bin
    kept_second = (second != 0).all(dim=-1).all(dim=1)
    assert first.shape == second.shape == x.shape
    assert not (kept_first & kept_second).any()
    for row in range(64):
        a, b = kept_first[row].nonzero().flatten(), kept_second[row].nonzero().flatten()
        assert a[0] == 0 and b[-1] == 60 and b[0] - a[-1] == 4           # contiguous, 3 frames left out
        assert a.numel() == a[-1] + 1 and b.numel() == 61 - b[0]
        assert 0.3 * 61 - 1 <= a.numel() <= 0.7 * 61 + 1
    torch.testing.assert_close(first[kept_first[:, None, :, None].expand_as(x)],
                               x[kept_first[:, None, :, None].expand_as(x)])
    splits = kept_first.sum(dim=1)
    assert splits.unique().numel() > 5                                   # drawn per record in training
    torch.testing.assert_close(pair.draw(64, seed=5), pair.draw(64, seed=5))  # a resumed step repeats
    mid_first, _ = pair.views(x)
    assert ((mid_first != 0).all(dim=-1).all(dim=1).sum(dim=1) == 30).all()  # validation: the middle


@pytest.mark.parametrize("bad", [{"weight": -1.0}, {"split_low": 0.8, "split_high": 0.2}, {"time_dim": 1},
                                 {"wieght": 1.0}, {"weight": 1.0, "time_dim": -3}])
def test_bad_settings_name_the_config_key(bad: dict) -> None:
    with pytest.raises(SeisbindInputError, match="model.segment_pair"):
        _module(bad)


def _module(segment_pair: dict) -> SeisBindModule:
    modality = OmegaConf.to_container(OmegaConf.merge(OmegaConf.load(CONFIGS / "modality" / "spectrum.yaml"),
                                                      OmegaConf.load(CONFIGS / "modality" / "metadata.yaml")),
                                      resolve=True)
    return SeisBindModule(modality, {"spectrum": [3, 12000], "metadata": [8]}, anchor="spectrum", embed_dim=16,
                          segment_pair=segment_pair)


def test_records_without_a_partner_train_the_anchor_only_through_the_segment_pair() -> None:
    """A batch of noise traces (metadata absent): the ImageBind pair gives no gradient, the segment pair does."""
    torch.manual_seed(0)
    module = _module({"weight": 1.0})
    batch = {"spectrum": {"x": torch.randn(8, 3, 12000), "present": torch.ones(8, dtype=torch.bool)},
             "metadata": {"x": torch.zeros(8, 8), "mask": torch.zeros(8, 8),
                          "present": torch.zeros(8, dtype=torch.bool)}}
    embeddings = module.embed(batch)
    present = {name: batch[name]["present"] for name in embeddings}
    scales = {name: module.heads[name].logit_scale() for name in embeddings}
    pair_loss, _ = module.objective(embeddings, present, scales)
    assert pair_loss.item() == 0.0
    segment_loss = module._segment_loss(module._encoder_input("spectrum", batch), None, present["spectrum"], 7, None, 0)
    assert segment_loss.item() > 0.5                        # near log 8 for an untrained encoder
    segment_loss.backward()
    grads = [p.grad for p in module.encoders["spectrum"].parameters() if p.grad is not None]
    assert grads and sum(g.abs().sum() for g in grads) > 0
    absent = module._segment_loss(module._encoder_input("spectrum", batch), None, torch.zeros(8, dtype=torch.bool), 7,
                                  None, 0)
    assert absent.item() == 0.0                             # absent anchors are left out, as in every pair
