"""Confidence intervals shared by the training's retrieval measure and the probe's AUCs."""

from __future__ import annotations

import math

Z_95 = 1.959963984540054
"""Two-sided 95 % standard normal quantile."""


def wilson_interval(fraction: float, n: int, z: float = Z_95) -> tuple[float, float]:
    """Wilson score interval of a proportion observed as `fraction` of `n` trials (Wilson 1927).

    Unlike the normal interval it stays inside [0, 1] and does not collapse to a point at 0 hits, which matters
    here: a recall near its chance level k / n is a proportion near 0.
    """
    denominator = 1.0 + z * z / n
    centre = (fraction + z * z / (2 * n)) / denominator
    half = z / denominator * math.sqrt(max(fraction * (1.0 - fraction), 0.0) / n + z * z / (4 * n * n))
    return max(centre - half, 0.0), min(centre + half, 1.0)
