"""The study's feature families (seisbind.protocols.FeatureFamily): those its modalities declare
(`modality.<name>.features`, one or several, the classes in seisbind/modalities/) and its own two, the time-of-day
control and a checkpoint's embeddings.

The study computes every family for all windows and records, per family, why it is absent when its data are (no
file matched its source, no window covered, no checkpoint): it never names a modality. A family's `columns` may be
shell patterns (`emb_*`) when its columns depend on the data.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from seisbind.config_schema import Embedding
from seisbind.errors import SeisbindInputError
from seisbind.probe import embedding, features
from seisbind.protocols import FamilyUnavailable, FeatureFamily, StudyData


def build_families(specs: Mapping[str, Any]) -> list[FeatureFamily]:
    """The families of the configured modalities (those whose config has `features`), in config order.

    A modality's `features` is one family (a mapping with `_target_`) or several, named: `{odba: {_target_: ...},
    shaking: {_target_: ...}}` (configs/modality/animal.yaml), built in their order."""
    from hydra.utils import instantiate

    families = []
    for modality, cfg in specs.items():
        spec = cfg.get("features") if isinstance(cfg, Mapping) else None
        if not spec:
            continue
        if not isinstance(spec, Mapping):
            raise SeisbindInputError(f"modality.{modality}.features: a family ({{_target_: ...}}) or named families "
                                     f"({{name: {{_target_: ...}}}}), got {spec!r}")
        named = {"": spec} if "_target_" in spec else {f".{k}": v for k, v in spec.items()}
        for key, one in named.items():
            try:
                families.append(instantiate(one))
            except Exception as err:  # Hydra wraps the constructor's error in its own type
                cause = err.__cause__ if isinstance(err.__cause__, SeisbindInputError) else err
                raise SeisbindInputError(f"modality.{modality}.features{key}: {cause}") from None
    names = [f.name for f in families]
    if len(set(names)) < len(names):
        raise SeisbindInputError(f"two modalities declare the same feature family: {names}")
    return families


class TimeOfDayFamily:
    """The hour of each window's end as sin/cos (features.time_of_day_features): the diurnal control that the
    time-of-day check (seisbind/probe/study/checks/time_of_day.py) scores."""

    name = "time_of_day"
    columns = tuple(features.TIME_OF_DAY_FEATURES)
    simulated = False

    def compute(self, data: StudyData, windows: pd.DataFrame) -> pd.DataFrame:
        return features.time_of_day_features(windows)


class EmbeddingFamily:
    """What a trained checkpoint's encoders see in each window, `emb_<modality>_pc<i>` (seisbind/probe/embedding.py);
    absent without a checkpoint. After `compute`, `coverage` says which traces were pooled and how many windows
    have an embedding."""

    name = "embedding"
    columns = (f"{features.EMBEDDING_PREFIX}*",)
    simulated = False

    def __init__(self, ckpt: str | None, data: Mapping[str, Any], settings: Embedding) -> None:
        self.ckpt, self.data, self.settings = ckpt, data, settings
        self.coverage: dict | None = None

    def compute(self, data: StudyData, windows: pd.DataFrame) -> pd.DataFrame:
        if not self.ckpt:
            raise FamilyUnavailable("no checkpoint given (ckpt=PATH adds the embedding feature sets)")
        e = self.settings
        embedded, self.coverage = embedding.embedding_features(
            self.ckpt, self.data, windows, traces=e.traces, n_components=e.n_components,
            center_per_station=e.center_per_station, batch_size=e.batch_size, num_workers=e.num_workers,
            device=e.device)
        return embedded


def columns_of(family: FeatureFamily, columns: Iterable[str]) -> list[str]:
    """The names among `columns` that `family` makes (its `columns` may be shell patterns)."""
    return features.resolve_feature_set(family.columns, columns)


def family_of(column: str, families: list[FeatureFamily]) -> str:
    """Family name of a features.csv column (or of a feature set's pattern, e.g. `emb_spectrum_*`): the family
    that makes it, else `other`."""
    return next((f.name for f in families if columns_of(f, [column])), "other")


def simulated_columns(families: list[FeatureFamily], columns: Iterable[str]) -> set[str]:
    """Of `columns`, those an ETAS-simulated catalog gives (those of `simulated` families)."""
    return {c for f in families if f.simulated for c in columns_of(f, columns)}


def simulated_features(families: list[FeatureFamily], catalog: pd.DataFrame, windows: pd.DataFrame) -> pd.DataFrame:
    """The `simulated` families' features of another (e.g. ETAS-simulated) catalog in the same windows."""
    return pd.concat([f.from_catalog(catalog, windows) for f in families if f.simulated], axis=1)
