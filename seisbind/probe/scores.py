"""Turning a feature table into one anomaly score per window, fitted without looking at the windows it scores.

Four scorers, all "larger = more pre-event-like":
- ``best_single_feature``: the feature with the largest |AUC - 0.5| on the training windows, signed so that its
  training AUC is above 0.5;
- ``composite_z``: z-scores against the training background windows, each signed by its training direction,
  averaged over features;
- ``mahalanobis``: distance from the training background distribution (Ledoit-Wolf covariance on standardised
  features); unsigned, so it flags any departure from background, including post-event windows;
- ``logistic_regression``: SimpleImputer(median) + StandardScaler + LogisticRegression(C, balanced classes,
  Newton-Cholesky solver).

Out-of-fold scores come from folds built on ``groups`` (target event / time block), never from a random split
of windows, because overlapping windows share information and would leak across folds. Missing values are
imputed with statistics of the training rows only. Scores of different folds are pooled into one AUC, as usual
for cross-validated AUC; each fold's model is fitted separately, so the pooled AUC is slightly conservative.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from typing import Protocol

import numpy as np
import pandas as pd
from sklearn.covariance import LedoitWolf
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import LeaveOneGroupOut, StratifiedGroupKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from seisbind.errors import SeisbindInputError
from seisbind.probe.stats import auc_roc

log = logging.getLogger(__name__)

METHODS = ("best_single_feature", "composite_z", "mahalanobis", "logistic_regression")


class Scorer(Protocol):
    """What every score method provides: fit on training windows, score any windows with the same columns."""

    def fit(self, X: pd.DataFrame, y: np.ndarray) -> Scorer: ...

    def score(self, X: pd.DataFrame) -> np.ndarray: ...


def _fit_imputer(X: pd.DataFrame) -> tuple[SimpleImputer, list[str]]:
    """Median imputer fitted on these rows. A column with no value in them becomes a constant 0, which no
    scorer can use (AUC 0.5, zero spread), so it drops out of the fit; it is logged here once.
    sklearn gets plain arrays: its DataFrame validation costs more than the fits at this size."""
    values = X.to_numpy()
    empty = np.isnan(values).all(axis=0)
    if empty.all():
        raise SeisbindInputError("no feature has a value in the training windows")
    if empty.any():
        log.info("features without any value in the training rows, left out of this fit: %s",
                 list(X.columns[empty]))
    return SimpleImputer(strategy="median", keep_empty_features=True).fit(values), list(X.columns)


def _training_directions(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Training AUC of every column (pre-event vs background)."""
    return np.asarray(auc_roc(y, X), dtype=np.float64)


class BestSingleFeature:
    """The single feature that separates the training windows best, with the training sign."""

    def fit(self, X: pd.DataFrame, y: np.ndarray) -> BestSingleFeature:
        self.imputer_, self.features_ = _fit_imputer(X)
        aucs = _training_directions(self.imputer_.transform(X.to_numpy()), y)
        best = int(np.argmax(np.abs(aucs - 0.5)))
        self.column_ = best
        self.feature_ = self.features_[best]
        self.sign_ = 1.0 if aucs[best] >= 0.5 else -1.0
        self.training_auc_ = float(aucs[best])
        return self

    def score(self, X: pd.DataFrame) -> np.ndarray:
        return self.sign_ * self.imputer_.transform(X.to_numpy())[:, self.column_]


def _background_standardised(X: pd.DataFrame, y: np.ndarray) -> tuple[SimpleImputer, np.ndarray, np.ndarray]:
    """Imputer, mean and SD from the training background windows (missing = "like background")."""
    background = X.loc[~y]
    if len(background) < 2:
        raise SeisbindInputError(f"need at least 2 background windows in a training fold, got {len(background)}")
    imputer, _ = _fit_imputer(background)
    values = imputer.transform(background.to_numpy())
    return imputer, values.mean(axis=0), values.std(axis=0, ddof=1)


class CompositeZ:
    """Mean of direction-signed z-scores relative to the training background."""

    def fit(self, X: pd.DataFrame, y: np.ndarray) -> CompositeZ:
        y = np.asarray(y, bool)
        self.imputer_, self.mean_, sd = _background_standardised(X, y)
        signs = np.sign(_training_directions(self.imputer_.transform(X.to_numpy()), y) - 0.5)
        usable = (sd > 0) & (signs != 0)
        if not usable.any():
            log.warning("composite_z: no feature varies over background with a training direction: constant score")
        self.sd_ = np.where(usable, sd, 1.0)
        self.weights_ = np.where(usable, signs, 0.0) / max(int(usable.sum()), 1)
        return self

    def score(self, X: pd.DataFrame) -> np.ndarray:
        return ((self.imputer_.transform(X.to_numpy()) - self.mean_) / self.sd_) @ self.weights_


class Mahalanobis:
    """Distance from the training background (Ledoit-Wolf shrinkage: few windows, correlated features)."""

    def fit(self, X: pd.DataFrame, y: np.ndarray) -> Mahalanobis:
        y = np.asarray(y, bool)
        self.imputer_, mean, sd = _background_standardised(X, y)
        self.varying_ = sd > 0
        if not self.varying_.any():
            raise SeisbindInputError("mahalanobis: every feature is constant over the training background windows")
        self.mean_, self.sd_ = mean[self.varying_], sd[self.varying_]
        background = self._standardise(X.loc[~y])
        self.covariance_ = LedoitWolf(assume_centered=True).fit(background)
        return self

    def _standardise(self, X: pd.DataFrame) -> np.ndarray:
        return (self.imputer_.transform(X.to_numpy())[:, self.varying_] - self.mean_) / self.sd_

    def score(self, X: pd.DataFrame) -> np.ndarray:
        return np.sqrt(self.covariance_.mahalanobis(self._standardise(X)))


class Logistic:
    """Balanced logistic regression; the score is the decision function (log-odds)."""

    def __init__(self, C: float = 1.0) -> None:
        self.C = C

    def fit(self, X: pd.DataFrame, y: np.ndarray) -> Logistic:
        self.pipeline_ = make_pipeline(
            SimpleImputer(strategy="median", keep_empty_features=True),
            StandardScaler(),
            # exact Newton steps: a few features and hundreds of windows, ~15x faster than lbfgs here
            LogisticRegression(C=self.C, class_weight="balanced", solver="newton-cholesky", max_iter=200),
        ).fit(X.to_numpy(), np.asarray(y, int))
        return self

    def score(self, X: pd.DataFrame) -> np.ndarray:
        return self.pipeline_.decision_function(X.to_numpy())


def make_scorer(method: str, logistic_C: float = 1.0) -> Scorer:
    """A fresh, unfitted scorer by name (one of ``METHODS``)."""
    if method == "best_single_feature":
        return BestSingleFeature()
    if method == "composite_z":
        return CompositeZ()
    if method == "mahalanobis":
        return Mahalanobis()
    if method == "logistic_regression":
        return Logistic(logistic_C)
    raise SeisbindInputError(f"unknown score method {method!r}; choose from {METHODS}")



@functools.cache
def _warn_empty(what: str, empty: tuple[str, ...]) -> None:
    """Once per process: the same all-NaN columns come back in every fold, shuffle and refit."""
    log.warning("%s: dropping features that are NaN in every window: %s", what, list(empty))

def _feature_table(X: pd.DataFrame, *, what: str, drop_empty: bool = True) -> pd.DataFrame:
    """Float copy of a numeric feature table; with ``drop_empty`` the features that are NaN in every window
    are dropped (logged), since no fold could learn anything from them."""
    if not isinstance(X, pd.DataFrame):
        raise SeisbindInputError(f"{what}: features must be a pandas DataFrame, got {type(X).__name__}")
    non_numeric = [c for c in X.columns if not pd.api.types.is_numeric_dtype(X[c])]
    if non_numeric:
        raise SeisbindInputError(f"{what}: non-numeric feature columns {non_numeric}")
    table = X.astype(np.float64)
    infinite = [c for c in table.columns if np.isinf(table[c].to_numpy()).any()]
    if infinite:
        raise SeisbindInputError(f"{what}: infinite values in feature columns {infinite}")
    empty = [c for c in table.columns if table[c].isna().all()]
    if empty and drop_empty:
        _warn_empty(what, tuple(empty))
        table = table.drop(columns=empty)
    if table.shape[1] == 0:
        raise SeisbindInputError(f"{what}: no feature has any value")
    return table


def _binary_labels(y: np.ndarray, n: int) -> np.ndarray:
    y = np.asarray(y)
    if y.shape != (n,):
        raise SeisbindInputError(f"labels have shape {y.shape}, expected ({n},) (one per window)")
    if not set(np.unique(y).tolist()) <= {0, 1}:
        raise SeisbindInputError("labels must be 0/1 (1 = pre-event window)")
    return y.astype(bool)


def grouped_folds(
    y: np.ndarray, groups: np.ndarray, n_splits: int = 5, seed: int = 0
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train, test) index pairs that never put one group on both sides.

    With at most ``n_splits`` groups: leave one group out (e.g. leave-one-mainshock-out). Otherwise
    StratifiedGroupKFold, which keeps the class balance of the folds close to the whole. Every training fold
    must hold both classes, or no score can be fitted: that is an error naming the held-out groups.
    """
    y = np.asarray(y, bool)
    groups = np.asarray(groups)
    if groups.shape != y.shape:
        raise SeisbindInputError(f"groups have shape {groups.shape}, expected {y.shape} (one per window)")
    if pd.isna(groups).any():
        raise SeisbindInputError(f"{int(pd.isna(groups).sum())} windows have no group label")
    n_groups = pd.unique(groups).size
    if n_groups < 2:
        raise SeisbindInputError("cross-validation needs at least 2 groups of windows")
    if n_groups <= n_splits:
        splits = LeaveOneGroupOut().split(y, y, groups)
    else:
        splits = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed).split(y, y, groups)
    folds = []
    for train, test in splits:
        if y[train].all() or not y[train].any():
            raise SeisbindInputError(
                f"a training fold holds one class only (held out groups {sorted(pd.unique(groups[test]))[:10]}); "
                "need pre-event and background windows in several groups"
            )
        folds.append((train, test))
    return folds


def cross_validated_scores(
    X: pd.DataFrame,
    y: np.ndarray,
    groups: np.ndarray,
    methods: Sequence[str] = METHODS,
    n_splits: int = 5,
    seed: int = 0,
    logistic_C: float = 1.0,
) -> dict[str, np.ndarray]:
    """Out-of-fold score of every window for each method (each window scored by a model that never saw its
    group). The chosen single feature of each fold is logged."""
    table = _feature_table(X, what="cross_validated_scores")
    y = _binary_labels(y, len(table))
    folds = grouped_folds(y, groups, n_splits=n_splits, seed=seed)
    scores = {method: np.full(len(table), np.nan) for method in methods}
    for fold, (train, test) in enumerate(folds):
        for method in methods:
            scorer = make_scorer(method, logistic_C).fit(table.iloc[train], y[train])
            scores[method][test] = scorer.score(table.iloc[test])
            if isinstance(scorer, BestSingleFeature):
                log.info("fold %d: best single feature %s (sign %+d, training AUC %.3f)", fold, scorer.feature_,
                         int(scorer.sign_), scorer.training_auc_)
    return scores


def score_windows(
    X_fit: pd.DataFrame,
    y_fit: np.ndarray,
    X_score: pd.DataFrame,
    methods: Sequence[str] = METHODS,
    logistic_C: float = 1.0,
) -> dict[str, np.ndarray]:
    """Fit each method on all of (X_fit, y_fit) and score other windows ``X_score`` (post-event windows,
    another period). ``X_score`` must hold the columns the fit used; extra columns are ignored."""
    table = _feature_table(X_fit, what="score_windows (fit set)")
    y_fit = _binary_labels(y_fit, len(table))
    missing = [c for c in table.columns if c not in X_score.columns]
    if missing:
        raise SeisbindInputError(f"score_windows: windows to score lack feature columns {missing}")
    other = _feature_table(X_score[table.columns], what="score_windows (windows to score)", drop_empty=False)
    return {method: make_scorer(method, logistic_C).fit(table, y_fit).score(other) for method in methods}
