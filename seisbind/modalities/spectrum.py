"""Spectrum encoder (the anchor): an AST/DeiT-style vision transformer over a (C, T, F) spectrogram.

The SeisCLIP preset follows Si et al. (arXiv 2309.02320): a bias-free Conv2d stem mixing the 3 channels into one
image, 16x16 patches with stride 10 (44 tokens on (120, 50), 236 on (600, 50)), 384-d, 12 layers, 6 heads,
LayerNorm epsilon 1e-6 (timm's DeiT), cls + distillation tokens whose final states are averaged.
SeisCLIP's code has two stems: kernel (3, 5) padded (1, 2) (its 2024 pre-training code, the preset's default)
and kernel 5 unpadded (its 2023 zero-shot and fine-tuning code); both give the same patch grid.
"""

from __future__ import annotations

from typing import Any

import torch
from einops import rearrange
from torch import Tensor, nn

from seisbind.modalities.blocks import Transformer

PRESETS: dict[str, dict[str, Any]] = {
    # CPU demo size: a few hundred thousand parameters.
    "tiny": dict(width=64, depth=2, heads=4, patch=(16, 16), stride=(16, 16), conv_stem=False, distill_token=False),
    "seisclip": dict(width=384, depth=12, heads=6, patch=(16, 16), stride=(10, 10), conv_stem=True, distill_token=True,
                     norm_eps=1e-6),
}


def patch_grid(size: int, patch: int, stride: int) -> int:
    """Number of patches along one axis of length `size` (trailing bins the grid cannot reach are not seen)."""
    return (size - patch) // stride + 1


class SpectrumTransformer(nn.Module):
    """Patch embedding -> [cls (+ distillation)] + patches + learned positions -> transformer -> (B, width).

    input_shape: (C, T, F) of the spectra, e.g. `preprocess.output_shape(n_samples)`; the positional embedding
    is sized for it, so a spectrum smaller than one patch is rejected here rather than at the first batch.
    conv_stem: SeisCLIP's Conv2d C->1, kernel `stem_kernel` (time, freq), zero padding `stem_padding`, no bias,
    before patching; otherwise the channels go straight into the patch embedding. An unpadded stem shrinks the
    spectrum by kernel - 1 bins per axis before the patch grid is laid out.
    distill_token: DeiT's second token; the output is then the mean of the two token states.
    norm_eps: epsilon of the transformer's LayerNorms (1e-6 in timm's DeiT, which SeisCLIP wraps).
    """

    def __init__(
        self,
        input_shape: tuple[int, int, int] | list[int],
        width: int = 64,
        depth: int = 2,
        heads: int = 4,
        patch: tuple[int, int] | list[int] = (16, 16),
        stride: tuple[int, int] | list[int] = (16, 16),
        conv_stem: bool = False,
        distill_token: bool = False,
        mlp_ratio: float = 4.0,
        drop_path: float = 0.0,
        stem_kernel: tuple[int, int] | list[int] = (3, 5),
        stem_padding: tuple[int, int] | list[int] = (1, 2),
        norm_eps: float = 1e-5,
    ) -> None:
        super().__init__()
        channels, n_time, n_freq = (int(v) for v in input_shape)
        patch, stride = tuple(int(v) for v in patch), tuple(int(v) for v in stride)
        stem_kernel, stem_padding = tuple(int(v) for v in stem_kernel), tuple(int(v) for v in stem_padding)
        if min(stride) < 1 or min(patch) < 1:
            raise ValueError(f"SpectrumTransformer: patch {patch} and stride {stride} must be positive")
        if conv_stem:
            n_time, n_freq = (n + 2 * p - k + 1 for n, k, p in zip((n_time, n_freq), stem_kernel, stem_padding))
        if n_time < patch[0] or n_freq < patch[1]:
            raise ValueError(
                f"SpectrumTransformer: a spectrum of (time, freq) = ({n_time}, {n_freq}) cannot be divided into "
                f"{patch[0]}x{patch[1]} patches; use a smaller patch or a longer/finer spectrum "
                f"(e.g. a smaller hop_length or larger n_fft in the preprocess module)"
            )
        self.input_shape = tuple(int(v) for v in input_shape)
        self.grid = (patch_grid(n_time, patch[0], stride[0]), patch_grid(n_freq, patch[1], stride[1]))
        self.n_patches = self.grid[0] * self.grid[1]
        self.out_dim = width
        self.stem = (
            nn.Conv2d(channels, 1, kernel_size=stem_kernel, padding=stem_padding, bias=False) if conv_stem
            else nn.Identity()
        )
        self.patch_embed = nn.Conv2d(1 if conv_stem else channels, width, kernel_size=patch, stride=stride)
        self.n_extra = 2 if distill_token else 1
        self.extra_tokens = nn.Parameter(torch.zeros(1, self.n_extra, width))
        self.pos_embed = nn.Parameter(torch.zeros(1, self.n_extra + self.n_patches, width))
        nn.init.trunc_normal_(self.extra_tokens, std=0.02)
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        self.transformer = Transformer(width, depth, heads, mlp_ratio, drop_path, norm_eps)

    @classmethod
    def from_preset(cls, preset: str, input_shape: tuple[int, int, int] | list[int], **overrides: Any):
        """Build a named preset ("tiny", "seisclip"); keyword arguments override single settings."""
        if preset not in PRESETS:
            raise ValueError(f"SpectrumTransformer: unknown preset {preset!r}; choose one of {sorted(PRESETS)}")
        return cls(input_shape, **{**PRESETS[preset], **overrides})

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        """x (B, C, T, F) spectra -> (B, width)."""
        if mask is not None:
            raise ValueError("SpectrumTransformer: spectra carry no mask; the modality's batch must not give one")
        if tuple(x.shape[1:]) != self.input_shape:
            raise ValueError(
                f"SpectrumTransformer: got spectra of shape {tuple(x.shape[1:])}, built for {self.input_shape}; "
                "set input_shape from the preprocess module's output_shape(n_samples)"
            )
        patches = rearrange(self.patch_embed(self.stem(x)), "b d t f -> b (t f) d")
        tokens = torch.cat([self.extra_tokens.expand(x.shape[0], -1, -1), patches], dim=1) + self.pos_embed
        states = self.transformer(tokens)
        return states[:, : self.n_extra].mean(dim=1)
