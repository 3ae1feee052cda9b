"""The one conversion of times to numbers: int64 nanoseconds since the epoch, UTC."""

from __future__ import annotations

import numpy as np
import pandas as pd

NS_PER_DAY = 86_400_000_000_000
"""Nanoseconds per day: int64 UTC times (to_utc_ns) to days."""


def to_utc_ns(values) -> np.ndarray:
    """Times (strings, Timestamps, datetime arrays; naive = UTC) as int64 nanoseconds since the epoch."""
    if np.isscalar(values) or isinstance(values, pd.Timestamp):
        values = [values]
    return pd.DatetimeIndex(pd.to_datetime(values, utc=True)).as_unit("ns").asi8
