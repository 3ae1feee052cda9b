"""The study area: a latitude/longitude box and a period, defined once per area in `configs/area/<name>.yaml`.

Training filters traces to the box, the probe uses the catalog's events inside the box and draws every window
inside the period, and scripts/prepare_norcia.py cuts the INSTANCE metadata to both: one file, so the three
cannot drift apart.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from omegaconf import OmegaConf

from seisbind.errors import SeisbindInputError

log = logging.getLogger(__name__)
CONFIGS = Path(__file__).resolve().parents[1] / "configs"


@dataclass
class Region:
    """Source box in degrees (inclusive)."""

    min_latitude_deg: float
    max_latitude_deg: float
    min_longitude_deg: float
    max_longitude_deg: float

    def contains(self, latitude_deg: np.ndarray, longitude_deg: np.ndarray) -> np.ndarray:
        """Which points (degrees) lie inside the box, bounds included; a NaN coordinate lies outside."""
        latitude_deg, longitude_deg = np.asarray(latitude_deg, float), np.asarray(longitude_deg, float)
        return ((latitude_deg >= self.min_latitude_deg) & (latitude_deg <= self.max_latitude_deg)
                & (longitude_deg >= self.min_longitude_deg) & (longitude_deg <= self.max_longitude_deg))

    def events_inside(self, events: pd.DataFrame, key: str = "region") -> pd.DataFrame:
        """The catalog rows (latitude_deg, longitude_deg) inside the box; how many lie outside and are left out
        is logged, so that a catalog fetched for a wider area is never cut silently; none inside is an error
        naming `key`."""
        inside = self.contains(events["latitude_deg"], events["longitude_deg"])
        log.info("%s: %d of %d catalog events lie outside %s and are left out (%d used)", key,
                 int((~inside).sum()), len(events), self, int(inside.sum()))
        if not inside.any():
            raise SeisbindInputError(f"{key}: none of the {len(events)} catalog events lies inside {self}")
        return events[inside].reset_index(drop=True)


@dataclass
class Period:
    """[start, end] in UTC, ISO strings (inclusive)."""

    start: str
    end: str

    def timestamps(self, key: str = "period") -> tuple[pd.Timestamp, pd.Timestamp]:
        """Both bounds as UTC timestamps; a bad or reversed period is an error naming `key`."""
        try:
            start, end = (pd.Timestamp(v, tz="UTC") if pd.Timestamp(v).tzinfo is None else pd.Timestamp(v)
                          for v in (self.start, self.end))
        except (TypeError, ValueError) as error:
            raise SeisbindInputError(f"{key}: not a time range ({self.start!r}, {self.end!r}): {error}") from None
        if end <= start:
            raise SeisbindInputError(f"{key}: end {self.end} is not after start {self.start}")
        return start, end


@dataclass
class StudyArea:
    region: Region
    period: Period = field(default_factory=lambda: Period("", ""))


def load_area(name: str = "norcia") -> StudyArea:
    """The area of `configs/area/<name>.yaml`."""
    path = CONFIGS / "area" / f"{name}.yaml"
    if not path.is_file():
        raise SeisbindInputError(f"area={name}: no {path}")
    return OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(StudyArea), OmegaConf.load(path)))
