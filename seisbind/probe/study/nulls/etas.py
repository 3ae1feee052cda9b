"""The ETAS null: a temporal ETAS model (seisbind/seismicity/etas/) fitted to the study's catalog above its
completeness floor, and catalogs simulated from it over the study period (seeded; the events before the period
trigger as history).

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
from seisbind.times import to_utc_ns

_NS_PER_DAY = 86_400_000_000_000


class EtasNull:
    name = "etas"

    def __init__(self, n_sims: int = 200) -> None:
        self.n_sims = int(n_sims)

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
        if fit.params.branching_ratio >= 1:
            raise SeisbindInputError(f"the fitted branching ratio {fit.params.branching_ratio:.2f} >= 1 (an "
                                     "explosive cascade): the catalog is too short or incomplete above "
                                     f"M {floor:.2f} to fit")
        history = t_days < 0
        pool = above[inside][["latitude_deg", "longitude_deg", "depth_km"]].to_numpy(np.float64)
        simulated = simulate_catalogs(fit.params, 0.0, length_days, self.n_sims, seed,
                                      history_times=t_days[history], history_magnitudes=magnitudes[history],
                                      magnitude_bin=0.1)
        info = {"fit": fit.to_dict(), "magnitude_floor": floor, "n_events_fitted": fit.n_events}
        return info, self._catalogs(simulated, pool, start, np.random.default_rng([seed, 1]))

    @staticmethod
    def _catalogs(simulated, pool: np.ndarray, start: pd.Timestamp, rng: np.random.Generator):
        for k, (t, m) in enumerate(simulated):
            where = pool[rng.integers(len(pool), size=t.size)]
            yield pd.DataFrame({
                "event_id": [f"etas{k}_{i}" for i in range(t.size)],
                "time": pd.to_datetime(start.value + np.round(t * _NS_PER_DAY).astype(np.int64), utc=True),
                "latitude_deg": where[:, 0], "longitude_deg": where[:, 1], "depth_km": where[:, 2],
                "magnitude": m})
