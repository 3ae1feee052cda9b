"""Pretrained SeisCLIP (Si et al., IEEE TGRS 2024, arXiv 2309.02320) inside seisbind: its info fields from INSTANCE
columns and the mapping of its released weights onto seisbind's modules.

SeisCLIP's released files (STEAD-1M, spectra 50 x 120 and 50 x 600) are plain state dicts of its CLIP model:
`spec.*`, an AST-style wrapper around timm's `deit_small_distilled_patch16_224` (a Conv2d 3 -> 1 stem `conv1`,
the ViT under `v.`, an unused classification head `mlp_head`), `info.*`, the 8 -> 512 -> 512 -> 512 -> 384 info
MLP (`FCN_input`, `FCN.<i>` each Linear `linear` + LayerNorm `batchnorm` + QuickGELU, then a bias-free matrix
`proj` applied as `x @ proj`), and `logit_scale_at`. seisbind holds the same network as the `seisclip` spectrum
preset (anchor "spectrum"), a `TabularMLP` (modality "metadata") and identity heads; the only real differences
are layouts:
- SeisCLIP transposes the stem output to (freq, time) before patching, seisbind patches (time, freq): the patch
  kernel is transposed and the positional embedding re-ordered from freq-major to time-major tokens. Attention
  does not depend on the token order, so the outputs agree to float rounding.
- timm keeps the cls and distillation tokens apart, seisbind stacks them in `extra_tokens`.
- `proj` is the transposed weight of a bias-free Linear.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightning
import torch
import torch.nn.functional as F
from einops import rearrange
from omegaconf import OmegaConf
from torch import Tensor

from seisbind.checkpoints import load_untrusted
from seisbind.data.instance_schema import TRACE_NPTS
from seisbind.errors import SeisbindInputError
from seisbind.files import atomic_path
from seisbind.modalities.metadata import SEISCLIP_WINDOW_SAMPLES
from seisbind.modalities.spectra import SEISCLIP_NFFT, seisclip_stft_frames
from seisbind.modalities.spectrum import patch_grid
from seisbind.module import SeisBindModule

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
SPECTRUM, INFO = "spectrum", "metadata"
"""Modality names the SeisCLIP-compatible configs use (configs/modality/{spectrum,metadata}_seisclip.yaml)."""

STEMS: dict[tuple[int, int], tuple[int, int]] = {(3, 5): (1, 2), (5, 5): (0, 0)}
"""Stem kernel -> padding of SeisCLIP's two code versions (2024 pre-training code; 2023 zero-shot code)."""

FRAMES_TO_NPERSEG = {seisclip_stft_frames(SEISCLIP_WINDOW_SAMPLES, n): n for n in (100, 20)}
"""Spectrum length of SeisCLIP's two released models -> the STFT segment length that gives it (120: 100, 600: 20)."""

UNUSED_PREFIXES = ("spec.mlp_head.", "spec.v.head.", "spec.v.head_dist.")
"""Classification heads that SeisCLIP's embeddings never pass through: accepted in a source file and dropped."""

BLOCK_PARTS = {"norm1": "norm1", "attn.qkv": "attn.qkv", "attn.proj": "attn.proj", "norm2": "norm2",
               "mlp.fc1": "mlp.0", "mlp.fc2": "mlp.2"}
"""timm Block sub-module -> seisbind Block sub-module (each with .weight and .bias)."""


# ------------------------------------------------------------------------------------------------ source files
def read_seisclip_state(path: str | Path) -> dict[str, Tensor]:
    """The tensors of a SeisCLIP weight file: a plain state dict, possibly under "state_dict"/"model" or with
    DDP's "module." prefix. Loaded with weights_only=True: a file that needs arbitrary unpickling is refused."""
    state = load_untrusted(path, key="src")
    for wrapper in ("state_dict", "model"):
        if isinstance(state, Mapping) and isinstance(state.get(wrapper), Mapping):
            state = state[wrapper]
    if not isinstance(state, Mapping) or not all(isinstance(v, Tensor) for v in state.values()):
        raise SeisbindInputError(f"{path}: expected a mapping of parameter names to tensors, got {type(state)}")
    if state and all(k.startswith("module.") for k in state):
        state = {k.removeprefix("module."): v for k, v in state.items()}
    return dict(state)


def source_stem(state: Mapping[str, Tensor], path: str | Path = "source") -> tuple[tuple[int, int], tuple[int, int]]:
    """(kernel, padding) of the source's conv stem, read from the shape of `spec.conv1.weight`."""
    weight = state.get("spec.conv1.weight")
    if weight is None:
        raise SeisbindInputError(f"{path}: no 'spec.conv1.weight'; is this a SeisCLIP checkpoint?")
    kernel = tuple(weight.shape[-2:])
    if weight.ndim != 4 or tuple(weight.shape[:2]) != (1, 3) or kernel not in STEMS:
        raise SeisbindInputError(
            f"{path}: spec.conv1.weight has shape {tuple(weight.shape)}; SeisCLIP's stems are (1, 3, 3, 5) and "
            "(1, 3, 5, 5)")
    return kernel, STEMS[kernel]


def source_time_patches(state: Mapping[str, Tensor], freq_patches: int, path: str | Path = "source") -> int:
    """Number of patches along time in the source's positional embedding (11 for 120 frames, 59 for 600)."""
    pos = state.get("spec.v.pos_embed")
    if pos is None or pos.ndim != 3 or (pos.shape[1] - 2) % freq_patches:
        raise SeisbindInputError(
            f"{path}: spec.v.pos_embed {None if pos is None else tuple(pos.shape)} is not (1, 2 + "
            f"{freq_patches} x time patches, width)")
    return (pos.shape[1] - 2) // freq_patches


def resize_grid(grid: Tensor, size: tuple[int, int]) -> Tensor:
    """A (width, H, W) positional grid brought to `size` the way SeisCLIP adapts its positional embedding: the
    last axis first, then the first; an axis that shrinks is cut from its middle, one that grows is bilinearly
    interpolated."""
    for axis, new in ((2, size[1]), (1, size[0])):
        old = grid.shape[axis]
        if new < old:
            grid = grid.narrow(axis, old // 2 - new // 2, new)
        elif new > old:
            target = [grid.shape[1], grid.shape[2]]
            target[axis - 1] = new
            grid = F.interpolate(grid[None], size=tuple(target), mode="bilinear")[0]
    return grid


# ------------------------------------------------------------------------------------------------ key mapping
def _same(tensor: Tensor) -> Tensor:
    """The transform of every tensor whose layout seisbind shares."""
    return tensor


@dataclass
class Mapped:
    """The seisbind tensors built from a source file and what was left out of it."""

    tensors: dict[str, Tensor]
    dropped: list[str] = field(default_factory=list)


def convert_state_dict(state: Mapping[str, Tensor], module: torch.nn.Module, *,
                       path: str | Path = "source") -> Mapped:
    """SeisCLIP's state dict -> seisbind state-dict entries for `module` (a SeisBindModule built from the
    SeisCLIP-compatible modality configs). The depths and the spectrum's patch grid come from `module`; a source
    grid of another length is resized along time (`resize_grid`).

    Raises SeisbindInputError listing every unknown and every missing source key, and every tensor whose shape
    does not fit, so one run tells all that is wrong with a file.
    """
    spectrum, info = module.encoders[SPECTRUM], module.encoders[INFO]
    n_blocks = len(spectrum.transformer.blocks)
    info_linears = [i for i, layer in enumerate(info.net) if isinstance(layer, torch.nn.Linear)]
    time_patches, freq_patches = spectrum.grid

    # (source key(s), seisbind key, transform of the source tensor(s))
    rules: list[tuple[tuple[str, ...], str, Callable[..., Tensor]]] = []
    spec = f"encoders.{SPECTRUM}"
    rules += [(("spec.conv1.weight",), f"{spec}.stem.weight", _same),
              (("spec.v.patch_embed.proj.weight",), f"{spec}.patch_embed.weight", lambda t: t.transpose(-1, -2)),
              (("spec.v.patch_embed.proj.bias",), f"{spec}.patch_embed.bias", _same),
              (("spec.v.cls_token", "spec.v.dist_token"), f"{spec}.extra_tokens", lambda c, d: torch.cat([c, d], 1))]
    for i in range(n_blocks):
        for theirs, ours in BLOCK_PARTS.items():
            for kind in ("weight", "bias"):
                rules.append(((f"spec.v.blocks.{i}.{theirs}.{kind}",),
                              f"{spec}.transformer.blocks.{i}.{ours}.{kind}", _same))
    rules += [((f"spec.v.norm.{kind}",), f"{spec}.transformer.norm.{kind}", _same) for kind in ("weight", "bias")]

    source_time = source_time_patches(state, freq_patches, path) if "spec.v.pos_embed" in state else time_patches

    def positions(pos: Tensor) -> Tensor:
        grid = rearrange(pos[0, 2:], "(f t) d -> d f t", f=freq_patches, t=source_time)
        grid = resize_grid(grid, (freq_patches, time_patches))
        return torch.cat([pos[:, :2], rearrange(grid, "d f t -> 1 (t f) d")], dim=1)

    rules.append((("spec.v.pos_embed",), f"{spec}.pos_embed", positions))

    if len(info_linears) < 2:
        raise SeisbindInputError(f"modality {INFO!r}: its TabularMLP has no hidden layer, unlike SeisCLIP's")
    layers = ["info.FCN_input"] + [f"info.FCN.{j}" for j in range(len(info_linears) - 2)]
    for theirs, linear in zip(layers, info_linears[:-1]):
        for kind in ("weight", "bias"):
            rules.append(((f"{theirs}.linear.{kind}",), f"encoders.{INFO}.net.{linear}.{kind}", _same))
            rules.append(((f"{theirs}.batchnorm.{kind}",), f"encoders.{INFO}.net.{linear + 1}.{kind}", _same))
    rules.append((("info.proj",), f"encoders.{INFO}.net.{info_linears[-1]}.weight", lambda t: t.T))
    rules.append((("logit_scale_at",), f"heads.{INFO}.log_logit_scale", _same))

    expected = {key for sources, _, _ in rules for key in sources}
    dropped = sorted(k for k in state if k.startswith(UNUSED_PREFIXES))
    unknown = sorted(set(state) - expected - set(dropped))
    missing = sorted(expected - set(state))
    if unknown or missing:
        raise SeisbindInputError(
            f"{path}: not the layout of a SeisCLIP checkpoint ({n_blocks} spectrum blocks, {len(layers)} info "
            f"layers): unknown keys {unknown or 'none'}; missing keys {missing or 'none'}")

    target = module.state_dict()
    tensors, wrong = {}, []
    for sources, key, transform in rules:
        try:
            value = transform(*(state[k] for k in sources))
        except RuntimeError as err:  # a reshape of a tensor that has the wrong size
            wrong.append(f"{'+'.join(sources)}: {[tuple(state[k].shape) for k in sources]} ({err})")
            continue
        if value.shape != target[key].shape:
            wrong.append(f"{'+'.join(sources)} -> {key}: {tuple(value.shape)} vs {tuple(target[key].shape)}")
            continue
        tensors[key] = value.to(target[key].dtype).contiguous()
    if wrong:
        raise SeisbindInputError(f"{path}: tensors whose shapes do not fit the SeisCLIP architecture: {wrong}")
    uncovered = sorted(name for name, _ in module.named_parameters() if name not in tensors)
    if uncovered:
        raise SeisbindInputError(
            f"parameters without a SeisCLIP counterpart: {uncovered}; build the module from the SeisCLIP-compatible "
            "modality configs (spectrum_seisclip, metadata_seisclip: identity heads, bias-free info projection)")
    return Mapped(tensors, dropped)


# ------------------------------------------------------------------------------------------------ checkpoints
def seisclip_modality(*, nperseg: int = 100, stem_kernel: tuple[int, int] = (3, 5),
                      configs: Path = CONFIGS) -> dict:
    """The modality configs of configs/modality/{spectrum,metadata}_seisclip.yaml with the STFT segment length and
    the stem of a given source file."""
    merged = OmegaConf.merge(*(OmegaConf.load(configs / "modality" / f"{name}_seisclip.yaml")
                               for name in (SPECTRUM, INFO)))
    modality = OmegaConf.to_container(merged, resolve=True)
    modality[SPECTRUM]["preprocess"]["nperseg"] = nperseg
    modality[SPECTRUM]["encoder"]["stem_kernel"] = list(stem_kernel)
    modality[SPECTRUM]["encoder"]["stem_padding"] = list(STEMS[tuple(stem_kernel)])
    return modality


def save_checkpoint(module: SeisBindModule, out: str | Path, **provenance: Any) -> Path:
    """A checkpoint `SeisBindModule.load_from_checkpoint` reads: weights, hyperparameters, Lightning version; plus
    where the weights came from under "seisclip_import"."""
    out = Path(out)
    with atomic_path(out) as tmp:
        torch.save({"state_dict": module.state_dict(), "hyper_parameters": dict(module.hparams),
                    "pytorch-lightning_version": lightning.__version__, "seisclip_import": provenance}, tmp)
    return out


def sha256(path: Path) -> str:
    """Hex digest of a file, recorded so an imported checkpoint names the exact release it came from."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def stem_patch_grid(n_bins: int, kernel: int, padding: int) -> int:
    """Patches of SeisCLIP's 16-bin, stride-10 grid along an axis of `n_bins` bins after the conv stem."""
    return patch_grid(n_bins + 2 * padding - kernel + 1, 16, 10)


@dataclass
class ImportResult:
    """What `import_seisclip` wrote and read: the checkpoint, the spectrum lengths (frames) of the checkpoint and
    of the source, the source's stem kernel, the source tensors left out, the modality configs saved."""

    checkpoint: Path
    spectrum_frames: int
    source_frames: int
    stem_kernel: tuple[int, int]
    dropped: list[str]
    modality: dict


def import_seisclip(src: str | Path, out: str | Path, *, spectrum_frames: int | None = None,
                    n_samples: int = TRACE_NPTS, configs: Path = CONFIGS) -> ImportResult:
    """Map a SeisCLIP weight file onto seisbind's SeisCLIP-compatible modules and write a seisbind checkpoint.

    spectrum_frames: 120 or 600 time frames (STFT segments of 100 or 20 samples); default: the source's own. A
    different length resizes the positional embedding as SeisCLIP does (cut from the middle / interpolate).
    n_samples: trace length the data module delivers (12000 for INSTANCE); the spectrum sees its first 6000.
    """
    src = Path(src)
    state = read_seisclip_state(src)
    kernel, padding = source_stem(state, src)
    freq_patches = stem_patch_grid(SEISCLIP_NFFT // 2, kernel[1], padding[1])
    time_patches = source_time_patches(state, freq_patches, src)
    source_frames = next((frames for frames in FRAMES_TO_NPERSEG
                          if stem_patch_grid(frames, kernel[0], padding[0]) == time_patches), None)
    if source_frames is None:
        raise SeisbindInputError(f"{src}: {time_patches} time patches match neither released SeisCLIP model "
                                 f"(spectra of {sorted(FRAMES_TO_NPERSEG)} frames)")
    frames = source_frames if spectrum_frames is None else int(spectrum_frames)
    if frames not in FRAMES_TO_NPERSEG:
        raise SeisbindInputError(f"spectrum_frames={spectrum_frames}: choose one of {sorted(FRAMES_TO_NPERSEG)}")
    modality = seisclip_modality(nperseg=FRAMES_TO_NPERSEG[frames], stem_kernel=kernel, configs=configs)
    input_shapes = {SPECTRUM: [3, int(n_samples)], INFO: [8]}
    embed_dim = int(modality[INFO]["encoder"]["out_dim"])  # identity heads: the encoders' common width, 384
    module = SeisBindModule(modality, input_shapes, anchor=SPECTRUM, embed_dim=embed_dim)
    mapped = convert_state_dict(state, module, path=src)
    module.load_state_dict(module.state_dict() | mapped.tensors, strict=True)
    checkpoint = save_checkpoint(module, out, source=str(src), source_sha256=sha256(src),
                                 source_frames=source_frames, spectrum_frames=frames, stem_kernel=list(kernel))
    return ImportResult(checkpoint, frames, source_frames, kernel, mapped.dropped, modality)

