"""Branching-process simulation of temporal ETAS catalogs (`seisbind.seismicity.etas.model`).

Magnitudes are simulated as continuous GR values, which is the model exactly. Real catalogs report magnitudes
rounded to 0.1; `simulate_etas(..., magnitude_bin=0.1)` produces catalogs that look like that (see there).
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np

from seisbind.errors import SeisbindInputError
from seisbind.seismicity.etas.model import (
    BelowFloor,
    EtasParameters,
    expected_counts,
    omori_integral,
    omori_integral_inverse,
    productivity,
)
from seisbind.seismicity.magnitudes import gutenberg_richter


def _gr_magnitudes(rng: np.random.Generator, size: int, params: EtasParameters, magnitude_bin: float | None):
    """GR magnitudes above mc, bounded by max_magnitude: continuous, or binned as a catalog reports them (see
    `simulate_etas`)."""
    excess = gutenberg_richter(rng, size, params.b, 0.0, params.max_magnitude - params.mc)
    if magnitude_bin is None:
        return params.mc + excess
    return np.round(params.mc + magnitude_bin * np.floor(excess / magnitude_bin), 10)


def offspring(rng: np.random.Generator, weight: np.ndarray, parent_t: np.ndarray, c: float, p: float,
              t_start: float, t_end: float) -> tuple[np.ndarray, np.ndarray]:
    """One generation of the branching process: the direct offspring of parents at `parent_t` (days) that fall in
    [t_start, t_end].

    A parent triggers at rate weight (t - t_parent + c)^(-p) per day, weight = K productivity(M) in
    events/day^(1-p); its count is Poisson(weight * Omori integral over the part of the window after it) and the
    lags come from inverting that integral. Returns (index of each child's parent, child times in days).
    """
    f_lo = omori_integral(np.maximum(t_start - parent_t, 0.0), c, p)
    f_hi = omori_integral(t_end - parent_t, c, p)
    parent = np.repeat(np.arange(parent_t.size), rng.poisson(weight * (f_hi - f_lo)))
    f = f_lo[parent] + rng.random(parent.size) * (f_hi - f_lo)[parent]
    return parent, np.clip(parent_t[parent] + omori_integral_inverse(f, c, p), t_start, t_end)


def simulate_etas(
    params: EtasParameters,
    t_start: float,
    t_end: float,
    rng: np.random.Generator,
    *,
    history_times: np.ndarray | None = None,
    history_magnitudes: np.ndarray | None = None,
    given_times: np.ndarray | None = None,
    given_magnitudes: np.ndarray | None = None,
    max_events: int = 1_000_000,
    magnitude_bin: float | None = None,
    below: BelowFloor | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """One ETAS catalog on [t_start, t_end] (days): (times_days sorted, magnitudes), events >= mc (and, with
    `below`, the events below mc that trigger too).

    Branching construction: background events Poisson(mu T) uniform in time; every event (and every history
    event) has Poisson(K productivity(M) * Omori integral over the part of the window after it) direct
    offspring, at lags drawn by inverting the truncated Omori integral; offspring become the next generation's
    parents. Each generation is one vectorised step, so the cost is the number of events times the depth.

    History events (times <= t_start, any magnitude) trigger offspring inside the window but are not returned.
    Given events (times inside the window) are part of the catalog as they are, like immigrants of fixed time and
    magnitude, and trigger by the same law: a catalog conditioned on its largest shocks.

    Magnitudes: continuous GR(b) above mc when `magnitude_bin` is None (the model exactly). With a bin width dm
    (mc a multiple of dm), the catalog is what a magnitude-rounding network reports: continuous magnitudes above
    mc - dm/2 rounded to the dm grid, so every bin from mc up is complete and Aki-Utsu with that dm recovers b;
    triggering then uses the rounded magnitudes, the ones a fit sees. The branching_ratio property refers to
    continuous magnitudes; with binning the realised branching differs slightly.

    Any parameters simulate over a finite window, an infinite-time branching ratio >= 1 (p <= 1, alpha near
    beta) included: the cascade is cut at t_end. `seisbind.seismicity.etas.model.expected_counts` says beforehand
    how many events that gives on average. Raises SeisbindInputError when the catalog would exceed max_events.

    With `below` (seisbind.seismicity.etas.model.BelowFloor), events below mc occur beside every background event
    and every generation of offspring at `below.ratio` times their rate, with magnitudes drawn from the recorded
    ones, and trigger by the same law: the catalog then holds them too (below mc; drop them to compare with the
    events >= mc).
    """
    parent_t, parent_m, given_t, given_m = _checked(params, t_start, t_end, magnitude_bin, history_times,
                                                    history_magnitudes, given_times, given_magnitudes)
    n_background = int(rng.poisson(params.mu * (t_end - t_start)))
    if n_background > max_events:
        raise SeisbindInputError(f"ETAS simulation: {n_background} background events exceed max_events={max_events}")
    times = [given_t, rng.uniform(t_start, t_end, n_background)]
    mags = [given_m, _gr_magnitudes(rng, n_background, params, magnitude_bin)]
    small = below is not None and below.magnitudes.size > 0
    if small:
        n_small = int(rng.poisson(below.ratio * params.mu * (t_end - t_start)))
        times.append(rng.uniform(t_start, t_end, n_small))
        mags.append(rng.choice(below.magnitudes, n_small))
    parent_t = np.concatenate([parent_t, *times])
    parent_m = np.concatenate([parent_m, *mags])
    total = sum(t.size for t in times)
    while parent_t.size:
        weight = params.K * productivity(parent_m, params.mc, params.alpha)
        parent, child_t = offspring(rng, weight, parent_t, params.c, params.p, t_start, t_end)
        total += parent.size
        _check_total(total, max_events, params)
        child_m = _gr_magnitudes(rng, parent.size, params, magnitude_bin)
        if small:
            _, small_t = offspring(rng, weight * below.ratio, parent_t, params.c, params.p, t_start, t_end)
            total += small_t.size
            _check_total(total, max_events, params)
            child_t = np.concatenate([child_t, small_t])
            child_m = np.concatenate([child_m, rng.choice(below.magnitudes, small_t.size)])
        times.append(child_t)
        mags.append(child_m)
        parent_t, parent_m = child_t, child_m
    t = np.concatenate(times)
    order = np.argsort(t, kind="stable")
    return t[order], np.concatenate(mags)[order]


def unrecorded_past(params: EtasParameters, below: BelowFloor, times: np.ndarray, magnitudes: np.ndarray,
                    t_start: float, t_end: float, rng: np.random.Generator,
                    max_events: int = 5_000_000) -> tuple[np.ndarray, np.ndarray]:
    """The events below mc in [t_start, t_end] (days) given a recorded catalog of the events >= mc (`times`,
    `magnitudes`; earlier ones trigger too): their background at `below.ratio` times mu, the below-mc offspring of
    every recorded event, and the below-mc offspring of those in turn, magnitudes drawn from `below`. Returns
    (times, magnitudes), unsorted.

    Why: a window simulated given its past needs the unrecorded events of that past, which trigger into it; their
    recorded offspring are in the catalog already, so only the unrecorded ones are drawn (from the law given the
    recorded events as parents, not given where the recorded events without a recorded parent sit)."""
    n_background = int(rng.poisson(below.ratio * params.mu * (t_end - t_start)))
    background_t, background_m = rng.uniform(t_start, t_end, n_background), rng.choice(below.magnitudes, n_background)
    times, magnitudes = np.asarray(times, dtype=np.float64), np.asarray(magnitudes, dtype=np.float64)
    before = times <= t_end   # later recorded events trigger nothing inside
    parent_t = np.concatenate([times[before], background_t])
    parent_m = np.concatenate([magnitudes[before], background_m])
    out_t, out_m = [background_t], [background_m]
    total = n_background
    while parent_t.size:
        weight = below.ratio * params.K * productivity(parent_m, params.mc, params.alpha)
        _, child_t = offspring(rng, weight, parent_t, params.c, params.p, t_start, t_end)
        total += child_t.size
        _check_total(total, max_events, params)
        parent_t, parent_m = child_t, rng.choice(below.magnitudes, child_t.size)
        out_t.append(parent_t)
        out_m.append(parent_m)
    return np.concatenate(out_t), np.concatenate(out_m)


def _checked(params: EtasParameters, t_start: float, t_end: float, magnitude_bin: float | None, history_times,
             history_magnitudes, given_times, given_magnitudes) -> tuple[np.ndarray, ...]:
    """`simulate_etas`'s inputs checked: (history times, history magnitudes, given times, given magnitudes) as
    flat float arrays, or SeisbindInputError naming what is wrong."""
    if not (math.isfinite(t_start) and math.isfinite(t_end) and t_end > t_start):
        raise SeisbindInputError(f"ETAS window needs finite t_start < t_end, got [{t_start}, {t_end}]")
    if magnitude_bin is not None:
        ratio = params.mc / magnitude_bin
        if not (magnitude_bin > 0 and abs(ratio - round(ratio)) < 1e-6):
            raise SeisbindInputError(f"magnitude_bin={magnitude_bin} must be > 0 with mc={params.mc} on its grid")
    parent_t = np.asarray([] if history_times is None else history_times, dtype=np.float64).ravel()
    parent_m = np.asarray([] if history_magnitudes is None else history_magnitudes, dtype=np.float64).ravel()
    if parent_t.shape != parent_m.shape:
        raise SeisbindInputError(f"history times and magnitudes differ in length: {parent_t.size} vs {parent_m.size}")
    if not (np.all(np.isfinite(parent_t)) and np.all(np.isfinite(parent_m)) and np.all(parent_t <= t_start)):
        raise SeisbindInputError(f"history events must be finite and at or before t_start={t_start}")
    given_t = np.asarray([] if given_times is None else given_times, dtype=np.float64).ravel()
    given_m = np.asarray([] if given_magnitudes is None else given_magnitudes, dtype=np.float64).ravel()
    if given_t.shape != given_m.shape or not np.all((given_t >= t_start) & (given_t <= t_end) & np.isfinite(given_m)):
        raise SeisbindInputError(f"given events need as many magnitudes as times, inside [{t_start}, {t_end}]")
    return parent_t, parent_m, given_t, given_m


def _check_total(total: int, max_events: int, params: EtasParameters) -> None:
    if total > max_events:
        raise SeisbindInputError(f"ETAS simulation exceeded max_events={max_events} (infinite-time branching "
                                 f"ratio {params.branching_ratio:.3g})")


def simulate_catalogs(
    params: EtasParameters,
    t_start: float,
    t_end: float,
    n_sims: int | None,
    seed: int | list[int],
    *,
    history_times: np.ndarray | None = None,
    history_magnitudes: np.ndarray | None = None,
    given_times: np.ndarray | None = None,
    given_magnitudes: np.ndarray | None = None,
    max_events: int = 1_000_000,
    magnitude_bin: float | None = None,
    below: BelowFloor | None = None,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """n_sims independent `simulate_etas` catalogs (endless with None), the k-th from child k of
    `np.random.SeedSequence(seed)`.

    Spawned children are statistically independent streams, and catalog k depends only on (seed, k), so a
    run can be reproduced or extended catalog by catalog.
    """
    sequence = np.random.SeedSequence(seed)
    k = 0
    while n_sims is None or k < n_sims:
        k += 1
        yield simulate_etas(
            params, t_start, t_end, np.random.default_rng(sequence.spawn(1)[0]), history_times=history_times,
            history_magnitudes=history_magnitudes, given_times=given_times, given_magnitudes=given_magnitudes,
            max_events=max_events, magnitude_bin=magnitude_bin, below=below,
        )


def ancestry(params: EtasParameters, t_start: float, at: float, rng: np.random.Generator, *,
             history_times: np.ndarray, history_magnitudes: np.ndarray, magnitude_bin: float = 0.1,
             n_bins: int = 64, below: BelowFloor | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The ancestors inside [t_start, at) of an event that occurs at `at` (days), drawn from their distribution
    given the history (events before t_start, which trigger) and that occurrence: (times, magnitudes).

    Why: under ETAS an event is likelier where the rate is high, so its occurrence says something about the events
    just before it; a window before an earthquake simulated from its past alone is too quiet. The branching
    structure gives the exact law (the Palm distribution of a cluster process): the event is a background event
    (rate mu), the child of a history event (its Omori term), or the child of an event inside the window at u with
    magnitude M, at density rho(u) f(M) K exp(alpha (M - mc)) (at - u + c)^-p, where rho is the mean rate given
    the history (`expected_counts`, on `n_bins` bins) and f the GR law of magnitudes (rounded to `magnitude_bin`,
    as `simulate_etas` draws them). A parent inside the window is then the next event whose ancestors are drawn,
    until one is a background or history child. Simulating the window with these ancestors given
    (`simulate_etas(given_times=...)`) adds their other offspring; the rest of the window is independent of the
    event (Slivnyak-Mecke), so the result is the window's law given its past and the event. With `below`, an
    ancestor may be one of the events below mc that `simulate_etas(below=...)` draws, at their rate and
    magnitudes."""
    # the bins `_gr_magnitudes` reports: mc + k dm for the k with k dm below max_magnitude - mc, each with its
    # share of the events >= mc; the recorded magnitudes below mc with `below.ratio` shares in all
    span = params.max_magnitude - params.mc if math.isfinite(params.max_magnitude) else 10.0
    steps = magnitude_bin * np.arange(max(math.ceil(span / magnitude_bin - 1e-9), 1))
    mass = np.exp(-params.beta * steps) * -np.expm1(-params.beta * magnitude_bin)
    mass /= mass.sum()
    if below is not None and below.magnitudes.size:
        values, found = np.unique(below.magnitudes - params.mc, return_counts=True)
        steps, mass = np.r_[steps, values], np.r_[mass, below.ratio * found / found.sum()]
    size_biased = mass * np.exp(params.alpha * steps)
    gain = params.K * size_biased.sum()
    # rho with the productivity of rounded magnitudes, the ones the simulation triggers with (a near-critical
    # cascade amplifies the few percent they lose)
    counts = expected_counts(params, t_start, at, history_times=history_times, history_magnitudes=history_magnitudes,
                             n_bins=n_bins, gain_per_event=gain)
    edges = np.linspace(t_start, at, n_bins + 1)
    density = counts / np.diff(edges)
    times, magnitudes = [], []
    x = at
    while True:
        before = history_times < x
        lag = x - history_times[before]
        fixed = params.mu + float(np.sum(params.K * productivity(history_magnitudes[before], params.mc, params.alpha)
                                         * (lag + params.c) ** -params.p))
        hi = np.minimum(edges[1:], x)
        valid = edges[:-1] < x
        inside = np.zeros(n_bins)
        inside[valid] = density[valid] * gain * (omori_integral(x - edges[:-1][valid], params.c, params.p)
                                                 - omori_integral(x - hi[valid], params.c, params.p))
        if not np.all(np.isfinite(inside)) or rng.random() * (fixed + inside.sum()) < fixed:
            break
        b = int(rng.choice(n_bins, p=inside / inside.sum()))
        f_lo = omori_integral(x - hi[b], params.c, params.p)
        f_hi = omori_integral(x - edges[b], params.c, params.p)
        x = float(x - omori_integral_inverse(f_lo + rng.random() * (f_hi - f_lo), params.c, params.p))
        times.append(x)
        magnitudes.append(round(params.mc + steps[rng.choice(steps.size, p=size_biased / size_biased.sum())], 10))
    return np.asarray(times, dtype=np.float64), np.asarray(magnitudes, dtype=np.float64)
