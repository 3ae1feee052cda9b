"""Magnitudes as a seismic network catalogues them: Gutenberg-Richter sizes, thinned by a detection roll-off around a
completeness magnitude Mc that may change with time.

Why a module of its own: the Omori and the ETAS catalogs, the lead-in events and the planted precursor draw
magnitudes the same way, and the completeness confounders of real catalogs (Mc that drops when a network densifies,
Mc that rises for days after a large shock while its aftershocks mask small events) must thin every natural event
by one rule, or a probe could tell the populations apart by their magnitudes rather than by their timing.

Two stages, so that a constant completeness gives exactly the draws it always gave: magnitudes are first kept with
the detection probability at the lowest Mc of the period (`thinned_magnitudes`), then, once their times are known,
kept again with p(M, Mc(t)) / p(M, lowest Mc) (`completeness_keep`); the product is p(M, Mc(t)).
"""

from __future__ import annotations

import numpy as np
from scipy import special

from seisbind.data.synthetic.config import SyntheticConfig, completeness_steps
from seisbind.seismicity.magnitudes import gutenberg_richter

MS_PER_DAY = 86_400_000


def detection_probability(m: np.ndarray, mc: float | np.ndarray, width: float) -> np.ndarray:
    """Cumulative-normal roll-off (Ogata-Katsura): ~98 % detected at the completeness magnitude `mc`."""
    return special.ndtr((m - (mc - 2 * width)) / width)


def lowest_completeness(config: SyntheticConfig) -> float:
    """The smallest Mc of the period: completeness_magnitude or a lower value from completeness_changes."""
    return min([config.completeness_magnitude] + [mc for _, mc in completeness_steps(config)])


def detection_floor(config: SyntheticConfig) -> float:
    """Smallest magnitude simulated: below it even the lowest Mc detects under 0.2 per mille of the events."""
    return lowest_completeness(config) - 5 * config.completeness_width


def detected_fraction(config: SyntheticConfig, m_low: float, m_high: float) -> float:
    """Share of Gutenberg-Richter events in [m_low, m_high] detected at completeness_magnitude.

    Why at completeness_magnitude and not at Mc(t): n_events and aftershock_fraction count events as a network with
    the initial completeness would report them, so that a completeness change alters the catalog, not the seismicity.
    """
    grid = np.linspace(m_low, m_high, 400)
    density = 10.0 ** (-config.b_value * grid)
    p = detection_probability(grid, config.completeness_magnitude, config.completeness_width)
    return float(np.sum(density * p) / np.sum(density))


def thinned_magnitudes(rng: np.random.Generator, n_detected: float, config: SyntheticConfig,
                       m_high: float) -> np.ndarray:
    """GR magnitudes as a network detects them: draw below completeness, keep each with its detection probability.

    `n_detected` is the expected number kept at completeness_magnitude; the roll-off applied here is the one at the
    lowest Mc of the period (`completeness_keep` removes the rest later). Magnitudes are rounded to 0.1 as catalogs
    report them.
    """
    m_low = detection_floor(config)
    mean_p = detected_fraction(config, m_low, m_high)
    m = gutenberg_richter(rng, int(rng.poisson(n_detected / mean_p)), config.b_value, m_low, m_high)
    m = m[rng.random(m.size) < detection_probability(m, lowest_completeness(config), config.completeness_width)]
    return np.round(m, 1)


def detected_magnitudes(rng: np.random.Generator, n: int, config: SyntheticConfig, m_high: float) -> np.ndarray:
    """Exactly `n` magnitudes distributed as a network at completeness_magnitude detects GR events below `m_high`.

    Inverse CDF of 10^(-b M) * p(M) on a 0.001-magnitude grid, for a fixed count (the lead-in events); rounded to 0.1.
    """
    m_low = config.completeness_magnitude - 5 * config.completeness_width
    grid = np.arange(m_low, m_high, 0.001)
    density = 10.0 ** (-config.b_value * grid) * detection_probability(grid, config.completeness_magnitude,
                                                                      config.completeness_width)
    cdf = np.cumsum(density) / np.sum(density)
    return np.round(np.interp(rng.random(n), cdf, grid), 1)


def completeness_at(time_ms: np.ndarray, config: SyntheticConfig, shock_time_ms: np.ndarray,
                    shock_magnitude: np.ndarray) -> np.ndarray:
    """Mc (magnitude units) at each time (ms after `start`).

    Piecewise constant from completeness_changes (completeness_magnitude before the first change), plus, after each
    shock M >= mc_after_mainshock_min_magnitude, a rise mc_after_mainshock_rise * exp(-t / mc_after_mainshock_days)
    (t in days after the shock; the largest rise where several overlap). The exponential is a simpler form than
    Helmstetter et al. (2006), Mc(t) = M - 4.5 - 0.75 log10(t): for an M 6.5 in a catalog with Mc 1.5 theirs rises by
    1.3 at 2 h and is gone after 5 days, and rise 1.2 with 1.5 days follows it within 0.2 over that span.
    """
    t0 = np.datetime64(config.start, "ms")
    mc = np.full(time_ms.shape, float(config.completeness_magnitude))
    for day, value in completeness_steps(config):
        mc[time_ms >= int((day - t0).astype(np.int64))] = value
    shocks = shock_time_ms[shock_magnitude >= config.mc_after_mainshock_min_magnitude]
    if config.mc_after_mainshock_rise > 0 and shocks.size:
        after_days = (time_ms[:, None] - shocks[None, :]) / MS_PER_DAY
        decay = np.where(after_days > 0, np.exp(-np.maximum(after_days, 0.0) / config.mc_after_mainshock_days), 0.0)
        mc = mc + config.mc_after_mainshock_rise * decay.max(axis=1)
    return mc


def completeness_keep(rng: np.random.Generator, time_ms: np.ndarray, magnitude: np.ndarray, config: SyntheticConfig,
                      shock_time_ms: np.ndarray, shock_magnitude: np.ndarray) -> np.ndarray:
    """Which events, already detected at the lowest Mc (`thinned_magnitudes`), the network reports at Mc(t).

    Where Mc(t) is the lowest Mc every event is kept without a draw deciding it, so a constant completeness keeps the
    catalog as it is; elsewhere an event is kept with probability p(M, Mc(t)) / p(M, lowest Mc).
    """
    mc = completeness_at(time_ms, config, shock_time_ms, shock_magnitude)
    low = lowest_completeness(config)
    u = rng.random(time_ms.size)
    width = config.completeness_width
    return (mc <= low) | (u * detection_probability(magnitude, low, width)
                          < detection_probability(magnitude, mc, width))
