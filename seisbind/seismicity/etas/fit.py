"""Maximum-likelihood fit of the temporal ETAS model (`seisbind.seismicity.etas.model`) to a catalog."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
from scipy.optimize import minimize

from seisbind.errors import SeisbindInputError
from seisbind.seismicity.etas.incompleteness import AftershockIncompleteness
from seisbind.seismicity.etas.model import BelowFloor, EtasParameters, omori_integral_of_log
from seisbind.seismicity.magnitudes import at_least, b_standard_error, b_value_aki_utsu

MIN_EVENTS = 50
"""Fewest events above Mc in the target window that `fit_etas` accepts: five parameters need many more events."""

PARAMETER_NAMES = ("mu", "K", "alpha", "c", "p")
"""The fitted parameters, in the order of the optimiser's vector (log mu, log K, alpha, log c, p)."""

_MASK_LAG_DAYS = 1e300
"""Lag put on pairs (i, j >= i) that must not trigger: their (lag + c)^(-p) terms are < 1e-100 within the bounds."""

_ALPHA_BOUNDS = (0.0, 10.0)
_C_BOUNDS_DAYS = (1e-6, 10.0)
_P_BOUNDS = (0.5, 5.0)
"""Fit bounds (alpha in 1/magnitude, c in days, p): wide enough for any tectonic sequence, narrow enough that a
weakly clustered catalog cannot run off to kernels that are flat (p -> 0) or instantaneous beyond time precision."""

_BLOCK_PAIRS = 1 << 16
"""Pairs per block in the likelihood: a block's few work arrays stay in cache and memory is O(events)."""


@dataclass(frozen=True)
class EtasFit:
    """Result of `fit_etas`.

    standard_errors: per fitted parameter (mu, K, alpha, c, p), in natural units, from the inverse numerical
    Hessian of the negative log-likelihood at the optimum (delta method for the log-fitted mu, K and c); NaN when
    that Hessian is singular or not positive definite (e.g. a parameter the data do not constrain).
    n_events: events >= mc inside [t_start, t_end] (the likelihood's events; earlier ones only trigger).
    blind_days, n_events_blind: the days of blind intervals left out of the likelihood and the events in them.
    covariance: the inverse Hessian in the optimiser's coordinates (log mu, log K, alpha, log c, p), the normal
    approximation of the likelihood that `draw_parameters` samples; None when the Hessian is not positive definite.
    below_floor: the recorded events below mc that triggered in the fit (`fit_etas(trigger_floor=...)`), which a
    simulation of the fit must hold too; None without them.
    b_standard_error: of the estimated b, from the events it came from
    (seisbind.seismicity.magnitudes.b_standard_error); 0 for a stated b.
    """

    params: EtasParameters
    log_likelihood: float
    standard_errors: dict[str, float]
    n_events: int
    converged: bool
    covariance: np.ndarray | None = None
    blind_days: float = 0.0
    n_events_blind: int = 0
    below_floor: BelowFloor | None = None
    b_standard_error: float = 0.0

    def to_dict(self) -> dict[str, object]:
        """A JSON-friendly summary: parameters, their standard errors, branching ratio and fit diagnostics."""
        return {
            "params": self.params.to_dict(),
            "standard_errors": dict(self.standard_errors),
            "b_standard_error": self.b_standard_error,
            "branching_ratio": self.params.branching_ratio,
            "log_likelihood": self.log_likelihood,
            "n_events": self.n_events,
            "blind_days": self.blind_days,
            "n_events_blind": self.n_events_blind,
            "below_floor": None if self.below_floor is None else self.below_floor.to_dict(),
            "converged": self.converged,
        }


def _int_z_exp(x: np.ndarray) -> np.ndarray:
    """Integral of z e^(x z) over z in [0, 1], i.e. (x e^x - e^x + 1) / x^2, with its series near x = 0."""
    small = np.abs(x) < 1e-2
    safe = np.where(small, 1.0, x)
    series = 0.5 + x * (1 / 3 + x * (1 / 8 + x * (1 / 30 + x / 144)))
    return np.where(small, series, (safe * np.exp(safe) - np.expm1(safe)) / safe**2)


def _omori_terms(x: np.ndarray, c: float, p: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(F, dF/dc, dF/dp) of the Omori integral F (`omori_integral`) at lags x (days), in one pass: the integral's
    share of the likelihood and of its gradient.

    With L = log(1 + x/c) and q = 1 - p, F = c^q L (e^(qL) - 1)/(qL) and dF/dc = (x + c)^(-p) - c^(-p).
    dF/dp = -integral of log(s + c) (s + c)^(-p) ds; substituting s + c = c e^y gives
    -c^q (log c * L (e^(qL) - 1)/(qL) + L^2 * integral_0^1 z e^(qLz) dz). All three are regular at p = 1.
    """
    q = 1.0 - p
    log_ratio = np.log1p(x / c)
    value = omori_integral_of_log(log_ratio, c, p)
    d_c = (x + c) ** (-p) - c ** (-p)
    d_p = -(math.log(c) * value + c**q * log_ratio**2 * _int_z_exp(q * log_ratio))
    return value, d_c, d_p


class _NegLogLikelihood:
    """ETAS negative log-likelihood and its exact gradient in theta = (log mu, log K, alpha, log c, p).

    Events are sorted by time; rows first..n-1 lie in the target window (they enter sum log lambda), all rows
    trigger. The triggering sums over pairs j < i are evaluated in blocks of consecutive rows against columns
    0..last row of the block (the block's upper triangle is masked), so memory stays O(events) and the work is
    a handful of vectorised passes over the n^2/2 pairs per evaluation.
    """

    def __init__(self, times: np.ndarray, mags_above_mc: np.ndarray, first: int, observed: np.ndarray,
                 above: np.ndarray):
        """`observed`: the disjoint (start, end) intervals (days) whose events and intensity enter the likelihood:
        the target window less any blind intervals. `above`: True for the events >= mc; the others only trigger."""
        self.t = times
        self.m = mags_above_mc
        self.first = first
        self.duration = float(np.sum(observed[:, 1] - observed[:, 0]))
        # Each event's Omori integral over the observed intervals after it: F(end - t_i) - F(start - t_i) for every
        # interval that ends after t_i (a lag of 0 adds nothing), kept as (event, lag) pairs; the interval holding
        # t_i has a start lag of 0.
        lag_end = observed[None, :, 1] - times[:, None]
        lag_start = observed[None, :, 0] - times[:, None]
        self.end_events, end_columns = np.nonzero(lag_end > 0)
        self.start_events, start_columns = np.nonzero(lag_start > 0)
        self.lag_end = lag_end[self.end_events, end_columns]
        self.lag_start = lag_start[self.start_events, start_columns]
        self.counted = (_within(times[first:], observed) & above[first:]).astype(np.float64)
        self.blocks = []
        a, n = first, times.size
        while a < n:
            rows = int((math.sqrt(a * a + 4.0 * _BLOCK_PAIRS) - a) / 2.0)  # rows * (a + rows) ~ _BLOCK_PAIRS
            b = min(n, a + max(1, rows))
            self.blocks.append((a, b))
            a = b
        self._masks: dict[int, np.ndarray] = {}

    def _mask(self, size: int) -> np.ndarray:
        if size not in self._masks:
            self._masks[size] = np.triu(np.full((size, size), _MASK_LAG_DAYS))
        return self._masks[size]

    def __call__(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        log_mu, log_k, alpha, log_c, p = (float(v) for v in theta)
        mu, c = math.exp(log_mu), math.exp(log_c)
        log_prod = log_k + alpha * self.m
        rows = self.t.size - self.first
        s, s_m, s_c, s_p = (np.empty(rows) for _ in range(4))
        for a, b in self.blocks:
            lag = self.t[a:b, None] - self.t[None, :b]
            lag[:, a:] += self._mask(b - a)
            lag += c
            log_lag = np.log(lag)
            w = log_lag * -p
            w += log_prod[:b]
            np.exp(w, out=w)
            r = slice(a - self.first, b - self.first)
            s[r] = w.sum(axis=1)
            s_m[r] = w @ self.m[:b]
            s_p[r] = np.einsum("ij,ij->i", w, log_lag)
            np.reciprocal(lag, out=lag)
            s_c[r] = np.einsum("ij,ij->i", w, lag)
        lam = mu + s
        inv = self.counted / lam
        prod = np.exp(log_prod)
        n = self.t.size
        f_window, d_c, d_p = (np.bincount(self.end_events, end, minlength=n)
                              - np.bincount(self.start_events, start, minlength=n)
                              for end, start in zip(_omori_terms(self.lag_end, c, p),
                                                    _omori_terms(self.lag_start, c, p)))
        triggered = prod @ f_window
        value = mu * self.duration + triggered - self.counted @ np.log(lam)
        grad = np.array([
            mu * self.duration - mu * inv.sum(),
            triggered - s @ inv,
            (prod * self.m) @ f_window - s_m @ inv,
            c * (prod @ d_c) + p * c * (s_c @ inv),
            prod @ d_p + s_p @ inv,
        ])
        return float(value), grad


def _hessian(fun: _NegLogLikelihood, theta: np.ndarray) -> np.ndarray:
    """Central differences of the exact gradient, symmetrised."""
    steps = 1e-4 * np.maximum(1.0, np.abs(theta))
    columns = []
    for k, h in enumerate(steps):
        e = np.zeros_like(theta)
        e[k] = h
        columns.append((fun(theta + e)[1] - fun(theta - e)[1]) / (2.0 * h))
    hess = np.column_stack(columns)
    return 0.5 * (hess + hess.T)


def _covariance(fun: _NegLogLikelihood, theta: np.ndarray) -> np.ndarray | None:
    """The inverse Hessian of the negative log-likelihood at `theta`; None when it is not positive definite."""
    hess = _hessian(fun, theta)
    try:
        np.linalg.cholesky(hess)
        cov = np.linalg.inv(hess)
    except np.linalg.LinAlgError:
        return None
    return cov if np.all(np.isfinite(cov)) else None


def _standard_errors(cov: np.ndarray | None, theta: np.ndarray) -> dict[str, float]:
    """Natural-unit standard errors (delta method for the log-fitted mu, K and c); NaN for all without `cov`."""
    if cov is None:
        return dict.fromkeys(PARAMETER_NAMES, math.nan)
    natural = np.exp(theta[[0, 1, 3]])
    scale = np.array([natural[0], natural[1], 1.0, natural[2], 1.0])
    se = np.sqrt(np.diag(cov)) * scale
    if not np.all(np.isfinite(se)):
        return dict.fromkeys(PARAMETER_NAMES, math.nan)
    return {name: float(v) for name, v in zip(PARAMETER_NAMES, se)}


def draw_parameters(fit: EtasFit, rng: np.random.Generator) -> EtasParameters:
    """One parameter set from the fit's uncertainty: (log mu, log K, alpha, log c, p) from the normal
    approximation of the likelihood at its optimum (the asymptotic distribution of the maximum-likelihood
    estimate, Ogata 1988), alpha and p clipped to the fit's bounds, and b from its own normal approximation
    (`EtasFit.b_standard_error`). Why: a null simulated from the point estimate alone treats uncertain parameters
    as known and rejects too often; to reject ETAS, no plausible ETAS model may reproduce the feature. Without a
    covariance the point estimate is returned."""
    params = fit.params
    if fit.covariance is None:
        return params
    theta = np.array([math.log(params.mu), math.log(params.K), params.alpha, math.log(params.c), params.p])
    drawn = rng.multivariate_normal(theta, fit.covariance)
    b = params.b + rng.normal() * fit.b_standard_error
    return replace(params, mu=math.exp(drawn[0]), K=math.exp(drawn[1]), alpha=float(np.clip(drawn[2], *_ALPHA_BOUNDS)),
                   c=float(np.clip(math.exp(drawn[3]), *_C_BOUNDS_DAYS)), p=float(np.clip(drawn[4], *_P_BOUNDS)),
                   b=max(b, 0.1 * params.b))


def _starts(rate: float, beta: float) -> list[np.ndarray]:
    """Starting points with branching ratio 0.5 and the matching stationary background (1 - n) * rate.

    Two shapes of the Omori/productivity trade-off: the common (alpha ~ 0.7 beta, p ~ 1.1, c ~ 0.01 d) and a
    flatter-productivity, faster-decay one, so one bad basin does not decide the fit.
    """
    starts = []
    for alpha_fraction, p, c in ((0.7, 1.1, 0.01), (0.4, 1.3, 0.05)):
        alpha = alpha_fraction * beta
        n = 0.5
        k = n / (beta / (beta - alpha) * c ** (1.0 - p) / (p - 1.0))
        starts.append(np.array([math.log((1.0 - n) * rate), math.log(k), alpha, math.log(c), p]))
    return starts


def _select(times_days, magnitudes, mc: float, t_start: float, t_end: float,
            trigger_floor: float) -> tuple[np.ndarray, np.ndarray, int]:
    """Events >= trigger_floor (<= mc) up to t_end, sorted by time, and the index of the first one at or after
    t_start."""
    t = np.asarray(times_days, dtype=np.float64).ravel()
    m = np.asarray(magnitudes, dtype=np.float64).ravel()
    if t.shape != m.shape:
        raise SeisbindInputError(f"times_days and magnitudes differ in length: {t.size} vs {m.size}")
    if not (math.isfinite(t_start) and math.isfinite(t_end) and t_end > t_start):
        raise SeisbindInputError(f"ETAS window needs finite t_start < t_end, got [{t_start}, {t_end}]")
    if not (math.isfinite(mc) and math.isfinite(trigger_floor) and trigger_floor <= mc):
        raise SeisbindInputError(f"ETAS needs a finite magnitude of completeness and a trigger floor at or below it, "
                                 f"got mc={mc}, trigger_floor={trigger_floor}")
    keep = np.isfinite(t) & np.isfinite(m) & at_least(m, trigger_floor) & (t <= t_end)
    order = np.argsort(t[keep], kind="stable")
    t, m = t[keep][order], m[keep][order]
    return t, m, int(np.searchsorted(t, t_start, side="left"))


def fit_etas(
    times_days: np.ndarray,
    magnitudes: np.ndarray,
    mc: float,
    t_start: float,
    t_end: float,
    *,
    b: float | None = None,
    magnitude_bin: float | None = 0.1,
    max_magnitude: float = math.inf,
    incompleteness: AftershockIncompleteness | None = None,
    trigger_floor: float | None = None,
    b_below: float = math.inf,
) -> EtasFit:
    """Maximum-likelihood temporal ETAS over the target window [t_start, t_end] (days) for events >= mc.

    Events with times before t_start are the auxiliary (history) window: they trigger events in the target
    window but their own log-intensity is not part of the likelihood, which removes the bias of pretending the
    catalog starts empty. Events after t_end and below mc (below `trigger_floor` with it) are ignored.

    b is only used for the reported GR slope and branching ratio (the temporal likelihood does not involve it);
    when None it is the Aki-Utsu estimate from the target-window magnitudes with bin width `magnitude_bin`
    (0.1 for real catalogs), or Aki's continuous estimate log10(e) / (mean(M) - mc) when `magnitude_bin` is None,
    as for unrounded `simulate_etas` output. `max_magnitude` (e.g. the largest magnitude the region has seen)
    bounds the GR distribution of simulations and the branching ratio; the likelihood does not involve it.

    With `incompleteness`, the blind intervals after large events (seisbind/seismicity/etas/incompleteness.py)
    leave the likelihood: neither their events' log-intensity nor their integral enters it, while their events
    still trigger; b then comes from the events outside them. With `b_below` finite, b comes from the fitted
    events below it, by the likelihood truncated there (seisbind.seismicity.magnitudes.b_value_aki_utsu): a null
    that holds the events from `b_below` up as they are draws only the others' magnitudes (the figures:
    seisbind/probe/study/nulls/etas.py).

    With `trigger_floor` below mc, the recorded events in [trigger_floor, mc) trigger by the same law (their
    productivity below 1) but stay out of the likelihood's events, and `EtasFit.below_floor` describes them for
    simulations (seisbind.seismicity.etas.model.BelowFloor says why: it reduces the bias of p from triggering
    below the floor).

    The optimiser (L-BFGS-B with the exact gradient) works on (log mu, log K, alpha, log c, p) within wide
    bounds, from two starting points; the best optimum is kept. Cost: ~n^2/2 pair terms per evaluation.
    """
    t, m, first = _select(times_days, magnitudes, mc, t_start, t_end, mc if trigger_floor is None else trigger_floor)
    above = at_least(m, mc)
    n_events = int(above[first:].sum())
    if n_events < MIN_EVENTS:
        raise SeisbindInputError(
            f"ETAS fit needs at least {MIN_EVENTS} events >= Mc={mc:g} in [{t_start:g}, {t_end:g}] d, got {n_events}"
        )
    blind = np.empty((0, 2)) if incompleteness is None else incompleteness.blind_intervals(t[above], m[above], mc)
    observed = _less(np.array([[t_start, t_end]]), blind)
    fun = _NegLogLikelihood(t, m - mc, first, observed, above)
    window_m = m[first:][fun.counted > 0]
    below = None
    if trigger_floor is not None:
        small = _within(t[first:], observed) & ~above[first:]
        below = BelowFloor(float(small.sum() / max(window_m.size, 1)), m[first:][small])
    b, b_error = (float(b), 0.0) if b is not None else _b_value(window_m, mc, magnitude_bin, b_below)
    beta = b * math.log(10.0)
    rate = n_events / (t_end - t_start)
    bounds = [
        (math.log(rate) - 20.0, math.log(rate) + 2.0),
        (-30.0, 5.0),
        _ALPHA_BOUNDS,
        (math.log(_C_BOUNDS_DAYS[0]), math.log(_C_BOUNDS_DAYS[1])),
        _P_BOUNDS,
    ]
    best = None
    for start in _starts(rate, beta):
        result = minimize(
            fun, start, jac=True, method="L-BFGS-B", bounds=bounds, options={"maxiter": 1000, "ftol": 1e-12}
        )
        if best is None or result.fun < best.fun:
            best = result
    theta = best.x
    params = EtasParameters(
        mu=math.exp(theta[0]), K=math.exp(theta[1]), alpha=float(theta[2]), c=math.exp(theta[3]), p=float(theta[4]),
        b=float(b), mc=float(mc), max_magnitude=float(max_magnitude),
    )
    cov = _covariance(fun, theta)
    return EtasFit(
        params=params,
        log_likelihood=-float(best.fun),
        standard_errors=_standard_errors(cov, theta),
        n_events=int(n_events),
        converged=bool(best.success),
        covariance=cov,
        blind_days=float((t_end - t_start) - fun.duration),
        n_events_blind=int(n_events - fun.counted.sum()),
        below_floor=below,
        b_standard_error=b_error,
    )


def _b_value(magnitudes: np.ndarray, mc: float, magnitude_bin: float | None, below: float) -> tuple[float, float]:
    """b of the fitted events (`b_value_aki_utsu`, truncated at `below`) with bin width `magnitude_bin`, and its
    standard error; without a bin width, with a bin of 1e-6, which leaves Aki's continuous estimate
    log10(e) / (mean(M) - mc)."""
    dm = magnitude_bin or 1e-6
    b, reason = b_value_aki_utsu(magnitudes, mc, dm=dm, min_count=MIN_EVENTS, below=below)
    if reason is not None:
        raise SeisbindInputError(f"ETAS fit: no b-value: {reason}")
    return float(b), b_standard_error(magnitudes, mc, b, dm=dm, below=below)


def _within(times: np.ndarray, intervals: np.ndarray) -> np.ndarray:
    """True for the times (days) inside one of the (start, end) rows."""
    return ((times[:, None] >= intervals[None, :, 0]) & (times[:, None] <= intervals[None, :, 1])).any(axis=1)


def _less(intervals: np.ndarray, blind: np.ndarray) -> np.ndarray:
    """`intervals` (one row (start, end)) less the disjoint sorted `blind` rows: the observed (start, end) rows."""
    (lo, hi), = intervals
    out = []
    for a, b in blind:
        if b <= lo or a >= hi:
            continue
        if a > lo:
            out.append((lo, a))
        lo = max(lo, b)
    if hi > lo:
        out.append((lo, hi))
    return np.array(out, dtype=np.float64).reshape(-1, 2)
