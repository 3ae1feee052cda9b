"""Feature families of the pre-event study, each declared by its modality's config (`modality.<name>.features`).

A family turns the data of one modality into per-window features (seisbind/probe/features.py holds the window
arithmetic). The study instantiates the families of the configured modalities, computes each for all windows and
records, per family, why it is absent when its data are (no file matched its source, no window covered): it never
names a modality. A family says two things about itself:
- `columns`: the features.csv columns it adds (a window "has" the family when one of them is defined there);
- `simulated`: whether its features are a function of the event catalog alone, so that an ETAS-simulated catalog
  yields them too (the clustering nulls of seisbind/probe/study/nulls/ test only such feature sets); such a family
  also has `from_catalog(catalog, windows)`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

from seisbind.data.movebank import odba_bins
from seisbind.data.tables import SideTables, TableSource
from seisbind.errors import SeisbindInputError
from seisbind.probe import features


class FamilyUnavailable(Exception):
    """The data root cannot give this family its features; the reason goes to metrics.json `skipped`."""


@dataclass
class StudyData:
    """What a family may read: the root's side tables, the study catalog (events at or above its completeness
    floor), the trace metadata (features.read_trace_metadata) or why there is none."""

    root: Path
    tables: SideTables
    catalog: pd.DataFrame
    metadata: pd.DataFrame | None
    metadata_missing: str = ""


class FeatureFamily(Protocol):
    name: str
    columns: tuple[str, ...]
    simulated: bool

    def compute(self, data: StudyData, windows: pd.DataFrame) -> pd.DataFrame: ...


def build_families(specs: Mapping[str, Any]) -> list[FeatureFamily]:
    """The families of the configured modalities (those whose config has `features`), in config order."""
    from hydra.utils import instantiate

    families = []
    for modality, cfg in specs.items():
        spec = cfg.get("features") if isinstance(cfg, Mapping) else None
        if spec:
            try:
                families.append(instantiate(spec))
            except Exception as err:  # Hydra wraps the constructor's error in its own type
                cause = err.__cause__ if isinstance(err.__cause__, SeisbindInputError) else err
                raise SeisbindInputError(f"modality.{modality}.features: {cause}") from None
    names = [f.name for f in families]
    if len(set(names)) < len(names):
        raise SeisbindInputError(f"two modalities declare the same feature family: {names}")
    return families


class CatalogFamily:
    """Seismicity per window (features.catalog_features) of the events at or above the completeness floor;
    `min_count_b` events are needed for a b-value or Mc."""

    name = "catalog"
    columns = tuple(features.CATALOG_FEATURES)
    simulated = True

    def __init__(self, min_count_b: int = 50) -> None:
        self.min_count_b = int(min_count_b)

    def compute(self, data: StudyData, windows: pd.DataFrame) -> pd.DataFrame:
        return self.from_catalog(data.catalog, windows)

    def from_catalog(self, catalog: pd.DataFrame, windows: pd.DataFrame) -> pd.DataFrame:
        return features.catalog_features(catalog, windows, min_count_b=self.min_count_b)


class WaveformMetaFamily:
    """INSTANCE statistics of the traces recorded in each window (features.waveform_meta_features)."""

    name = "waveform_meta"
    columns = tuple(features.WAVEFORM_META_FEATURES)
    simulated = False

    def compute(self, data: StudyData, windows: pd.DataFrame) -> pd.DataFrame:
        if data.metadata is None:
            raise FamilyUnavailable(data.metadata_missing)
        return features.waveform_meta_features(data.metadata, windows)


class AnimalFamily:
    """ODBA level and deviation per window (features.animal_features) from the Movebank files of `source`,
    binned in `bin_minutes`; an animal counts in a window when `min_coverage` of its bins hold data."""

    name = "animal"
    columns = tuple(features.ANIMAL_FEATURES)
    simulated = False

    def __init__(self, source: TableSource | Mapping[str, Any], bin_minutes: float = 15.0,
                 min_coverage: float = 0.5) -> None:
        self.source = TableSource.of(source, "animal features source")
        self.bin_minutes, self.min_coverage = float(bin_minutes), float(min_coverage)

    def compute(self, data: StudyData, windows: pd.DataFrame) -> pd.DataFrame:
        odba = odba_bins(load_or_unavailable(data, self.source, "animal features"), bin_minutes=self.bin_minutes)
        animal = features.animal_features(odba, windows, min_coverage=self.min_coverage)
        if not animal["animal_odba_log10"].notna().any():
            raise FamilyUnavailable(
                f"the animal data ({odba.index.min()} to {odba.index.max()}, {odba.shape[1]} animals) covers none "
                f"of the windows for >= {self.min_coverage:.0%} of their time")
        return animal


def load_or_unavailable(data: StudyData, source: TableSource, what: str) -> Any:
    """The source's table, or FamilyUnavailable when the root has none of its files (an optional modality)."""
    if not source.paths(data.root):
        raise FamilyUnavailable(f"no file for {what} ({source.describe(data.root)})")
    return data.tables.load(source, what)


def family_of(column: str, families: list[FeatureFamily]) -> str:
    """Family name of a features.csv column: the declaring family's, `embedding` for `emb_*`, `time_of_day` for
    the study's diurnal control, else `other`."""
    if column.startswith(features.EMBEDDING_PREFIX):
        return "embedding"
    if column in features.TIME_OF_DAY_FEATURES:
        return "time_of_day"
    return next((f.name for f in families if column in f.columns), "other")


def simulated_columns(families: list[FeatureFamily]) -> set[str]:
    """Columns an ETAS-simulated catalog gives (those of `simulated` families)."""
    return {c for f in families if f.simulated for c in f.columns}


def simulated_features(families: list[FeatureFamily], catalog: pd.DataFrame, windows: pd.DataFrame) -> pd.DataFrame:
    """The `simulated` families' features of another (e.g. ETAS-simulated) catalog in the same windows."""
    return pd.concat([f.from_catalog(catalog, windows) for f in families if f.simulated], axis=1)
