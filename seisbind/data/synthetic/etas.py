"""The ETAS natural catalog (Ogata 1988): background events and fixed mainshocks as immigrants, every event
triggering offspring, simulated generation by generation.

Why: real seismicity is clustered at every magnitude. Small events trigger too, so some M >= 4 events are preceded
by the smaller events that triggered them (foreshocks), and activity is elevated before many large events with no
precursory physics. A null catalog without this lets a probe mistake clustering for a precursor.

Model (magnitudes from the detection floor m0 = lowest Mc - 5 completeness_width up to etas_max_magnitude, one
Gutenberg-Richter law with b_value for background and triggered events alike):
- an event of magnitude M triggers at rate K productivity(M) (t + c)^(-p) per day, t in days (etas_c_days,
  etas_p; delays at least 1 s), with the one productivity law of seisbind.seismicity.etas.model,
  exp(alpha (M - Mc)), Mc = completeness_magnitude, alpha = etas_alpha. K is set so that an event has on average
  etas_branching_ratio direct offspring (over the GR law from m0) within etas_branching_days, or over unlimited
  time when that is 0 (which needs p > 1 and a ratio below 1); each generation is drawn by
  seisbind.seismicity.etas.simulate.offspring, counts and delays for the part of the study period after the parent;
- epicentres of offspring are Gaussian around the parent's with sigma = max(1 km, half the Wells-Coppersmith
  (1994) subsurface rupture length 10^(-2.44 + 0.59 M) km of the parent), as the omori mode spreads aftershocks;
  depth the parent's + N(0, 1.5 km); offspring after the period are not drawn;
- background events are Poisson in time over the study period, uniform over the region box and depth range;
- the mainshocks (Norcia and the extra independent ones) are immigrants of fixed time and magnitude. With
  etas_mainshock_productivity "budget" they follow the productivity law with their own constant, set so that
  their sequences hold about aftershock_fraction * n_events catalogued events, as in the omori mode (with K alone,
  the count of a Norcia sequence would not depend on n_events). With "law" they trigger like every other event,
  as in a real sequence whose M6 mainshocks are the tail of its magnitudes: their sequences are as large as the
  law makes them, and the background takes what remains of n_events (at least MIN_BACKGROUND_SHARE of it).

Background rate, "budget": with F the normalised Omori CDF, the expected number of descendants of an event within
a delay tau is taken as sum_g n^g F(tau)^g = n F / (1 - n F) (with heavy-tailed delays a sum of delays is close
to its largest term, so this slightly overcounts), and mu (events per day above m0) is set so that
mu * p_detect * integral_0^T dtau / (1 - n F(tau)) equals n_events less the mainshocks and their sequences: the
stationary total mu T / (1 - n), less what falls after `end`. "law": the mean counts of the renewal equation
(seisbind.seismicity.etas.model.expected_counts), exact over the finite period for any p and any branching ratio,
the mainshocks' sequences included. p_detect is the share of events above m0 detected at completeness_magnitude.
Real fits look like the "law" mode (p 0.8-1.2, alpha close to beta, infinite-time branching near or above 1:
the SED and Norcia fits of tests/test_real_catalog_study.py); scripts/calibration.py draws such parameters.

All draws are vectorised per generation; the loop runs over generations (a few tens), never over events.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from seisbind.data.synthetic.config import SyntheticConfig
from seisbind.data.synthetic.magnitudes import (
    MS_PER_DAY,
    detected_fraction,
    detection_floor,
    detection_probability,
    lowest_completeness,
)
from seisbind.data.synthetic.region import KM_PER_DEG
from seisbind.errors import SeisbindInputError
from seisbind.seismicity.etas.model import EtasParameters, expected_counts, omori_integral, productivity
from seisbind.seismicity.etas.simulate import offspring
from seisbind.seismicity.magnitudes import gutenberg_richter

_EVENT_KEYS = ("time_ms", "latitude_deg", "longitude_deg", "depth_km", "magnitude")


MIN_BACKGROUND_SHARE = 0.1
"""With etas_mainshock_productivity "law", the share of n_events left to background immigrants and their
cascades when the mainshocks' sequences alone would fill it: a catalog is never one sequence only."""

MAX_EVENTS = 2_000_000
"""Events above the detection floor beyond which the cascade is refused (a near-critical law can explode)."""


def _omori_cdf(tau_days: np.ndarray, config: SyntheticConfig) -> np.ndarray:
    """Share of an event's direct offspring that occur within `tau_days` of it: the Omori integral, normalised."""
    c, p = config.etas_c_days, config.etas_p
    return (p - 1.0) * c ** (p - 1.0) * omori_integral(np.maximum(tau_days, 0.0), c, p)


def _productivity(magnitude: np.ndarray, constant: float, config: SyntheticConfig) -> np.ndarray:
    """constant * productivity(M): direct offspring over unlimited time ("budget"), or the rate constant of
    the Omori law in events/day^(1-p) ("law")."""
    return constant * productivity(magnitude, config.completeness_magnitude, config.etas_alpha)


def _omori_reach(config: SyntheticConfig, days: float) -> float:
    """Integral of (t + c)^(-p) over the `days` after an event (days^(1-p)), or over unlimited time when `days`
    is 0 (finite for p > 1 only)."""
    c, p = config.etas_c_days, config.etas_p
    if days > 0:
        return float(omori_integral(days, c, p))
    return c ** (1.0 - p) / (p - 1.0) if p > 1.0 else float("inf")


def _offspring(rng: np.random.Generator, config: SyntheticConfig, parents: dict[str, np.ndarray], k: float,
               to_rate: float, period_ms: int) -> dict[str, np.ndarray]:
    """One generation: the direct offspring of `parents` that occur within the period (see the module docstring).
    A parent's Omori rate constant is its "productivity" times `to_rate`; a child's productivity is k
    productivity(M)."""
    c, p = config.etas_c_days, config.etas_p
    parent_days = parents["time_ms"] / MS_PER_DAY
    parent, child_days = offspring(rng, parents["productivity"] * to_rate, parent_days, c, p, 0.0,
                                   period_ms / MS_PER_DAY)
    delay_ms = np.maximum(np.round((child_days - parent_days[parent]) * MS_PER_DAY), 1000.0)
    time_ms = parents["time_ms"][parent] + delay_ms
    inside = time_ms < period_ms
    parent, time_ms = parent[inside], time_ms[inside].astype(np.int64)
    n = parent.size
    magnitude = gutenberg_richter(rng, n, config.b_value, detection_floor(config), config.etas_max_magnitude)
    sigma_km = np.maximum(1.0, 0.5 * 10.0 ** (-2.44 + 0.59 * parents["magnitude"][parent]))
    lat0, lon0 = parents["latitude_deg"][parent], parents["longitude_deg"][parent]
    lat = lat0 + rng.normal(0.0, 1.0, n) * sigma_km / KM_PER_DEG
    lon = lon0 + rng.normal(0.0, 1.0, n) * sigma_km / (KM_PER_DEG * np.cos(np.radians(lat0)))
    depth = parents["depth_km"][parent] + rng.normal(0.0, 1.5, n)
    return {"time_ms": time_ms, "latitude_deg": np.clip(lat, *config.latitude_range_deg),
            "longitude_deg": np.clip(lon, *config.longitude_range_deg),
            "depth_km": np.clip(depth, *config.depth_range_km), "magnitude": magnitude,
            "productivity": _productivity(magnitude, k, config)}


def _budget_rates(config: SyntheticConfig, k: float, mainshocks: pd.DataFrame, period_days: float,
                  p_detect: float) -> tuple[float, float, float, dict]:
    """"budget": (mainshocks' productivity constant, every event's, the Omori factor that turns productivity into
    a rate constant, background immigrants expected over the period), by the module docstring's approximation."""
    n, omori_k = config.etas_branching_ratio, (config.etas_p - 1.0) * config.etas_c_days ** (config.etas_p - 1.0)
    main_f = _omori_cdf(period_days - mainshocks["time_ms"].to_numpy() / MS_PER_DAY, config)
    main_magnitude = mainshocks["magnitude"].to_numpy(dtype=float)
    main_weight = float(np.sum(_productivity(main_magnitude, 1.0, config) * main_f / (1.0 - n * main_f)))
    main_budget = config.aftershock_fraction * config.n_events if main_weight > 0 else 0.0
    k_main = main_budget / (p_detect * main_weight) if main_weight > 0 else 0.0
    tau = (np.arange(4096) + 0.5) / 4096 * period_days
    per_immigrant = float(np.mean(1.0 / (1.0 - n * _omori_cdf(tau, config))))
    background = max(0.0, config.n_events - main_budget - len(mainshocks)) / (p_detect * per_immigrant)
    return k_main, k, omori_k, {"k": k, "k_mainshocks": k_main, "expected_background": background}


def _law_rates(config: SyntheticConfig, k: float, mainshocks: pd.DataFrame, period_days: float,
               p_detect: float) -> tuple[float, float, float, dict]:
    """"law": the same rate constant K for mainshocks and every other event, and the background immigrants that
    bring the expected catalogued count to n_events (seisbind.seismicity.etas.model.expected_counts)."""
    floor = detection_floor(config)
    rate = k / _omori_reach(config, config.etas_branching_days)
    law = EtasParameters(mu=1.0, K=rate * float(productivity(floor, config.completeness_magnitude,
                                                             config.etas_alpha)),
                         alpha=config.etas_alpha, c=config.etas_c_days, p=config.etas_p, b=config.b_value, mc=floor,
                         max_magnitude=config.etas_max_magnitude)
    per_rate = float(expected_counts(law, 0.0, period_days, n_bins=1000).sum())
    quiet = EtasParameters(**{**law.to_dict(), "mu": 0.0})
    sequences = sum(float(expected_counts(quiet, t, period_days, history_times=[t], history_magnitudes=[m],
                                          n_bins=1000).sum())
                    for t, m in zip(mainshocks["time_ms"].to_numpy() / MS_PER_DAY, mainshocks["magnitude"]))
    left = max(config.n_events - len(mainshocks) - p_detect * sequences, MIN_BACKGROUND_SHARE * config.n_events)
    background = left / p_detect / per_rate * period_days
    return rate, rate, 1.0, {"K": rate, "expected_background": background,
                             "expected_sequence_events": p_detect * sequences,
                             "branching_ratio_infinite_time": config.etas_branching_ratio
                             * _omori_reach(config, 0.0) / _omori_reach(config, config.etas_branching_days)}


def etas_catalog(rng: np.random.Generator, config: SyntheticConfig, period_ms: int,
                 mainshocks: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """The mainshocks plus the detected background and triggered events, and a summary of the model for truth.json.

    Detection here is the roll-off at the lowest Mc of the period, as `thinned_magnitudes` applies it; the
    time-varying completeness is applied afterwards by the caller. Magnitudes are rounded to 0.1 after detection.
    """
    floor, m_max = detection_floor(config), config.etas_max_magnitude
    grid = np.linspace(floor, m_max, 400)
    density = 10.0 ** (-config.b_value * grid)
    k = config.etas_branching_ratio / float(np.sum(density * _productivity(grid, 1.0, config)) / np.sum(density))
    p_detect = detected_fraction(config, floor, m_max)
    period_days = period_ms / MS_PER_DAY
    rates = _law_rates if config.etas_mainshock_productivity == "law" else _budget_rates
    k_main, k_child, to_rate, summary = rates(config, k, mainshocks, period_days, p_detect)

    n_background = int(rng.poisson(summary["expected_background"]))
    background = {
        "time_ms": rng.integers(0, period_ms, n_background),
        "latitude_deg": rng.uniform(*config.latitude_range_deg, n_background),
        "longitude_deg": rng.uniform(*config.longitude_range_deg, n_background),
        "depth_km": rng.uniform(*config.depth_range_km, n_background),
        "magnitude": gutenberg_richter(rng, n_background, config.b_value, floor, m_max)}
    background["productivity"] = _productivity(background["magnitude"], k_child, config)
    parents = {key: np.concatenate([mainshocks[key].to_numpy(dtype=float), background[key]]) for key in _EVENT_KEYS}
    parents["time_ms"] = parents["time_ms"].astype(np.int64)
    parents["productivity"] = np.concatenate([
        _productivity(mainshocks["magnitude"].to_numpy(dtype=float), k_main, config), background["productivity"]])
    generations, total = [], n_background
    while True:
        parents = _offspring(rng, config, parents, k_child, to_rate, period_ms)
        if not parents["time_ms"].size:
            break
        generations.append(parents)
        total += parents["time_ms"].size
        if total > MAX_EVENTS:
            raise SeisbindInputError(f"synthetic ETAS cascade exceeded {MAX_EVENTS} events: lower "
                                     f"etas_branching_ratio ({config.etas_branching_ratio}) or etas_alpha")

    natural = pd.DataFrame({key: np.concatenate([background[key]] + [g[key] for g in generations])
                            for key in _EVENT_KEYS})
    natural["kind"] = np.repeat(["background", "aftershock"], [n_background, len(natural) - n_background])
    detected = rng.random(len(natural)) < detection_probability(
        natural["magnitude"].to_numpy(), lowest_completeness(config), config.completeness_width)
    natural = natural[detected].reset_index(drop=True)
    natural["magnitude"] = np.round(natural["magnitude"], 1)
    model = {"clustering": "etas", "mainshock_productivity": config.etas_mainshock_productivity,
             "detection_floor_magnitude": floor, "background_rate_per_day": summary.pop("expected_background")
             / period_days, "n_background_simulated": n_background,
             "n_triggered_simulated": int(len(detected) - n_background), "n_generations": len(generations)} | summary
    return pd.concat([mainshocks, natural], ignore_index=True), model
