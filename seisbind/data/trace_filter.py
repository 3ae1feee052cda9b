"""Which traces to read: a box, a time range, magnitudes, channels and stations, applied while metadata is read.

The same filter serves INSTANCE CSVs (seisbind/data/instance.py) and SeisBench folders
(seisbind/data/seisbench_format.py), event traces and noise traces.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from seisbind.errors import SeisbindInputError

Kind = Literal["events", "noise"]
"""Event traces (with a source) or INSTANCE's noise traces (without one)."""


def _utc(value: str | pd.Timestamp | None) -> pd.Timestamp | None:
    """A tz-aware UTC timestamp; naive input is taken as UTC (INSTANCE times are UTC)."""
    if value is None:
        return None
    stamp = pd.Timestamp(value)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


@dataclass(frozen=True)
class MetadataFilter:
    """Row selection applied while the metadata is read, so unwanted rows never reach memory.

    The box and time range apply to the source (origin coordinates, `source_origin_time`) for event metadata and to
    the station (`station_*_deg`, `trace_start_time`) for noise, which has no source. All bounds are inclusive;
    rows whose value is missing (NaN/NaT) fail any bound on that value. `channels` are the 2-character
    `station_channels` codes (e.g. "HH", "EH", "HN"); `stations` are station codes ("OFFI") or "NET.STA" ("IV.OFFI").
    """

    min_latitude_deg: float | None = None
    max_latitude_deg: float | None = None
    min_longitude_deg: float | None = None
    max_longitude_deg: float | None = None
    start_time: str | pd.Timestamp | None = None
    end_time: str | pd.Timestamp | None = None
    min_magnitude: float | None = None
    max_magnitude: float | None = None
    channels: Sequence[str] | None = None
    stations: Sequence[str] | None = None

    def _bounds(self, kind: Kind) -> list[tuple[str, object, object]]:
        """(column, low, high) for every bounded quantity that is set."""
        where = "source" if kind == "events" else "station"
        time_column = "source_origin_time" if kind == "events" else "trace_start_time"
        bounds = [
            (f"{where}_latitude_deg", self.min_latitude_deg, self.max_latitude_deg),
            (f"{where}_longitude_deg", self.min_longitude_deg, self.max_longitude_deg),
            (time_column, _utc(self.start_time), _utc(self.end_time)),
            ("source_magnitude", self.min_magnitude, self.max_magnitude),
        ]
        if kind == "noise" and (self.min_magnitude is not None or self.max_magnitude is not None):
            raise SeisbindInputError("a magnitude filter cannot apply to noise metadata (noise has no source)")
        return [(column, low, high) for column, low, high in bounds if low is not None or high is not None]

    def columns(self, kind: Kind = "events") -> list[str]:
        """The metadata columns this filter reads."""
        names = [column for column, _, _ in self._bounds(kind)]
        if self.channels is not None:
            names.append("station_channels")
        if self.stations is not None:
            names += ["station_network_code", "station_code"]
        return names

    def mask(self, frame: pd.DataFrame, kind: Kind = "events") -> np.ndarray:
        """Boolean array, True for the rows of `frame` (seisbind column names) that pass every condition."""
        keep = np.ones(len(frame), dtype=bool)
        for column, low, high in self._bounds(kind):
            values = frame[column]
            if low is not None:
                keep &= (values >= low).to_numpy(dtype=bool, na_value=False)
            if high is not None:
                keep &= (values <= high).to_numpy(dtype=bool, na_value=False)
        if self.channels is not None:
            keep &= frame["station_channels"].isin([str(c) for c in self.channels]).to_numpy()
        if self.stations is not None:
            wanted = [str(s) for s in self.stations]
            qualified = frame["station_network_code"].astype(str) + "." + frame["station_code"].astype(str)
            keep &= (frame["station_code"].isin(wanted) | qualified.isin(wanted)).to_numpy()
        return keep
