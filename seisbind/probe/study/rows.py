"""Result rows and the one evaluation behind them, the checks and the nulls.

A row is one (horizon, feature set, score): the out-of-fold AUC of the feature set's windows, its refit
permutation p-value and interval (seisbind/probe/evaluate.py), and later the family-wise p and each null's
p-value. `evaluate` is the only place that turns windows, columns and scores into out-of-fold scores and null
AUCs; rows, the time-of-day check and every simulated catalog of a null go through it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from seisbind.errors import SeisbindInputError
from seisbind.probe import evaluate as ev
from seisbind.probe.evaluate import Settings
from seisbind.probe.study.design import Horizon


@dataclass
class Row:
    horizon_hours: float
    feature_set: str
    score: str
    n_features: int
    values: dict
    """auc, precision at recall, Molchan skill, class counts, p_value, interval; p_value_adjusted and each null's
    p-value are added as they are computed."""
    null_aucs: np.ndarray = field(repr=False, default_factory=lambda: np.empty(0))

    @property
    def key(self) -> tuple[float, str, str]:
        return self.horizon_hours, self.feature_set, self.score

    @property
    def auc(self) -> float:
        return self.values["auc"]

    def as_dict(self) -> dict:
        return {"horizon_hours": self.horizon_hours, "feature_set": self.feature_set, "score": self.score} \
            | self.values | {"n_features": self.n_features}


@dataclass
class Scored:
    """Out-of-fold scores of one feature set on `part`, by score name; the refit null AUCs when asked for."""

    part: Horizon
    scores: dict[str, np.ndarray]
    null_aucs: dict[str, np.ndarray] | None = None


def evaluate(X_of, part: Horizon, scores: list[str], settings: Settings, what: str,
             labels: np.ndarray | None = None) -> Scored:
    """Out-of-fold scores of the windows `part` (features `X_of(rows)`), and with `labels` (permuted label
    vectors over `part`) the AUC of each under the refit permutation null. SeisbindInputError naming `what`
    when a class is too small or a fold has one class."""
    ev.check_classes(part.y, settings, what)
    X = X_of(part.index)
    by_score = ev.oof_scores(X, part.y, part.groups, scores, settings)
    nulls = None if labels is None else ev.refit_null_aucs(X, labels, part.groups, scores, settings)
    return Scored(part, by_score, nulls)


def permuted_labels(windows, horizon: Horizon, settings: Settings) -> np.ndarray:
    """The permuted label vectors of one horizon's windows (within the matched strata), the same for every row of
    the horizon, so that the family-wise maximum is taken over rows scored on the same permutation."""
    strata = windows["stratum"].astype(str).to_numpy()[horizon.index]
    return ev.permuted_labels(horizon.y, strata, settings.n_permutations,
                              seed=[settings.seed, int(round(horizon.horizon_hours * 1000))])


def labels_of(labels: np.ndarray, horizon: Horizon, part: Horizon) -> np.ndarray:
    """The columns of a horizon's permuted labels that belong to `part` (a subset of its windows)."""
    return labels[:, np.searchsorted(horizon.index, part.index)]


def rows_of(name: str, scored: Scored, n_features: int) -> list[Row]:
    """One row per score of a feature set's evaluation."""
    out = []
    for score, s in scored.scores.items():
        values = ev.auc_record(scored.part.y, s)
        values |= ev.refit_inference(values["auc"], scored.null_aucs[score])
        out.append(Row(scored.part.horizon_hours, name, score, n_features, values, scored.null_aucs[score]))
    return out


def family_wise(rows: list[Row]) -> None:
    """`p_value_adjusted` of every row: Westfall-Young max-T over all rows (seisbind/probe/evaluate.py)."""
    _adjust(rows, rows, "p_value_adjusted")


def family_wise_tested(rows: list[Row], nulls: list[str]) -> None:
    """`p_value_adjusted_tested` of every row every null tested: the same max-T as `family_wise`, over those rows
    only (None for the others). Why: a claim beyond clustering can only be made on such a row, so they are its
    family, as they are each null's (seisbind/probe/study/nulls/__init__.py, `attach`): the rows without a
    clustering null widen the permutations' maximum for a claim they cannot make (seisbind/probe/study/headline.py
    gives the figures)."""
    _adjust(rows, [r for r in rows if testable(r, nulls)], "p_value_adjusted_tested")


def _adjust(rows: list[Row], family: list[Row], key: str) -> None:
    """`key` of each row in `family`: the max-T over the family's refit permutation nulls; None for the others."""
    adjusted = ev.max_t_adjusted([r.auc for r in family], [r.null_aucs for r in family]) if family else []
    for row in rows:
        row.values[key] = None
    for row, p in zip(family, adjusted):
        row.values[key] = float(p)


def testable(row: Row, nulls: list[str]) -> bool:
    """Whether every clustering null gave the row a p-value (none configured: no)."""
    return bool(nulls) and all(row.values.get(f"p_value_{n}") is not None for n in nulls)


def try_evaluate(*args, **kwargs) -> Scored | str:
    """`evaluate`, or the reason it could not run."""
    try:
        return evaluate(*args, **kwargs)
    except SeisbindInputError as err:
        return str(err)
