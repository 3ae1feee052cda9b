"""Sanity checks: the protocol, what a check sees, and the helpers several checks share.

A check runs at every horizon on the checked feature set and score (`probe.checked`) and judges what it computed in
the same place: `run(context) -> CheckResult` with `passed` True / False, or None when it could not run or is
not informative, a sentence saying what was seen, and its numbers. `probe.checks` (configs/probe/study.yaml)
names the checks, one module each in this package; a new check is a module plus an entry there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import pandas as pd

from seisbind.probe import evaluate as ev
from seisbind.probe.evaluate import Settings
from seisbind.probe.stats import bootstrap_auc_ci
from seisbind.probe.study.design import Horizon, horizon_of
from seisbind.probe.study.rows import Row, Scored
from seisbind.probe.study.table import FeatureTable


@dataclass
class CheckResult:
    check: str
    horizon_hours: float
    passed: bool | None
    text: str
    numbers: dict = field(default_factory=dict)
    window_scores: dict[int, float] = field(default_factory=dict)
    """The main model's scores of windows the check scored (table position -> score), for windows.csv."""

    def verdict(self) -> dict:
        return {"check": self.check, "horizon_hours": self.horizon_hours, "passed": self.passed, "text": self.text}


@dataclass
class CheckContext:
    """One horizon's main evaluation: its windows, the main row and its out-of-fold scores, and the tables."""

    horizon: Horizon
    checked: Scored
    row: Row
    columns: list[str]
    score: str
    windows: pd.DataFrame
    table: FeatureTable
    settings: Settings
    labels: np.ndarray
    """The horizon's permuted label vectors (seisbind/probe/study/rows.py:permuted_labels)."""

    @property
    def checked_significant(self) -> bool:
        return bool(self.row.values["p_value"] < 0.05)

    @property
    def X_fit(self) -> pd.DataFrame:
        return self.table.X(self.checked.part.index, self.columns)

    @property
    def background_scores(self) -> np.ndarray:
        return self.checked.scores[self.score][~self.checked.part.y]


class Check(Protocol):
    name: str

    def run(self, context: CheckContext) -> CheckResult: ...


@dataclass
class AgainstBackground:
    """Other windows of the horizon scored by the main model (fitted on all its main windows), against the main
    background windows' out-of-fold scores: y = 1 for the other windows, then 0 for the background."""

    rows: np.ndarray
    scores: np.ndarray
    background: np.ndarray
    y: np.ndarray
    vs_background: dict

    def numbers(self) -> dict:
        return {"n_windows": int(self.rows.size), "mean_score": float(self.scores.mean()),
                "mean_background_score": float(self.background.mean()), "vs_background": self.vs_background}

    def window_scores(self) -> dict[int, float]:
        return dict(zip(self.rows.tolist(), self.scores.tolist(), strict=True))


def against_background(context: CheckContext, types: tuple[str, ...]) -> AgainstBackground | str:
    """This horizon's windows of `types` (where the main feature set is defined) against background, or why not."""
    rows = horizon_of(context.windows, context.horizon.horizon_hours, types).index
    rows = rows[context.table.usable(rows, context.columns)]
    if rows.size < context.settings.min_windows_per_class:
        return f"{rows.size} {'/'.join(types)} windows with the features of the main feature set"
    scores = ev.fit_and_score(context.X_fit, context.checked.part.y, context.table.X(rows, context.columns),
                              context.score, context.settings)
    background = context.background_scores
    y = np.r_[np.ones(rows.size, bool), np.zeros(background.size, bool)]
    return AgainstBackground(rows, scores, background, y, auc_ci(y, np.r_[scores, background], context.settings))


def auc_ci(y: np.ndarray, s: np.ndarray, settings: Settings) -> dict:
    ci = bootstrap_auc_ci(y, s, n_boot=settings.n_bootstrap, seed=settings.seed)
    return {"auc": ci.auc, "auc_ci_low": ci.low, "auc_ci_high": ci.high}
