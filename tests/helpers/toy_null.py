"""A clustering null added as one module plus a `probe.nulls` entry: the study's events at or above the floor,
their times redrawn uniformly over the period (a Poisson process with the catalog's own magnitudes and places),
pooled into studies by the study's own window rules."""

from __future__ import annotations

import numpy as np
import pandas as pd

from seisbind.probe.study.nulls import pooled_studies


class PoissonTimes:
    name = "poisson"

    def __init__(self, n_sims: int = 5, max_pool: int = 5) -> None:
        self.n_sims = int(n_sims)
        self.max_pool = int(max_pool)

    def studies(self, catalog: pd.DataFrame, floor: float, period, how, seed: int):
        start, end = period
        above = catalog[catalog["magnitude"] >= floor].reset_index(drop=True)
        rng = np.random.default_rng(seed)

        def world():
            while True:
                offsets = rng.uniform(0, (end - start).value, len(above)).astype(np.int64)
                yield above.assign(time=pd.to_datetime(start.value + offsets, utc=True)).sort_values("time")

        worlds = (world() for _ in range(self.n_sims))
        return {"n_events": int(len(above)), "max_pool": self.max_pool}, pooled_studies(worlds, how, self.max_pool,
                                                                                          seed)

    def intensity_ratio(self, times: pd.Series) -> np.ndarray:
        """Poisson times: no earlier event raises the rate."""
        return np.ones(len(times))
