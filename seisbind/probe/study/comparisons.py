"""What the study compares (feature set b against a, on the windows both cover), what each comparison found, and
the family-wise p-value of every comparison; and what a comparison adds where clustering alone raises nothing.

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
    """One comparison at one horizon. `values`: compare()'s record with, once `family_wise` ran,
    `p_value_adjusted` and, once the clustering nulls ran, `where_clustering_quiet`; or the class counts and why
    it did not run (`p_value` None, and `too_few` true when a class had fewer than probe.min_windows_per_class
    windows). `null_deltas`: the delta AUC under each feature permutation (empty for the other tests), for the
    family-wise p; `paired`: the out-of-fold scores behind them, and `rows` the windows' positions in the study's
    table, for `where_clustering_quiet` (None and empty without a feature-permutation null)."""

    comparison: Comparison
    horizon_hours: float
    values: dict
    null_deltas: np.ndarray = field(repr=False, default_factory=lambda: np.empty(0))
    paired: PairedScores | None = field(repr=False, default=None)
    rows: np.ndarray = field(repr=False, default_factory=lambda: np.empty(0, dtype=np.int64))

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


def where_clustering_quiet(compared: list[Compared], ratio: np.ndarray | None, source: str,
                           settings: Settings) -> None:
    """`where_clustering_quiet` of every comparison with a feature-permutation null: its delta AUC and one-sided
    p (from the same permutations of b's added columns) on the windows where the clustering null's fitted model
    raises the rate at the window's end by no more than it does at the median background window (`ratio`: the
    null's intensity_ratio per window of the study, seisbind/probe/study/nulls/; `source` names the null, or
    says why none was fitted).

    Why: before a target, seismicity is raised by clustering alone (foreshocks, aftershocks of earlier events,
    and the shaking they cause at the sensors). A modality that responds to it adds where the clustering model
    expects activity and loses its delta here; one with a signal of its own keeps it. Not adjusted family-wise:
    it qualifies a verdict rather than making one. No p-value with fewer than probe.min_windows_per_class windows
    of a class there."""
    for c in compared:
        if c.paired is None:
            continue
        if ratio is None:
            c.values["where_clustering_quiet"] = {"reason": source}
            continue
        y = c.paired.y.astype(bool)
        ratios = ratio[c.rows]
        limit = float(np.median(ratios[~y]))
        quiet = ratios <= limit
        record = {"null": source, "max_intensity_ratio": limit, "n_pos": int(y[quiet].sum()),
                  "n_neg": int((~y[quiet]).sum())}
        if min(record["n_pos"], record["n_neg"]) < settings.min_windows_per_class:
            c.values["where_clustering_quiet"] = record | {"delta_auc": None, "p_value": None}
            continue
        delta, null = c.paired.deltas(quiet)
        c.values["where_clustering_quiet"] = record | {"delta_auc": delta, "p_value": ev.one_sided_p(delta, null)}
