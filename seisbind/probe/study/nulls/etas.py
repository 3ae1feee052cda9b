"""The ETAS null: a temporal ETAS model (seisbind/seismicity/etas/) fitted to the study's catalog above its
completeness floor, and catalogs simulated from it over the study period (seeded; the events before the period
trigger as history). Every fit is simulated, those with an infinite-time branching ratio >= 1 (p <= 1, alpha near
b ln 10: common for real sequences over months) included, since the period is finite; the info reports the events
the fit expects over the period and their triggered share.

The simulated catalogs are temporal: each simulated event takes the epicentre and depth of a real event drawn at
random, so spatial features carry no clustering signal in them, and target declustering by distance acts at
random.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd

from seisbind.errors import SeisbindInputError
from seisbind.seismicity.etas import fit_etas, simulate_catalogs
from seisbind.seismicity.etas.model import expected_counts
from seisbind.times import to_utc_ns

_NS_PER_DAY = 86_400_000_000_000


class EtasNull:
    """`max_expected_events`: the most events the fitted model may expect over the period (the mean of its
    simulations, seisbind.seismicity.etas.model.expected_counts) before the null is refused rather than simulated."""

    name = "etas"

    def __init__(self, n_sims: int = 200, max_expected_events: int = 200_000) -> None:
        self.n_sims = int(n_sims)
        self.max_expected_events = int(max_expected_events)

    def simulate(self, catalog: pd.DataFrame, floor: float, period: tuple[pd.Timestamp, pd.Timestamp],
                 seed: int) -> tuple[dict, Iterator[pd.DataFrame]]:
        if not np.isfinite(floor):
            raise SeisbindInputError("no completeness floor (set probe.min_magnitude)")
        start, end = period
        above = catalog[catalog["magnitude"] >= floor]
        t_days = (to_utc_ns(above["time"]) - start.value) / _NS_PER_DAY
        magnitudes = above["magnitude"].to_numpy(np.float64)
        length_days = (end - start) / pd.Timedelta(days=1)
        inside = (t_days >= 0) & (t_days <= length_days)
        # Simulated magnitudes stop at the largest the catalog holds: with alpha near b ln 10, as in many real
        # catalogs, an unbounded GR tail would make every cascade explosive.
        fit = fit_etas(t_days, magnitudes, floor, 0.0, length_days, max_magnitude=float(np.nanmax(magnitudes)))
        history = t_days < 0
        period = self._period_counts(fit.params, length_days, t_days[history], magnitudes[history], int(inside.sum()))
        pool = above[inside][["latitude_deg", "longitude_deg", "depth_km"]].to_numpy(np.float64)
        simulated = simulate_catalogs(fit.params, 0.0, length_days, self.n_sims, seed,
                                      history_times=t_days[history], history_magnitudes=magnitudes[history],
                                      magnitude_bin=0.1)
        info = {"fit": fit.to_dict(), "magnitude_floor": floor, "n_events_fitted": fit.n_events} | period
        return info, self._catalogs(simulated, pool, start, np.random.default_rng([seed, 1]))

    def _period_counts(self, params, length_days: float, history_t: np.ndarray, history_m: np.ndarray,
                       observed: int) -> dict:
        """The events the fit expects over the period and the share of them triggered (by the period's own events
        or the history): the finite-period counterparts of the infinite-time branching ratio, which p <= 1 or
        alpha near b ln 10 make infinite for fits that describe a finite sequence well."""
        expected = float(expected_counts(params, 0.0, length_days, history_times=history_t,
                                         history_magnitudes=history_m).sum())
        if not expected <= self.max_expected_events:
            raise SeisbindInputError(
                f"the fitted model (infinite-time branching ratio {params.branching_ratio:.2f}) expects "
                f"{expected:.3g} events over the period, {observed} were observed; more than "
                f"probe.nulls.etas.max_expected_events={self.max_expected_events}: raise it to simulate anyway")
        return {"expected_events": expected, "observed_events": observed,
                "triggered_share": 1.0 - params.mu * length_days / expected if expected > 0 else 0.0}

    @staticmethod
    def _catalogs(simulated, pool: np.ndarray, start: pd.Timestamp, rng: np.random.Generator):
        for k, (t, m) in enumerate(simulated):
            where = pool[rng.integers(len(pool), size=t.size)]
            yield pd.DataFrame({
                "event_id": [f"etas{k}_{i}" for i in range(t.size)],
                "time": pd.to_datetime(start.value + np.round(t * _NS_PER_DAY).astype(np.int64), utc=True),
                "latitude_deg": where[:, 0], "longitude_deg": where[:, 1], "depth_km": where[:, 2],
                "magnitude": m})
