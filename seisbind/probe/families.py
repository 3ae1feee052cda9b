"""The study's use of feature families (seisbind.protocols.FeatureFamily): each declared by its modality's
config (`modality.<name>.features`, the class in seisbind/modalities/<name>.py).

The study instantiates the families of the configured modalities, computes each for all windows and records, per
family, why it is absent when its data are (no file matched its source, no window covered): it never names a
modality.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from seisbind.errors import SeisbindInputError
from seisbind.probe import features
from seisbind.protocols import FeatureFamily


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
