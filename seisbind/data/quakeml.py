"""QuakeML catalogs through ObsPy, in the frame of seisbind/data/catalog.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from seisbind.data.catalog import CATALOG_COLUMNS, apply_bad_row_policy
from seisbind.errors import SeisbindInputError


def read_quakeml(path: Path, on_bad: str) -> pd.DataFrame:
    """QuakeML through ObsPy: the preferred origin and magnitude (else the only one), resource id as event_id.

    An event with several origins or magnitudes and no preferred one is refused with the whole file: which is the
    catalog's solution cannot be told, and the first listed is often a preliminary location or another agency's
    magnitude (taking it moved events out of the study and changed its targets).
    """
    from obspy import read_events

    try:
        events = read_events(str(path))
    except Exception as err:  # ObsPy raises many types for unreadable XML; name the file whatever it was
        raise SeisbindInputError(f"{path}: unreadable QuakeML: {err}") from err
    rows, bad, unresolved = [], [], []
    for number, event in enumerate(events, start=1):
        origin = _preferred_or_only(event.preferred_origin(), event.origins)
        magnitude = _preferred_or_only(event.preferred_magnitude(), event.magnitudes)
        where = f"event {number} ({event.resource_id})"
        lacking = [f"{len(options)} {kind} and no {field}"
                   for chosen, options, kind, field in ((origin, event.origins, "origins", "preferredOriginID"),
                                                        (magnitude, event.magnitudes, "magnitudes",
                                                         "preferredMagnitudeID"))
                   if chosen is None and len(options) > 1]
        if lacking:
            unresolved.append(f"{where} with {' and '.join(lacking)}")
            continue
        if origin is None or origin.time is None or origin.latitude is None or origin.longitude is None:
            bad.append((where, "no origin", "needs time, latitude and longitude"))
            continue
        rows.append(
            {
                "event_id": str(event.resource_id),
                "time": pd.Timestamp(origin.time.datetime, tz="UTC"),
                "latitude_deg": float(origin.latitude),
                "longitude_deg": float(origin.longitude),
                "depth_km": float(origin.depth) / 1000.0 if origin.depth is not None else np.nan,
                "magnitude": float(magnitude.mag) if magnitude is not None and magnitude.mag is not None else np.nan,
                "magnitude_type": (magnitude.magnitude_type or "") if magnitude is not None else "",
                "event_type": str(event.event_type) if event.event_type else "",
            }
        )
    if unresolved:
        raise SeisbindInputError(
            f"{path}: {len(unresolved)} events have several origins or magnitudes and no preferred one, the first "
            f"{unresolved[0]}: fetch the catalog with its preferred solutions (preferredOriginID and "
            f"preferredMagnitudeID set) or keep one origin and one magnitude per event"
        )
    apply_bad_row_policy(path, bad, on_bad)
    return pd.DataFrame(rows, columns=CATALOG_COLUMNS)


def _preferred_or_only(preferred, options: list):
    """The event's preferred origin or magnitude, else its only one; None when it has none or several."""
    if preferred is not None:
        return preferred
    return options[0] if len(options) == 1 else None
