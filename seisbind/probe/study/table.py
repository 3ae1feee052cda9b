"""The feature table: every feature family (seisbind/probe/families.py: the configured modalities', the time-of-day
control and, with a checkpoint, the embeddings) for every window of the design; and which columns a configured
feature set means.

The catalog the families see holds the events at or above the completeness floor (design.completeness), and
`all_events` all of them (for the ground motion at sensors, seisbind/modalities/shaking.py). A family
whose data the root lacks is absent, with the reason in `skipped`, and every feature set that needs it is skipped
with that reason.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from seisbind.config_schema import FeatureSet
from seisbind.probe import features
from seisbind.probe.families import family_of
from seisbind.probe.study.config import Skipped
from seisbind.probe.study.design import Design
from seisbind.protocols import FamilyUnavailable, FeatureFamily, StudyData
from seisbind.seismicity.etas.incompleteness import AftershockIncompleteness
from seisbind.times import NS_PER_DAY, to_utc_ns


@dataclass
class FeatureTable:
    """Features (index = the design's windows), the families that made them, what was absent and why, what the
    families found beyond their features (`info`, by `<family>_<key>`, for metrics.json) and the embedding coverage
    (seisbind/probe/embedding.py) when a checkpoint was given."""

    features: pd.DataFrame
    feature_sets: dict[str, list[str]]
    families: list[FeatureFamily] = field(default_factory=list)
    absent: dict[str, str] = field(default_factory=dict)
    info: dict[str, object] = field(default_factory=dict)
    embedding: dict | None = None

    def family_of(self, column: str) -> str:
        return family_of(column, self.families)

    def columns(self, name: str) -> tuple[list[str], str]:
        """Columns of feature set `name`, or ([], why) when a family it needs is absent or one of its names or
        patterns matches no column (a family no configured modality gives): evaluated without them, the set would
        be a smaller one under its name."""
        patterns = list(self.feature_sets[name])
        wanted = {self.family_of(p) for p in patterns}
        absent = [reason for family, reason in self.absent.items() if family in wanted]
        if absent:
            return [], "; ".join(absent)
        unmatched = [p for p in patterns if not features.resolve_feature_set([p], self.features.columns)]
        if unmatched:
            return [], (f"no feature family of the study makes {unmatched} (their modality is not configured, or "
                        f"the checkpoint has no such encoder)")
        return features.resolve_feature_set(patterns, self.features.columns), ""

    def usable(self, rows: np.ndarray, columns: list[str]) -> np.ndarray:
        """Of `rows` (positions), those where every family of `columns` is defined (features.usable_windows)."""
        return features.usable_windows(self.features.iloc[rows], columns, self.family_of)

    def X(self, rows: np.ndarray, columns: list[str]) -> pd.DataFrame:
        return self.features.iloc[rows][columns]


def recorded(catalog: pd.DataFrame, floor: float, incompleteness: AftershockIncompleteness | None) -> pd.DataFrame:
    """The events at or above the floor that a network with this short-term aftershock incompleteness records
    (M >= Mc(t) of every earlier such event; seisbind/seismicity/etas/incompleteness.py): the catalog the
    clustering nulls' simulated catalogs are seen as, so real and simulated windows count alike."""
    above = catalog[catalog["magnitude"] >= floor] if np.isfinite(floor) else catalog
    if incompleteness is None or above.empty:
        return above
    days = to_utc_ns(above["time"]) / NS_PER_DAY
    return above[incompleteness.detected(days, above["magnitude"].to_numpy(np.float64),
                                         floor if np.isfinite(floor) else float(above["magnitude"].min()))]


def build_table(feature_sets: dict[str, FeatureSet], data: StudyData, design: Design,
                families: list[FeatureFamily], skipped: Skipped,
                incompleteness: AftershockIncompleteness | None = None) -> FeatureTable:
    """Every family's features for every window of the design, families in order; an absent family's reason goes
    to `skipped` and to every feature set that needs it."""
    patterns = {name: list(s.columns) for name, s in feature_sets.items()}
    table = FeatureTable(pd.DataFrame(index=design.windows.index), patterns, families)
    counted = dataclasses.replace(data, catalog=recorded(data.catalog, design.completeness["floor"], incompleteness),
                                  all_events=data.catalog)
    parts = []
    for family in families:
        try:
            parts.append(family.compute(counted, design.windows))
        except FamilyUnavailable as why:
            table.absent[family.name] = str(why)
            skipped.add(f"feature family {family.name}", str(why))
            continue
        table.info |= {f"{family.name}_{key}": value for key, value in getattr(family, "info", {}).items()}
        for what, why in getattr(family, "skipped", ()):
            skipped.add(what, why)
    table.features = pd.concat(parts, axis=1)
    return table
