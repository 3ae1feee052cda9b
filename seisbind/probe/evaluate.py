"""Cross-validated scores of a feature set and their evaluation (seed plan Phase 3-4), per horizon.

The unit of work is one horizon's windows (pre-event windows of that horizon and background windows of the same
length): labels y (1 = pre-event), groups (target event for pre-event windows, ISO week for background windows,
from seisbind.data.windows) and a feature table. Scores are out-of-fold (seisbind.probe.scores, folds grouped
so overlapping windows never straddle train and test); every AUC comes with a bootstrap CI and a permutation
p-value resampling whole groups (seisbind.probe.stats).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from seisbind.errors import SeisbindInputError
from seisbind.probe import stats
from seisbind.probe.scores import cross_validated_scores, grouped_folds, make_scorer, score_windows

log = logging.getLogger(__name__)

SCORE_METHODS = {"best_single": "best_single_feature", "composite_z": "composite_z", "mahalanobis": "mahalanobis",
                 "logistic": "logistic_regression"}
"""Score names used in configs and outputs -> seisbind.probe.scores method names."""
RECALLS = (0.5, 0.8)


@dataclass(frozen=True)
class Settings:
    """Resampling and cross-validation settings shared by every evaluation of one study."""

    n_bootstrap: int = 1000
    n_permutations: int = 1000
    n_shuffles: int = 100
    n_folds: int = 5
    logistic_C: float = 1.0
    min_windows_per_class: int = 5
    seed: int = 0


def method_of(score: str) -> str:
    if score not in SCORE_METHODS:
        raise SeisbindInputError(f"probe.scores: unknown score {score!r}; choose from {list(SCORE_METHODS)}")
    return SCORE_METHODS[score]


def check_classes(y: np.ndarray, settings: Settings, what: str) -> None:
    """Raise SeisbindInputError naming `what` when either class has fewer windows than the minimum."""
    n_pos, n_neg = int(np.sum(y)), int(np.size(y) - np.sum(y))
    if min(n_pos, n_neg) < settings.min_windows_per_class:
        raise SeisbindInputError(
            f"{what}: {n_pos} pre-event and {n_neg} background windows, fewer than "
            f"{settings.min_windows_per_class} in a class (lower probe.target_min_magnitude, add background "
            "windows with probe.n_background, or use a longer catalog)")


def n_folds(y: np.ndarray, settings: Settings) -> int:
    """Folds: the configured number, but no more than the pre-event windows, so with few targets every fold
    holds out one target's windows (leave-one-mainshock-out) with its share of background weeks."""
    return int(max(2, min(settings.n_folds, int(np.sum(y)))))


def oof_scores(X: pd.DataFrame, y: np.ndarray, groups: np.ndarray, scores: Sequence[str], settings: Settings,
               seed: int | None = None) -> dict[str, np.ndarray]:
    """Out-of-fold scores {score name: (n,)} from grouped folds."""
    methods = [method_of(s) for s in scores]
    out = cross_validated_scores(X, np.asarray(y, int), np.asarray(groups), methods=methods,
                                 n_splits=n_folds(y, settings), seed=settings.seed if seed is None else seed,
                                 logistic_C=settings.logistic_C)
    return {s: out[method_of(s)] for s in scores}


def fit_and_score(X_fit: pd.DataFrame, y_fit: np.ndarray, X_other: pd.DataFrame, score: str,
                  settings: Settings) -> np.ndarray:
    """Score other windows (post-event, another period) with a model fitted on all of (X_fit, y_fit)."""
    return score_windows(X_fit, np.asarray(y_fit, int), X_other, methods=[method_of(score)],
                         logistic_C=settings.logistic_C)[method_of(score)]


def auc_record(y: np.ndarray, s: np.ndarray, groups: np.ndarray | None, settings: Settings) -> dict:
    """AUC with a 95 % bootstrap CI, a one-sided permutation p-value (AUC > 0.5), precision at the fixed
    recalls, Molchan area skill and the class counts.

    The bootstrap resamples whole groups (a background week's windows share its seismic state), pre-event and
    background groups separately. The permutation relabels windows, not groups: pre-event groups hold one window
    and background weeks several, so swapping group labels would give permuted "pre-event" sets of very
    different sizes, whose AUCs scatter less than the observed one's, and p-values far too small.
    """
    y = np.asarray(y, bool)
    ci = stats.bootstrap_auc_ci(y, s, n_boot=settings.n_bootstrap, seed=settings.seed, groups=groups)
    perm = stats.permutation_p_value(y, s, n_perm=settings.n_permutations, seed=settings.seed)
    record = {"auc": ci.auc, "auc_ci_low": ci.low, "auc_ci_high": ci.high, "p_value": perm.p_value}
    for recall in RECALLS:
        record[f"precision_at_recall_{recall}"] = stats.precision_at_recall(y, s, recall)
    record.update(molchan_skill=stats.molchan(y, s).area_skill, n_pos=int(y.sum()), n_neg=int((~y).sum()))
    return record


def _refit_oof(X: pd.DataFrame, y: np.ndarray, folds: list, score: str, settings: Settings) -> np.ndarray:
    """Out-of-fold scores on given folds (the folds `oof_scores` builds for the same labels and seed)."""
    table = X.loc[:, X.notna().any()].astype(np.float64)
    s = np.empty(len(table))
    for train, test in folds:
        scorer = make_scorer(method_of(score), settings.logistic_C)
        s[test] = scorer.fit(table.iloc[train], y[train]).score(table.iloc[test])
    return s


def compare(Xa: pd.DataFrame, Xb: pd.DataFrame, y: np.ndarray, groups: np.ndarray, score: str, settings: Settings,
            test: str = "auto", n_permutations: int = 100) -> dict:
    """Paired comparison of two feature sets on the same windows: out-of-fold scores of each from the same folds,
    delta AUC = AUC(b) - AUC(a), and a p-value.

    `feature_permutation` (one-sided: b adds signal), for nested sets (a's columns inside b's): the columns b adds
    are permuted jointly across windows and b is refitted in the same folds, `n_permutations` times; the observed
    delta is ranked among these deltas. This null includes what fitting costs (added noise columns lower the
    out-of-fold AUC a little) and the fold-to-fold variability, which DeLong's and the paired permutation's
    variances, computed on fixed out-of-fold scores, leave out: on pure noise those two reject ~10-12 % of the
    time at the 5 % level (seisbind's own simulation, 20 pre-event / 160 background windows). `auto` uses it for
    nested sets and DeLong (two-sided) otherwise; `delong` and `paired_permutation` (grouped, two-sided) can be
    asked for. DeLong's p is always reported as `p_value_delong`.
    """
    y = np.asarray(y, int)
    sa = oof_scores(Xa, y, groups, [score], settings)[score]
    sb = oof_scores(Xb, y, groups, [score], settings)[score]
    delong = stats.delong_test(y, sb, sa)
    added = [c for c in Xb.columns if c not in Xa.columns]
    nested = not [c for c in Xa.columns if c not in Xb.columns]
    if test == "auto":
        test = "feature_permutation" if nested and added else "delong"
    out = {"auc_a": delong.auc_b, "auc_b": delong.auc_a, "delta_auc": delong.delta_auc}
    if test == "feature_permutation":
        if not nested or not added:
            raise SeisbindInputError(f"feature_permutation needs feature set b to add columns to a; a has "
                                     f"{list(Xa.columns)}, b has {list(Xb.columns)}: use delong")
        folds = grouped_folds(y, np.asarray(groups), n_splits=n_folds(y, settings), seed=settings.seed)
        rng = np.random.default_rng(settings.seed)
        block = Xb[added].to_numpy()
        null = np.empty(n_permutations)
        for k in range(n_permutations):
            permuted = Xb.copy()
            permuted[added] = block[rng.permutation(len(block))]
            null[k] = stats.auc_roc(y, _refit_oof(permuted, y, folds, score, settings)) - out["auc_a"]
        p = float((1 + np.sum(null >= out["delta_auc"] - 1e-12)) / (1 + n_permutations))
        out |= {"p_value": p, "null_delta_mean": float(null.mean()), "null_delta_sd": float(null.std(ddof=1))}
    elif test == "delong":
        out["p_value"] = delong.p_value
    elif test == "paired_permutation":
        out["p_value"] = stats.paired_permutation_test(y, sb, sa, n_perm=settings.n_permutations, seed=settings.seed,
                                                       groups=groups).p_value
    else:
        raise SeisbindInputError(f"probe.comparison_test={test!r}: choose auto, feature_permutation, delong or "
                                 "paired_permutation")
    return out | {"test": test, "p_value_delong": delong.p_value, "n_windows": int(np.size(y)),
                  "n_pos": delong.n_pos, "n_neg": delong.n_neg}


def label_shuffle(X: pd.DataFrame, y: np.ndarray, groups: np.ndarray, score: str, settings: Settings,
                  observed_auc: float | None = None) -> dict:
    """The cross-validated pipeline rerun on shuffled labels `n_shuffles` times: folds rebuilt on the shuffled
    labels (grouped and stratified as in the study) and everything the scorer learns refitted in them.

    Leakage (a scaler or a feature choice that saw the test windows) lifts the shuffled AUCs above 0.5. Small
    samples pull them slightly below 0.5 instead (cross-validation's anti-learning: holding out a window moves
    the training class means away from it), which is why the study's own AUCs are also compared with this
    null: `p_value_vs_shuffles` = share of shuffles reaching the observed AUC (+1 corrected).
    """
    y = np.asarray(y, int)
    groups = np.asarray(groups)
    table = X.astype(np.float64)
    rng = np.random.default_rng(settings.seed)
    aucs = []
    for k in range(settings.n_shuffles):
        shuffled = rng.permutation(y)
        s = np.empty(y.size)
        try:
            for train, test in grouped_folds(shuffled, groups, n_splits=n_folds(y, settings),
                                             seed=settings.seed + k + 1):
                scorer = make_scorer(method_of(score), settings.logistic_C)
                s[test] = scorer.fit(table.iloc[train], shuffled[train]).score(table.iloc[test])
        except SeisbindInputError:  # a fold left with one class: counted by n_shuffles below
            continue
        aucs.append(stats.auc_roc(shuffled, s))
    aucs = np.asarray(aucs)
    out = {"auc_mean": float(aucs.mean()), "auc_sd": float(aucs.std(ddof=1)) if aucs.size > 1 else float("nan"),
           "auc_min": float(aucs.min()), "auc_max": float(aucs.max()), "n_shuffles": int(aucs.size)}
    if observed_auc is not None:
        out |= {"observed_auc": observed_auc,
                "p_value_vs_shuffles": float((1 + np.sum(aucs >= observed_auc - 1e-12)) / (1 + aucs.size))}
    return out
