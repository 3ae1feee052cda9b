"""Multichannel time-series encoder: ImageBind-IMU-style patching, with absent channels masked out.

ImageBind's IMU encoder unfolds each channel's time series into patches of 8 samples, embeds them with
Linear + LayerNorm, prepends a cls token, adds learned positions (std 0.01) and runs a transformer. Here each
(channel, patch) pair is its own token: the channel's identity is a learned embedding added to the time-patch
position. Tokens of an absent channel are excluded from attention with a key mask, so they cannot change the
output; the cls token is always attendable, so a sample without any channel stays finite.

One class serves every modality that is a set of series over the window before a trace: the animal modality
(a channel = one tagged animal's ODBA, configs/modality/animal.yaml) and the GNSS modality (a channel = one
component of one nearby station's detrended displacement, configs/modality/gnss.yaml).
"""

from __future__ import annotations

import torch
from einops import rearrange
from torch import Tensor, nn

from seisbind.modalities.blocks import Transformer


class TimeSeriesEncoder(nn.Module):
    """x (B, n_channels, n_bins) with mask (B, n_channels) 1 = channel observed -> (B, width).

    input_shape: (n_channels, n_bins), as the data module reports it. n_bins must be a multiple of patch_bins
    (each token covers patch_bins consecutive bins of one channel).
    Series of present channels must be finite (the data layer fills gaps); absent channels' values are ignored.
    """

    def __init__(
        self,
        input_shape: tuple[int, int] | list[int],
        patch_bins: int = 8,
        width: int = 64,
        depth: int = 2,
        heads: int = 4,
        mlp_ratio: float = 4.0,
        drop_path: float = 0.0,
    ) -> None:
        super().__init__()
        n_channels, n_bins = (int(v) for v in input_shape)
        if n_channels < 1 or patch_bins < 1 or n_bins < patch_bins or n_bins % patch_bins:
            raise ValueError(
                f"TimeSeriesEncoder: n_bins={n_bins} must be a positive multiple of patch_bins={patch_bins} "
                f"and n_channels={n_channels} >= 1; change the window length, the bin size or patch_bins"
            )
        self.n_channels = n_channels
        self.n_bins = n_bins
        self.patch_bins = patch_bins
        self.n_patches = n_bins // patch_bins
        self.out_dim = width
        self.embed = nn.Sequential(nn.Linear(patch_bins, width), nn.LayerNorm(width))
        self.cls_token = nn.Parameter(torch.zeros(1, 1, width))
        self.cls_pos = nn.Parameter(torch.zeros(1, 1, width))
        self.time_pos = nn.Parameter(torch.zeros(1, 1, self.n_patches, width))
        self.channel_embed = nn.Parameter(torch.zeros(1, n_channels, 1, width))
        for parameter in (self.cls_token, self.cls_pos, self.time_pos, self.channel_embed):
            nn.init.normal_(parameter, std=0.01)
        self.transformer = Transformer(width, depth, heads, mlp_ratio, drop_path)

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        batch = x.shape[0]
        if tuple(x.shape[1:]) != (self.n_channels, self.n_bins):
            raise ValueError(
                f"TimeSeriesEncoder: got series of shape {tuple(x.shape[1:])}, built for "
                f"(n_channels, n_bins) = ({self.n_channels}, {self.n_bins})"
            )
        present = torch.ones(x.shape[:2], dtype=torch.bool, device=x.device) if mask is None else mask.bool()
        # Zero absent series: masked keys get zero attention weight, but 0 * NaN would still be NaN.
        x = x.masked_fill(~present[..., None], 0.0)
        patches = rearrange(x, "b a (p k) -> b a p k", k=self.patch_bins)
        tokens = self.embed(patches) + self.time_pos + self.channel_embed
        tokens = rearrange(tokens, "b a p d -> b (a p) d")
        cls = (self.cls_token + self.cls_pos).expand(batch, -1, -1)
        key_mask = torch.cat(
            [present.new_ones(batch, 1), present.repeat_interleave(self.n_patches, dim=1)], dim=1
        )
        states = self.transformer(torch.cat([cls, tokens], dim=1), key_mask)
        return states[:, 0]
