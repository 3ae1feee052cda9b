"""Turning a feature table into one anomaly score per window, fitted without looking at the windows it scores.

A scorer is any class with `fit(X, y) -> self` and `score(X) -> (n,)` (the `Scorer` protocol); the study names
them in `probe.scorers` (configs/probe/study.yaml: name -> `_target_`, built fresh for every fit), so a new one
is a class plus a config entry. Five come with seisbind, all "larger = more pre-event-like":
- ``best_single``: the feature with the largest |AUC - 0.5| on the training windows, signed so that its
  training AUC is above 0.5;
- ``composite_z``: z-scores against the training background windows, each signed by its training direction,
  averaged over features;
- ``mahalanobis``: distance from the training background distribution (Ledoit-Wolf covariance on standardised
  features); unsigned, so it flags any departure from background, including post-event windows;
- ``logistic``: SimpleImputer(median) + StandardScaler + LogisticRegression(C, balanced classes,
  Newton-Cholesky solver);
- ``fixed``: a one-column set's column as it is (a published score judged as it stands, e.g. Wikelski et al.
  2020); it fits nothing, so its out-of-fold scores are the column and its refit null is the column's permutation
  null. A feature set names it in its own `scores` (configs/probe/study.yaml), since it refuses more columns.

Out-of-fold scores come from folds built on ``groups`` (target event / time block), never from a random split
of windows, because overlapping windows share information and would leak across folds. Missing values are
imputed with statistics of the training rows only. Scores of different folds are pooled into one AUC, as usual
for cross-validated AUC; each fold's model is fitted separately, so the pooled AUC is slightly conservative.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping
from typing import Protocol

import numpy as np
import pandas as pd
from sklearn.covariance import LedoitWolf
from sklearn.model_selection import LeaveOneGroupOut

from seisbind.errors import SeisbindInputError
from seisbind.probe.stats import auc_roc

log = logging.getLogger(__name__)

class Scorer(Protocol):
    """What every score method provides: fit on training windows, score any windows with the same columns."""

    def fit(self, X: pd.DataFrame, y: np.ndarray) -> Scorer: ...

    def score(self, X: pd.DataFrame) -> np.ndarray: ...


ScorerFactory = Callable[[], Scorer]
"""Builds a fresh, unfitted scorer (a class, or a `functools.partial` of one with its settings)."""


class MedianImputer:
    """Missing values -> the column's median over the fitting rows (0 for a column with none). The refit
    permutation null fits ~10^5 of these per study: numpy, without sklearn's per-call validation, which cost
    more than the fits themselves at a few hundred windows."""

    def fit(self, values: np.ndarray) -> MedianImputer:
        """Each column's median over its finite rows, as np.nanmedian gives it: the column sorted (NaN last) and
        the mean of its middle one or two values. Why not np.nanmedian: on arrays this small it goes through
        masked arrays, a tenth of the Norcia-scale study's time (scripts/bench_probe.py)."""
        if not len(values):
            self.medians_ = np.zeros(values.shape[1])
            return self
        present = (~np.isnan(values)).sum(axis=0)
        ordered = np.sort(values, axis=0)
        columns = np.arange(values.shape[1])
        medians = (ordered[np.maximum((present - 1) // 2, 0), columns] + ordered[present // 2, columns]) / 2.0
        self.medians_ = np.where(present > 0, medians, 0.0)
        return self

    def transform(self, values: np.ndarray) -> np.ndarray:
        missing = np.isnan(values)
        return np.where(missing, self.medians_, values) if missing.any() else values


def _fit_imputer(X: pd.DataFrame) -> tuple[MedianImputer, list[str]]:
    """Median imputer fitted on these rows. A column with no value in them becomes a constant 0, which no
    scorer can use (AUC 0.5, zero spread), so it drops out of the fit; logged at DEBUG (once per fit)."""
    values = X.to_numpy()
    empty = np.isnan(values).all(axis=0)
    if empty.all():
        raise SeisbindInputError("no feature has a value in the training windows")
    if empty.any():
        log.debug("features without any value in the training rows, left out of this fit: %s",
                 list(X.columns[empty]))
    return MedianImputer().fit(values), list(X.columns)


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


def _background_standardised(X: pd.DataFrame, y: np.ndarray) -> tuple[MedianImputer, np.ndarray, np.ndarray]:
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
        values = X.to_numpy()
        self.imputer_ = MedianImputer().fit(values)
        values = self.imputer_.transform(values)
        self.mean_ = values.mean(axis=0)
        sd = values.std(axis=0)
        self.sd_ = np.where(sd > 0, sd, 1.0)
        self.coef_, self.intercept_ = balanced_logistic_newton((values - self.mean_) / self.sd_, np.asarray(y, bool),
                                                               self.C)
        return self

    def score(self, X: pd.DataFrame) -> np.ndarray:
        return ((self.imputer_.transform(X.to_numpy()) - self.mean_) / self.sd_) @ self.coef_ + self.intercept_


class Fixed:
    """The feature set's single column as the score, sign +1 declared in advance (larger = more pre-event-like):
    nothing is learned from the training windows. More than one column is an error, since which one to use would
    then have to be learned."""

    def fit(self, X: pd.DataFrame, y: np.ndarray) -> Fixed:
        if X.shape[1] != 1:
            raise SeisbindInputError(f"the fixed score takes a feature set of one column as it is, got "
                                     f"{X.shape[1]} columns {list(X.columns)}: give this set a scorer that fits")
        return self

    def score(self, X: pd.DataFrame) -> np.ndarray:
        return X.to_numpy(np.float64)[:, 0]


def balanced_logistic_newton(X: np.ndarray, y: np.ndarray, C: float, tol: float = 1e-10,
                             max_iter: int = 50) -> tuple[np.ndarray, float]:
    """Coefficients and intercept of scikit-learn's `LogisticRegression(C, class_weight="balanced")`: the
    minimiser of 0.5 |w|^2 + C sum_i s_i log(1 + exp(-(2 y_i - 1)(x_i w + b))), s_i = n / (2 n_class(i)), the
    intercept unpenalised. Exact Newton steps in numpy: at a few features and hundreds of windows this takes
    ~0.2 ms against ~5 ms through scikit-learn (its solver newton-cholesky gives the same optimum;
    tests/test_scores.py checks the two agree), which matters for the ~10^5 fits of the refit permutation null."""
    n, d = X.shape
    n_pos = int(y.sum())
    weights = np.where(y, n / (2.0 * max(n_pos, 1)), n / (2.0 * max(n - n_pos, 1))) * C
    design = np.hstack([X, np.ones((n, 1))])
    penalty = np.r_[np.ones(d), 0.0]
    beta = np.zeros(d + 1)
    target = y.astype(np.float64)
    for _ in range(max_iter):
        p = 1.0 / (1.0 + np.exp(-(design @ beta)))
        gradient = design.T @ (weights * (p - target)) + penalty * beta
        hessian = (design * (weights * p * (1.0 - p))[:, None]).T @ design + np.diag(penalty + 1e-12)
        step = np.linalg.solve(hessian, gradient)
        beta -= step
        if np.max(np.abs(step)) < tol:
            break
    return beta[:d], float(beta[d])


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
        splits = _stratified_group_splits(y, groups, n_splits, seed)
    folds = []
    for train, test in splits:
        if y[train].all() or not y[train].any():
            raise SeisbindInputError(
                f"a training fold holds one class only (held out groups {sorted(pd.unique(groups[test]))[:10]}); "
                "need pre-event and background windows in several groups"
            )
        folds.append((train, test))
    return folds


def _stratified_group_splits(y: np.ndarray, groups: np.ndarray, n_splits: int, seed: int) -> list[
        tuple[np.ndarray, np.ndarray]]:
    """Groups dealt to folds so that each fold gets a near-equal share of the pre-event windows and of the
    background windows: groups in a seeded random order, those holding pre-event windows first, each to the
    fold with the fewest of its class so far (ties: fewest windows). The idea of scikit-learn's
    StratifiedGroupKFold in a greedy pass that is ~50x faster; the refit permutation null builds folds anew
    for each of its permutations."""
    codes, uniques = pd.factorize(groups)
    n_groups = len(uniques)
    positives = np.bincount(codes, weights=y.astype(float), minlength=n_groups)
    sizes = np.bincount(codes, minlength=n_groups)
    order = np.random.default_rng(seed).permutation(n_groups)
    order = order[np.argsort(positives[order] == 0, kind="stable")]
    fold_pos, fold_all = np.zeros(n_splits), np.zeros(n_splits)
    fold_of = np.empty(n_groups, np.int64)
    for g in order:
        k = int(np.lexsort((fold_all, fold_pos))[0]) if positives[g] > 0 else int(np.argmin(fold_all))
        fold_of[g] = k
        fold_pos[k] += positives[g]
        fold_all[k] += sizes[g]
    window_fold = fold_of[codes]
    rows = np.arange(len(y))
    return [(rows[window_fold != k], rows[window_fold == k]) for k in range(n_splits) if (window_fold == k).any()]


def cross_validated_scores(
    X: pd.DataFrame,
    y: np.ndarray,
    groups: np.ndarray,
    scorers: Mapping[str, ScorerFactory] | None = None,
    n_splits: int = 5,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Out-of-fold score of every window for each scorer (each window scored by a model that never saw its
    group; `scorers` defaults to `SCORERS`). The chosen single feature of each fold is logged at DEBUG."""
    scorers = SCORERS if scorers is None else scorers
    table = _feature_table(X, what="cross_validated_scores")
    y = _binary_labels(y, len(table))
    folds = grouped_folds(y, groups, n_splits=n_splits, seed=seed)
    scores = {name: np.full(len(table), np.nan) for name in scorers}
    for fold, (train, test) in enumerate(folds):
        X_train, X_test = table.iloc[train], table.iloc[test]
        for name, make in scorers.items():
            scorer = make().fit(X_train, y[train])
            scores[name][test] = scorer.score(X_test)
            if isinstance(scorer, BestSingleFeature):
                log.debug("fold %d: best single feature %s (sign %+d, training AUC %.3f)", fold, scorer.feature_,
                         int(scorer.sign_), scorer.training_auc_)
    return scores


def score_windows(
    X_fit: pd.DataFrame,
    y_fit: np.ndarray,
    X_score: pd.DataFrame,
    scorers: Mapping[str, ScorerFactory] | None = None,
) -> dict[str, np.ndarray]:
    """Fit each scorer (default `SCORERS`) on all of (X_fit, y_fit) and score other windows ``X_score``
    (post-event windows, another period). ``X_score`` must hold the columns the fit used; extra columns are ignored."""
    table = _feature_table(X_fit, what="score_windows (fit set)")
    y_fit = _binary_labels(y_fit, len(table))
    missing = [c for c in table.columns if c not in X_score.columns]
    if missing:
        raise SeisbindInputError(f"score_windows: windows to score lack feature columns {missing}")
    other = _feature_table(X_score[table.columns], what="score_windows (windows to score)", drop_empty=False)
    return {name: make().fit(table, y_fit).score(other) for name, make in (scorers or SCORERS).items()}


SCORERS: dict[str, ScorerFactory] = {"best_single": BestSingleFeature, "composite_z": CompositeZ,
                                     "mahalanobis": Mahalanobis, "logistic": Logistic}
"""The scorers that fit, by the names configs/probe/study.yaml gives them: the default of every feature set
(`Fixed`, for one-column sets only, is left out of this default)."""
