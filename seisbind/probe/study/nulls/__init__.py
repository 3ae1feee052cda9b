"""Clustering nulls: is the pre-event signal more than earthquakes triggering earthquakes?

Activity rises before many M >= 4 events of a real catalog with no precursor at all, because seismicity is
clustered (Ogata 1988; the referee's test of a precursor claim is against such a catalog, Stark 1997, Luen &
Stark 2012). Label permutations cannot see this: they ask whether pre-event windows differ from background
windows, not why.

A null (`CatalogNull`) simulates catalogs like the study's without any precursor. Each goes through the same
windows -> catalog-derived features -> the one evaluation (seisbind/probe/study/rows.py) as the real catalog, and
a row's `p_value_<name>` = (1 + #simulations with AUC >= observed) / (1 + #simulations that could be scored).
Only feature sets made of features a simulated catalog yields (`simulated` families,
seisbind/protocols.py) get the test. `probe.nulls` names the nulls, one module each in this package.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pandas as pd

from seisbind.errors import SeisbindInputError
from seisbind.probe.evaluate import Settings
from seisbind.probe.study.design import horizon_of
from seisbind.probe.study.rows import Row, try_evaluate
from seisbind.probe.windows import make_windows


class CatalogNull(Protocol):
    name: str
    n_sims: int

    def simulate(self, catalog: pd.DataFrame, floor: float, period: tuple[pd.Timestamp, pd.Timestamp],
                 seed: int) -> tuple[dict, Iterator[pd.DataFrame]]:
        """(what was fitted, as plain values for metrics.json; `n_sims` catalogs with the columns of the study's
        catalog, events at or above `floor`, covering `period`)."""
        ...


@dataclass(frozen=True)
class Simulation:
    """How a simulated catalog is scored: the study's window rules, its catalog-only feature sets (columns), its
    horizons, the scores of each of those sets, and `features_of(catalog, windows)`, the simulated families'
    features."""

    window_rules: dict
    feature_sets: dict[str, list[str]]
    horizons: list[float]
    scores: dict[str, list[str]]
    settings: Settings
    features_of: Callable[[pd.DataFrame, pd.DataFrame], pd.DataFrame]
    family_of: Callable[[str], str]


def simulated_aucs(null: CatalogNull, catalog: pd.DataFrame, floor: float, period, how: Simulation,
                   seed: int) -> tuple[dict[tuple, np.ndarray], dict]:
    """({(horizon, feature set, score): AUC of each simulated catalog (NaN where unscored)}, the fit and counts)."""
    started = time.perf_counter()
    fitted, catalogs = null.simulate(catalog, floor, period, seed)
    aucs: dict[tuple, np.ndarray] = {}
    n_without = 0
    for k, simulated in enumerate(catalogs):
        try:
            windows = make_windows(simulated, **how.window_rules)
        except SeisbindInputError:
            n_without += 1
            continue
        for key, auc in catalog_aucs(windows, how.features_of(simulated, windows), how).items():
            aucs.setdefault(key, np.full(null.n_sims, np.nan))[k] = auc
    info = fitted | {"n_sims": null.n_sims, "n_sims_without_windows": n_without,
                     "seconds": time.perf_counter() - started}
    return aucs, info


def catalog_aucs(windows: pd.DataFrame, features: pd.DataFrame, how: Simulation) -> dict[tuple, float]:
    """AUC of every (horizon, feature set, score) one catalog's windows give, as the study computes it; what
    cannot be scored (too few windows, a fold with one class) is left out."""
    from seisbind.probe.features import usable_windows
    from seisbind.probe.stats import auc_roc

    out = {}
    for h in how.horizons:
        horizon = horizon_of(windows, h)
        for name, columns in how.feature_sets.items():
            part = horizon.subset(usable_windows(features.iloc[horizon.index], columns, how.family_of))
            scored = try_evaluate(lambda rows, c=columns: features.iloc[rows][c], part, how.scores[name], how.settings,
                                  f"simulated catalog at {h:g} h")
            if isinstance(scored, str):
                continue
            for score, s in scored.scores.items():
                out[(float(h), name, score)] = float(auc_roc(part.y, s))
    return out


def null_record(name: str, auc: float, null: np.ndarray | None) -> dict:
    """p_value_<name> and the null's AUC mean and 95 % range for one row (None where fewer than 2 simulated
    catalogs could be scored)."""
    finite = np.asarray([] if null is None else null, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    if finite.size < 2:
        return {f"p_value_{name}": None, f"{name}_auc_mean": None, f"{name}_auc_low": None,
                f"{name}_auc_high": None, f"n_{name}": int(finite.size)}
    low, high = np.quantile(finite, [0.025, 0.975])
    return {f"p_value_{name}": (1 + int(np.sum(finite >= auc - 1e-12))) / (1 + finite.size),
            f"{name}_auc_mean": float(finite.mean()), f"{name}_auc_low": float(low),
            f"{name}_auc_high": float(high), f"n_{name}": int(finite.size)}


def attach(name: str, rows: list[Row], aucs: dict[tuple, np.ndarray], tested: set[str]) -> list[Row]:
    """Each row's record under null `name` (feature sets outside `tested` get None); the tested rows left
    without a p-value."""
    for row in rows:
        row.values |= null_record(name, row.auc, aucs.get(row.key) if row.feature_set in tested else None)
    return [r for r in rows if r.feature_set in tested and r.values[f"p_value_{name}"] is None]


def run_nulls(nulls: list[CatalogNull], catalog: pd.DataFrame, floor: float, period, how: Simulation, rows: list[Row],
              seed: int, skipped) -> tuple[dict[str, dict], dict[str, dict[tuple, np.ndarray]]]:
    """Every configured null on the study's catalog: each row gets its `p_value_<name>` (None where the null cannot
    be run or too few simulated catalogs could be scored, with the reason in `skipped`). Returns (each null's fit
    and counts, each null's simulated AUCs by row key)."""
    infos, aucs = {}, {}
    for null in nulls:
        what = f"{null.name} null"
        found: dict[tuple, np.ndarray] = {}
        if null.n_sims <= 0:
            skipped.add(what, f"probe.nulls.{null.name}.n_sims={null.n_sims}")
        elif not how.feature_sets:
            skipped.add(what, "no feature set is made of catalog features only")
        else:
            try:
                found, infos[null.name] = simulated_aucs(null, catalog, floor, period, how, seed)
                aucs[null.name] = found
            except SeisbindInputError as err:
                skipped.add(what, str(err))
        short = attach(null.name, rows, found, set(how.feature_sets))
        if null.name in infos and short:
            # Simulated catalogs with fewer targets than the study needs per class cannot be scored: say so, since
            # those rows then cannot lead the report, and a missing p-value must not read as a pass.
            worst = min(r.values[f"n_{null.name}"] for r in short)
            skipped.add(what, f"{len(short)} catalog rows have fewer than 2 scorable simulated catalogs (as few as "
                              f"{worst} of {null.n_sims}): the fitted model rarely simulates enough targets "
                              f"M >= {how.window_rules['target_min_magnitude']:g} in the period (as when the "
                              "catalog holds more large events than its Gutenberg-Richter law gives)")
    return infos, aucs
