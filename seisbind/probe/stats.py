"""Statistics for the pre-event vs background probe: AUC with uncertainty, nulls and paired comparisons.

Everything here is a pure function of numpy arrays (labels ``y``: 1 = pre-event window, 0 = background;
scores ``s``: larger = more anomalous), so it can be tested on its own and reused for any score.

Speed is a design goal: the probe runs ~100 AUC evaluations, each with 1,000 bootstrap resamples and 1,000
permutations, on a few hundred windows. No resample is ever sorted. The bootstrap and the group-level
permutation express every resample as a matrix of weights (how often each window, or each group, is drawn)
over windows sorted once, and get all AUCs from one cumulative sum. Window-level permutations keep the
scores' ranks fixed and only draw which windows are called positive. The paired permutation test is the one
place that re-ranks (scores move between the two sets), and does it for all resamples at once with
``rankdata(axis=1)``.

Conventions: AUC counts ties as one half (the Mann-Whitney convention, equal to
``sklearn.metrics.roc_auc_score``). One-sided tests look for AUC > 0.5 (pre-event windows score higher).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.metrics import precision_recall_curve

from seisbind.errors import SeisbindInputError


@dataclass(frozen=True)
class BootstrapCI:
    """Percentile bootstrap interval for an AUC; ``n_boot_used`` < ``n_boot`` when some cluster resamples
    held one class only (they are dropped and counted, never silently)."""

    auc: float
    low: float
    high: float
    level: float
    se: float
    n_boot: int
    n_boot_used: int
    unit: Literal["window", "group"]


@dataclass(frozen=True)
class PairedAucTest:
    """Two scores on the same windows: ``delta_auc`` = auc_a - auc_b with a two-sided p-value."""

    auc_a: float
    auc_b: float
    delta_auc: float
    p_value: float
    statistic: float
    test: Literal["delong", "paired_permutation"]
    n_pos: int
    n_neg: int


@dataclass(frozen=True)
class MolchanCurve:
    """Molchan error diagram: alarm fraction ``tau`` vs miss rate ``nu`` as the alarm threshold drops from
    above the highest score to the lowest; ``area_skill`` = 1 - area under nu(tau) (0.5 random, 1 perfect)."""

    tau: np.ndarray
    nu: np.ndarray
    area_skill: float


def _labels_scores(y: np.ndarray, s: np.ndarray, *, name: str = "s") -> tuple[np.ndarray, np.ndarray]:
    """Validate a label vector and a finite score vector of the same length; return (bool labels, float scores)."""
    y = np.asarray(y)
    s = np.asarray(s, dtype=np.float64)
    if y.ndim != 1 or y.shape[0] != s.shape[0]:
        raise SeisbindInputError(f"labels have shape {y.shape} but scores {name!r} have shape {s.shape}")
    values = set(np.unique(y).tolist())
    if not values <= {0, 1}:
        raise SeisbindInputError(f"labels must be 0/1 (or bool), got values {sorted(values)[:5]}")
    y = y.astype(bool)
    n_bad = int((~np.isfinite(s)).sum())
    if n_bad:
        raise SeisbindInputError(
            f"scores {name!r} hold {n_bad} NaN/inf values: drop the windows without a score first "
            "and report how many"
        )
    n_pos = int(y.sum())
    if n_pos == 0 or n_pos == y.size:
        raise SeisbindInputError(f"AUC needs both classes, got {n_pos} positive and {y.size - n_pos} negative windows")
    return y, s


def _groups(groups: np.ndarray, n: int) -> tuple[np.ndarray, int]:
    """Integer codes 0..G-1 for a group label per window."""
    groups = np.asarray(groups)
    if groups.shape != (n,):
        raise SeisbindInputError(f"groups have shape {groups.shape}, expected ({n},) (one per window)")
    if pd.isna(groups).any():
        raise SeisbindInputError(f"{int(pd.isna(groups).sum())} windows have no group label")
    codes, uniques = pd.factorize(groups, sort=True)
    return codes, len(uniques)


def _group_labels(y: np.ndarray, codes: np.ndarray, n_groups: int) -> np.ndarray | None:
    """The label of each group when every group is label-constant, else None."""
    n_pos = np.bincount(codes, weights=y, minlength=n_groups)
    size = np.bincount(codes, minlength=n_groups)
    if np.all((n_pos == 0) | (n_pos == size)):
        return n_pos > 0
    return None


def auc_roc(y: np.ndarray, s: np.ndarray) -> float | np.ndarray:
    """Area under the ROC curve from ranks (ties count one half).

    ``s`` may be (n,) -> float, or (n, k) -> (k,) AUCs, one per column (used to rank features at once).
    """
    y = np.asarray(y)
    s = np.asarray(s, dtype=np.float64)
    y, _ = _labels_scores(y, s if s.ndim == 1 else s[:, 0])
    if s.ndim == 2 and not np.isfinite(s).all():
        raise SeisbindInputError("scores hold NaN/inf values: impute or drop them first")
    ranks = stats.rankdata(s, axis=0)
    n_pos = int(y.sum())
    n_neg = y.size - n_pos
    auc = (ranks[y].sum(axis=0) - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
    return float(auc) if s.ndim == 1 else auc


def _weighted_auc(s_pos: np.ndarray, s_neg: np.ndarray, w_pos: np.ndarray, w_neg: np.ndarray) -> np.ndarray:
    """AUC of many weighted resamples at once.

    ``w_pos`` (B, n_pos) and ``w_neg`` (B, n_neg) say how often each window appears in each resample. With the
    negatives sorted once, the weight of negatives below (and tied with) each positive is a cumulative sum read
    at fixed positions, so B AUCs cost O(B * n) without any per-resample sort. Rows with an empty class -> NaN.
    """
    order = np.argsort(s_neg, kind="stable")
    s_neg = s_neg[order]
    w_neg = w_neg[:, order]
    cum = np.zeros((w_neg.shape[0], s_neg.size + 1))
    np.cumsum(w_neg, axis=1, out=cum[:, 1:])
    lo = np.searchsorted(s_neg, s_pos, side="left")
    hi = np.searchsorted(s_neg, s_pos, side="right")
    below = cum[:, lo]
    tied = cum[:, hi] - below
    numerator = np.einsum("bi,bi->b", w_pos, below + 0.5 * tied)
    denominator = w_pos.sum(axis=1) * cum[:, -1]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, numerator / denominator, np.nan)


def weighted_auc(scores: np.ndarray, y: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """AUC of positives (y) vs negatives for each row of window weights (R, N), ties counting half: the weighted
    Mann-Whitney statistic, equal to sklearn's roc_auc_score with sample_weight, for R resamples at once."""
    y = np.asarray(y, bool)
    weights = np.atleast_2d(weights)
    return _weighted_auc(scores[y], scores[~y], weights[:, y], weights[:, ~y])


def _draw_counts(rng: np.random.Generator, n_boot: int, n: int) -> np.ndarray:
    """(n_boot, n) multiplicities of n items drawn n times with replacement, one row per resample."""
    draws = rng.integers(0, n, size=(n_boot, n)) + n * np.arange(n_boot)[:, None]
    return np.bincount(draws.ravel(), minlength=n_boot * n).reshape(n_boot, n).astype(np.float64)


def bootstrap_auc_ci(
    y: np.ndarray,
    s: np.ndarray,
    n_boot: int = 1000,
    seed: int = 0,
    groups: np.ndarray | None = None,
    level: float = 0.95,
) -> BootstrapCI:
    """Percentile bootstrap CI of the AUC, stratified by class so that every resample holds both classes.

    Without ``groups``: positives and negatives are resampled separately (class sizes fixed).
    With ``groups`` (overlapping windows share a group: same target event or time block): a cluster bootstrap.
    If every group is label-constant, positive groups and negative groups are resampled separately; otherwise
    all groups are resampled together and the resamples left with one class are dropped and counted.
    With very few groups (e.g. three mainshocks) the cluster interval is coarse: that is the honest answer.
    """
    y, s = _labels_scores(y, s)
    if not 0 < level < 1:
        raise SeisbindInputError(f"level must lie in (0, 1), got {level}")
    rng = np.random.default_rng(seed)
    auc = float(auc_roc(y, s))
    if groups is None:
        w_pos = _draw_counts(rng, n_boot, int(y.sum()))
        w_neg = _draw_counts(rng, n_boot, int((~y).sum()))
        unit: Literal["window", "group"] = "window"
    else:
        codes, n_groups = _groups(groups, y.size)
        group_is_pos = _group_labels(y, codes, n_groups)
        if group_is_pos is None:
            group_counts = _draw_counts(rng, n_boot, n_groups)
        else:
            group_counts = np.zeros((n_boot, n_groups))
            for cls in (True, False):
                members = np.flatnonzero(group_is_pos == cls)
                group_counts[:, members] = _draw_counts(rng, n_boot, members.size)
        window_counts = group_counts[:, codes]
        w_pos, w_neg = window_counts[:, y], window_counts[:, ~y]
        unit = "group"
    aucs = _weighted_auc(s[y], s[~y], w_pos, w_neg)
    aucs = aucs[np.isfinite(aucs)]
    if aucs.size == 0:
        raise SeisbindInputError("no bootstrap resample held both classes: too few groups per class")
    alpha = (1 - level) / 2
    low, high = np.quantile(aucs, [alpha, 1 - alpha])
    return BootstrapCI(auc, float(low), float(high), level, float(aucs.std(ddof=1)), n_boot, int(aucs.size), unit)


def precision_at_recall(y: np.ndarray, s: np.ndarray, recall: float) -> float:
    """Best precision among thresholds that reach at least ``recall`` of the pre-event windows.

    With balanced designs this is not an operational precision (pre-event time is rare in reality); it compares
    scores on the same windows.
    """
    y, s = _labels_scores(y, s)
    if not 0 < recall <= 1:
        raise SeisbindInputError(f"recall must lie in (0, 1], got {recall}")
    precision, achieved, _ = precision_recall_curve(y, s)
    return float(precision[achieved >= recall - 1e-12].max())


def molchan(
    y: np.ndarray, s: np.ndarray, tau_reference: Literal["background", "all"] = "background"
) -> MolchanCurve:
    """Molchan error diagram of the alarm "score >= threshold".

    ``tau`` is the fraction of alarm time. Background windows are a random sample of ordinary time, so by
    default tau = fraction of background windows in alarm (``tau_reference="background"``); then the diagram is
    the ROC curve mirrored and area skill = AUC, and the diagram's value is its picture and the random-alarm
    bound (``molchan_random_bound``). ``"all"`` counts every window as time (the literal window fraction); a
    perfect score then reaches 1 - p/2 with p the fraction of pre-event windows, not 1.
    Ties step diagonally (linear interpolation), which is the expectation under random tie-breaking.
    """
    y, s = _labels_scores(y, s)
    if tau_reference not in ("background", "all"):
        raise SeisbindInputError(f"tau_reference must be 'background' or 'all', got {tau_reference!r}")
    thresholds, inverse = np.unique(-s, return_inverse=True)  # descending scores
    pos_at = np.bincount(inverse, weights=y, minlength=thresholds.size)
    all_at = np.bincount(inverse, minlength=thresholds.size)
    hits = np.concatenate([[0.0], np.cumsum(pos_at)])
    alarmed = np.concatenate([[0.0], np.cumsum(all_at)])
    n_pos = y.sum()
    if tau_reference == "background":
        tau = (alarmed - hits) / (y.size - n_pos)
    else:
        tau = alarmed / y.size
    nu = 1 - hits / n_pos
    area = float(np.trapezoid(nu, tau))
    return MolchanCurve(tau, nu, 1 - area)


def molchan_random_bound(n_targets: int, tau: np.ndarray, alpha: float = 0.05) -> np.ndarray:
    """Miss rate that random alarms covering a fraction ``tau`` beat with probability <= ``alpha``.

    Random alarms hit Binomial(n_targets, tau) targets; a point of the diagram on or below this curve is
    significant at level ``alpha`` (one point, not the whole curve). NaN where even hitting every target is
    not rare enough under random alarms.
    """
    tau = np.asarray(tau, dtype=np.float64)
    hits_needed = stats.binom.isf(alpha, n_targets, tau) + 1
    return np.where(hits_needed <= n_targets, 1 - hits_needed / n_targets, np.nan)


def _structural_components(s_pos: np.ndarray, s_neg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """DeLong's placement values from midranks: per positive, the fraction of negatives it beats (ties one
    half); per negative, the fraction of positives that beat it."""
    n_pos, n_neg = s_pos.size, s_neg.size
    ranks_all = stats.rankdata(np.concatenate([s_pos, s_neg]))
    v10 = (ranks_all[:n_pos] - stats.rankdata(s_pos)) / n_neg
    v01 = 1 - (ranks_all[n_pos:] - stats.rankdata(s_neg)) / n_pos
    return v10, v01


def delong_test(y: np.ndarray, s1: np.ndarray, s2: np.ndarray) -> PairedAucTest:
    """DeLong, DeLong & Clarke-Pearson (1988) test of AUC(s1) = AUC(s2) on the same windows, two-sided.

    The variance of the difference uses the paired placement values (their covariance across scores), which is
    what makes the test paired. It assumes independent windows: with overlapping windows prefer
    ``paired_permutation_test`` with ``groups``.
    """
    y, s1 = _labels_scores(y, s1, name="s1")
    _, s2 = _labels_scores(y, s2, name="s2")
    v10 = np.stack([_structural_components(s[y], s[~y])[0] for s in (s1, s2)])
    v01 = np.stack([_structural_components(s[y], s[~y])[1] for s in (s1, s2)])
    n_pos, n_neg = v10.shape[1], v01.shape[1]
    cov = np.cov(v10) / n_pos + np.cov(v01) / n_neg
    auc_a, auc_b = v10.mean(axis=1)
    delta = float(auc_a - auc_b)
    var = float(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1])
    if var > 1e-15:
        z = delta / math.sqrt(var)
        p = float(2 * stats.norm.sf(abs(z)))
    else:  # identical placements: the scores rank the windows alike
        z, p = (0.0, 1.0) if abs(delta) < 1e-12 else (math.nan, math.nan)
    return PairedAucTest(float(auc_a), float(auc_b), delta, p, z, "delong", n_pos, n_neg)


def paired_permutation_test(
    y: np.ndarray,
    s1: np.ndarray,
    s2: np.ndarray,
    n_perm: int = 1000,
    seed: int = 0,
    groups: np.ndarray | None = None,
) -> PairedAucTest:
    """Paired permutation test of AUC(s1) = AUC(s2), two-sided: under the null the two scores of a window are
    exchangeable, so each resample swaps them in a random subset of windows (whole groups when ``groups``).

    Scores are first turned into normalised ranks so that scores on different scales (a probability and a
    distance) can be swapped; AUCs do not change under this monotone map.
    """
    y, s1 = _labels_scores(y, s1, name="s1")
    _, s2 = _labels_scores(y, s2, name="s2")
    n = y.size
    u1, u2 = stats.rankdata(s1) / n, stats.rankdata(s2) / n
    rng = np.random.default_rng(seed)
    if groups is None:
        codes, n_units = np.arange(n), n
    else:
        codes, n_units = _groups(groups, n)
    exact = 2**n_units <= n_perm
    if exact:
        swap_units = ((np.arange(2**n_units)[:, None] >> np.arange(n_units)) & 1).astype(bool)
    else:
        swap_units = rng.random((n_perm, n_units)) < 0.5
    swap = swap_units[:, codes]
    a = np.where(swap, u2, u1)
    b = np.where(swap, u1, u2)
    n_pos = int(y.sum())
    n_neg = n - n_pos
    offset = n_pos * (n_pos + 1) / 2

    def rows_auc(scores: np.ndarray) -> np.ndarray:
        return (stats.rankdata(scores, axis=1)[:, y].sum(axis=1) - offset) / (n_pos * n_neg)

    null = rows_auc(a) - rows_auc(b)
    auc_a, auc_b = float(auc_roc(y, s1)), float(auc_roc(y, s2))
    delta = auc_a - auc_b
    extreme = np.abs(null) >= abs(delta) - 1e-12
    p = float(extreme.mean()) if exact else float((1 + extreme.sum()) / (1 + n_perm))
    return PairedAucTest(auc_a, auc_b, delta, p, delta, "paired_permutation", n_pos, n_neg)


def feature_tests(X: pd.DataFrame, y: np.ndarray) -> pd.DataFrame:
    """Per-feature two-sample tests, pre-event vs background, one row per feature (index = feature name).

    Columns: n_pos, n_neg (values used), n_nan (dropped for that feature only), mean_pos, mean_neg, auc,
    mannwhitney_u, mannwhitney_p (two-sided), welch_t, welch_p (two-sided), cohens_d (pooled SD; > 0 when
    pre-event windows are higher), mannwhitney_p_fdr (Benjamini-Hochberg across the features tested), note
    (why a test is NaN). Features are many and windows overlap, so read the p-values as screening, not proof.
    """
    y = np.asarray(y)
    if not isinstance(X, pd.DataFrame) or len(X) != y.size:
        raise SeisbindInputError(f"feature_tests needs a DataFrame with one row per label ({y.size})")
    y = y.astype(bool)
    rows = []
    for name in X.columns:
        values = pd.to_numeric(X[name], errors="coerce").to_numpy(dtype=np.float64)
        finite = np.isfinite(values)
        pos, neg = values[finite & y], values[finite & ~y]
        row = {"feature": name, "n_pos": pos.size, "n_neg": neg.size, "n_nan": int((~finite).sum()),
               "mean_pos": pos.mean() if pos.size else np.nan, "mean_neg": neg.mean() if neg.size else np.nan,
               "auc": np.nan, "mannwhitney_u": np.nan, "mannwhitney_p": np.nan, "welch_t": np.nan,
               "welch_p": np.nan, "cohens_d": np.nan, "note": ""}
        if pos.size < 2 or neg.size < 2:
            row["note"] = f"too few values ({pos.size} pre-event, {neg.size} background)"
        elif np.ptp(np.concatenate([pos, neg])) == 0:
            row["note"] = "constant feature"
        else:
            mw = stats.mannwhitneyu(pos, neg, alternative="two-sided")
            welch = stats.ttest_ind(pos, neg, equal_var=False)
            pooled_var = ((pos.size - 1) * pos.var(ddof=1) + (neg.size - 1) * neg.var(ddof=1)) / (
                pos.size + neg.size - 2)
            row.update(auc=mw.statistic / (pos.size * neg.size), mannwhitney_u=float(mw.statistic),
                       mannwhitney_p=float(mw.pvalue), welch_t=float(welch.statistic),
                       welch_p=float(welch.pvalue), cohens_d=(pos.mean() - neg.mean()) / math.sqrt(pooled_var))
        rows.append(row)
    table = pd.DataFrame(rows).set_index("feature")
    tested = table["mannwhitney_p"].notna()
    table["mannwhitney_p_fdr"] = np.nan
    if tested.any():
        table.loc[tested, "mannwhitney_p_fdr"] = stats.false_discovery_control(table.loc[tested, "mannwhitney_p"])
    return table


def binomial_p_value(n_hits: int, n_targets: int, alarm_fraction: float) -> float:
    """One-sided p-value of at least ``n_hits`` of ``n_targets`` targets falling inside alarms that cover
    ``alarm_fraction`` of the time, under random alarms (the test behind one point of a Molchan diagram)."""
    return float(stats.binomtest(n_hits, n_targets, alarm_fraction, alternative="greater").pvalue)
