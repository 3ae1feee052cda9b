"""SeisCLIP weight import: a reference SeisCLIP built from timm's DeiT (random weights, SeisCLIP's key names) is
exported, imported and must give the same embeddings in seisbind; broken files are refused with the keys named."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from seisbind.errors import SeisbindInputError
from seisbind.modalities.head import ModalityHead
from seisbind.modalities.metadata import SeisCLIPInfoInput, coda_duration_s
from seisbind.modalities.spectra import SeisCLIPSpectrum
from seisbind.module import SeisBindModule
from seisbind.pretrained.seisclip import import_seisclip, seisclip_modality
from tests.conftest import CONFIGS, compose_config

timm = pytest.importorskip("timm")

WIDTH = 384
STEM_PADDING = {(3, 5): (1, 2), (5, 5): (0, 0)}


# ---------------------------------------------------------------------------------------------- the reference
class InfoLayer(nn.Module):
    """Linear -> LayerNorm -> QuickGELU under SeisCLIP's attribute names."""

    def __init__(self, n_in: int, n_out: int) -> None:
        super().__init__()
        self.linear = nn.Linear(n_in, n_out)
        self.batchnorm = nn.LayerNorm(n_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.batchnorm(self.linear(x))
        return y * torch.sigmoid(1.702 * y)


class ReferenceInfo(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.FCN_input = InfoLayer(8, 512)
        self.FCN = nn.Sequential(InfoLayer(512, 512), InfoLayer(512, 512))
        self.proj = nn.Parameter(torch.randn(512, WIDTH) * 512 ** -0.5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.FCN(self.FCN_input(x)) @ self.proj


class ReferenceSpectrum(nn.Module):
    """SeisCLIP (Si et al., arXiv 2309.02320) on timm's DeiT-S: conv 3->1 stem, transpose to (freq, time), 16x16
    patches with stride 10, the 14x14 positional grid cut (or interpolated along time) as SeisCLIP initialises it,
    cls and distillation tokens averaged after the final norm."""

    def __init__(self, frames: int, stem_kernel: tuple[int, int]) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 1, stem_kernel, padding=STEM_PADDING[stem_kernel], bias=False)
        self.v = timm.create_model("deit_small_distilled_patch16_224", pretrained=False)
        self.v.patch_embed.proj = nn.Conv2d(1, WIDTH, kernel_size=16, stride=10)
        self.mlp_head = nn.Sequential(nn.LayerNorm(WIDTH), nn.Linear(WIDTH, 527))  # unused, as in SeisCLIP
        with torch.no_grad():
            f_dim, t_dim = self.v.patch_embed.proj(self.conv1(torch.zeros(1, 3, frames, 50)).transpose(2, 3)).shape[2:]
            grid = self.v.pos_embed[:, 2:].reshape(1, 14, 14, WIDTH).permute(0, 3, 1, 2)
            if t_dim <= 14:
                grid = grid[..., 7 - t_dim // 2: 7 - t_dim // 2 + t_dim]
            else:
                grid = F.interpolate(grid, size=(14, t_dim), mode="bilinear")
            grid = grid[:, :, 7 - f_dim // 2: 7 - f_dim // 2 + f_dim]
            self.v.pos_embed = nn.Parameter(torch.cat([self.v.pos_embed[:, :2], grid.flatten(2).transpose(1, 2)], 1))

    def forward(self, spectra: torch.Tensor) -> torch.Tensor:
        x = self.v.patch_embed.proj(self.conv1(spectra).transpose(2, 3)).flatten(2).transpose(1, 2)
        b = x.shape[0]
        x = torch.cat([self.v.cls_token.expand(b, -1, -1), self.v.dist_token.expand(b, -1, -1), x], 1)
        x = self.v.norm(self.v.blocks(x + self.v.pos_embed))
        return (x[:, 0] + x[:, 1]) / 2


class ReferenceSeisCLIP(nn.Module):
    def __init__(self, frames: int, stem_kernel: tuple[int, int]) -> None:
        super().__init__()
        self.spec = ReferenceSpectrum(frames, stem_kernel)
        self.info = ReferenceInfo()
        self.logit_scale_at = nn.Parameter(torch.tensor(math.log(100.0)))


def make_reference(frames: int, stem_kernel: tuple[int, int], seed: int = 0) -> ReferenceSeisCLIP:
    """Random weights, every tensor perturbed so that LayerNorm scales, biases and tokens all matter."""
    torch.manual_seed(seed)
    model = ReferenceSeisCLIP(frames, stem_kernel).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * (0.1 if p.ndim <= 1 else 0.02))
        model.logit_scale_at.fill_(math.log(30.0))
    return model


def waveforms(n: int, seed: int = 1) -> torch.Tensor:
    """Noise with a decaying 5 Hz burst at a different time in each trace: (n, 3, 12000) counts at 100 Hz."""
    gen = torch.Generator().manual_seed(seed)
    t = torch.arange(12000) / 100.0
    onset = 5.0 + 10.0 * torch.rand(n, 1, 1, generator=gen)
    burst = torch.sin(2 * math.pi * 5.0 * t) * torch.exp(-(t - onset).clamp(min=0) / 4.0) * (t >= onset)
    return (200.0 * burst + torch.randn(n, 3, 12000, generator=gen)).float()


@pytest.fixture(scope="module")
def seisclip_file(tmp_path_factory: pytest.TempPathFactory):
    """(frames, stem) -> (reference model, its state dict saved in SeisCLIP's key names), built once each."""
    folder = tmp_path_factory.mktemp("seisclip")
    cache: dict = {}

    def get(frames: int, stem: tuple[int, int]) -> tuple[ReferenceSeisCLIP, Path]:
        if (frames, stem) not in cache:
            model = make_reference(frames, stem)
            path = folder / f"seisclip_{frames}_{stem[0]}x{stem[1]}.pt"
            torch.save(model.state_dict(), path)
            cache[frames, stem] = model, path
        return cache[frames, stem]

    return get


# ---------------------------------------------------------------------------------------------- parity
@pytest.mark.parametrize("frames, stem", [(120, (3, 5)), pytest.param(600, (5, 5), marks=pytest.mark.slow)])
def test_imported_checkpoint_embeds_like_seisclip(seisclip_file, tmp_path: Path, frames, stem) -> None:
    reference, src = seisclip_file(frames, stem)
    result = import_seisclip(src, tmp_path / "seisclip.ckpt")
    assert (result.spectrum_frames, result.source_frames, result.stem_kernel) == (frames, frames, stem)
    assert result.dropped == sorted(k for k in reference.state_dict() if "head" in k)

    module = SeisBindModule.load_from_checkpoint(result.checkpoint, map_location="cpu").eval()
    x = waveforms(3)
    spectra = SeisCLIPSpectrum(nperseg={120: 100, 600: 20}[frames])(x)
    assert spectra.shape == (3, 3, frames, 50)
    info = torch.rand(3, 8)
    with torch.no_grad():
        expected_spec, expected_info = reference.spec(spectra), reference.info(info)
        got_spec = module.encoders["spectrum"](spectra)
        got_info = module.encoders["metadata"](info)
        embedded = module.embed({"spectrum": {"x": x}, "metadata": {"x": info, "mask": torch.ones(3, 8)}})
    spec_diff = (got_spec - expected_spec).abs().max().item()
    info_diff = (got_info - expected_info).abs().max().item()
    print(f"max |seisbind - SeisCLIP reference|: spectrum {spec_diff:.2e}, info {info_diff:.2e} "
          f"(feature scale {expected_spec.abs().max():.2f}, {expected_info.abs().max():.2f})")
    assert spec_diff < 1e-5 and info_diff < 1e-5
    torch.testing.assert_close(embedded["spectrum"], F.normalize(expected_spec, dim=-1), atol=1e-5, rtol=0)
    torch.testing.assert_close(embedded["metadata"], F.normalize(expected_info, dim=-1), atol=1e-5, rtol=0)
    # the pair's temperature is SeisCLIP's logit scale
    assert module.heads["metadata"].logit_scale().item() == pytest.approx(30.0, rel=1e-6)


@pytest.mark.slow
def test_positional_embedding_is_cut_from_the_middle_for_shorter_spectra(seisclip_file, tmp_path: Path) -> None:
    reference, src = seisclip_file(600, (5, 5))
    result = import_seisclip(src, tmp_path / "short.ckpt", spectrum_frames=120)
    assert (result.source_frames, result.spectrum_frames) == (600, 120)
    assert result.modality["spectrum"]["preprocess"]["nperseg"] == 100
    written = torch.load(result.checkpoint, map_location="cpu", weights_only=False)["state_dict"]
    source = reference.spec.v.pos_embed.detach()
    grid = source[0, 2:].reshape(4, 59, WIDTH)[:, 29 - 5: 29 - 5 + 11]          # (freq, time, width)
    expected = torch.cat([source[0, :2], grid.transpose(0, 1).reshape(44, WIDTH)])  # seisbind: time-major
    torch.testing.assert_close(written["encoders.spectrum.pos_embed"][0], expected)


# ---------------------------------------------------------------------------------------------- bad files
def test_unknown_missing_and_misshapen_keys_are_listed(seisclip_file, tmp_path: Path) -> None:
    reference, _ = seisclip_file(120, (3, 5))
    state = dict(reference.state_dict())
    state["spec.v.extra_adapter.weight"] = torch.zeros(3)
    del state["spec.v.blocks.3.attn.qkv.bias"], state["info.FCN.1.batchnorm.weight"]
    torch.save(state, tmp_path / "broken.pt")
    with pytest.raises(SeisbindInputError, match="broken.pt") as err:
        import_seisclip(tmp_path / "broken.pt", tmp_path / "out.ckpt")
    for key in ("spec.v.extra_adapter.weight", "spec.v.blocks.3.attn.qkv.bias", "info.FCN.1.batchnorm.weight"):
        assert key in str(err.value)

    state = dict(reference.state_dict())
    state["info.proj"] = torch.zeros(512, 256)
    torch.save({"state_dict": {f"module.{k}": v for k, v in state.items()}}, tmp_path / "wrapped.pt")
    with pytest.raises(SeisbindInputError, match=r"info.proj -> encoders.metadata.net.9.weight: \(256, 512\)"):
        import_seisclip(tmp_path / "wrapped.pt", tmp_path / "out.ckpt")
    assert not (tmp_path / "out.ckpt").exists()

    torch.save(state, tmp_path / "frames.pt")
    with pytest.raises(SeisbindInputError, match="spectrum_frames=300"):
        import_seisclip(tmp_path / "frames.pt", tmp_path / "out.ckpt", spectrum_frames=300)
    (tmp_path / "text.pt").write_text("not a checkpoint")
    with pytest.raises(SeisbindInputError, match="text.pt: not a file written by torch.save"):
        import_seisclip(tmp_path / "text.pt", tmp_path / "out.ckpt")


def test_identity_head_needs_the_encoder_width() -> None:
    features = torch.randn(4, WIDTH)
    torch.testing.assert_close(ModalityHead(WIDTH, WIDTH, projection="identity")(features),
                               F.normalize(features, dim=-1))
    assert not list(ModalityHead(WIDTH, WIDTH, projection="identity", logit_scale_learnable=False).parameters())
    with pytest.raises(ValueError, match="embed_dim to 384"):
        ModalityHead(WIDTH, 128, projection="identity")


# ---------------------------------------------------------------------------------------------- info fields
def test_info_input_scales_instance_columns_like_seisclip() -> None:
    index = pd.DataFrame({
        "trace_P_arrival_sample": [1500.0, 1500.0, np.nan], "path_weight_phase_location_P": [0.8, 1.0, np.nan],
        "path_travel_time_P_s": [6.0, 30.0, np.nan], "trace_S_arrival_sample": [2100.0, np.nan, np.nan],
        "path_weight_phase_location_S": [0.5, np.nan, np.nan], "path_ep_distance_km": [30.0, 150.0, np.nan],
        "path_backazimuth_deg": [90.0, 270.0, np.nan], "source_magnitude": [2.0, 5.5, np.nan]})
    info = SeisCLIPInfoInput(offset_samples=500)
    info.setup(index, None, "raise")
    batch = info.batch(np.arange(3))
    first, second, noise = ({key: value[i] for key, value in batch.items()} for i in range(3))
    coda = (1000 + 100 * 10 ** ((2.0 + 0.87 - 0.0035 * 30) / 2)) / 6000
    np.testing.assert_allclose(first["x"].numpy(), [1000 / 6000, 0.8, 0.1, 1600 / 6000, 0.5, 0.1, 0.25, coda],
                               rtol=1e-6)
    assert first["mask"].all() and first["present"]
    assert second["x"][7] == 1.0                                  # a long coda ends with the 6000-sample window
    assert second["x"][3] == 0 and not second["mask"][3]          # no S pick: 0, as SeisCLIP's NaN -> 0
    assert not noise["present"] and (noise["x"] == 0).all()
    assert info.shape == (8,) and first["x"].dtype == torch.float32
    assert coda_duration_s(np.array([2.0]), np.array([0.0]))[0] == pytest.approx(10 ** 1.435)


def test_configs_are_the_seisclip_architecture() -> None:
    modality = seisclip_modality(nperseg=20, stem_kernel=(5, 5))
    assert modality["spectrum"]["preprocess"]["nperseg"] == 20
    assert modality["spectrum"]["encoder"]["stem_padding"] == [0, 0]
    module = SeisBindModule(seisclip_modality(), {"spectrum": [3, 12000], "metadata": [8]}, anchor="spectrum",
                            embed_dim=WIDTH)
    encoder = module.encoders["spectrum"]
    assert encoder.grid == (11, 4) and encoder.transformer.norm.eps == 1e-6
    assert sum(p.numel() for p in module.encoders["metadata"].parameters()) == \
        sum(p.numel() for p in ReferenceInfo().parameters())


def test_importer_builds_only_allowed_targets(seisclip_file, tmp_path: Path) -> None:
    """The importer builds its model from modality configs in a folder the caller may choose: a `_target_` there
    passes the same allowlist as a checkpoint's (seisbind/allowlist.py), and nothing is written."""
    _, src = seisclip_file(120, (3, 5))
    configs = tmp_path / "configs"
    (configs / "modality").mkdir(parents=True)
    for name in ("spectrum_seisclip", "metadata_seisclip"):
        text = (CONFIGS / "modality" / f"{name}.yaml").read_text()
        (configs / "modality" / f"{name}.yaml").write_text(
            text.replace("seisbind.modalities.tabular.TabularMLP", "seisbind.modalities.tabular.torch.load"))
    with pytest.raises(SeisbindInputError, match=r"^modality\.metadata\.encoder\._target_="
                                                 r"'seisbind\.modalities\.tabular\.torch\.load': not a buildable"):
        import_seisclip(src, tmp_path / "out.ckpt", configs=configs)
    assert not (tmp_path / "out.ckpt").exists()


# ---------------------------------------------------------------------------------------------- entry points
@pytest.mark.slow
@pytest.mark.parametrize("overrides", [["experiment=seisclip_pretrained"],
                                       ["experiment=seisclip", "modality=[spectrum_seisclip,metadata_seisclip]",
                                        "model.embed_dim=384"]])
def test_imported_checkpoint_initialises_training_and_probe(seisclip_file, synthetic_root: Path, tmp_path: Path,
                                                            overrides) -> None:
    from seisbind.train import train

    _, src = seisclip_file(120, (3, 5))
    ckpt = import_seisclip(src, tmp_path / "seisclip.ckpt").checkpoint
    cfg = compose_config("train", [f"data.root={synthetic_root}", *overrides, f"model.init_from={ckpt}",
                                   "trainer.max_epochs=1", "+trainer.limit_train_batches=1",
                                   "+trainer.limit_val_batches=1", "data.batch_size=8", "logger=none",
                                   "callbacks.progress_bar=null"], tmp_path / "run")
    assert cfg.model.embed_dim == WIDTH and list(cfg.modality) == ["spectrum", "metadata"]
    imported = torch.load(ckpt, map_location="cpu", weights_only=False)["state_dict"]
    initial = SeisBindModule(cfg.modality, {"spectrum": [3, 12000], "metadata": [8]}, anchor="spectrum",
                             embed_dim=WIDTH, init_from=str(ckpt)).state_dict()
    assert all(torch.equal(initial[k], v) for k, v in imported.items())
    result = train(cfg)
    assert np.isfinite(result["metrics"]["val/loss"])
    assert SeisBindModule.from_checkpoint(ckpt).hparams.modality["metadata"]["input"]["_target_"] == \
        "seisbind.modalities.metadata.SeisCLIPInfoInput"
