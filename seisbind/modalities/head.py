"""Projection head of every modality: LayerNorm -> Linear to the shared embedding -> L2 normalise, plus its logit scale.

The logit scale (inverse temperature) follows open_clip / ImageBind: learnable from 1/0.07 and capped at 100, or
fixed (ImageBind fixes e.g. 20 for audio, 5 for IMU). It is stored as a log so that the optimiser works on a
scale-free quantity and the value stays positive.

`projection="identity"` drops the LayerNorm and the Linear: SeisCLIP compares its encoders' outputs directly
(both 384-d), so a SeisCLIP-compatible model only L2-normalises them.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class ModalityHead(nn.Module):
    """(B, in_dim) encoder features -> (B, embed_dim) unit vectors; `logit_scale()` -> scalar tensor."""

    def __init__(
        self,
        in_dim: int,
        embed_dim: int,
        logit_scale_init: float = 1 / 0.07,
        logit_scale_learnable: bool = True,
        logit_scale_max: float = 100.0,
        projection: str = "linear",
    ) -> None:
        super().__init__()
        if not 0 < logit_scale_init <= logit_scale_max:
            raise ValueError(
                f"ModalityHead: need 0 < logit_scale_init ({logit_scale_init}) <= logit_scale_max ({logit_scale_max})"
            )
        if projection == "linear":
            self.norm, self.proj = nn.LayerNorm(in_dim), nn.Linear(in_dim, embed_dim)
        elif projection == "identity":
            if in_dim != embed_dim:
                raise ValueError(
                    f"ModalityHead: projection='identity' keeps the encoder's {in_dim} features, but embed_dim is "
                    f"{embed_dim}; set the model's embed_dim to {in_dim} or use projection='linear'")
            self.norm, self.proj = nn.Identity(), nn.Identity()
        else:
            raise ValueError(f"ModalityHead: projection={projection!r}, choose 'linear' or 'identity'")
        self.log_scale_max = math.log(logit_scale_max)
        log_scale = torch.tensor(math.log(logit_scale_init))
        if logit_scale_learnable:
            self.log_logit_scale = nn.Parameter(log_scale)
        else:
            self.register_buffer("log_logit_scale", log_scale)

    def forward(self, features: Tensor) -> Tensor:
        return F.normalize(self.proj(self.norm(features)), dim=-1)

    def logit_scale(self) -> Tensor:
        """exp(log scale) capped at logit_scale_max.

        The cap is applied to the value, not to the stored parameter: once the parameter passes the cap its
        gradient is zero and the scale stays at the cap (exclude it from weight decay, as open_clip does).
        """
        return self.log_logit_scale.clamp(max=self.log_scale_max).exp()
