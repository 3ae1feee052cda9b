"""Millisecond offsets from the period start as the ISO-8601 text the published formats carry.

Why shared: the catalog, the INSTANCE metadata, the Movebank windows and truth.json all print times, and they must
agree to the microsecond so that a test can join them.
"""

from __future__ import annotations

import numpy as np


def iso_times(t0: np.datetime64, ms: np.ndarray, *, zulu: bool) -> np.ndarray:
    """ISO-8601 strings with microseconds; INSTANCE appends Z, the FDSN text service does not."""
    text = np.datetime_as_string(t0 + np.asarray(ms, dtype=np.int64).astype("timedelta64[ms]"), unit="us")
    return np.char.add(text, "Z") if zulu else text
