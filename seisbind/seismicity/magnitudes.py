"""Magnitudes: seismic moment, magnitude bins, completeness, b-value, and Gutenberg-Richter draws."""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import brentq

from seisbind.errors import SeisbindInputError


def moment_Nm(magnitude):
    """Seismic moment M0 = 10**(1.5 Mw + 9.1) N m (Hanks & Kanamori 1979 in SI units)."""
    return np.power(10.0, 1.5 * np.asarray(magnitude, dtype=np.float64) + 9.1)


def magnitude_bins(magnitudes, dm: float) -> np.ndarray:
    """Magnitudes as integer multiples of dm (half up), so 2.35 -> 24 for dm=0.1 without float noise."""
    if dm <= 0:
        raise SeisbindInputError(f"magnitude bin width dm must be > 0, got {dm}")
    return np.floor(np.asarray(magnitudes, dtype=np.float64) / dm + 0.5 + 1e-9).astype(np.int64)


def at_least(magnitudes, threshold: float) -> np.ndarray:
    """True for the magnitudes at or above `threshold`, with the tolerance binned catalogs need: they store
    Mc-bin magnitudes as e.g. 0.9999999999 for 1.0."""
    return np.asarray(magnitudes, dtype=np.float64) >= threshold - 1e-6


def _finite(magnitudes) -> np.ndarray:
    m = np.asarray(magnitudes, dtype=np.float64).ravel()
    return m[np.isfinite(m)]


def mc_max_curvature(magnitudes, dm: float = 0.1, correction: float = 0.2) -> float:
    """Magnitude of completeness by maximum curvature: the most populated dm bin plus `correction`.

    Maximum curvature underestimates Mc for gradually rolling-off catalogs; +0.2 is the usual correction
    (Woessner & Wiemer 2005). NaN for no finite magnitude.
    """
    m = _finite(magnitudes)
    if m.size == 0:
        return float("nan")
    bins = magnitude_bins(m, dm)
    counts = np.bincount(bins - bins.min())
    return round(float((np.argmax(counts) + bins.min()) * dm + correction), 10)


def b_value_aki_utsu(magnitudes, mc: float, dm: float = 0.1, min_count: int = 50,
                     below: float = math.inf) -> tuple[float, str | None]:
    """Aki-Utsu maximum-likelihood b = log10(e) / (mean(M) - (Mc - dm/2)) over events with M >= Mc.

    Magnitudes and Mc are binned to dm first (the dm/2 term assumes binned magnitudes). Returns (b, None),
    or (nan, reason) with fewer than `min_count` events above Mc or an undefined Mc.

    With `below` finite only the events under it count, and b maximises the likelihood of the binned
    Gutenberg-Richter law truncated there: the K bins from Mc up to `below` hold shares proportional to r^k,
    r = 10^(-b dm), whose mean bin index r/(1-r) - K r^K/(1-r^K) is set to the observed one (Page 1968, BSSA 58,
    1131, for the truncated law; Tinti & Mulargia 1987, BSSA 77, 2125, for binned magnitudes, whose estimate it
    becomes as K grows: within 0.5 % of Aki-Utsu at b ~ 1, dm 0.1). Why: a sample from which the largest events
    were set aside (the shocks an ETAS null holds as they are) is a truncated one, and Aki-Utsu on it reads b too
    high (1.33 for b = 1 cut one unit above Mc).
    """
    if not np.isfinite(mc):
        return float("nan"), "Mc undefined"
    above, mc_bin, top = _sample_bins(magnitudes, mc, dm, below)
    if above.size < min_count:
        return float("nan"), f"{above.size} events >= Mc={mc_bin * dm:.2f}, fewer than min_count={min_count}"
    if top is None:
        return float(np.log10(np.e) / (above.mean() * dm - (mc_bin * dm - dm / 2.0))), None
    n_bins, mean_bin = top - mc_bin, float(above.mean() - mc_bin)

    def excess(x: float) -> float:   # x = b dm ln 10: the law's mean bin index less the observed one
        return 1.0 / math.expm1(x) - n_bins / math.expm1(min(n_bins * x, 700.0)) - mean_bin

    # it falls from (K - 1)/2 - mean at x -> 0 past 0 (at Tinti-Mulargia's untruncated estimate x0 it is <= 0)
    if not (mean_bin > 0.0 and excess(1e-6) > 0.0):
        return float("nan"), (f"magnitudes in [{mc_bin * dm:.2f}, {top * dm:.2f}) give no finite b > 0 (they do not "
                              "decrease in number, or all lie in the lowest bin)")
    return float(brentq(excess, 1e-6, 2.0 * math.log1p(1.0 / mean_bin)) / (dm * math.log(10.0))), None


def b_standard_error(magnitudes, mc: float, b: float, dm: float = 0.1, below: float = math.inf) -> float:
    """Standard error of the b that `b_value_aki_utsu` gives on these magnitudes (same arguments): 1 / sqrt(n I),
    I the Fisher information per event of the binned Gutenberg-Richter law (truncated at `below` when finite).
    In x = b dm ln 10 the law of the bin index k is an exponential family, so I(x) = Var(k) =
    1 / (4 sinh^2(x / 2)) - K^2 / (4 sinh^2(K x / 2)) over K bins (the second term 0 untruncated), and
    se(b) = 1 / (dm ln 10 sqrt(n Var(k))); as dm -> 0 untruncated it is Aki's (1965) b / sqrt(n). Why: n is the
    events b came from, not every event of a fit, and a truncated sample says less about b. NaN where b is not
    finite and positive or no event counts."""
    above, mc_bin, top = _sample_bins(magnitudes, mc, dm, below)
    if not (math.isfinite(b) and b > 0 and above.size):
        return float("nan")
    x = b * dm * math.log(10.0)
    variance = 0.25 / math.sinh(0.5 * x) ** 2
    if top is not None:
        k = top - mc_bin
        variance -= 0.25 * k * k / math.sinh(min(0.5 * k * x, 350.0)) ** 2
    return 1.0 / (dm * math.log(10.0) * math.sqrt(above.size * variance))


def _sample_bins(magnitudes, mc: float, dm: float, below: float) -> tuple[np.ndarray, int, int | None]:
    """The magnitude bins (units of dm) of the events from Mc up to `below` (exclusive; None: no bound), Mc's bin
    and `below`'s."""
    bins = magnitude_bins(_finite(magnitudes), dm)
    mc_bin = int(magnitude_bins(mc, dm))
    top = int(magnitude_bins(below, dm)) if math.isfinite(below) else None
    return bins[(bins >= mc_bin) & (bins < top if top is not None else True)], mc_bin, top


def gutenberg_richter(rng: np.random.Generator, n: int, b: float, m_low: float,
                      m_high: float = math.inf) -> np.ndarray:
    """n magnitudes from the Gutenberg-Richter law 10^(-b M) on [m_low, m_high) by its inverse CDF.

    m_high = inf gives the untruncated law (an exponential excess over m_low with rate b ln 10).
    """
    tail = -math.expm1(-b * math.log(10.0) * (m_high - m_low)) if math.isfinite(m_high) else 1.0
    return m_low - np.log1p(-rng.random(n) * tail) / (b * math.log(10.0))
