"""Self-supervision of the anchor by its own records: two disjoint time segments of one record form a pair.

Why: an ImageBind pair teaches the anchor only what another modality observes together with it. Records without
a partner never enter those losses: INSTANCE's noise traces have no source, so no metadata, and a model trained
on spectrum-metadata pairs is never asked what distinguishes one stretch of ambient noise from another. Yet a
change in the ambient noise spectrum (more power in one band for a day) is exactly what windows of noise traces
can differ by. COLA (Saeed, Grangier & Zeghidour 2021, "Contrastive learning of general-purpose audio
representations", ICASSP) learns such representations by contrasting segments of the same clip with segments of
other clips: what two disjoint parts of one record share is its stationary content (site response, the noise
spectrum and its band levels), not one transient.

The segments are cut from the preprocessed input of the anchor (spectra (B, C, T, F), time on axis -2) by
setting everything outside them to 0, which for `LogSpectrogram` (standardised log power) is the record's own
mean level, so the encoder keeps the input shape it was built for; anchors whose encoder input has fewer than 3
axes, or whose time axis would be the channel axis, are refused (`check_input`). The split point is drawn per
record in [split_low, split_high] of the time axis during training (from a generator seeded by the step, so that a
resumed run repeats them) and is the middle for validation; `gap_frames`
frames between the two segments keep neighbouring STFT frames from sharing samples when n_fft <= 3 hops (the
default spectrogram is 2 hops: n_fft 400, hop 200).

Known leaks, measured with rather than removed: the spectrogram is standardised over the whole record before the
cut, so a segment's mean level says something about the other's; and both views show the same split point. Both
let the encoder match a pair without its content; the power measured with them (README, "Power of the embedding
path") is what the defaults give.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class SegmentPair:
    """Settings of the segment pair (model.segment_pair); weight 0 switches it off.

    weight: its loss weight next to the ImageBind pairs (each weighs 1 by default).
    logit_scale: fixed inverse temperature of its InfoNCE (ImageBind fixes the scale of some modalities too).
    time_dim: the time axis of the preprocessed input, counted from the end (-2 for (B, C, T, F) spectra).
    """

    weight: float = 0.0
    logit_scale: float = 10.0
    time_dim: int = -2
    gap_frames: int = 2
    split_low: float = 0.3
    split_high: float = 0.7

    def __post_init__(self) -> None:
        if not self.weight >= 0 or not self.logit_scale > 0:
            raise ValueError(f"model.segment_pair: need weight >= 0 and logit_scale > 0, got {self}")
        if not 0 < self.split_low <= self.split_high < 1 or self.gap_frames < 0 or self.time_dim >= 0:
            raise ValueError(f"model.segment_pair: need 0 < split_low <= split_high < 1, gap_frames >= 0 and a "
                             f"negative time_dim, got {self}")

    def check_input(self, anchor: str, shape: tuple[int, ...]) -> None:
        """Refuse an anchor whose per-sample encoder input (C, T, ...) has no time axis at `time_dim` besides the
        channel axis."""
        if len(shape) < 3 or -self.time_dim >= len(shape):
            raise ValueError(f"the anchor {anchor!r} feeds its encoder per-sample inputs of shape {shape}; two time "
                             f"segments need (channel, time, frequency) spectra with time at time_dim={self.time_dim}")

    def draw(self, n: int, seed: int) -> Tensor:
        """Split points of `n` records as fractions of the time axis, drawn uniformly in [split_low, split_high]
        from their own generator: seeded by the training step (and rank), they repeat exactly when a run resumes
        from a checkpoint, which the global random state would not."""
        generator = torch.Generator().manual_seed(seed)
        return self.split_low + (self.split_high - self.split_low) * torch.rand(n, generator=generator)

    def views(self, x: Tensor, fraction: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """(x with only its first segment kept, x with only its second segment kept), same shape as x (B, ...).

        fraction: (B,) split points as fractions of the time axis (`draw`, for training); None puts every split in
        the middle (validation)."""
        n = x.shape[self.time_dim]
        if n < 2 * (self.gap_frames + 1):
            raise ValueError(f"model.segment_pair: the anchor's input has {n} frames on axis {self.time_dim}, too "
                             f"few for two segments and a gap of {self.gap_frames}")
        fraction = torch.full((x.shape[0],), 0.5) if fraction is None else fraction
        split = (fraction.to(x.device) * n).long().clamp(1, n - self.gap_frames - 1)
        frames = torch.arange(n, device=x.device)
        first = frames[None, :] < split[:, None]                       # (B, n)
        second = frames[None, :] >= (split + self.gap_frames)[:, None]
        shape = [x.shape[0]] + [1] * (x.dim() - 1)
        shape[self.time_dim] = n
        return x * first.view(shape).to(x.dtype), x * second.view(shape).to(x.dtype)
