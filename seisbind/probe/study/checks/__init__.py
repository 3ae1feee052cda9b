"""Sanity checks: the protocol, what a check sees, and the helpers several checks share.

A check runs at every horizon on the checked feature set and score (`probe.checked`) and judges what it computed in
the same place: `run(context) -> CheckResult` with `passed` True / False, or None when it could not run or is
not informative, a sentence saying what was seen, and its numbers. `probe.checks` (configs/probe/study.yaml)
names the checks, one module each in this package; a new check is a module plus an entry there.

A check whose failure is a test rejecting (time of day separates, the other period separates) gives its p-value
(`PTest`) and fails below ALPHA. The checks run at every horizon, and sixteen tests at 5 % fail about 0.8 times by
chance, so `adjust` re-judges every such result of the study on its p-value after Holm's step-down over all of
them; a check judged otherwise (a tolerance, an interval that must clear 0.5) says how in `judged_by` and is not
adjusted.
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

ALPHA = 0.05
"""A p-value check fails when its p-value, adjusted over the study's checks, is below this."""


@dataclass
class PTest:
    """What a check judged by a p-value says: the p-value, what it is, what passing and failing mean in words; the
    Holm-adjusted p-value once `adjust` has seen the whole study."""

    p_value: float
    name: str
    if_passed: str
    if_failed: str
    p_value_adjusted: float | None = None


@dataclass
class CheckResult:
    check: str
    horizon_hours: float
    passed: bool | None
    text: str
    """What was seen; with a `test`, the verdict's words follow it (`sentence`)."""
    numbers: dict = field(default_factory=dict)
    window_scores: dict[int, float] = field(default_factory=dict)
    """The main model's scores of windows the check scored (table position -> score), for windows.csv."""
    judged_by: str = ""
    """How `passed` is decided, for a check without a p-value test."""
    test: PTest | None = None

    @classmethod
    def tested(cls, check: str, horizon_hours: float, text: str, test: PTest, numbers: dict,
               window_scores: dict[int, float] | None = None) -> CheckResult:
        """A result judged by `test`: on its own p-value until `adjust` re-judges it; not run without a p-value."""
        if not np.isfinite(test.p_value):
            return cls(check, horizon_hours, None, f"not run: no p-value ({text})", numbers, window_scores or {})
        return cls(check, horizon_hours, bool(test.p_value >= ALPHA), text, numbers, window_scores or {}, test=test)

    @property
    def sentence(self) -> str:
        if self.test is None or self.passed is None:
            return self.text
        return f"{self.text}: {self.test.if_passed if self.passed else self.test.if_failed}"

    def verdict(self) -> dict:
        out = {"check": self.check, "horizon_hours": self.horizon_hours, "passed": self.passed,
               "text": self.sentence, "judged_by": self.judged_by, "p_value": None, "p_value_adjusted": None}
        if self.test is not None:
            out |= {"judged_by": f"passes when the {self.test.name} adjusted by Holm over the study's p-value checks "
                                 f"is >= {ALPHA:g}",
                    "p_value": self.test.p_value, "p_value_adjusted": self.test.p_value_adjusted}
        return out


def adjust(results: list[CheckResult]) -> dict:
    """Re-judge every result judged by a p-value on its p-value adjusted by Holm's step-down (Holm 1979, Scand. J.
    Statist. 6:65-70) over all of them, every check at every horizon, so the study fails a check by chance at most
    ALPHA of the time; results not run or judged otherwise keep their verdict. Returns the family's description
    for metrics.json."""
    family = [r for r in results if r.test is not None and r.passed is not None]
    for result, p in zip(family, holm_adjusted([r.test.p_value for r in family]), strict=True):
        result.test.p_value_adjusted = float(p)
        result.passed = bool(p >= ALPHA)
    return {"method": "Holm (1979) step-down", "n_tests": len(family), "alpha": ALPHA,
            "not_adjusted": sorted({r.check for r in results if r.test is None and r.passed is not None})}


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


def holm_adjusted(p_values) -> np.ndarray:
    """Holm's step-down adjusted p-values (Holm 1979, Scand. J. Statist. 6:65-70), in the order given.

    With the m p-values sorted ascending, the i-th smallest (i = 0, ..., m - 1) becomes (m - i) p_(i), capped at 1
    and never below the adjusted value before it; rejecting where the adjusted p < alpha keeps the chance of any
    false rejection at most alpha whatever the dependence between the tests, and rejects at least what
    Bonferroni rejects."""
    p = np.asarray(p_values, dtype=np.float64)
    order = np.argsort(p, kind="stable")
    stepped = np.minimum(1.0, (p.size - np.arange(p.size)) * p[order])
    adjusted = np.empty_like(p)
    adjusted[order] = np.maximum.accumulate(stepped)
    return adjusted
