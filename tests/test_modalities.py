import math

import pytest
import torch
from torch import nn

from seisbind.modalities.blocks import Attention, Transformer
from seisbind.modalities.head import ModalityHead
from seisbind.modalities.spectra import LogSpectrogram, SeisCLIPSpectrum
from seisbind.modalities.spectrum import SpectrumTransformer
from seisbind.modalities.tabular import TabularMLP
from seisbind.modalities.timeseries import TimeSeriesEncoder


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def test_attention_matches_torch_multihead_attention_with_key_mask():
    width, heads = 32, 4
    ours = Attention(width, heads)
    reference = nn.MultiheadAttention(width, heads, batch_first=True)
    with torch.no_grad():
        reference.in_proj_weight.copy_(ours.qkv.weight)
        reference.in_proj_bias.copy_(ours.qkv.bias)
        reference.out_proj.weight.copy_(ours.proj.weight)
        reference.out_proj.bias.copy_(ours.proj.bias)
    x = torch.randn(3, 7, width)
    key_mask = torch.ones(3, 7, dtype=torch.bool)
    key_mask[1, 4:] = False
    expected, _ = reference(x, x, x, key_padding_mask=~key_mask, need_weights=False)
    torch.testing.assert_close(ours(x, key_mask), expected, atol=1e-5, rtol=1e-5)


def test_transformer_drop_path_is_active_only_in_training():
    trunk = Transformer(width=16, depth=3, heads=2, drop_path=0.5)
    x = torch.randn(8, 5, 16)
    trunk.eval()
    torch.testing.assert_close(trunk(x), trunk(x))
    trunk.train()
    assert not torch.allclose(trunk(x), trunk(x))


@pytest.mark.parametrize(
    "preprocess, preset, tokens",
    [
        (SeisCLIPSpectrum(nperseg=100), "seisclip", 44),
        (SeisCLIPSpectrum(nperseg=20), "seisclip", 236),
        (LogSpectrogram(), "tiny", 15 * 3),
    ],
)
def test_spectrum_presets_token_count_and_output(preprocess, preset, tokens):
    shape = preprocess.output_shape(12000)
    encoder = SpectrumTransformer.from_preset(preset, shape).eval()
    assert encoder.n_patches == tokens
    spectra = preprocess(torch.randn(2, 3, 12000))
    with torch.no_grad():
        out = encoder(spectra)
    assert out.shape == (2, encoder.out_dim) and torch.isfinite(out).all()
    if preset == "seisclip":
        assert encoder.out_dim == 384 and len(encoder.transformer.blocks) == 12
        assert encoder.transformer.blocks[0].attn.heads == 6
        assert encoder.grid == ((shape[1] - 16) // 10 + 1, 4)
        assert encoder.stem.weight.shape == (1, 3, 3, 5) and encoder.stem.bias is None
        assert encoder.n_extra == 2  # cls + distillation tokens


def test_spectrum_output_is_mean_of_cls_and_distillation_tokens():
    encoder = SpectrumTransformer((3, 40, 30), width=16, depth=1, heads=2, distill_token=True).eval()
    captured = {}
    encoder.transformer.register_forward_hook(lambda module, args, out: captured.update(states=out))
    with torch.no_grad():
        out = encoder(torch.randn(2, 3, 40, 30))
    torch.testing.assert_close(out, captured["states"][:, :2].mean(1))


def test_spectrum_rejects_spectra_smaller_than_a_patch_and_wrong_inputs():
    with pytest.raises(ValueError, match="cannot be divided into 16x16 patches"):
        SpectrumTransformer.from_preset("seisclip", (3, 120, 12))
    with pytest.raises(ValueError, match="unknown preset"):
        SpectrumTransformer.from_preset("huge", (3, 120, 50))
    encoder = SpectrumTransformer.from_preset("tiny", (3, 120, 50))
    with pytest.raises(ValueError, match="built for"):
        encoder(torch.randn(1, 3, 600, 50))
    with pytest.raises(ValueError, match="no mask"):
        encoder(torch.randn(1, 3, 120, 50), mask=torch.ones(1, 3))


def test_tabular_mlp_seisclip_shape_and_mask_input():
    encoder = TabularMLP((8,), width=512, depth=3, out_dim=384)
    linears = [m for m in encoder.net if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(16, 512), (512, 512), (512, 512), (512, 384)]
    x = torch.randn(4, 8)
    mask = torch.ones(4, 8)
    torch.testing.assert_close(encoder(x), encoder(x, mask))
    mask[0, 3] = 0
    assert not torch.allclose(encoder(x, mask)[0], encoder(x)[0])  # the mask reaches the network
    torch.testing.assert_close(encoder(x, mask)[1:], encoder(x)[1:])
    assert TabularMLP((8,), use_mask=False)(x).shape == (4, 384)
    with pytest.raises(ValueError, match="in_features=8"):
        encoder(torch.randn(4, 9))


def make_animal_encoder(**kwargs):
    return TimeSeriesEncoder((5, 96), patch_bins=8, width=32, depth=2, heads=4, **kwargs).eval()


def test_animal_encoder_ignores_absent_animals():
    encoder = make_animal_encoder()
    x = torch.rand(3, 5, 96)
    mask = torch.tensor([[1, 0, 1, 1, 0], [0, 0, 0, 0, 1], [1, 1, 1, 1, 1]], dtype=torch.bool)
    changed = x.clone()
    changed[0, 1] = torch.rand(96) * 50
    changed[0, 4] = float("nan")
    changed[1, :4] = torch.randn(4, 96)
    with torch.no_grad():
        out, out_changed = encoder(x, mask), encoder(changed, mask)
    assert out.shape == (3, 32)
    torch.testing.assert_close(out, out_changed, atol=1e-6, rtol=1e-6)
    present_changed = x.clone()
    present_changed[2, 0] += 1.0
    with torch.no_grad():
        assert not torch.allclose(encoder(present_changed, mask)[2], out[2])
        # absent series are zeroed, so the check above alone would not see the attention mask: perturb the
        # embedding of animals 1 and 4 instead; sample 0 (both absent) must not notice, sample 2 must
        encoder.channel_embed[:, [1, 4]] += torch.randn(1, 2, 1, 32)  # not constant: LayerNorm would remove that
        out_embed = encoder(x, mask)
    torch.testing.assert_close(out_embed[0], out[0], atol=1e-6, rtol=1e-6)
    assert not torch.allclose(out_embed[2], out[2])


def test_animal_encoder_all_absent_is_finite_with_finite_gradients():
    encoder = make_animal_encoder(drop_path=0.1).train()
    x = torch.rand(4, 5, 96)
    mask = torch.zeros(4, 5, dtype=torch.bool)
    mask[0, 2] = True
    out = encoder(x, mask)
    assert torch.isfinite(out).all()
    out.sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in encoder.parameters() if p.grad is not None)
    # with no animal at all, the output is that of the cls token alone
    encoder.eval()
    with torch.no_grad():
        cls_only = encoder.transformer(encoder.cls_token + encoder.cls_pos)[:, 0]
        out = encoder(torch.rand(2, 5, 96), torch.zeros(2, 5, dtype=torch.bool))
    torch.testing.assert_close(out, cls_only.expand(2, -1), atol=1e-6, rtol=1e-6)


def test_animal_encoder_rejects_bad_shapes():
    with pytest.raises(ValueError, match="multiple of patch_bins"):
        TimeSeriesEncoder((3, 100), patch_bins=8)
    with pytest.raises(ValueError, match="built for"):
        make_animal_encoder()(torch.rand(2, 4, 96), torch.ones(2, 4))


def test_modality_head_normalises_and_caps_the_logit_scale():
    head = ModalityHead(in_dim=32, embed_dim=16)
    out = head(torch.randn(5, 32))
    assert out.shape == (5, 16)
    torch.testing.assert_close(out.norm(dim=-1), torch.ones(5))
    assert math.isclose(head.logit_scale().item(), 1 / 0.07, rel_tol=1e-6)
    assert isinstance(head.log_logit_scale, nn.Parameter)
    with torch.no_grad():
        head.log_logit_scale.fill_(math.log(1000.0))
    assert math.isclose(head.logit_scale().item(), 100.0, rel_tol=1e-6)
    fixed = ModalityHead(in_dim=32, embed_dim=16, logit_scale_init=5.0, logit_scale_learnable=False)
    assert "log_logit_scale" not in dict(fixed.named_parameters())
    assert "log_logit_scale" in fixed.state_dict()
    assert math.isclose(fixed.logit_scale().item(), 5.0, rel_tol=1e-6)
    with pytest.raises(ValueError, match="logit_scale_max"):
        ModalityHead(in_dim=4, embed_dim=4, logit_scale_init=200.0)


def test_presets_build_through_hydra_targets():
    from hydra.utils import instantiate

    encoder = instantiate(
        {"_target_": "seisbind.modalities.spectrum.SpectrumTransformer.from_preset", "preset": "tiny"},
        input_shape=[3, 241, 50],
    )
    assert encoder.out_dim == 64 and encoder.n_patches == 45
