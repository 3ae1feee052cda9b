"""One horizon of the study: every feature set x each of its scores as rows, the planned comparisons (the
configured ones and the modality verdicts', seisbind/probe/study/comparisons.py) and the checks.

A horizon is evaluated from immutable inputs and returns everything it found (`Outcome`), so horizons run in
parallel processes (joblib) and are merged in order.

The ~1,000 small scikit-learn fits of the resampling run without its input validation (assume_finite,
skip_parameter_validation): the feature tables were validated once and the imputers handle NaN themselves, so
the numbers are the same and the fits ~15 % faster.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import sklearn

from seisbind.config_schema import StudyProbe
from seisbind.errors import SeisbindInputError
from seisbind.probe import evaluate as ev
from seisbind.probe.evaluate import Settings
from seisbind.probe.study.checks import Check, CheckContext, CheckResult
from seisbind.probe.study.comparisons import Compared, Comparison
from seisbind.probe.study.config import Skipped, scores_of
from seisbind.probe.study.design import Horizon, horizon_of
from seisbind.probe.study.rows import Row, Scored, labels_of, permuted_labels, rows_of, try_evaluate
from seisbind.probe.study.table import FeatureTable
from seisbind.progress import progress

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Inputs:
    """What every horizon reads: the windows, the feature table, the settings, the study config, the checks and
    the planned comparisons (seisbind/probe/study/comparisons.py)."""

    windows: pd.DataFrame
    table: FeatureTable
    settings: Settings
    probe: StudyProbe
    checks: list[Check]
    comparisons: list[Comparison]


@dataclass
class Outcome:
    horizon_hours: float
    checked_significant: bool | None = None
    rows: list[Row] = field(default_factory=list)
    comparisons: list[Compared] = field(default_factory=list)
    checks: list[CheckResult] = field(default_factory=list)
    scored: dict[str, Scored] = field(default_factory=dict)
    skipped: Skipped = field(default_factory=Skipped)
    window_scores: dict[int, float] = field(default_factory=dict)


def evaluate_horizons(inputs: Inputs, n_jobs: int) -> list[Outcome]:
    """`study_horizon` for every horizon, in `n_jobs` processes (1 = in this process, -1 = one per horizon). In
    this process each horizon draws its own bar (seisbind/progress.py); in parallel the workers draw none and
    this process counts the horizons as they finish."""
    started = time.perf_counter()
    horizons = list(inputs.probe.horizons_hours)
    if n_jobs == 1 or len(horizons) == 1:
        outcomes = [study_horizon(inputs, h) for h in horizons]
    else:
        from joblib import Parallel, delayed

        outcomes = []
        finished = Parallel(n_jobs=min(n_jobs if n_jobs > 0 else len(horizons), len(horizons)),
                            return_as="generator_unordered")(delayed(study_horizon)(inputs, h) for h in horizons)
        with progress("horizons (rows, comparisons, checks)", total=len(horizons)) as advance:
            for outcome in finished:
                outcomes.append(outcome)
                advance()
        outcomes.sort(key=lambda o: horizons.index(o.horizon_hours))
    log.info("%d horizons: %d rows, %d comparisons, %d check results (%.1f s)", len(horizons),
             sum(len(o.rows) for o in outcomes), sum(len(o.comparisons) for o in outcomes),
             sum(len(o.checks) for o in outcomes), time.perf_counter() - started)
    return outcomes


def study_horizon(inputs: Inputs, h: float) -> Outcome:
    """Rows, comparisons and checks of one horizon; the bar counts feature sets (each refitted under every
    permutation), comparisons and the checks."""
    with sklearn.config_context(assume_finite=True, skip_parameter_validation=True):
        outcome = Outcome(h)
        horizon = horizon_of(inputs.windows, h)
        try:
            ev.check_classes(horizon.y, inputs.settings, f"horizon {h:g} h")
        except SeisbindInputError as err:
            outcome.skipped.add(f"horizon {h:g} h", str(err))
            return outcome
        labels = permuted_labels(inputs.windows, horizon, inputs.settings)
        first = h == inputs.probe.horizons_hours[0]   # a feature set that cannot be built is said once
        sets = inputs.probe.feature_sets
        with progress(f"horizon {h:g} h", total=len(sets) + len(inputs.comparisons) + 1) as advance:
            for name in sets:
                feature_set_rows(inputs, horizon, labels, name, outcome, first)
                advance()
            for pair in inputs.comparisons:
                outcome.comparisons.append(comparison(inputs, horizon, pair, outcome.skipped))
                advance()
            run_checks(inputs, horizon, labels, outcome)
        return outcome


def feature_set_rows(inputs: Inputs, horizon: Horizon, labels: np.ndarray, name: str, outcome: Outcome,
                     first: bool) -> None:
    columns, why = inputs.table.columns(name)
    if not columns:
        if first:
            outcome.skipped.add(f"feature set {name}", why)
        return
    part = horizon.subset(inputs.table.usable(horizon.index, columns))
    what = f"feature set {name} at {horizon.horizon_hours:g} h"
    scored = try_evaluate(lambda rows: inputs.table.X(rows, columns), part, scores_of(inputs.probe, name),
                          inputs.settings, what, labels_of(labels, horizon, part))
    if isinstance(scored, str):
        outcome.skipped.add(what, scored)
        return
    outcome.scored[name] = scored
    outcome.rows += rows_of(name, scored, len(columns))


def comparison(inputs: Inputs, horizon: Horizon, pair: Comparison, skipped: Skipped) -> Compared:
    """Feature set b against a on the windows where both are defined (seisbind/probe/evaluate.py:compare); with
    fewer than probe.min_windows_per_class windows in a class, or folds that cannot be built, no p-value and the
    reason (also in `skipped`)."""
    probe, table = inputs.probe, inputs.table
    what = f"comparison {pair.a} vs {pair.b} at {horizon.horizon_hours:g} h"
    part = horizon.subset(table.usable(horizon.index, list(pair.columns_a))
                          & table.usable(horizon.index, list(pair.columns_b)))
    counts = {"n_pos": int(part.y.sum()), "n_neg": int((~part.y).sum()), "n_windows": int(part.y.size)}
    try:
        ev.check_classes(part.y, inputs.settings, what)
    except SeisbindInputError as err:
        skipped.add(what, str(err))
        return Compared(pair, horizon.horizon_hours, counts | {"p_value": None, "too_few": True, "reason": str(err)})
    X = table.features.iloc[part.index]
    try:
        found = ev.compare(X[list(pair.columns_a)], X[list(pair.columns_b)], part.y, part.groups,
                           probe.comparison_score, inputs.settings, test=pair.test,
                           n_permutations=probe.n_comparison_permutations)
    except SeisbindInputError as err:
        skipped.add(what, str(err))
        return Compared(pair, horizon.horizon_hours, counts | {"p_value": None, "too_few": False, "reason": str(err)})
    _, null = found.deltas()
    values = found.record | {"score": probe.comparison_score, "too_few": False}
    if not null.size:
        return Compared(pair, horizon.horizon_hours, values, null)
    return Compared(pair, horizon.horizon_hours, values, null, found, part.index)


def run_checks(inputs: Inputs, horizon: Horizon, labels: np.ndarray, outcome: Outcome) -> None:
    """Every configured check on the main feature set and score; the main model's window scores kept."""
    name, score = inputs.probe.checked.feature_set, inputs.probe.checked.score
    main = outcome.scored.get(name)
    if main is None:
        outcome.skipped.add(f"sanity checks at {horizon.horizon_hours:g} h",
                            f"the main feature set {name} could not be evaluated")
        return
    outcome.window_scores.update(zip(main.part.index.tolist(), main.scores[score].tolist(), strict=True))
    (row,) = [r for r in outcome.rows if (r.feature_set, r.score) == (name, score)]
    context = CheckContext(horizon, main, row, inputs.table.columns(name)[0], score, inputs.windows, inputs.table,
                           inputs.settings, labels)
    outcome.checked_significant = context.checked_significant
    for check in inputs.checks:
        result = check.run(context)
        outcome.checks.append(result)
        outcome.window_scores.update(result.window_scores)
