"""Cross-validated scores of a feature set and their evaluation, per horizon.

The unit of work is one horizon's windows (pre-event windows of that horizon and background windows of the same
length): labels y (1 = pre-event), groups (target event for pre-event windows, ISO week for background windows,
from seisbind.probe.windows) and a feature table. Scores are out-of-fold (seisbind.probe.scores, folds grouped
so overlapping windows never straddle train and test); every AUC's p-value and interval come from labels
permuted within the matched strata with the whole cross-validation refitted (`refit_null_aucs`), and the
family-wise p from the same permutations (`max_t_adjusted`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from seisbind.confidence import Z_95
from seisbind.errors import SeisbindInputError
from seisbind.probe import stats
from seisbind.probe.scores import SCORERS, ScorerFactory, cross_validated_scores, grouped_folds, score_windows

RECALLS = (0.5, 0.8)


@dataclass(frozen=True)
class Settings:
    """Resampling and cross-validation settings shared by every evaluation of one study."""

    n_bootstrap: int = 1000
    n_permutations: int = 1000
    n_folds: int = 5
    min_windows_per_class: int = 5
    seed: int = 0
    scorers: Mapping[str, ScorerFactory] = field(default_factory=lambda: dict(SCORERS))
    """Every scorer a row, check or comparison may name (probe.scorers)."""

    def pick(self, scores: Sequence[str]) -> dict[str, ScorerFactory]:
        unknown = [s for s in scores if s not in self.scorers]
        if unknown:
            raise SeisbindInputError(f"unknown score(s) {unknown}; probe.scorers defines {list(self.scorers)}")
        return {s: self.scorers[s] for s in scores}


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
    return cross_validated_scores(X, np.asarray(y, int), np.asarray(groups), scorers=settings.pick(scores),
                                  n_splits=n_folds(y, settings), seed=settings.seed if seed is None else seed)


def fit_and_score(X_fit: pd.DataFrame, y_fit: np.ndarray, X_other: pd.DataFrame, score: str,
                  settings: Settings) -> np.ndarray:
    """Score other windows (post-event, another period) with a model fitted on all of (X_fit, y_fit)."""
    return score_windows(X_fit, np.asarray(y_fit, int), X_other, scorers=settings.pick([score]))[score]


def auc_record(y: np.ndarray, s: np.ndarray) -> dict:
    """AUC, precision at the fixed recalls, Molchan area skill and the class counts of fixed scores; the CI and
    p-value come from `refit_inference`."""
    y = np.asarray(y, bool)
    record = {"auc": float(stats.auc_roc(y, s))}
    for recall in RECALLS:
        record[f"precision_at_recall_{recall}"] = stats.precision_at_recall(y, s, recall)
    record.update(molchan_skill=stats.molchan(y, s).area_skill, n_pos=int(y.sum()), n_neg=int((~y).sum()))
    return record


def permuted_labels(y: np.ndarray, strata: np.ndarray, n: int, seed: int | Sequence[int]) -> np.ndarray:
    """(n, len(y)) label vectors, each a permutation of `y` within every stratum (a target and its time-matched
    background windows, or one stratum for all): the null under which, given the matched sets, a pre-event
    window is exchangeable with its background windows."""
    y = np.asarray(y, bool)
    codes = pd.factorize(np.asarray(strata))[0]
    rng = np.random.default_rng(seed)
    order = np.argsort(codes, kind="stable")
    bounds = np.flatnonzero(np.diff(codes[order])) + 1
    out = np.empty((n, y.size), bool)
    for k in range(n):
        keys = rng.random(y.size)
        # Sorting random keys within each stratum is a uniform permutation of that stratum's labels.
        shuffled = np.concatenate([part[np.argsort(keys[part])] for part in np.split(order, bounds)])
        out[k, order] = y[shuffled]
    return out


def refit_null_aucs(X: pd.DataFrame, labels: np.ndarray, groups: np.ndarray, scores: Sequence[str],
                    settings: Settings) -> dict[str, np.ndarray]:
    """AUC of every score under each permuted label vector, with the whole cross-validation rerun on it: folds
    rebuilt (grouped and stratified as in the study) and every scorer refitted. So the null holds what fitting
    adds to the AUC's spread (the refit variance that a permutation of fixed out-of-fold scores leaves out);
    NaN where a permutation left a training fold with one class."""
    out = {score: np.full(len(labels), np.nan) for score in scores}
    for k, y in enumerate(labels):
        try:
            by_score = oof_scores(X, y, groups, scores, settings)
        except SeisbindInputError:
            continue
        for score, s in by_score.items():
            out[score][k] = stats.auc_roc(y, s)
    return out


def fixed_null_aucs(s: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """AUC of fixed scores (nothing refitted, e.g. the other-period check's) under each permuted label vector."""
    return np.array([stats.auc_roc(y, s) for y in labels])


def null_distance(values, reference: np.ndarray, two_sided: bool = True) -> np.ndarray:
    """Distance of `values` from the median of `reference` (a null's draws and the observed value together) in
    units of the spread on their own side (semi-standard deviations: sqrt(2 mean(max(x - median, 0)^2)) above,
    the mirror below; both equal the standard deviation for a symmetric null). Signed when one-sided; absolute
    when two-sided.

    Why split: the nulls of AUCs near the ceiling are skewed. ETAS-simulated studies of near-critical sequences
    give AUCs of ~0.7 +- 0.13, bounded by 1 above with a long tail below: one standard deviation put a perfect
    AUC of 1.0 only ~2.4 units out while simulated studies of the lower tail reached 4-5, so the quiet side of
    every row outvoted a perfect score (tests/test_inference.py). Why the observed value in the reference: the
    transformation is then a symmetric function of all n + 1 values, so under H0 the observed value's rank among
    them stays exactly uniform (Westfall & Young 1993); estimated from the null alone, the median and semi-
    deviations let a skewed family reject 5.6 % instead of 4 % at the 0.05 level. The price: no value lies more
    than sqrt((n + 1) / 2) semi-deviations out (7.1 at n = 99), so an observed value far beyond its null ties with
    a lone outlying draw of another row; that costs power, not validity.
    """
    finite = reference[np.isfinite(reference)]
    centre = float(np.median(finite))
    above = max(float(np.sqrt(2.0 * np.mean(np.clip(finite - centre, 0.0, None) ** 2))), 1e-12)
    below = max(float(np.sqrt(2.0 * np.mean(np.clip(centre - finite, 0.0, None) ** 2))), 1e-12)
    d = np.asarray(values, dtype=np.float64) - centre
    z = np.where(d >= 0, d / above, d / below)
    return np.abs(z) if two_sided else z


def two_sided_p(observed: float, null: np.ndarray) -> tuple[float, str]:
    """(p, direction) of an observed AUC against a null's finite AUCs, in both directions.

    p = (1 + #null at least as far from the median) / (1 + n), distances in each side's own spread
    (`null_distance`): two-sided because pre-event windows quieter than background (seismic quiescence: Wyss &
    Habermann 1988) is a hypothesis as much as activation is. The distance is the statistic `max_t_adjusted`
    takes over rows, so a family-wise p is never below its row's p. direction: "higher" when the AUC is above the
    null's median (pre-event windows score above what the null gives), else "lower".
    """
    return own_p(observed, null), "higher" if observed >= float(np.median(null)) else "lower"


def own_p(observed: float, null: np.ndarray, two_sided: bool = True) -> float:
    """(1 + #finite null draws at least as far out as `observed`) / (1 + #finite draws), distances by
    `null_distance` over the finite draws and the observed value."""
    finite = null[np.isfinite(null)]
    reference = np.r_[finite, observed]
    far = null_distance(finite, reference, two_sided) >= null_distance(observed, reference, two_sided) - 1e-12
    return (1 + int(np.sum(far))) / (1 + finite.size)


def refit_inference(auc: float, null: np.ndarray) -> dict:
    """p-value, direction and interval of one result row from its refit permutation null.

    p and direction: `two_sided_p`; at its floor 1 / (1 + n) the row says so. Interval: AUC +- 1.96 x the null's
    standard deviation, clipped to [0, 1]. That standard deviation is the AUC's spread at this sample size with the
    refit included (the percentile bootstrap of fixed out-of-fold scores was 1.3-1.8x too narrow on null catalogs,
    and collapses to a point at perfect separation); it is measured under H0, where it is largest, so the interval
    is conservative away from 0.5.
    """
    null = null[np.isfinite(null)]
    n = int(null.size)
    if n < 2:
        return {"p_value": float("nan"), "direction": None, "auc_ci_low": float("nan"), "auc_ci_high": float("nan"),
                "null_auc_mean": float("nan"), "null_auc_sd": float("nan"), "n_null": n, "p_value_at_floor": False}
    p, direction = two_sided_p(auc, null)
    sd = float(null.std(ddof=1))
    return {"p_value": p, "direction": direction, "p_value_at_floor": p <= 1 / (1 + n) + 1e-12,
            "auc_ci_low": max(0.0, auc - Z_95 * sd), "auc_ci_high": min(1.0, auc + Z_95 * sd),
            "null_auc_mean": float(null.mean()), "null_auc_sd": sd, "n_null": n}


def max_t_adjusted(observed: Sequence[float], nulls: Sequence[np.ndarray], two_sided: bool = True) -> np.ndarray:
    """Family-wise p-values over all rows (or comparisons) by Westfall & Young's (1993) single-step max-T
    permutation method.

    Each row's statistic is standardised by its own null (`null_distance`: from the median in each side's spread)
    so rows of different sizes and skews weigh alike; the adjusted p of a row is the share of permutations whose
    largest distance over all rows reaches the row's. Two-sided (quiescence counts as much as activation, as
    `two_sided_p`) for result rows; one-sided (signed) for the comparisons' delta AUCs, whose question is whether b
    adds. Rows share permutation k where they share windows (one horizon); across horizons the permutations are
    independent, which can only make the maximum larger, so the adjustment stays valid (conservative). Unlike Holm
    it keeps the correlation of the rows (the same windows scored by many feature sets and scores). A draw a row
    could not score (NaN: a simulated study without windows) counts for no row's maximum, while the row's own p
    counts its finite draws only, so each adjusted p is raised to its row's own p where it fell below it.
    """
    n = min(len(x) for x in nulls) if nulls else 0
    z_null = np.full((len(nulls), n), -np.inf)
    z_obs = np.full(len(nulls), np.nan)
    own = np.full(len(nulls), np.nan)
    for i, (auc, null) in enumerate(zip(observed, nulls)):
        finite = null[np.isfinite(null)]
        if finite.size < 2 or not np.isfinite(auc):
            continue
        head, reference = null[:n], np.r_[finite, auc]
        z_null[i] = np.where(np.isfinite(head), null_distance(np.nan_to_num(head), reference, two_sided), -np.inf)
        z_obs[i] = null_distance(auc, reference, two_sided)
        own[i] = own_p(auc, null, two_sided)
    top = z_null.max(axis=0) if len(nulls) else np.empty(0)
    adjusted = np.array([(1 + np.sum(top >= z - 1e-12)) / (1 + n) if np.isfinite(z) else np.nan for z in z_obs])
    return np.maximum(adjusted, own)


def _refit_oof(X: pd.DataFrame, y: np.ndarray, folds: list, score: str, settings: Settings) -> np.ndarray:
    """Out-of-fold scores on given folds (the folds `oof_scores` builds for the same labels and seed)."""
    table = X.loc[:, X.notna().any()].astype(np.float64)
    s = np.empty(len(table))
    for train, test in folds:
        scorer = settings.pick([score])[score]()
        s[test] = scorer.fit(table.iloc[train], y[train]).score(table.iloc[test])
    return s


@dataclass
class PairedScores:
    """What `compare` found: its record (AUCs, delta AUC, p-value, test, counts) and the out-of-fold scores behind
    it, so that a caller can adjust the delta family-wise (`deltas()`'s null) or ask it of some windows only."""

    record: dict
    y: np.ndarray
    scores_a: np.ndarray
    scores_b: np.ndarray
    null_scores_b: np.ndarray
    """(n_permutations, n): b's out-of-fold scores with its added columns permuted (feature_permutation); (0, n)
    for the other tests."""

    def deltas(self, rows: np.ndarray | None = None) -> tuple[float, np.ndarray]:
        """Delta AUC = AUC(b) - AUC(a) on the windows `rows` (a boolean mask; all by default), and its value
        under each permutation of b's added columns (a's scores do not depend on them)."""
        rows = np.ones(self.y.size, bool) if rows is None else np.asarray(rows, bool)
        y = self.y[rows]
        auc_a = stats.auc_roc(y, self.scores_a[rows])
        null = stats.auc_roc(y, self.null_scores_b[:, rows].T) - auc_a if len(self.null_scores_b) else np.empty(0)
        return float(stats.auc_roc(y, self.scores_b[rows]) - auc_a), null


def one_sided_p(observed: float, null: np.ndarray) -> float:
    """p = (1 + #null at least `observed`) / (1 + n): how often permuting b's added columns adds as much."""
    return float((1 + np.sum(null >= observed - 1e-12)) / (1 + null.size))


def compare(Xa: pd.DataFrame, Xb: pd.DataFrame, y: np.ndarray, groups: np.ndarray, score: str, settings: Settings,
            test: str = "auto", n_permutations: int = 100) -> PairedScores:
    """Paired comparison of two feature sets on the same windows: out-of-fold scores of each from the same folds,
    delta AUC = AUC(b) - AUC(a), and a p-value.

    `feature_permutation` (one-sided: b adds signal), for nested sets (a's columns inside b's): the columns b adds
    are permuted jointly across windows and b is refitted in the same folds, `n_permutations` times; the observed
    delta is ranked among these deltas. This null includes what fitting costs (added noise columns lower the
    out-of-fold AUC a little) and the fold-to-fold variability, which DeLong's and the paired permutation's
    variances, computed on fixed out-of-fold scores, leave out: on pure noise those two reject ~10-12 % of the
    time at the 5 % level (seisbind's own simulation, 20 pre-event / 160 background windows). Permutation k is
    the same for every comparison of the same windows (one seed), so their deltas can be adjusted together by
    max-T. `auto` uses it for nested sets and DeLong (two-sided) otherwise; `delong` and `paired_permutation`
    (grouped, two-sided) can be asked for. DeLong's p is always reported as `p_value_delong`.
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
    null_scores = np.empty((0, y.size))
    if test == "feature_permutation":
        if not nested or not added:
            raise SeisbindInputError(f"feature_permutation needs feature set b to add columns to a; a has "
                                     f"{list(Xa.columns)}, b has {list(Xb.columns)}: use delong")
        folds = grouped_folds(y, np.asarray(groups), n_splits=n_folds(y, settings), seed=settings.seed)
        rng = np.random.default_rng(settings.seed)
        block = Xb[added].to_numpy()
        null_scores = np.empty((n_permutations, y.size))
        for k in range(n_permutations):
            permuted = Xb.copy()
            permuted[added] = block[rng.permutation(len(block))]
            null_scores[k] = _refit_oof(permuted, y, folds, score, settings)
        _, null = PairedScores(out, y, sa, sb, null_scores).deltas()
        p = one_sided_p(out["delta_auc"], null)
        out |= {"p_value": p, "p_value_at_floor": p <= 1 / (1 + n_permutations) + 1e-12,
                "null_delta_mean": float(null.mean()), "null_delta_sd": float(null.std(ddof=1))}
    elif test == "delong":
        out["p_value"] = delong.p_value
    elif test == "paired_permutation":
        out["p_value"] = stats.paired_permutation_test(y, sb, sa, n_perm=settings.n_permutations, seed=settings.seed,
                                                       groups=groups).p_value
    else:
        raise SeisbindInputError(f"probe.comparison_test={test!r}: choose auto, feature_permutation, delong or "
                                 "paired_permutation")
    record = out | {"test": test, "p_value_delong": delong.p_value, "n_windows": int(np.size(y)),
                    "n_pos": delong.n_pos, "n_neg": delong.n_neg}
    return PairedScores(record, y, sa, sb, null_scores)
