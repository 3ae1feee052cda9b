"""Tests for seisbind.probe.stats: exactness against references, calibration by simulation, speed (printed)."""

from __future__ import annotations

import math
import time

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps
from sklearn.metrics import roc_auc_score

from seisbind.errors import SeisbindInputError
from seisbind.probe import stats
from seisbind.probe.study.checks import holm_adjusted


def _sample(rng: np.random.Generator, n_pos: int, n_neg: int, shift: float) -> tuple[np.ndarray, np.ndarray]:
    y = np.r_[np.ones(n_pos, bool), np.zeros(n_neg, bool)]
    s = rng.normal(size=n_pos + n_neg) + shift * y
    return y, s


def test_auc_matches_sklearn_with_ties_and_columns():
    rng = np.random.default_rng(0)
    y, s = _sample(rng, 37, 91, 0.7)
    s = np.round(s, 1)  # many ties
    assert stats.auc_roc(y, s) == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    columns = np.column_stack([s, -s, np.round(s * 3) / 3])
    expected = [roc_auc_score(y, c) for c in columns.T]
    np.testing.assert_allclose(stats.auc_roc(y, columns), expected, atol=1e-12)


def test_weighted_batched_auc_matches_sklearn_sample_weight():
    rng = np.random.default_rng(1)
    y, s = _sample(rng, 20, 30, 0.5)
    s = np.round(s, 1)
    weights = rng.integers(0, 4, size=(5, y.size)).astype(float)
    batched = stats._weighted_auc(s[y], s[~y], weights[:, y], weights[:, ~y])
    expected = [roc_auc_score(y, s, sample_weight=w) for w in weights]
    np.testing.assert_allclose(batched, expected, atol=1e-12)


@pytest.mark.parametrize("shift", [0.0, 0.8])
def test_bootstrap_ci_covers_truth_at_nominal_rate(shift):
    """Class-conditional normals with unit variance: true AUC = Phi(shift / sqrt 2); 0.5 under the null."""
    rng = np.random.default_rng(2)
    truth = sps.norm.cdf(shift / math.sqrt(2))
    n_sim = 200
    covered = 0
    for i in range(n_sim):
        y, s = _sample(rng, 40, 60, shift)
        ci = stats.bootstrap_auc_ci(y, s, n_boot=400, seed=i)
        assert ci.low <= ci.auc <= ci.high and ci.n_boot_used == 400
        covered += ci.low <= truth <= ci.high
    # binomial sd at 0.95 over 200 runs is 0.015; the percentile bootstrap runs slightly liberal at n=100
    assert 0.88 <= covered / n_sim <= 0.99


def test_cluster_bootstrap_widens_for_duplicated_windows():
    """Five exact copies of each window in one group carry no new information: the cluster interval must match
    the interval of the unduplicated data, while a window-level interval shrinks by about sqrt(5)."""
    rng = np.random.default_rng(3)
    y, s = _sample(rng, 50, 80, 0.5)
    base = stats.bootstrap_auc_ci(y, s, n_boot=2000, seed=0)
    y5, s5, g5 = np.repeat(y, 5), np.repeat(s, 5), np.repeat(np.arange(y.size), 5)
    clustered = stats.bootstrap_auc_ci(y5, s5, n_boot=2000, seed=0, groups=g5)
    naive = stats.bootstrap_auc_ci(y5, s5, n_boot=2000, seed=0)
    assert clustered.unit == "group" and clustered.auc == pytest.approx(base.auc)
    assert clustered.se == pytest.approx(base.se, rel=0.15)
    assert naive.se < 0.6 * clustered.se


def test_cluster_bootstrap_with_mixed_groups_counts_dropped_resamples():
    y = np.array([1, 0, 1, 0, 0, 1, 0, 0], bool)
    s = np.arange(8.0)
    groups = np.array([0, 0, 1, 1, 2, 2, 3, 3])  # every group mixes both classes
    ci = stats.bootstrap_auc_ci(y, s, n_boot=300, seed=0, groups=groups)
    assert ci.n_boot_used == 300  # every group holds both classes, so no resample lacks one
    one_class = np.array([1, 1, 0, 0, 1, 0], bool)
    ci = stats.bootstrap_auc_ci(one_class, np.arange(6.0), n_boot=500, seed=0, groups=[0, 0, 1, 1, 2, 2])
    assert 0 < ci.n_boot_used < 500  # resamples drawing only group 0 (all positive) were dropped


def _delong_reference(y, s1, s2):
    """Independent O(n^2) DeLong: kernel psi over all (positive, negative) pairs."""
    pos = np.asarray(y, bool)
    neg = ~pos
    v10, v01 = [], []
    for s in (s1, s2):
        psi = (s[pos][:, None] > s[neg][None, :]) + 0.5 * (s[pos][:, None] == s[neg][None, :])
        v10.append(psi.mean(axis=1))
        v01.append(psi.mean(axis=0))
    m, n = pos.sum(), neg.sum()
    aucs = [v.mean() for v in v10]

    def cov(a, b, k):
        return ((a - a.mean()) * (b - b.mean())).sum() / (k - 1)

    var = (cov(v10[0], v10[0], m) + cov(v10[1], v10[1], m) - 2 * cov(v10[0], v10[1], m)) / m + (
        cov(v01[0], v01[0], n) + cov(v01[1], v01[1], n) - 2 * cov(v01[0], v01[1], n)) / n
    z = (aucs[0] - aucs[1]) / math.sqrt(var)
    return aucs[0], aucs[1], 2 * (1 - sps.norm.cdf(abs(z)))


def test_delong_matches_independent_quadratic_reference():
    rng = np.random.default_rng(7)
    y, s1 = _sample(rng, 45, 70, 1.0)
    s2 = 0.6 * s1 + rng.normal(size=y.size)
    s1, s2 = np.round(s1, 1), np.round(s2, 1)
    result = stats.delong_test(y, s1, s2)
    auc1, auc2, p = _delong_reference(y, s1, s2)
    assert result.auc_a == pytest.approx(auc1) and result.auc_b == pytest.approx(auc2)
    assert result.p_value == pytest.approx(p, rel=1e-9)
    assert 0.001 < result.p_value < 0.5  # a case where the exactness check is informative
    identical = stats.delong_test(y, s1, s1)
    assert identical.delta_auc == 0 and identical.p_value == 1.0


def test_paired_permutation_detects_difference_and_is_calibrated():
    rng = np.random.default_rng(8)
    y, s1 = _sample(rng, 40, 60, 1.5)
    noise = rng.normal(size=y.size) * 3
    result = stats.paired_permutation_test(y, s1, s1 + noise, n_perm=500, seed=0)
    assert result.delta_auc > 0.1 and result.p_value < 0.01
    # scale invariance: a monotone map of s2 changes nothing
    same = stats.paired_permutation_test(y, s1, np.exp(s1 + noise), n_perm=500, seed=0)
    assert same.p_value == result.p_value
    # null: two exchangeable noisy copies of one signal
    p_null = []
    for i in range(100):
        y, base = _sample(rng, 25, 35, 0.8)
        p_null.append(stats.paired_permutation_test(y, base + rng.normal(size=60), base + rng.normal(size=60),
                                                    n_perm=200, seed=i).p_value)
    assert (np.array(p_null) < 0.05).mean() <= 0.12


def test_paired_permutation_exact_with_few_groups_matches_enumeration():
    rng = np.random.default_rng(12)
    groups = np.repeat(np.arange(5), 3)
    y = np.repeat([1, 1, 0, 0, 0], 3).astype(bool)
    s1 = y + rng.normal(size=15)
    s2 = rng.normal(size=15)
    result = stats.paired_permutation_test(y, s1, s2, n_perm=1000, groups=groups)
    u1, u2 = sps.rankdata(s1), sps.rankdata(s2)
    deltas = []
    for pattern in range(32):  # brute force over the 2^5 group swaps, with sklearn AUCs
        swap = ((pattern >> groups) & 1).astype(bool)
        deltas.append(roc_auc_score(y, np.where(swap, u2, u1)) - roc_auc_score(y, np.where(swap, u1, u2)))
    observed = roc_auc_score(y, s1) - roc_auc_score(y, s2)
    assert result.delta_auc == pytest.approx(observed)
    assert result.p_value == pytest.approx(np.mean(np.abs(deltas) >= abs(observed) - 1e-12))


def test_molchan_perfect_random_and_reference_choice():
    rng = np.random.default_rng(9)
    y, _ = _sample(rng, 30, 90, 0.0)
    perfect = stats.molchan(y, y.astype(float) + rng.random(y.size) * 0.1)
    assert perfect.area_skill == pytest.approx(1.0)
    assert perfect.tau[0] == 0 and perfect.nu[0] == 1 and perfect.tau[-1] == 1 and perfect.nu[-1] == 0
    skills = [stats.molchan(y, rng.normal(size=y.size)).area_skill for _ in range(200)]
    assert abs(np.mean(skills) - 0.5) < 0.01
    s = rng.normal(size=y.size) + y
    assert stats.molchan(y, s).area_skill == pytest.approx(stats.auc_roc(y, s))
    literal = stats.molchan(y, y.astype(float), tau_reference="all")
    assert literal.area_skill == pytest.approx(1 - y.mean() / 2)
    constant = stats.molchan(y, np.zeros(y.size))
    assert constant.area_skill == pytest.approx(0.5)  # all tied: one diagonal step


def test_molchan_random_bound_is_the_binomial_quantile():
    n, alpha = 20, 0.05
    tau = np.linspace(0.05, 0.95, 19)
    bound = stats.molchan_random_bound(n, tau, alpha)
    unreachable = tau**n > alpha  # even n hits of n happen by chance more often than alpha
    assert np.isnan(bound[unreachable]).all() and np.isfinite(bound[~unreachable]).all()
    tau, bound = tau[~unreachable], bound[~unreachable]
    hits = np.round((1 - bound) * n).astype(int)
    assert np.all(sps.binom.sf(hits - 1, n, tau) <= alpha + 1e-12)  # P(H >= hits) <= alpha
    assert np.all(sps.binom.sf(hits - 2, n, tau) > alpha)  # one hit fewer is not enough
    assert stats.binomial_p_value(hits[5], n, tau[5]) <= alpha


def test_precision_at_recall_by_hand():
    y = np.array([1, 0, 1, 1, 0, 0, 1, 0], bool)
    s = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2])
    # recall 0.5 is reached by the top 3 (2 of 3) but the top 4 do better (3 of 4, recall 0.75)
    assert stats.precision_at_recall(y, s, 0.5) == pytest.approx(3 / 4)
    assert stats.precision_at_recall(y, s, 0.75) == pytest.approx(3 / 4)
    assert stats.precision_at_recall(y, s, 0.25) == pytest.approx(1.0)
    assert stats.precision_at_recall(y, s, 1.0) == pytest.approx(4 / 7)


def test_feature_tests_against_scipy_and_nan_accounting():
    rng = np.random.default_rng(10)
    y, shifted = _sample(rng, 60, 90, 1.0)
    noise = rng.normal(size=y.size)
    noise[:10] = np.nan
    X = pd.DataFrame({"shifted": shifted, "noise": noise, "constant": 1.0, "empty": np.nan})
    table = stats.feature_tests(X, y)
    row = table.loc["shifted"]
    pos, neg = shifted[y], shifted[~y]
    assert row.mannwhitney_p == pytest.approx(sps.mannwhitneyu(pos, neg).pvalue)
    assert row.welch_t == pytest.approx(sps.ttest_ind(pos, neg, equal_var=False).statistic)
    assert row.auc == pytest.approx(roc_auc_score(y, shifted))
    assert 0.7 < row.cohens_d < 1.3 and row.mannwhitney_p < 1e-6
    assert table.loc["noise", "n_nan"] == 10 and table.loc["noise", "n_pos"] == 50
    assert table.loc["noise", "mannwhitney_p"] > 0.001
    assert table.loc["constant", "note"] == "constant feature" and np.isnan(table.loc["constant", "welch_p"])
    assert "too few" in table.loc["empty", "note"]
    assert table.loc["shifted", "mannwhitney_p_fdr"] >= row.mannwhitney_p


def test_bad_input_raises_clear_errors():
    with pytest.raises(SeisbindInputError, match="NaN"):
        stats.auc_roc([1, 0, 1], [0.1, np.nan, 0.3])
    with pytest.raises(SeisbindInputError, match="both classes"):
        stats.bootstrap_auc_ci([1, 1, 1], [0.1, 0.2, 0.3])
    with pytest.raises(SeisbindInputError, match="0/1"):
        stats.auc_roc([2, 0, 1], [0.1, 0.2, 0.3])


def test_timing_of_100_evaluations(capsys):
    """Not asserted: the sanity checks' budget is ~100 bootstrap CIs of 1,000 resamples each."""
    rng = np.random.default_rng(11)
    y, s = _sample(rng, 100, 300, 0.5)
    start = time.perf_counter()
    for i in range(100):
        stats.bootstrap_auc_ci(y, s, n_boot=1000, seed=i)
    elapsed = time.perf_counter() - start
    with capsys.disabled():
        print(f"\n100 x bootstrap 1000 on 400 windows: {elapsed:.2f} s")


def test_holm_against_a_hand_worked_example():
    """Holm (1979): p = 0.01, 0.04, 0.03, 0.005 sorted are 0.005, 0.01, 0.03, 0.04; times 4, 3, 2, 1 that is 0.02,
    0.03, 0.06, 0.04, and the running maximum makes the last 0.06. Back in the given order: 0.03, 0.06, 0.06, 0.02.
    Capped at 1; no p-value, no adjustment."""
    assert holm_adjusted([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm_adjusted([0.5, 0.6]) == pytest.approx([1.0, 1.0])
    assert holm_adjusted([0.2]) == pytest.approx([0.2]) and holm_adjusted([]).size == 0
