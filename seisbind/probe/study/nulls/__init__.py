"""Clustering nulls: is the pre-event signal more than earthquakes triggering earthquakes?

Activity rises before many M >= 4 events of a real catalog with no precursor at all, because seismicity is
clustered (Ogata 1988; the referee's test of a precursor claim is against such a catalog, Stark 1997, Luen &
Stark 2012). Label permutations cannot see this: they ask whether pre-event windows differ from background
windows, not why.

A null (`CatalogNull`) gives simulated studies without any precursor, in one of two ways. Either the real
study's own windows with their events simulated, each given the real catalog before it
(seisbind/probe/study/nulls/windowed.py; the ETAS null's default). Or whole simulated catalogs with the study's
own window rules and as many pre-event windows per horizon as the real study (`pooled_studies`): catalogs of one
simulated world are pooled until it has them (mainshocks are rare, and a world whose period holds fewer targets
than the real one must not be discarded: that would keep only the worlds richest in large events, as Moutote et
al. 2021, GRL, pool the mainshocks of many simulated catalogs), then its targets are drawn down to the real
count, each with its matched background. Each simulated study goes through the same catalog-derived features ->
the one evaluation (seisbind/probe/study/rows.py) as the real catalog, and a row's `p_value_<name>` is
two-sided: the share of scorable studies with an AUC at least as far from their mean
(seisbind.probe.evaluate.two_sided_p), with `<name>_direction` saying which way. Only feature sets made of
features a simulated catalog yields (`simulated` families, seisbind/protocols.py) get the test. `probe.nulls`
names the nulls, one module each in this package.

With `probe.radius_km` the catalog features count only the events within that distance of each window's target,
so the study hands every null the catalog's events within the radius of some target
(seisbind.probe.features.near_centres): the null fits and simulates the seismicity the features see, not the
whole region's, whose unrelated sequences would blur the clustering near the targets. The simulated catalogs
are temporal, with epicentres drawn at random from the real ones, so a radius around a simulated target would
keep a random share of the cascade that led to it and thin the very clustering the null must reproduce; every
simulated event is therefore counted (CatalogFamily.from_catalog, seisbind/modalities/catalog.py): a simulated
catalog is the near-target seismicity as a whole. Where the targets' circles overlap into one area (Norcia's)
that is close to what the radius shows each real window; where they lie in separate areas the fit treats their
seismicity as one temporal process, so each simulated window also counts the other areas' activity, and a
claim there is best checked area by area (one probe.region each).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import pandas as pd

from seisbind.errors import SeisbindInputError
from seisbind.probe.evaluate import Settings, max_t_adjusted, two_sided_p
from seisbind.probe.study.config import MAIN_TYPES
from seisbind.probe.study.design import horizon_of
from seisbind.probe.study.rows import Row, try_evaluate
from seisbind.probe.windows import make_windows
from seisbind.progress import progress


class CatalogNull(Protocol):
    name: str
    n_sims: int
    """Simulated studies."""

    def studies(self, catalog: pd.DataFrame, floor: float, period: tuple[pd.Timestamp, pd.Timestamp],
                how: Simulation, seed: int) -> tuple[dict, Iterator[Pooled]]:
        """(what was fitted, as plain values for metrics.json; `n_sims` simulated studies without a precursor,
        each as `how` scores the real one: the study's window rules on whole simulated catalogs
        (`pooled_studies`), or the real windows with simulated events (seisbind/probe/study/nulls/windowed.py))."""
        ...

    def intensity_ratio(self, times: pd.Series) -> np.ndarray | None:
        """Once `studies` has fitted its model: the rate the model expects at each of `times` (UTC) from the
        catalog's earlier events, over its rate without them; how far clustering alone raises the seismicity
        there (1: not at all). None before."""
        ...


@dataclass(frozen=True)
class Simulation:
    """How a simulated catalog is scored: the study's window rules, its catalog-only feature sets (columns), its
    horizons, the scores of each of those sets, `features_of(catalog, windows)`, the simulated families'
    features, and the real study's windows, whose pre-event and background counts per horizon each simulated
    study matches."""

    window_rules: dict
    feature_sets: dict[str, list[str]]
    horizons: list[float]
    scores: dict[str, list[str]]
    settings: Settings
    features_of: Callable[[pd.DataFrame, pd.DataFrame], pd.DataFrame]
    family_of: Callable[[str], str]
    real_windows: pd.DataFrame = field(repr=False)
    lookback_hours: float = 0.0
    """How long before a window the simulated families count events (the largest of their lookback_hours)."""

    def wanted(self) -> dict[float, tuple[int, int]]:
        """(pre-event, background) windows of the real study per horizon."""
        out = {}
        for h in self.horizons:
            horizon = horizon_of(self.real_windows, h)
            out[float(h)] = (int(horizon.y.sum()), int((~horizon.y).sum()))
        return out


@dataclass
class Pooled:
    """One simulated study: its windows and their features, and how it was assembled."""

    windows: pd.DataFrame
    features: pd.DataFrame
    n_catalogs: int
    short: bool
    """True when the study has fewer pre-event windows than the real one at some horizon (`pooled_studies`:
    `max_pool` catalogs did not reach them)."""


def pooled_studies(worlds: Iterator[Iterator[pd.DataFrame]], how: Simulation, max_pool: int,
                   seed: int) -> Iterator[Pooled]:
    """One study per world (an endless stream of simulated catalogs), by `pooled_study`."""
    for k, world in enumerate(worlds):
        yield pooled_study(world, how, max_pool, np.random.default_rng([seed, 2, k]))


def pooled_study(world: Iterator[pd.DataFrame], how: Simulation, max_pool: int, rng: np.random.Generator) -> Pooled:
    """Catalogs of one world pooled until each horizon has the real study's pre-event windows, then cut to them.

    Each catalog's windows are its own (its targets, quiet rule and matched background); their ids, groups and
    strata are prefixed with the catalog's number so that folds and permutation strata never join two catalogs.
    """
    wanted = how.wanted()
    parts_w, parts_f, have = [], [], dict.fromkeys(wanted, 0)
    n = 0
    while n < max_pool and any(have[h] < pre for h, (pre, _) in wanted.items()):
        try:
            simulated = next(world)
        except (StopIteration, SeisbindInputError):
            break  # a world whose next catalog cannot be simulated (e.g. past a null's event cap) stays short
        n += 1
        try:
            windows = make_windows(simulated, **how.window_rules)
        except SeisbindInputError:
            continue
        windows = windows[windows["window_type"].isin(MAIN_TYPES)].reset_index(drop=True)
        if not (windows["window_type"] == MAIN_TYPES[0]).any():
            continue
        features = how.features_of(simulated, windows).reset_index(drop=True)
        tag = f"sim{n}:"
        windows = windows.assign(**{c: tag + windows[c].astype(str) for c in ("window_id", "group", "stratum")},
                                 target_event_id=tag + windows["target_event_id"].astype(str))
        parts_w.append(windows)
        parts_f.append(features)
        for h in have:
            have[h] += int(horizon_of(windows, h).y.sum())
    if not parts_w:
        empty = pd.DataFrame(columns=[*how.real_windows.columns])
        return Pooled(empty, pd.DataFrame(), n, True)
    windows = pd.concat(parts_w, ignore_index=True)
    features = pd.concat(parts_f, ignore_index=True)
    keep = _cut_to(windows, wanted, how.window_rules["match_days"] is not None, rng)
    short = any(have[h] < pre for h, (pre, _) in wanted.items())
    return Pooled(windows[keep].reset_index(drop=True), features[keep].reset_index(drop=True), n, short)


def _cut_to(windows: pd.DataFrame, wanted: dict[float, tuple[int, int]], matched: bool,
            rng: np.random.Generator) -> np.ndarray:
    """Rows kept: per horizon, the pre-event windows of the first `pre` targets of one random order of the pooled
    targets (the same order at every horizon, so the horizons share targets as the real study's do) and, with
    matched background, the background windows of their strata, else `background` windows drawn at random."""
    keep = np.zeros(len(windows), dtype=bool)
    targets = windows["target_event_id"].to_numpy()
    rank = dict(zip(rng.permutation(pd.unique(targets[windows["window_type"].to_numpy() == MAIN_TYPES[0]])),
                    range(len(windows))))
    for h, (n_pre, n_background) in wanted.items():
        horizon = horizon_of(windows, h)
        pre, background = horizon.index[horizon.y], horizon.index[~horizon.y]
        chosen = pre[np.argsort([rank[t] for t in targets[pre]], kind="stable")[:n_pre]]
        keep[chosen] = True
        if matched:
            strata = set(windows["stratum"].to_numpy()[chosen])
            keep[background[windows["stratum"].iloc[background].isin(strata).to_numpy()]] = True
        else:
            keep[rng.permutation(background)[:n_background]] = True
    return keep


def simulated_aucs(null: CatalogNull, catalog: pd.DataFrame, floor: float, period, how: Simulation,
                   seed: int) -> tuple[dict[tuple, np.ndarray], dict]:
    """({(horizon, feature set, score): AUC of each simulated study (NaN where unscored)}, the fit and counts)."""
    started = time.perf_counter()
    fitted, studies = null.studies(catalog, floor, period, how, seed)
    aucs: dict[tuple, np.ndarray] = {}
    pooled, short, magnitudes = [], 0, []
    with _quiet("seisbind.probe.windows"), progress(f"{null.name} null", null.n_sims) as step:
        for k, study in enumerate(studies):
            pooled.append(study.n_catalogs)
            short += study.short
            magnitudes.append(_target_magnitudes(study.windows))
            for key, auc in catalog_aucs(study.windows, study.features, how).items():
                aucs.setdefault(key, np.full(null.n_sims, np.nan))[k] = auc
            step()
    info = fitted | {"n_sims": null.n_sims, "targets": _targets_record(how, magnitudes, pooled, short),
                     "seconds": time.perf_counter() - started}
    return aucs, info


@contextmanager
def _quiet(name: str) -> Iterator[None]:
    """The logger `name` at ERROR for the block: the real study's window shortfalls are reported, those of
    thousands of simulated catalogs are not news."""
    log = logging.getLogger(name)
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        log.setLevel(level)


def _target_magnitudes(windows: pd.DataFrame) -> np.ndarray:
    pre = windows[windows["window_type"] == MAIN_TYPES[0]].drop_duplicates("target_event_id")
    return pre["target_magnitude"].to_numpy(np.float64)


def _targets_record(how: Simulation, magnitudes: list[np.ndarray], pooled: list[int], short: int) -> dict:
    """How the simulated studies' targets compare with the real ones: count and magnitudes, and the catalogs
    pooled for them."""
    real = _target_magnitudes(how.real_windows)
    counts = np.array([m.size for m in magnitudes])
    means = np.array([m.mean() for m in magnitudes if m.size])
    return {"real": int(real.size), "simulated_mean": float(counts.mean()) if counts.size else 0.0,
            "real_magnitude_mean": float(real.mean()) if real.size else None,
            "simulated_magnitude_mean": float(means.mean()) if means.size else None,
            "real_magnitude_max": float(real.max()) if real.size else None,
            "simulated_magnitude_max": float(max(m.max() for m in magnitudes if m.size)) if means.size else None,
            "catalogs_pooled_mean": float(np.mean(pooled)) if pooled else 0.0,
            "catalogs_pooled_max": int(max(pooled, default=0)), "studies_short": int(short)}


def catalog_aucs(windows: pd.DataFrame, features: pd.DataFrame, how: Simulation) -> dict[tuple, float]:
    """AUC of every (horizon, feature set, score) one simulated study's windows give, as the study computes it;
    what cannot be scored (too few windows, a fold with one class) is left out."""
    from seisbind.probe.features import usable_windows
    from seisbind.probe.stats import auc_roc

    out = {}
    for h in how.horizons:
        horizon = horizon_of(windows, h)
        for name, columns in how.feature_sets.items():
            part = horizon.subset(usable_windows(features.iloc[horizon.index], columns, how.family_of))
            scored = try_evaluate(lambda rows, c=columns: features.iloc[rows][c], part, how.scores[name], how.settings,
                                  f"simulated study at {h:g} h")
            if isinstance(scored, str):
                continue
            for score, s in scored.scores.items():
                out[(float(h), name, score)] = float(auc_roc(part.y, s))
    return out


def null_record(name: str, auc: float, null: np.ndarray | None) -> dict:
    """p_value_<name> (two-sided, seisbind.probe.evaluate.two_sided_p), <name>_direction and the null's AUC mean
    and 95 % range for one row (None where fewer than 2 simulated studies could be scored)."""
    finite = np.asarray([] if null is None else null, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    if finite.size < 2:
        return {f"p_value_{name}": None, f"{name}_direction": None, f"{name}_auc_mean": None,
                f"{name}_auc_low": None, f"{name}_auc_high": None, f"n_{name}": int(finite.size)}
    low, high = np.quantile(finite, [0.025, 0.975])
    p, direction = two_sided_p(auc, finite)
    return {f"p_value_{name}": p, f"{name}_direction": direction, f"{name}_auc_mean": float(finite.mean()),
            f"{name}_auc_low": float(low), f"{name}_auc_high": float(high), f"n_{name}": int(finite.size)}


def attach(name: str, rows: list[Row], aucs: dict[tuple, np.ndarray], tested: set[str]) -> list[Row]:
    """Each row's record under null `name` (feature sets outside `tested` get None) and `p_value_<name>_adjusted`:
    family-wise over the tested rows by max-T over the simulated studies (seisbind.probe.evaluate.max_t_adjusted;
    each simulated study scores every row at once, as a label permutation does), so the row a report leads with
    is judged against clustering with every row that could have led. Returns the tested rows left without a
    p-value."""
    for row in rows:
        row.values |= null_record(name, row.auc, aucs.get(row.key) if row.feature_set in tested else None)
    judged = [r for r in rows if r.values[f"p_value_{name}"] is not None]
    adjusted = max_t_adjusted([r.auc for r in judged], [aucs[r.key] for r in judged]) if judged else []
    for row in rows:
        row.values[f"p_value_{name}_adjusted"] = None
    for row, p in zip(judged, adjusted):
        row.values[f"p_value_{name}_adjusted"] = float(p)
    return [r for r in rows if r.feature_set in tested and r.values[f"p_value_{name}"] is None]


def clustering_ratio(nulls: list[CatalogNull], infos: dict[str, dict], times: pd.Series) -> tuple[
        np.ndarray | None, str]:
    """(the first fitted null's intensity_ratio at `times`, its name) or (None, why no null was fitted)."""
    for null in nulls:
        if null.name in infos:
            return null.intensity_ratio(times), null.name
    return None, ("no clustering null was fitted (" + (", ".join(f"probe.nulls.{n.name}" for n in nulls) or
                                                       "probe.nulls is empty") + ": see skipped)")


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
            # A missing p-value must not read as a pass: say how many simulated studies could be scored.
            worst = min(r.values[f"n_{null.name}"] for r in short)
            skipped.add(what, f"{len(short)} catalog rows have fewer than 2 scorable simulated studies (as few as "
                              f"{worst} of {null.n_sims}; {infos[null.name]['targets']['studies_short']} studies "
                              f"stayed short of the real pre-event windows)")
    return infos, aucs
