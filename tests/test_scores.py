"""Tests for seisbind.probe.scores: grouped folds, no leakage, planted shifts recovered, null stays at 0.5."""

from __future__ import annotations

import logging
import warnings

import numpy as np
import pandas as pd
import pytest

from seisbind.errors import SeisbindInputError
from seisbind.probe import scores
from seisbind.probe.evaluate import Settings
from seisbind.probe.stats import auc_roc


def _study(seed: int, shift: float, n_pos_groups: int = 12, n_neg_groups: int = 40, per_group: int = 5):
    """Windows in groups of 5 (overlapping windows share a group offset); two informative features with
    opposite signs, four noise features, one empty feature, one with 20 % NaN."""
    rng = np.random.default_rng(seed)
    groups = np.repeat(np.arange(n_pos_groups + n_neg_groups), per_group)
    y = groups < n_pos_groups
    group_offset = rng.normal(0, 0.5, n_pos_groups + n_neg_groups)[groups]
    n = groups.size
    X = pd.DataFrame({
        "up": rng.normal(size=n) + group_offset + shift * y,
        "down": rng.normal(size=n) - 0.8 * shift * y,
        **{f"noise{i}": rng.normal(size=n) for i in range(4)},
        "empty": np.nan,
        "gappy": rng.normal(size=n) + 0.5 * shift * y,
    })
    X.loc[rng.random(n) < 0.2, "gappy"] = np.nan
    return X, y.astype(int), groups


@pytest.mark.parametrize("n_groups, expected_folds", [(4, 4), (30, 5)])
def test_grouped_folds_never_split_a_group(n_groups, expected_folds):
    rng = np.random.default_rng(0)
    groups = rng.integers(0, n_groups, 300)
    y = (groups % 3 == 0).astype(int)
    folds = scores.grouped_folds(y, groups, n_splits=5, seed=1)
    assert len(folds) == expected_folds  # leave-one-group-out when groups are few
    tested = np.concatenate([test for _, test in folds])
    assert np.array_equal(np.sort(tested), np.arange(300))  # every window scored exactly once
    for train, test in folds:
        assert not set(groups[train]) & set(groups[test])
        assert 0 < y[train].mean() < 1


def test_training_fold_with_one_class_is_an_error():
    y = np.array([1, 1, 0, 0, 0, 0])
    groups = np.array([0, 0, 1, 1, 2, 2])  # holding out group 0 leaves no positive to train on
    with pytest.raises(SeisbindInputError, match="one class"):
        scores.grouped_folds(y, groups)


def test_every_method_recovers_a_planted_shift_and_stays_null_without(caplog):
    X, y, groups = _study(seed=1, shift=1.5)
    with caplog.at_level(logging.WARNING, logger="seisbind.probe.scores"):
        planted = scores.cross_validated_scores(X, y, groups, n_splits=5, seed=0)
    assert "empty" in caplog.text  # the all-NaN feature is dropped with a logged reason
    assert set(planted) == set(scores.SCORERS)
    # the unsigned distance is diluted by the four noise dimensions, so it gets a lower bar
    floor = {"best_single": 0.75, "composite_z": 0.7, "mahalanobis": 0.6, "logistic": 0.8}
    for method, score in planted.items():
        assert np.isfinite(score).all(), method
        assert auc_roc(y, score) > floor[method], method
    null_aucs = []
    for seed in range(6):
        X0, y0, g0 = _study(seed=100 + seed, shift=0.0)
        null = scores.cross_validated_scores(X0, y0, g0, n_splits=5, seed=seed)
        null_aucs.append([auc_roc(y0, s) for s in null.values()])
    null_aucs = np.array(null_aucs)
    assert np.all(np.abs(null_aucs.mean(axis=0) - 0.5) < 0.08)
    assert np.all(null_aucs < 0.72)


def test_out_of_fold_scores_depend_only_on_training_rows():
    """Refitting on each fold's training rows alone (imputation included) reproduces the out-of-fold scores,
    so nothing from the held-out windows reached the fit."""
    X, y, groups = _study(seed=2, shift=1.0)
    oof = scores.cross_validated_scores(X, y, groups, n_splits=5, seed=3)
    folds = scores.grouped_folds(y.astype(bool), groups, n_splits=5, seed=3)
    for train, test in folds:
        refit = scores.score_windows(X.iloc[train], y[train], X.iloc[test])
        for method in scores.SCORERS:
            np.testing.assert_allclose(oof[method][test], refit[method], rtol=1e-10, atol=1e-12)


def test_best_single_feature_picks_the_strongest_and_its_sign():
    X, y, _ = _study(seed=3, shift=1.5)
    X["down"] = X["down"] * 3 - 4 * y  # now the strongest feature, pointing down
    scorer = scores.BestSingleFeature().fit(X.drop(columns="empty"), y)
    assert scorer.feature_ == "down" and scorer.sign_ == -1.0 and scorer.training_auc_ < 0.2
    assert auc_roc(y, scorer.score(X.drop(columns="empty"))) > 0.8


def test_mahalanobis_detects_a_change_of_spread_that_has_no_mean_shift():
    rng = np.random.default_rng(4)
    n_pos, n_neg = 60, 200
    y = np.r_[np.ones(n_pos, int), np.zeros(n_neg, int)]
    X = pd.DataFrame(rng.normal(size=(n_pos + n_neg, 4)) * np.where(y[:, None] == 1, 3.0, 1.0),
                     columns=list("abcd"))
    groups = np.arange(y.size) // 4
    out = scores.cross_validated_scores(X, y, groups, scorers={k: scores.SCORERS[k] for k in ("mahalanobis",
                                                                                               "logistic")})
    assert auc_roc(y, out["mahalanobis"]) > 0.85
    assert auc_roc(y, out["logistic"]) < 0.7  # a linear score cannot see a spread change


def test_composite_z_uses_background_statistics_and_training_signs():
    X, y, _ = _study(seed=5, shift=1.0)
    X = X.drop(columns="empty")
    scorer = scores.CompositeZ().fit(X, y)
    background = X[y == 0]
    np.testing.assert_allclose(scorer.mean_[0], background["up"].mean())
    columns = list(X.columns)
    assert scorer.weights_[columns.index("up")] > 0 > scorer.weights_[columns.index("down")]


def test_score_windows_fits_on_one_set_and_scores_another():
    X, y, _ = _study(seed=6, shift=1.0)
    post = X.sample(40, random_state=0).copy()
    post["up"] += 3.0
    post["down"] -= 3.0
    quiet_other_period = X[y == 0].sample(40, random_state=1)
    fitted = scores.score_windows(X, y, pd.concat([post, quiet_other_period]))
    label = np.r_[np.ones(40), np.zeros(40)]
    for method, score in fitted.items():
        assert auc_roc(label, score) > 0.9, method
    with pytest.raises(SeisbindInputError, match="lack feature columns"):
        scores.score_windows(X, y, post.drop(columns=["up"]))


def test_bad_tables_raise_clear_errors():
    X, y, groups = _study(seed=7, shift=0.5)
    with pytest.raises(SeisbindInputError, match="non-numeric"):
        scores.cross_validated_scores(X.assign(station="NRCA"), y, groups)
    with pytest.raises(SeisbindInputError, match="infinite"):
        scores.cross_validated_scores(X.assign(up=np.inf), y, groups)
    with pytest.raises(SeisbindInputError, match=r"unknown score\(s\) \['random_forest'\]"):
        Settings().pick(["random_forest"])


def test_feature_observed_only_in_held_out_windows_is_left_out_of_that_fit(caplog, recwarn):
    rng = np.random.default_rng(8)
    y = np.r_[np.ones(40, int), np.zeros(160, int)]
    groups = np.arange(200) // 10
    X = pd.DataFrame(rng.normal(size=(200, 2)), columns=["a", "b"])
    X["a"] += 1.5 * y
    X["held_out_only"] = np.where(groups == 3, 100.0 * y, np.nan)  # would be a perfect, leaked feature
    with caplog.at_level(logging.DEBUG, logger="seisbind.probe.scores"):
        out = scores.cross_validated_scores(X, y, groups, n_splits=5)
    assert "held_out_only" in caplog.text and not [w for w in recwarn if "observed values" in str(w.message)]
    for method, score in out.items():
        assert np.isfinite(score).all(), method


@pytest.mark.parametrize("C", [0.1, 1.0, 10.0])
def test_numpy_logistic_is_scikit_learns_balanced_logistic_regression(C):
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(int(C * 10))
    X = rng.normal(size=(180, 6))
    y = rng.random(180) < 1 / (1 + np.exp(-(X[:, 0] - 1.5)))
    coef, intercept = scores.balanced_logistic_newton(X, y, C)
    reference = LogisticRegression(C=C, class_weight="balanced", solver="newton-cholesky", tol=1e-10,
                                   max_iter=500).fit(X, y)
    np.testing.assert_allclose(coef, reference.coef_[0], atol=1e-6)
    assert abs(intercept - reference.intercept_[0]) < 1e-6


def test_stratified_group_folds_balance_both_classes():
    rng = np.random.default_rng(5)
    groups = np.r_[np.arange(25).astype(str), np.repeat([f"bg{i}" for i in range(40)], 5)]
    y = np.r_[np.ones(25, bool), np.zeros(200, bool)]
    order = rng.permutation(y.size)
    folds = scores.grouped_folds(y[order], groups[order], n_splits=5, seed=2)
    per_fold = [(int(y[order][test].sum()), int((~y[order][test]).sum())) for _, test in folds]
    assert len(folds) == 5 and all(p == 5 for p, _ in per_fold) and all(n == 40 for _, n in per_fold)


def test_fixed_score_is_its_one_column_and_refuses_more():
    """`fixed` fits nothing: its out-of-fold scores are the column itself, so its refit permutation null is the
    column's plain permutation null; a set of two columns is refused, naming them."""
    from seisbind.probe import evaluate as ev

    X, y, groups = _study(seed=11, shift=0.8)
    column = X[["up"]]
    settings = Settings(n_permutations=30, scorers={"fixed": scores.Fixed})
    out = ev.oof_scores(column, y, groups, ["fixed"], settings)["fixed"]
    np.testing.assert_array_equal(out, column["up"].to_numpy())
    assert auc_roc(y, out) == auc_roc(y, column["up"].to_numpy()) > 0.7
    labels = ev.permuted_labels(y, np.zeros(len(y)), 30, seed=0)
    null = ev.refit_null_aucs(column, labels, groups, ["fixed"], settings)["fixed"]
    np.testing.assert_array_equal(null, [auc_roc(permuted, column["up"].to_numpy()) for permuted in labels])
    with pytest.raises(SeisbindInputError, match=r"one column as it is, got 2 columns \['up', 'down'\]"):
        ev.oof_scores(X[["up", "down"]], y, groups, ["fixed"], settings)


def test_median_imputer_takes_numpys_nan_median_bit_for_bit():
    """The imputer's medians equal np.nanmedian's exactly (odd and even counts, infinities, empty columns -> 0,
    no rows -> 0), so replacing it changed no score."""
    rng = np.random.default_rng(0)
    for _ in range(500):
        n, m = int(rng.integers(0, 30)), int(rng.integers(1, 6))
        x = rng.normal(size=(n, m))
        x[rng.random((n, m)) < rng.random()] = np.nan
        if n:
            x[0, -1] = np.inf
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)   # "All-NaN slice encountered"
            expected = np.nanmedian(x, axis=0) if n else np.zeros(m)
        expected = np.where(np.isnan(expected), 0.0, expected)
        np.testing.assert_array_equal(scores.MedianImputer().fit(x).medians_, expected)
