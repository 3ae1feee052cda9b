"""Building blocks shared by the encoders: a pre-norm transformer on scaled_dot_product_attention, a tabular MLP block.

One transformer implementation serves every token-based encoder (spectrum, animal), so a fix or a speed-up lands in
all of them at once.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor, nn


class QuickGELU(nn.Module):
    """x * sigmoid(1.702 x): the GELU approximation of CLIP, used by SeisCLIP's info encoder."""

    def forward(self, x: Tensor) -> Tensor:
        return x * torch.sigmoid(1.702 * x)


class DropPath(nn.Module):
    """Stochastic depth: during training, drop a residual branch for a whole sample with probability `p`.

    Surviving samples are scaled by 1/(1-p) so the expected branch output is unchanged.
    """

    def __init__(self, p: float = 0.0) -> None:
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"DropPath: probability {p} must be in [0, 1)")
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(1.0 - self.p)
        return x * keep / (1.0 - self.p)


class Attention(nn.Module):
    """Multi-head self-attention: one Linear for q, k, v, heads split with einops, fused SDPA kernel."""

    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        if width % heads:
            raise ValueError(f"Attention: width {width} is not divisible by heads {heads}")
        self.heads = heads
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)

    def forward(self, x: Tensor, key_mask: Tensor | None = None) -> Tensor:
        """x (B, N, width); key_mask (B, N) bool, True = the token may be attended to."""
        q, k, v = rearrange(self.qkv(x), "b n (three h d) -> three b h n d", three=3, h=self.heads)
        attn_mask = None if key_mask is None else key_mask[:, None, None, :]
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)
        return self.proj(rearrange(out, "b h n d -> b n (h d)"))


class Block(nn.Module):
    """Pre-norm transformer block: x + attn(LN(x)), then x + MLP(LN(x)) with a GELU MLP of `mlp_ratio` x width.

    norm_eps: the LayerNorms' epsilon; timm's DeiT (and so SeisCLIP) uses 1e-6, torch's default is 1e-5.
    """

    def __init__(self, width: int, heads: int, mlp_ratio: float = 4.0, drop_path: float = 0.0,
                 norm_eps: float = 1e-5) -> None:
        super().__init__()
        hidden = int(width * mlp_ratio)
        self.norm1 = nn.LayerNorm(width, eps=norm_eps)
        self.attn = Attention(width, heads)
        self.norm2 = nn.LayerNorm(width, eps=norm_eps)
        self.mlp = nn.Sequential(nn.Linear(width, hidden), nn.GELU(), nn.Linear(hidden, width))
        self.drop_path = DropPath(drop_path)

    def forward(self, x: Tensor, key_mask: Tensor | None = None) -> Tensor:
        x = x + self.drop_path(self.attn(self.norm1(x), key_mask))
        return x + self.drop_path(self.mlp(self.norm2(x)))


class Transformer(nn.Module):
    """`depth` pre-norm blocks and a final LayerNorm; stochastic depth rises linearly to `drop_path` (as in DeiT).

    forward(tokens (B, N, width), key_mask (B, N) bool | None) -> (B, N, width). Every query needs at least one
    key it may attend to, or its softmax is 0/0: callers keep an always-valid cls token in the sequence.
    """

    def __init__(self, width: int, depth: int, heads: int, mlp_ratio: float = 4.0, drop_path: float = 0.0,
                 norm_eps: float = 1e-5) -> None:
        super().__init__()
        if width < 1 or depth < 1 or heads < 1:
            raise ValueError(f"Transformer: width={width}, depth={depth}, heads={heads} must all be >= 1")
        rates = torch.linspace(0.0, drop_path, depth).tolist()
        self.blocks = nn.ModuleList(Block(width, heads, mlp_ratio, rate, norm_eps) for rate in rates)
        self.norm = nn.LayerNorm(width, eps=norm_eps)
        self.apply(init_weights)

    def forward(self, x: Tensor, key_mask: Tensor | None = None) -> Tensor:
        for block in self.blocks:
            x = block(x, key_mask)
        return self.norm(x)


def init_weights(module: nn.Module) -> None:
    """ViT initialisation: truncated-normal (std 0.02) Linear weights, zero biases, unit LayerNorms."""
    if isinstance(module, nn.Linear):
        nn.init.trunc_normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)
