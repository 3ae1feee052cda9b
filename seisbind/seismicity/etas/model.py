"""The temporal ETAS model (Ogata 1988) and its one productivity law.

For events with M >= Mc the conditional intensity, in events/day with time in days, is

    lambda(t) = mu + sum_{t_i < t} K productivity(M_i) (t - t_i + c)^(-p),   productivity(M) = exp(alpha (M - Mc)),

and magnitudes follow Gutenberg-Richter above Mc with slope b (density beta exp(-beta (M - Mc)), beta = b ln 10).
alpha is on the natural-log scale, so alpha = beta is the critical value where large events dominate the
triggering; the log10 form of the same law is 10^(alpha / ln 10 (M - Mc)). The fit (`seisbind.seismicity.etas.fit`),
the null's simulations and the synthetic writer's cascade (`seisbind.data.synthetic.etas`) all use `productivity`
and the Omori integral below.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

import numpy as np

from seisbind.errors import SeisbindInputError


def productivity(magnitude, mc: float, alpha: float) -> np.ndarray:
    """Relative number of direct offspring of an event of `magnitude`: exp(alpha (M - mc)), 1 at M = mc.

    Events below mc (the synthetic writer simulates them down to its detection floor) trigger less than 1.
    """
    return np.exp(alpha * (np.asarray(magnitude, dtype=np.float64) - mc))


@dataclass(frozen=True)
class EtasParameters:
    """Temporal ETAS parameters; times in days, magnitudes in magnitude units.

    mu: background rate of events >= mc (events/day). K: productivity (events/day^(1-p) per triggering event of
    magnitude mc). alpha: productivity growth with magnitude (1/magnitude, natural-log scale, so alpha = b ln 10
    is the critical value). c: Omori time offset (days). p: Omori decay exponent. b: Gutenberg-Richter slope
    (log10 scale). mc: magnitude of completeness, the threshold the model applies to.
    """

    mu: float
    K: float
    alpha: float
    c: float
    p: float
    b: float
    mc: float
    max_magnitude: float = math.inf

    def __post_init__(self) -> None:
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        bad = [name for name, value in values.items() if not math.isfinite(value) and name != "max_magnitude"]
        if bad:
            listed = ", ".join(f"{name}={values[name]}" for name in bad)
            raise SeisbindInputError(f"ETAS parameters must be finite, got {listed}")
        if self.mu < 0 or self.K < 0 or self.c <= 0 or self.p <= 0 or self.b <= 0:
            raise SeisbindInputError(f"ETAS parameters need mu >= 0, K >= 0, c > 0, p > 0, b > 0; got {values}")

    @property
    def beta(self) -> float:
        """GR slope on the natural-log scale, b ln 10 (1/magnitude)."""
        return self.b * math.log(10.0)

    @property
    def branching_ratio(self) -> float:
        """Expected number of direct aftershocks per event, over infinite time and the continuous GR distribution.

        n = K * beta / (beta - alpha) * c^(1-p) / (p - 1). It is the fraction of events that are triggered in a
        stationary catalog; n >= 1 means the cascade explodes. Infinite when p <= 1 (the Omori integral diverges)
        or alpha >= beta (large events dominate the magnitude average).
        """
        if self.p <= 1.0:
            return math.inf
        return self.K * self.mean_productivity * self.c ** (1.0 - self.p) / (self.p - 1.0)

    @property
    def mean_productivity(self) -> float:
        """E[exp(alpha (M - mc))] over the GR distribution, truncated at max_magnitude when that is finite:
        finite for any alpha once magnitudes are bounded, as they are in nature (a catalog's alpha is often
        close to beta, where the untruncated mean diverges)."""
        gap = self.beta - self.alpha
        if not math.isfinite(self.max_magnitude):
            return self.beta / gap if gap > 0 else math.inf
        width = self.max_magnitude - self.mc
        tail = -math.expm1(-self.beta * width)
        if abs(gap) < 1e-12:
            return self.beta * width / tail
        return self.beta / gap * -math.expm1(-gap * width) / tail

    def to_dict(self) -> dict[str, float]:
        """The fields as plain floats, so `EtasParameters(**params.to_dict())` rebuilds the parameters."""
        return {name: float(value) for name, value in asdict(self).items()}


@dataclass(frozen=True, eq=False)
class BelowFloor:
    """The recorded events below mc, which trigger events above it by the same law (productivity < 1) though the
    model does not describe their own occurrence.

    Why: a catalog cut at its completeness floor leaves out the offspring its smaller events trigger; the fit then
    lends their share to the events above the floor and takes a lower Omori p (Sornette & Werner 2005, JGR 110,
    B09303; Seif et al. 2017, JGR 122, 449). Letting the recorded small events trigger removes part of that bias,
    and simulating them is what lets ETAS forecasts gain from small events (Mizrahi, Nandan & Wiemer 2021, SRL 92,
    2333). ratio: recorded events in [trigger floor, mc) per recorded event >= mc in the fitted window outside its
    blind intervals, so a simulation draws them at `ratio` times the rate of events >= mc; magnitudes: theirs,
    which simulated events below mc are drawn from (the detection roll-off below Mc included as it was recorded).
    A fixed ratio is an approximation: after a large shock a network misses small events longer than those at mc
    (seisbind/seismicity/etas/incompleteness.py), so the recorded small events that trigger in the fit are fewer
    there than the ratio makes in a simulation."""

    ratio: float
    magnitudes: np.ndarray

    def to_dict(self) -> dict[str, float | int | None]:
        """ratio, the number of recorded events below mc in the fitted window and their smallest magnitude."""
        return {"ratio": float(self.ratio), "n_events": int(self.magnitudes.size),
                "min_magnitude": float(self.magnitudes.min()) if self.magnitudes.size else None}

    def gain(self, params: EtasParameters) -> float:
        """Direct offspring >= mc that the events below mc accompanying one event >= mc add on average (the
        counterpart of K mean_productivity over infinite time, per unit of Omori integral)."""
        if not self.magnitudes.size:
            return 0.0
        return self.ratio * params.K * float(productivity(self.magnitudes, params.mc, params.alpha).mean())


def above_floor(law: EtasParameters, floor: float, n_magnitudes: int = 200) -> tuple[EtasParameters, BelowFloor | None]:
    """A law whose events trigger from `law.mc` up, as a study that records events from `floor` (>= law.mc) sees it:
    (the parameters for events >= floor, the events in [law.mc, floor) as a BelowFloor that triggers unseen; None
    when floor == law.mc).

    Above the floor a share q = 10^(-b (floor - law.mc)) of every generation and of the background lies (GR), so
    mu and K (whose offspring counts now mean events >= floor) take the factor q, and K also the productivity of
    the new reference magnitude, exp(alpha (floor - law.mc)); the events below trigger at 1/q - 1 per event above,
    with magnitudes at `n_magnitudes` quantiles of the GR law on [law.mc, floor). Why: the events below a network's
    floor trigger too, and a law fitted above the floor lends their offspring to the recorded events (Sornette &
    Werner 2005, JGR 110, B09303); a law stated down to where triggering starts simulates them as they are."""
    gap = floor - law.mc
    if gap < -1e-9:
        raise SeisbindInputError(f"the ETAS law's mc={law.mc:g} lies above the study's floor {floor:g}: a law "
                                 "says nothing of the events between")
    if gap <= 1e-9:
        return law, None
    share = 10.0 ** (-law.b * gap)
    params = EtasParameters(**{**law.to_dict(), "mu": law.mu * share,
                               "K": law.K * share * math.exp(law.alpha * gap), "mc": floor})
    u = (np.arange(n_magnitudes) + 0.5) / n_magnitudes
    magnitudes = law.mc - np.log1p(-u * -math.expm1(-law.beta * gap)) / law.beta
    return params, BelowFloor(1.0 / share - 1.0, magnitudes)


def total_gain(params: EtasParameters, below: BelowFloor | None = None) -> float:
    """Direct offspring >= mc of one event >= mc per unit of Omori integral, averaged over its magnitude, with
    the recorded events below mc that come with it: K mean_productivity (+ `below.gain`)."""
    return params.K * params.mean_productivity + (0.0 if below is None else below.gain(params))


def _expm1_over(x: np.ndarray) -> np.ndarray:
    """(e^x - 1) / x, equal to 1 at x = 0; it carries the p -> 1 limit of the Omori integral."""
    small = np.abs(x) < 1e-8
    safe = np.where(small, 1.0, x)
    return np.where(small, 1.0 + 0.5 * x, np.expm1(safe) / safe)


def _log1p_over(y: np.ndarray) -> np.ndarray:
    """log(1 + y) / y, equal to 1 at y = 0; it carries the p -> 1 limit of the inverse Omori integral."""
    small = np.abs(y) < 1e-8
    safe = np.where(small, 1.0, y)
    return np.where(small, 1.0 - 0.5 * y, np.log1p(safe) / safe)


def omori_integral(x: np.ndarray, c: float, p: float) -> np.ndarray:
    """F(x) = integral of (s + c)^(-p) over s in [0, x] (x in days), exact for every p including p = 1.

    With L = log(1 + x/c) and q = 1 - p, F = c^q (e^(qL) - 1) / q, written as c^q L (e^(qL) - 1)/(qL) so that
    p = 1 (F = L) needs no separate branch and p near 1 loses no precision.
    """
    return omori_integral_of_log(np.log1p(np.asarray(x, dtype=np.float64) / c), c, p)


def omori_integral_of_log(log_ratio: np.ndarray, c: float, p: float) -> np.ndarray:
    """`omori_integral` from L = log(1 + x/c), for callers that need L too."""
    q = 1.0 - p
    return c**q * log_ratio * _expm1_over(q * log_ratio)


def omori_integral_inverse(f: np.ndarray, c: float, p: float) -> np.ndarray:
    """The lag x (days) with omori_integral(x) = f; f must be below the integral to infinity when p > 1."""
    q = 1.0 - p
    u = f * c ** (-q)
    return c * np.expm1(u * _log1p_over(q * u))


def conditional_intensity(params: EtasParameters, times: np.ndarray, event_times: np.ndarray,
                          event_magnitudes: np.ndarray) -> np.ndarray:
    """lambda(t) = mu + sum over events before t of K exp(alpha (M_i - mc)) (t - t_i + c)^(-p) (events >= mc per
    day) at each of `times` (days), every event strictly earlier triggering: the rate the fitted model expects at
    t from the catalog's past alone, the intensity its likelihood is made of (seisbind/seismicity/etas/fit.py)."""
    times = np.asarray(times, dtype=np.float64)
    event_times = np.asarray(event_times, dtype=np.float64)
    weight = params.K * productivity(event_magnitudes, params.mc, params.alpha)
    out = np.full(times.size, params.mu)
    for lo in range(0, times.size, 256):   # blocks of times keep memory at 256 x events
        lag = times[lo: lo + 256, None] - event_times[None, :]
        before = lag > 0
        out[lo: lo + 256] += np.where(before, weight * (np.where(before, lag, 1.0) + params.c) ** -params.p,
                                      0.0).sum(axis=1)
    return out


def expected_counts(params: EtasParameters, t_start: float, t_end: float, *,
                    history_times: np.ndarray | None = None, history_magnitudes: np.ndarray | None = None,
                    n_bins: int = 2000, gain_per_event: float | None = None) -> np.ndarray:
    """Expected number of events >= mc in each of `n_bins` equal bins of [t_start, t_end] (days) under `params`,
    with the history events (times <= t_start) triggering.

    The mean intensity L solves L(t) = mu + h(t) + K m integral_{t_start}^t (t - s + c)^(-p) L(s) ds (h: the
    history's Omori terms, m: `mean_productivity`): the renewal equation of the branching process, which has a
    finite solution over a finite window whatever the infinite-time branching ratio. `gain_per_event` replaces K m
    (`total_gain`: with the recorded events below mc that trigger too). It is solved bin by bin, each
    bin's events spread uniformly within it (Gauss-Legendre quadrature of the Omori integral over the source bin),
    O(n_bins^2). Why: a fit with p <= 1 or an infinite-time branching ratio >= 1 is a legitimate description of a
    finite sequence, and this says how many events simulating it over the period will give on average.
    """
    width = (t_end - t_start) / n_bins
    nodes, weights = np.polynomial.legendre.leggauss(16)
    u = 0.5 * width * (nodes + 1.0)            # source positions within a bin
    w = 0.5 * weights                          # quadrature weights averaging over the bin
    lags = np.arange(n_bins)[:, None] * width  # bin distance k
    within = w @ omori_integral(width - u, params.c, params.p)          # offspring in the source's own bin
    ahead = (omori_integral(lags[1:] + width - u, params.c, params.p)
             - omori_integral(lags[1:] - u, params.c, params.p)) @ w    # offspring k >= 1 bins later
    gain = params.K * params.mean_productivity if gain_per_event is None else gain_per_event
    if not gain * within < 1.0:
        return np.full(n_bins, math.inf)
    edges = t_start + np.arange(n_bins + 1) * width
    counts = np.full(n_bins, params.mu * width)
    if history_times is not None and len(history_times):
        ht = np.asarray(history_times, dtype=np.float64)
        weight = params.K * productivity(history_magnitudes, params.mc, params.alpha)
        counts += weight @ np.diff(omori_integral(np.maximum(edges[None, :] - ht[:, None], 0.0), params.c,
                                                  params.p), axis=1)
    out = np.empty(n_bins)
    for j in range(n_bins):
        triggered = gain * (out[:j][::-1] @ ahead[:j]) if j else 0.0
        out[j] = (counts[j] + triggered) / (1.0 - gain * within)
    return out
