"""What the study compares (feature set b against a, on the windows both cover), what each comparison found, and
the family-wise p-value of every comparison; and what a comparison adds where its baseline sees nothing.

The comparisons are planned once, from the feature table, before the horizons run: the configured pairs
(`probe.comparisons`) and those of the modality verdicts (seisbind/probe/study/verdicts.py). A pair that the
root cannot give (a set's family is absent) is said once, here. Each horizon then evaluates every planned pair
(seisbind/probe/study/horizon.py); `family_wise` adjusts the p-values over all of them and every horizon.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from seisbind.config_schema import StudyProbe
from seisbind.probe import evaluate as ev
from seisbind.probe.evaluate import PairedScores, Settings
from seisbind.probe.study.config import Skipped
from seisbind.probe.study.table import FeatureTable


@dataclass(frozen=True)
class Comparison:
    """Feature set b (`columns_b`, named `b`) against a: the names the outputs use, the columns, the test of
    seisbind.probe.evaluate.compare and, for a modality verdict's pair, the modality and which baseline `a` is
    (`seismic`: every seismic set the root gives; `secondary`: the catalog alone)."""

    a: str
    b: str
    columns_a: tuple[str, ...]
    columns_b: tuple[str, ...]
    test: str
    modality: str | None = None
    baseline: str | None = None

    @property
    def key(self) -> tuple[frozenset, frozenset]:
        return frozenset(self.columns_a), frozenset(self.columns_b)


@dataclass
class Compared:
    """One comparison at one horizon. `values`: compare()'s record with `where_baseline_quiet` and, once
    `family_wise` ran, `p_value_adjusted`; or the class counts and why it did not run (`p_value` None, and
    `too_few` true when a class had fewer than probe.min_windows_per_class windows). `null_deltas`: the delta AUC
    under each feature permutation (empty for the other tests), for the family-wise p."""

    comparison: Comparison
    horizon_hours: float
    values: dict
    null_deltas: np.ndarray = field(repr=False, default_factory=lambda: np.empty(0))

    @property
    def tested(self) -> bool:
        return self.values.get("p_value") is not None

    def as_dict(self) -> dict:
        c = self.comparison
        return {"feature_set_a": c.a, "feature_set_b": c.b, "horizon_hours": self.horizon_hours,
                "modality": c.modality, "baseline": c.baseline} | self.values


def configured(probe: StudyProbe, table: FeatureTable, skipped: Skipped, planned: list[Comparison]) -> list[Comparison]:
    """The pairs of `probe.comparisons` that the root gives and that no verdict's pair (`planned`) already
    compares (the same columns), tested by `probe.comparison_test`."""
    out, seen = [], {c.key: c for c in planned}
    for a, b in probe.comparisons:
        (columns_a, why_a), (columns_b, why_b) = table.columns(a), table.columns(b)
        if not columns_a or not columns_b:
            skipped.add(f"comparison {a} vs {b}", why_a or why_b)
            continue
        pair = Comparison(a, b, tuple(columns_a), tuple(columns_b), probe.comparison_test)
        if pair.key in seen:
            same = seen[pair.key]
            skipped.add(f"comparison {a} vs {b}", f"the same columns as {same.b} vs {same.a}"
                        + (f" of the {same.modality} verdict" if same.modality else "") + ", evaluated once")
            continue
        seen[pair.key] = pair
        out.append(pair)
    return out


def family_wise(compared: list[Compared]) -> None:
    """`p_value_adjusted` of every comparison that has a feature-permutation null: one-sided Westfall-Young max-T
    over all of them at every horizon (seisbind.probe.evaluate.max_t_adjusted), so a verdict may be read off the
    smallest; None for the others (DeLong or the paired permutation have no refitted null to take the maximum
    over, and a pair with too few windows has no p-value)."""
    family = [c for c in compared if c.tested and c.null_deltas.size]
    adjusted = ev.max_t_adjusted([c.values["delta_auc"] for c in family], [c.null_deltas for c in family],
                                 two_sided=False)
    for c in compared:
        c.values["p_value_adjusted"] = None
    for c, p in zip(family, adjusted, strict=True):
        c.values["p_value_adjusted"] = float(p)


def where_baseline_quiet(found: PairedScores, settings: Settings) -> dict:
    """Delta AUC and its one-sided p (from the same permutations of b's added columns) on the windows where a's
    out-of-fold score is at most the background windows' median: where the baseline sees nothing unusual.

    Why: before a target, seismicity is raised by clustering alone (foreshocks, aftershocks of earlier events and
    the shaking they cause at the sensors). A modality that responds to it adds mostly where the seismic baseline
    is raised and loses its delta here; one with a signal of its own keeps it. Not adjusted family-wise: it
    qualifies a verdict rather than making one. No p-value with fewer than probe.min_windows_per_class windows of
    a class there."""
    y = found.y.astype(bool)
    quiet = found.scores_a <= np.median(found.scores_a[~y])
    counts = {"n_pos": int(y[quiet].sum()), "n_neg": int((~y[quiet]).sum())}
    if min(counts.values()) < settings.min_windows_per_class:
        return counts | {"delta_auc": None, "p_value": None}
    delta, null = found.deltas(quiet)
    return counts | {"delta_auc": delta, "p_value": ev.one_sided_p(delta, null)}
