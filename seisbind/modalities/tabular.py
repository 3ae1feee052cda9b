"""Tabular encoder shared by the metadata and catalog-context modalities (one class, configured per modality).

Shape of SeisCLIP's info encoder (Si et al., arXiv 2309.02320): `depth` x (Linear -> LayerNorm -> QuickGELU), then a
Linear projection to `out_dim` (8 -> 512, 2 x 512 -> 512, 512 -> 384 in the paper). Missing values arrive as 0 with a
mask (1 = observed); with `use_mask` the mask is concatenated to the features, so "0 because missing" and
"observed 0" differ. SeisCLIP's own info encoder uses no mask (NaN -> 0 only) and a bias-free projection
(`use_mask=False, projection_bias=False`).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from seisbind.modalities.blocks import QuickGELU


class TabularMLP(nn.Module):
    """(B, in_features) scaled features [+ (B, in_features) mask] -> (B, out_dim).

    input_shape: (in_features,), the per-sample shape the data module reports for this modality.
    """

    def __init__(
        self, input_shape: tuple[int] | list[int], width: int = 512, depth: int = 3, out_dim: int = 384,
        use_mask: bool = True, projection_bias: bool = True,
    ) -> None:
        super().__init__()
        (in_features,) = (int(v) for v in input_shape)
        if min(in_features, width, depth, out_dim) < 1:
            raise ValueError(
                f"TabularMLP: in_features={in_features}, width={width}, depth={depth}, out_dim={out_dim} must be >= 1"
            )
        self.in_features = in_features
        self.use_mask = use_mask
        self.out_dim = out_dim
        layers: list[nn.Module] = []
        n_in = 2 * in_features if use_mask else in_features
        for _ in range(depth):
            layers += [nn.Linear(n_in, width), nn.LayerNorm(width), QuickGELU()]
            n_in = width
        layers.append(nn.Linear(width, out_dim, bias=projection_bias))
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        """x (B, in_features); mask (B, in_features), 1 = observed; no mask means every value was observed."""
        if x.shape[-1] != self.in_features:
            raise ValueError(f"TabularMLP: got {x.shape[-1]} features, built for in_features={self.in_features}")
        if self.use_mask:
            mask = torch.ones_like(x) if mask is None else mask.to(x.dtype)
            x = torch.cat([x, mask], dim=-1)
        return self.net(x)
