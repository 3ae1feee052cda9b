"""The ETAS null: a temporal ETAS model (seisbind/seismicity/etas/) fitted to the study's catalog above its
completeness floor, and simulated studies drawn from it. Every fit is simulated, those with an infinite-time
branching ratio >= 1 (p <= 1, alpha near b ln 10: common for real sequences over months) included, since the period
is finite; the info reports the events the fit expects over the period and their triggered share.

`conditioning: past` (the default) keeps the real study's targets and windows and simulates only the events
inside them, each window given the real catalog before it (seisbind/probe/study/nulls/windowed.py): "is there
more before these earthquakes than the model expects from what came before them?", the question a one-day ETAS
forecast answers (CSEP's tests; Ogata 1988's residual analysis). A target's window is also conditioned on the
target's occurrence: it holds the target's ancestors, drawn from their law given the past and the target
(seisbind.seismicity.etas.simulate.ancestry, checked against rejection sampling in tests/test_etas.py); without
them a window before an earthquake is simulated too quiet. Why not whole catalogs: their null spreads over every
history the model allows, not the one that happened; on a real-like synthetic sequence without a precursor it
put the pre-event AUC of 100 simulated studies at 0.47-0.64 (median, by horizon) where the real windows gave
0.35-0.55 (so it leaned to "quieter than clustering"), and with a planted precursor the real AUCs of 0.8 lay
inside its 95 % range, where the null given the past excluded them. `conditioning: catalogs` simulates whole
catalogs over the study period (the events before it trigger as history) and pools them into studies with the
study's window rules (seisbind/probe/study/nulls/__init__.py); the rest of this docstring applies to both.

Each simulated study draws its own parameters from the fit's uncertainty (`draw_parameters`: the likelihood's
normal approximation, and b's), so the null spans the ETAS models the catalog allows rather than one of them; a
draw expecting more than `max_draw_ratio` times the events observed over the period (or the fit's own
expectation, where larger), or more than `max_expected_events`, is drawn again (counted), since the observed
catalog rules such a model out. Why relative: near-critical fits have wide tails (the count is steep in the
branching ratio), and on a real-like sequence fitted within 10 km of its targets one draw of the normal
approximation simulated ~100,000 M >= 4 events against 16 observed. A simulated catalog that still runs past ten
times that bound is replaced by another of the same draw (counted as `exploded`). What a model expects is
counted as it is simulated: whole catalogs run forward from the period start; windows given the past from the
real catalog before each moment (`_given_past`), which stays bounded where a near-critical fit's forward count
runs far past the observed (a real-like sequence: 2.5e5 run forward, 2.6e4 given the past, 7,124 observed).

The catalog's largest shocks (M >= `given_min_magnitude`, e.g. the M6 mainshocks of a sequence) are given: every
simulated catalog (and every simulated window they fall in) holds them at their times, magnitudes and epicentres,
triggering by the fitted law, and simulates the rest. Why: a study looks at a sequence because it holds them.
Unconditioned, the fitted law draws an M6 in few catalogs (the Gutenberg-Richter tail), and its catalogs are then
far quieter than the real one (on a real-like synthetic sequence with three M6 mainshocks: 259 events expected
against 867 observed), so every pre-event window is compared with a null from another kind of catalog. The
simulations draw the magnitudes of the other events only, so b comes from those (the Gutenberg-Richter likelihood
truncated at `given_min_magnitude`; seisbind.seismicity.magnitudes.b_value_aki_utsu): with the given shocks in
its sample, b read 0.036 low on average over real-like seeds 100-119 (0.014 without them), and a lower b draws
larger, more productive events before every simulated target. The price,
with `conditioning: catalogs`: before a given shock the null holds the activity its past triggers, but not the
excess that selecting large events at high intensity brings under ETAS (magnitudes are independent of the past
there, so the selection is that of any event); given the past, a target's window holds its ancestors, given shocks
included.

With `below_floor` > 0 the recorded events down to that far below the floor trigger in the fit and occur in the
simulations (seisbind.seismicity.etas.model.BelowFloor). It is off by default: on real-like synthetic sequences
(scripts/calibration.py `real_like`, seeds 100-105 and 115, fitted above M2.5, events recorded down to ~1.6) letting
the events down to 0.4 below trigger moved the fitted p of five seeds from 0.04-0.11 under the generating value to
0.03-0.08 under it (the other two, within 0.02 of it, stayed within 0.03), but the two seeds whose ETAS family-wise
p fell below 0.05 stayed there (104: 0.030, 115: 0.010 with 0.5 below) and the Norcia-scale bench
(scripts/bench_probe.py) took 2.4 times as long for the null (86 s against 36 s). The rest of the bias comes from
the events no network records, which trigger too (Sornette & Werner 2005, JGR 110, B09303) and which no fit above
the floor sees.

With `law` the null simulates a stated ETAS law instead of a fit: a regional model, or (scripts/calibration.py
`etas_law=truth`) the law a synthetic catalog was drawn from. Its events from its own mc up trigger
(seisbind.seismicity.etas.model.above_floor); those below the study's floor occur unrecorded in every simulated
window, and each simulated study first draws the unrecorded events of the real past given the recorded ones
(seisbind.seismicity.etas.simulate.unrecorded_past), since they trigger into the windows as well. Why: it tells
the null's method apart from the fit of a catalog cut at its floor, the part that misses on real-like sequences
(README, calibration: with the generating law the windows of seeds 101 and 104 are no longer set apart).

The simulated catalogs are temporal: each simulated event takes the epicentre and depth of a real event drawn at
random, so spatial features carry no clustering signal in them, and target declustering by distance acts at
random. With probe.radius_km the study fits and simulates the events within the radius of its targets, and
every simulated event counts (seisbind/probe/study/nulls/__init__.py says why).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from seisbind.errors import SeisbindInputError
from seisbind.probe.study.nulls import Pooled, Simulation, pooled_studies
from seisbind.probe.study.nulls.windowed import Span, assemble, main_windows, spans_of
from seisbind.seismicity.etas import EtasFit, draw_parameters, fit_etas, simulate_etas
from seisbind.seismicity.etas.fit import PARAMETER_NAMES
from seisbind.seismicity.etas.incompleteness import AftershockIncompleteness
from seisbind.seismicity.etas.model import (
    BelowFloor,
    EtasParameters,
    above_floor,
    conditional_intensity,
    expected_counts,
    omori_integral,
    productivity,
    total_gain,
)
from seisbind.seismicity.etas.simulate import ancestry, unrecorded_past
from seisbind.seismicity.magnitudes import at_least
from seisbind.times import NS_PER_DAY, to_utc_ns

log = logging.getLogger(__name__)

_MAX_REDRAWS = 100
_DRAWN = "normal approximation of the likelihood"
_WHERE = ["latitude_deg", "longitude_deg", "depth_km"]


def _law(law) -> EtasParameters:
    """`probe.nulls.etas.law` as EtasParameters, or one line naming the key."""
    try:
        return EtasParameters(**{key: float(value) for key, value in dict(law).items()})
    except (TypeError, ValueError, SeisbindInputError) as error:
        raise SeisbindInputError(f"probe.nulls.etas.law: {error} (keys: mu, K, alpha, c, p, b, mc, max_magnitude; "
                                 "seisbind.seismicity.etas.model.EtasParameters)") from None


def _law_info(law: EtasParameters, fit: EtasFit) -> dict:
    """The stated law, as simulated above the floor, and its unrecorded events (none where it starts at the
    floor)."""
    below = fit.below_floor
    return {"stated": law.to_dict(), "params": fit.params.to_dict(), "branching_ratio": fit.params.branching_ratio,
            "unrecorded": None if below is None else {"ratio": float(below.ratio), "min_magnitude": law.mc}}


@dataclass(frozen=True)
class Given:
    """The shocks every simulated catalog holds as they are: times (days from the period start), magnitudes and
    their (latitude_deg, longitude_deg, depth_km) rows."""

    times: np.ndarray
    magnitudes: np.ndarray
    where: np.ndarray

    def index_of(self, times: np.ndarray) -> np.ndarray:
        """Row of each of `times`, all of which are given times."""
        order = np.argsort(self.times, kind="stable")
        return order[np.searchsorted(self.times, times, sorter=order)]


@dataclass
class _Fitted:
    """The fit and what every simulation of it shares (days from the period start)."""

    fit: EtasFit
    times: np.ndarray
    magnitudes: np.ndarray
    """The events that trigger (above the floor, and the recorded ones down to `below_floor` under it), in time
    order."""
    start: pd.Timestamp
    length_days: float
    given: Given
    pool: np.ndarray
    """(latitude_deg, longitude_deg, depth_km) of the events in the period, drawn for simulated events."""
    info: dict
    draws: dict
    stretch: float | None
    """The longest stretch simulated given the real past (days; `conditioning: past`); None for whole
    catalogs."""

    @property
    def history(self) -> tuple[np.ndarray, np.ndarray]:
        before = self.times < 0
        return self.times[before], self.magnitudes[before]


def _given_past(params: EtasParameters, fitted: _Fitted) -> float:
    """Mean events over the period were every moment simulated from the real catalog before it: the model's
    compensator of the real catalog (its triggering events' Omori terms and the background; about the observed
    count for the fit), times what the cascades inside a stretch of L = `fitted.stretch` days add at most (the
    events one event's direct offspring grow to when it opens the stretch; the renewal equation,
    seisbind.seismicity.etas.model.expected_counts, with the events below the floor). Why not the count run
    forward from the period start: a simulation given the past restarts from the real catalog at every stretch,
    so it stays bounded where that count does not (a real-like sequence near criticality expected 2.5e5 events
    run forward against 7,124 observed)."""
    before = fitted.times < fitted.length_days
    lag_start = np.maximum(-fitted.times[before], 0.0)
    lag_end = fitted.length_days - fitted.times[before]
    weight = params.K * productivity(fitted.magnitudes[before], params.mc, params.alpha)
    direct = params.mu * fitted.length_days + float(weight @ (omori_integral(lag_end, params.c, params.p)
                                                              - omori_integral(lag_start, params.c, params.p)))
    opened = params.K * float(omori_integral(np.array(fitted.stretch), params.c, params.p))
    if not opened > 0:   # no stretch, or a law without triggering: nothing grows
        return direct
    grown = expected_counts(replace(params, mu=0.0), 0.0, fitted.stretch, history_times=np.zeros(1),
                            history_magnitudes=np.full(1, params.mc), n_bins=200,
                            gain_per_event=total_gain(params, fitted.fit.below_floor)).sum()
    return direct * float(grown / opened)


@dataclass(frozen=True)
class _Impossible:
    """What no simulated event of a span may be, since the real windows are drawn where there is none
    (seisbind/probe/windows.py): an event >= `quiet` (M; the quiet design's loud events); in a target's window, an
    event as large as the target where targets are declustered (it would have made the target an aftershock);
    in a background window, an event that would be a target (>= `target_min`, and with declustering no event as
    large in the `decluster_days` before it), since background keeps away from targets. Declustering is judged
    in time only, as the simulated events have no places of their own."""

    quiet: float
    target_min: float
    declustered: bool
    decluster_days: float

    def cap(self, span: Span) -> float:
        """A magnitude below which every event of the span is possible: the fallback's bound."""
        if span.target:
            return min(self.quiet, span.target_magnitude if self.declustered else np.inf)
        return min(self.quiet, self.target_min)

    @classmethod
    def of(cls, rules: dict) -> _Impossible:
        return cls(float(rules["quiet_min_magnitude"]), float(rules["target_min_magnitude"]),
                   rules["decluster"] not in (False, "none"), float(rules["decluster_hours"]) / 24.0)

    def __call__(self, span: Span, t: np.ndarray, m: np.ndarray, given: np.ndarray, past_t: np.ndarray,
                 past_m: np.ndarray) -> bool:
        free = ~given
        if np.any(m[free] >= self.quiet):
            return True
        if span.target:
            return self.declustered and bool(np.any(m[free] >= span.target_magnitude))
        eligible = np.flatnonzero(free & (m >= self.target_min))
        if not self.declustered or not eligible.size:
            return eligible.size > 0
        times, magnitudes = np.concatenate([past_t, t]), np.concatenate([past_m, m])
        return any(not np.any((times < t[i]) & (times >= t[i] - self.decluster_days) & (magnitudes >= m[i]))
                   for i in eligible)


class EtasNull:
    """`conditioning`: "past" (default) simulates each of the real study's windows from the fitted model given the real
    catalog before it (module docstring); "catalogs" simulates whole catalogs over the period and pools them
    into studies with the study's own window rules. `max_expected_events`: the most events a model may expect
    over the period as it is simulated (`_load`: run forward, or given the real past): the fit beyond it is
    refused, a drawn model beyond it is drawn again. `max_draw_ratio`: a drawn model expecting more
    than this many times the observed events (or the fit's expectation, where larger) is drawn again.
    `max_pool`: catalogs one simulated study may pool with "catalogs" (seisbind/probe/study/nulls/__init__.py).
    `parameter_uncertainty`: false simulates the point estimate only. `incompleteness`: the short-term
    aftershock incompleteness (AftershockIncompleteness settings; null: none) the fit leaves out and the
    simulated catalogs suffer (seisbind/seismicity/etas/incompleteness.py). `given_min_magnitude`: the shocks
    every simulated catalog holds as they are (module docstring); null: none. `below_floor`: how far below the
    floor (magnitude units) the recorded events trigger in the fit and occur, drawn from their recorded
    magnitudes, in the simulations (seisbind.seismicity.etas.model.BelowFloor; 0: none). `law`: ETAS parameters
    (mu, K, alpha, c, p, b, mc and optionally max_magnitude; EtasParameters) simulated instead of a fit, e.g. a
    regional model or the law a synthetic catalog was drawn from; its events trigger from its mc up, those below
    the floor unrecorded (module docstring); null: fit the catalog."""

    name = "etas"

    def __init__(self, n_sims: int = 200, conditioning: str = "past", max_expected_events: int = 200_000,
                 max_draw_ratio: float = 10.0, max_pool: int = 20, parameter_uncertainty: bool = True,
                 incompleteness: dict | None = None, given_min_magnitude: float | None = None,
                 below_floor: float = 0.0, law: dict | None = None) -> None:
        self.n_sims = int(n_sims)
        if conditioning not in ("past", "catalogs"):
            raise SeisbindInputError(f"probe.nulls.etas.conditioning={conditioning!r}: choose past or catalogs")
        self.conditioning = conditioning
        self.max_expected_events = int(max_expected_events)
        self.max_draw_ratio = float(max_draw_ratio)
        if not self.max_draw_ratio >= 1.0:
            raise SeisbindInputError(f"probe.nulls.etas.max_draw_ratio={max_draw_ratio}: must be >= 1 (a cap below "
                                     "the fit's own expectation would redraw every model)")
        self.max_pool = int(max_pool)
        self.parameter_uncertainty = bool(parameter_uncertainty)
        self.incompleteness = None if incompleteness is None else AftershockIncompleteness(**incompleteness)
        self.given_min_magnitude = np.inf if given_min_magnitude is None else float(given_min_magnitude)
        self.below_floor = float(below_floor)
        if not self.below_floor >= 0.0:
            raise SeisbindInputError(f"probe.nulls.etas.below_floor={below_floor}: must be >= 0 (magnitude units "
                                     "below the completeness floor)")
        self.law = None if law is None else _law(law)
        if self.law is not None and self.below_floor > 0:
            raise SeisbindInputError("probe.nulls.etas: below_floor lets recorded events trigger in a fit; with a "
                                     "stated law the events below the floor are the law's (set below_floor: 0)")
        self._fitted: _Fitted | None = None

    def studies(self, catalog: pd.DataFrame, floor: float, period: tuple[pd.Timestamp, pd.Timestamp],
                how: Simulation, seed: int) -> tuple[dict, Iterator[Pooled]]:
        if self.conditioning == "catalogs":
            info, worlds = self.simulate(catalog, floor, period, seed)
            return info | {"max_pool": self.max_pool}, pooled_studies(worlds, how, self.max_pool, seed)
        windows = main_windows(how.real_windows)
        spans = spans_of(windows, period[0], how.lookback_hours)
        fitted = self._fit(catalog, floor, period, stretch=max((s.end - s.start for s in spans), default=0.0))
        impossible = _Impossible.of(how.window_rules)
        info = fitted.info | {"spans": len(spans)}
        fitted.draws["spans_redrawn"] = 0
        fitted.draws["spans_capped"] = 0

        def one(k: int) -> Pooled:
            rng = np.random.default_rng([seed, k, 3])
            params = self._draw(fitted, rng)
            past = self._past(params, fitted, rng, fitted.length_days)
            events = [self._span(params, fitted, span, impossible, rng, past) for span in spans]
            where = fitted.pool[rng.integers(len(fitted.pool), size=sum(t.size for t, _ in events))]
            features = assemble(windows, spans, events, where, fitted.start, how.features_of)
            return Pooled(windows, features, 1, False)

        return info, (one(k) for k in range(self.n_sims))

    def simulate(self, catalog: pd.DataFrame, floor: float, period: tuple[pd.Timestamp, pd.Timestamp],
                 seed: int) -> tuple[dict, Iterator[Iterator[pd.DataFrame]]]:
        """(the fit's info, `n_sims` worlds: endless whole catalogs of one parameter draw each)."""
        fitted = self._fit(catalog, floor, period)
        return fitted.info, (self._world(fitted, [seed, k]) for k in range(self.n_sims))

    def _fit(self, catalog: pd.DataFrame, floor: float, period: tuple[pd.Timestamp, pd.Timestamp],
             stretch: float | None = None) -> _Fitted:
        """The fit (or stated law) and what its simulations share; refused when it expects more than
        `max_expected_events`: run forward over the period for whole catalogs, given the real past for stretches
        of at most `stretch` days (`_load`)."""
        if not np.isfinite(floor):
            raise SeisbindInputError("no completeness floor (set probe.min_magnitude)")
        start, end = period
        triggering = catalog[at_least(catalog["magnitude"], floor - self.below_floor)]
        triggering = triggering.iloc[np.argsort(to_utc_ns(triggering["time"]), kind="stable")]
        t_days = (to_utc_ns(triggering["time"]) - start.value) / NS_PER_DAY
        magnitudes = triggering["magnitude"].to_numpy(np.float64)
        length_days = (end - start) / pd.Timedelta(days=1)
        inside = (t_days >= 0) & (t_days <= length_days) & at_least(magnitudes, floor)
        # Simulated magnitudes stop at the largest the catalog holds: with alpha near b ln 10, as in many real
        # catalogs, an unbounded GR tail would make every cascade explosive.
        if self.law is None:
            # The likelihood sums over every pair of events: a fit of ~30,000 events takes minutes, so say so first.
            n_fitted = int(np.sum(t_days <= length_days))
            log.info("ETAS null: fitting %d events >= M%g over %.0f days (%.2g pairs per likelihood evaluation)",
                     int(inside.sum()), floor, length_days, n_fitted * (n_fitted - 1) / 2)
            started = time.perf_counter()
            fit = fit_etas(t_days, magnitudes, floor, 0.0, length_days, max_magnitude=float(np.nanmax(magnitudes)),
                           incompleteness=self.incompleteness,
                           trigger_floor=floor - self.below_floor if self.below_floor > 0 else None,
                           b_below=self.given_min_magnitude)
            log.info("ETAS null: fitted mu %.3g/d, K %.3g, alpha %.2f, c %.2g d, p %.3f (%.1f s)", fit.params.mu,
                     fit.params.K, fit.params.alpha, fit.params.c, fit.params.p, time.perf_counter() - started)
        else:
            params, unrecorded = above_floor(self.law, floor)
            fit = EtasFit(params, math.nan, dict.fromkeys(PARAMETER_NAMES, math.nan), int(inside.sum()), True,
                          below_floor=unrecorded)
        history = (t_days[t_days < 0], magnitudes[t_days < 0])
        given = inside & (magnitudes >= self.given_min_magnitude)
        fixed = Given(t_days[given], magnitudes[given], triggering[given][_WHERE].to_numpy(np.float64))
        fitted = _Fitted(fit, t_days, magnitudes, start, length_days, fixed,
                         triggering[inside][_WHERE].to_numpy(np.float64), {}, {}, stretch)
        load = self._load(fit.params, fitted)
        expected = load if stretch is None else self._expected(fit.params, length_days, history, fixed,
                                                               fit.below_floor)
        observed = int(inside.sum())
        if not load <= self.max_expected_events:
            given_past = "" if stretch is None else (f" given the real catalog before each moment ({stretch:.2f}-day "
                                                     f"stretches; run forward from the period start {expected:.3g})")
            raise SeisbindInputError(
                f"the fitted model (infinite-time branching ratio {fit.params.branching_ratio:.2f}) expects "
                f"{load:.3g} events over the period{given_past}, {observed} were observed; more than "
                f"probe.nulls.etas.max_expected_events={self.max_expected_events}: raise it to simulate anyway")
        cap = min(float(self.max_expected_events), self.max_draw_ratio * max(load, float(observed)))
        drawn = self.parameter_uncertainty and fit.covariance is not None
        fitted.draws.update({"method": _DRAWN if drawn else "point estimate" if self.law is None else "stated law",
                             "cap_events": cap, "redrawn_over_cap": 0, "exploded": 0,
                             # a simulation past ten times the cap (its events below the floor included) is replaced
                             "event_limit": max(int(10 * cap * (1.0 + (fit.below_floor.ratio if fit.below_floor
                                                                       else 0.0))), 1)})
        model = {"fit": fit.to_dict()} if self.law is None else {"law": _law_info(self.law, fit)}
        fitted.info.update(model | {
            "conditioning": self.conditioning, "magnitude_floor": floor, "n_events_fitted": fit.n_events,
            "expected_events": expected, "expected_given_past": None if stretch is None else load,
            "observed_events": observed,
            "given": {"min_magnitude": self.given_min_magnitude, "magnitudes": fixed.magnitudes.tolist()},
            "triggered_share": 1.0 - fit.params.mu * length_days / expected if expected > 0 else 0.0,
            "parameter_draws": fitted.draws})
        self._fitted = fitted
        return self._fitted

    def intensity_ratio(self, times: pd.Series) -> np.ndarray | None:
        """lambda(t) / mu of the fitted model (seisbind.seismicity.etas.model.conditional_intensity), every
        catalog event the fit lets trigger (above the floor, and down to `below_floor` under it) before t
        triggering."""
        if self._fitted is None:
            return None
        fitted = self._fitted
        at = (to_utc_ns(times) - fitted.start.value) / NS_PER_DAY
        return conditional_intensity(fitted.fit.params, at, fitted.times, fitted.magnitudes) / fitted.fit.params.mu

    def _draw(self, fitted: _Fitted, rng: np.random.Generator) -> EtasParameters:
        """One simulated study's parameters: drawn from the fit's uncertainty (redrawn, counted, while they
        expect more than the cap's events over the period), or the point estimate."""
        draws = fitted.draws
        for _ in range(_MAX_REDRAWS if draws["method"] == _DRAWN else 0):
            params = draw_parameters(fitted.fit, rng)
            if self._load(params, fitted) <= draws["cap_events"]:
                return params
            draws["redrawn_over_cap"] += 1
        return fitted.fit.params

    def _past(self, params: EtasParameters, fitted: _Fitted, rng: np.random.Generator,
              until: float) -> tuple[np.ndarray, np.ndarray]:
        """The catalog that triggers into a simulated study, in time order: the real one, and with a stated law
        whose events trigger from below the floor, its unrecorded events up to `until` (days) drawn given the real
        ones (seisbind.seismicity.etas.simulate.unrecorded_past) once per study, so its windows share one past."""
        below = fitted.fit.below_floor
        if self.law is None or below is None or not fitted.times.size or fitted.times[0] >= until:
            return fitted.times, fitted.magnitudes
        t, m = unrecorded_past(params, below, fitted.times, fitted.magnitudes, float(fitted.times[0]), until, rng,
                               max_events=fitted.draws["event_limit"])
        times, magnitudes = np.concatenate([fitted.times, t]), np.concatenate([fitted.magnitudes, m])
        order = np.argsort(times, kind="stable")
        return times[order], magnitudes[order]

    def _span(self, params: EtasParameters, fitted: _Fitted, span: Span, impossible: _Impossible,
              rng: np.random.Generator, past: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """The events a network records in `span` under `params`, given the real catalog before it and the given
        shocks inside it. A target span also holds its target's ancestors, drawn given the target's occurrence at
        its end (seisbind.seismicity.etas.simulate.ancestry), so the null has the foreshocks the model makes
        likely before an earthquake. A span is simulated again (ancestors too; counted) while it holds what its
        real window cannot (`_Impossible`; rejection sampling of the law given that it is not there). Why it
        matters: with alpha near b ln 10 an ancestor is as likely an M6 as an M3, and an M6 in the day before an
        M4 makes that M4 an aftershock, not a target."""
        cut = np.searchsorted(past[0], span.start, side="left")
        past_t, past_m = past[0][:cut], past[1][:cut]
        inside = (fitted.given.times >= span.start) & (fitted.given.times < span.end)
        given_t, given_m = fitted.given.times[inside], fitted.given.magnitudes[inside]
        limit = fitted.draws["event_limit"]
        fixed_t, fixed_m = np.concatenate([past_t, given_t]), np.concatenate([past_m, given_m])
        model = params
        for attempt in range(2 * _MAX_REDRAWS):
            if attempt == _MAX_REDRAWS:
                # The window's real content is rare under the model (e.g. a target in a sequence where the model
                # expects larger events every day): rejection would not end, so the span's magnitudes are drawn
                # below what the real window excludes, which ignores that its cascades are then likelier small.
                model = replace(params, max_magnitude=min(params.max_magnitude, impossible.cap(span)))
                fitted.draws["spans_capped"] += 1
            chain_t, chain_m = ancestry(model, span.start, span.end, rng, history_times=fixed_t,
                                        history_magnitudes=fixed_m, magnitude_bin=0.1,
                                        below=fitted.fit.below_floor) if span.target else (given_t[:0], given_m[:0])
            try:
                t, m = simulate_etas(model, span.start, span.end, rng, history_times=past_t,
                                     history_magnitudes=past_m, given_times=np.concatenate([given_t, chain_t]),
                                     given_magnitudes=np.concatenate([given_m, chain_m]), magnitude_bin=0.1,
                                     max_events=limit, below=fitted.fit.below_floor)
            except SeisbindInputError:
                fitted.draws["exploded"] += 1
                continue
            keep = t < span.end
            t, m = t[keep], m[keep]
            is_given = np.isin(t, given_t)
            if not impossible(span, t, m, is_given, past_t, past_m):
                break
            fitted.draws["spans_redrawn"] += 1
        else:
            raise SeisbindInputError(f"{2 * _MAX_REDRAWS} simulations in a row of a {span.end - span.start:.2f}-day "
                                     "window exploded or held an event its real window cannot: the fitted model "
                                     "cannot give it")
        seen = at_least(m, params.mc)   # the events below it only trigger
        if self.incompleteness is not None:
            seen &= self.incompleteness.detected(t, m, params.mc, past_t, past_m) | is_given
        return t[seen], m[seen]

    def _catalogs(self, params: EtasParameters, length_days: float, history, given: Given, seed: list[int],
                  draws: dict, below: BelowFloor | None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Endless (times, magnitudes) catalogs of one model; one that runs past the draws' event limit (ten times
        their cap, with the events below the floor at their ratio) is replaced (counted), and _MAX_REDRAWS in a row
        are refused."""
        sequence, exploded, limit = np.random.SeedSequence([*seed, 1]), 0, draws["event_limit"]
        while exploded < _MAX_REDRAWS:
            try:
                catalog = simulate_etas(params, 0.0, length_days, np.random.default_rng(sequence.spawn(1)[0]),
                                        history_times=history[0], history_magnitudes=history[1],
                                        given_times=given.times, given_magnitudes=given.magnitudes,
                                        magnitude_bin=0.1, max_events=limit, below=below)
            except SeisbindInputError:
                draws["exploded"] += 1
                exploded += 1
                continue
            exploded = 0
            yield catalog
        raise SeisbindInputError(f"{_MAX_REDRAWS} simulated catalogs in a row ran past {limit} events (ten times "
                                 f"the {draws['cap_events']:.3g} a parameter draw may expect, with those below the "
                                 "floor): the fitted model is "
                                 "explosive over the period")

    def _load(self, params: EtasParameters, fitted: _Fitted) -> float:
        """The events a simulation of `params` expects, which the caps bound: whole catalogs run forward over
        the period (`_expected`); given the real past (`_given_past`)."""
        if fitted.stretch is None:
            return self._expected(params, fitted.length_days, fitted.history, fitted.given, fitted.fit.below_floor)
        return _given_past(params, fitted)

    def _expected(self, params: EtasParameters, length_days: float, history, given: Given,
                  below: BelowFloor | None) -> float:
        """Mean event count over the period: the finite-period counterpart of the infinite-time branching ratio,
        which p <= 1 or alpha near b ln 10 make infinite for fits that describe a finite sequence well."""
        return given.times.size + float(expected_counts(
            params, 0.0, length_days, history_times=np.r_[history[0], given.times],
            history_magnitudes=np.r_[history[1], given.magnitudes], n_bins=500,
            gain_per_event=total_gain(params, below)).sum())

    def _world(self, fitted: _Fitted, seed: list[int]) -> Iterator[pd.DataFrame]:
        """Endless whole catalogs of one parameter draw (`conditioning: catalogs`)."""
        rng = np.random.default_rng([*seed, 0])
        params = self._draw(fitted, rng)
        given = fitted.given
        times, magnitudes = self._past(params, fitted, rng, 0.0)   # whole catalogs need the history only
        history = times[times < 0], magnitudes[times < 0]
        catalogs = self._catalogs(params, fitted.length_days, history, given, seed, fitted.draws,
                                  fitted.fit.below_floor)
        for k, (t, m) in enumerate(catalogs):
            fixed = np.isin(t, given.times)
            seen = at_least(m, fitted.fit.params.mc)   # the events below it only trigger
            if self.incompleteness is not None:
                seen &= self.incompleteness.detected(t, m, fitted.fit.params.mc, *history) | fixed
            t, m, fixed = t[seen], m[seen], fixed[seen]
            where = fitted.pool[rng.integers(len(fitted.pool), size=t.size)]
            where[fixed] = given.where[given.index_of(t[fixed])]
            yield pd.DataFrame({
                "event_id": [f"etas{k}_{i}" for i in range(t.size)],
                "time": pd.to_datetime(fitted.start.value + np.round(t * NS_PER_DAY).astype(np.int64), utc=True),
                "latitude_deg": where[:, 0], "longitude_deg": where[:, 1], "depth_km": where[:, 2],
                "magnitude": m})
