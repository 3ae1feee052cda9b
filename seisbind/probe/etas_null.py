"""The clustering null: is the pre-event signal more than earthquakes triggering earthquakes?

Activity rises before many M >= 4 events of a real catalog with no precursor at all, because seismicity is
clustered: every event raises the rate after it, so a large event often follows smaller ones (Ogata 1988; the
referee's test of a precursor claim is against such a catalog, Stark 1997, Luen & Stark 2012). Label permutations
cannot see this: they ask whether pre-event windows differ from background windows, not why.

So a temporal ETAS model (seisbind/probe/etas.py) is fitted to the study's catalog above its completeness floor,
`n_sims` catalogs are simulated over the study period (seeded; the events before the period trigger as history),
and each goes through the same windows -> catalog features -> cross-validated scores as the real one. A row's
`p_value_etas` = (1 + #simulations with AUC >= observed) / (1 + #simulations that could be scored).

The simulated catalogs are temporal: each simulated event takes the epicentre and depth of a real event drawn at
random, so spatial features carry no clustering signal in them, and target declustering by distance acts at
random. Only feature sets made of catalog features get the test: trace metadata, animals and embeddings have no
simulated counterpart.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from seisbind.data.catalog import to_utc_ns
from seisbind.errors import SeisbindInputError
from seisbind.probe import evaluate, features
from seisbind.probe.etas import fit_etas, simulate_catalogs
from seisbind.probe.evaluate import Settings
from seisbind.probe.windows import make_windows

log = logging.getLogger(__name__)

_NS_PER_DAY = 86_400_000_000_000
MAIN_TYPES = ("pre", "background")


def catalog_only(feature_sets: dict[str, list[str]], simulated: set[str]) -> dict[str, list[str]]:
    """The feature sets whose every column is in `simulated` (seisbind/probe/families.py): those a simulated
    catalog gives."""
    return {name: columns for name, columns in feature_sets.items() if columns and set(columns) <= simulated}


def horizon_aucs(windows: pd.DataFrame, table: pd.DataFrame, feature_sets: dict[str, list[str]],
                 horizons: Sequence[float], scores: Sequence[str], settings: Settings,
                 family_of: Callable[[str], str]) -> dict[tuple, float]:
    """AUC of every (horizon, feature set, score) on one catalog's windows, as the study computes it; rows that
    cannot be scored (too few windows, a fold with one class) are left out."""
    out = {}
    kind = windows["window_type"].to_numpy()
    for h in horizons:
        rows = np.flatnonzero(np.isin(kind, MAIN_TYPES) & np.isclose(windows["horizon_hours"].to_numpy(), h))
        for name, columns in feature_sets.items():
            keep = rows[features.usable_windows(table.iloc[rows], columns, family_of)]
            y = kind[keep] == "pre"
            try:
                evaluate.check_classes(y, settings, f"ETAS simulation at {h:g} h")
                by_score = evaluate.oof_scores(table.iloc[keep][columns], y,
                                               windows["group"].astype(str).to_numpy()[keep], scores, settings)
            except SeisbindInputError:
                continue
            for score, s in by_score.items():
                out[(float(h), name, score)] = float(evaluate.stats.auc_roc(y, s))
    return out


def etas_null(catalog: pd.DataFrame, floor: float, period: tuple[pd.Timestamp, pd.Timestamp], window_options: dict,
              feature_sets: dict[str, list[str]], horizons: Sequence[float], scores: Sequence[str],
              settings: Settings, *, features_of: Callable[[pd.DataFrame, pd.DataFrame], pd.DataFrame],
              family_of: Callable[[str], str], n_sims: int, seed: int) -> tuple[dict[tuple, np.ndarray], dict]:
    """({(horizon, feature set, score): simulated AUCs (NaN where unscored)}, the fit and the run's counts).

    `catalog` is the study's catalog, `floor` its completeness floor (the magnitude above which ETAS is fitted
    and simulated, and above which the study's catalog features count), `window_options` the keyword arguments
    the study passed to `make_windows`, `feature_sets` the catalog-only sets with their columns and
    `features_of(catalog, windows)` the study's catalog-derived features of a (simulated) catalog."""
    if not np.isfinite(floor):
        raise SeisbindInputError("ETAS null: no completeness floor (set probe.min_magnitude)")
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
        raise SeisbindInputError(f"ETAS null: the fitted branching ratio {fit.params.branching_ratio:.2f} >= 1 "
                                 "(an explosive cascade): the catalog is too short or incomplete above "
                                 f"M {floor:.2f} to fit")
    history = t_days < 0
    pool = above[inside][["latitude_deg", "longitude_deg", "depth_km"]].to_numpy(np.float64)
    rng = np.random.default_rng([seed, 1])
    nulls: dict[tuple, list[float]] = {}
    n_unscored = 0
    for k, (t, m) in enumerate(simulate_catalogs(fit.params, 0.0, length_days, n_sims, seed,
                                                 history_times=t_days[history],
                                                 history_magnitudes=magnitudes[history], magnitude_bin=0.1)):
        where = pool[rng.integers(len(pool), size=t.size)]
        simulated = pd.DataFrame({
            "event_id": [f"etas{k}_{i}" for i in range(t.size)],
            "time": pd.to_datetime(start.value + np.round(t * _NS_PER_DAY).astype(np.int64), utc=True),
            "latitude_deg": where[:, 0], "longitude_deg": where[:, 1], "depth_km": where[:, 2],
            "magnitude": m})
        try:
            windows = make_windows(simulated, **window_options)
        except SeisbindInputError:
            n_unscored += 1
            continue
        table = features_of(simulated, windows)
        aucs = horizon_aucs(windows, table, feature_sets, horizons, scores, settings, family_of)
        for key in set(nulls) | set(aucs):
            nulls.setdefault(key, [np.nan] * k).append(aucs.get(key, np.nan))
        for values in nulls.values():
            values += [np.nan] * (k + 1 - len(values))
    info = {"fit": fit.to_dict(), "n_sims": n_sims, "n_sims_without_windows": n_unscored,
            "magnitude_floor": floor, "n_events_fitted": fit.n_events}
    return {key: np.asarray(values, dtype=np.float64) for key, values in nulls.items()}, info


def etas_record(auc: float, null: np.ndarray | None) -> dict:
    """p_value_etas and the ETAS-null AUC mean and 95 % range of one row."""
    finite = np.asarray([] if null is None else null, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    if finite.size < 2:
        return {"p_value_etas": None, "etas_auc_mean": None, "etas_auc_low": None, "etas_auc_high": None,
                "n_etas": int(finite.size)}
    low, high = np.quantile(finite, [0.025, 0.975])
    return {"p_value_etas": (1 + int(np.sum(finite >= auc - 1e-12))) / (1 + finite.size),
            "etas_auc_mean": float(finite.mean()), "etas_auc_low": float(low), "etas_auc_high": float(high),
            "n_etas": int(finite.size)}
