"""Each catalog event once: repeated records (two downloads concatenated, overlapping files, rows without ids) read
once and counted, one event id with two different records refused (seisbind/data/catalog.py reads through it)."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from seisbind.errors import SeisbindInputError

log = logging.getLogger(__name__)


def read_once(events: pd.DataFrame, files: np.ndarray) -> pd.DataFrame:
    """The events with each listed once; `files` names each row's file, for the messages.

    A record repeated under its event_id, or under another id at the same time (to the ms), place (to 1e-4
    degree, ~10 m, the precision of FDSN text) and magnitude (to 0.01), is the same event listed twice (two
    downloads concatenated, overlapping files, rows without ids): the first is kept and the repeats are counted in
    a warning, since each would add its own pre-event windows. One event_id with two different records (time,
    place, depth or magnitude) cannot be resolved by guessing which is right: refused, naming both.
    """
    keys = pd.DataFrame({
        "event_id": events["event_id"].to_numpy(),
        "time": events["time"].dt.round("ms").to_numpy(),
        "latitude_deg": events["latitude_deg"].round(4).to_numpy(),
        "longitude_deg": events["longitude_deg"].round(4).to_numpy(),
        "magnitude": events["magnitude"].round(2).to_numpy(),
        "depth_km": events["depth_km"].round(2).to_numpy(),
    })
    versions = keys[~keys.duplicated()]
    conflicting = versions["event_id"].duplicated(keep=False).to_numpy()
    if conflicting.any():
        _refuse_conflict(events, files, versions.index[conflicting])
    event = keys.groupby(["time", "latitude_deg", "longitude_deg", "magnitude"], dropna=False, sort=False).ngroup()
    repeated = event.duplicated().to_numpy()
    if repeated.any():
        ids = events["event_id"].to_numpy()
        first_id = pd.Series(ids).groupby(event.to_numpy()).transform("first").to_numpy()
        named = [ids[k] if ids[k] == first_id[k] else f"{ids[k]} (= {first_id[k]})" for k in np.flatnonzero(repeated)]
        involved = event.isin(event[repeated]).to_numpy()
        log.warning("%s: %d repeated records read once (same event_id, or same time to the ms, place and "
                    "magnitude): %s%s", " and ".join(dict.fromkeys(files[involved])), len(named),
                    ", ".join(named[:5]), ", ..." if len(named) > 5 else "")
    return events[~repeated]


def _refuse_conflict(events: pd.DataFrame, files: np.ndarray, rows: pd.Index) -> None:
    """One line naming the first event_id listed with two different records, both records and their files."""
    event_id = events["event_id"].iloc[rows[0]]
    pair = [r for r in rows if events["event_id"].iloc[r] == event_id][:2]
    n_ids = len(set(events["event_id"].iloc[rows]))

    def version(r: int) -> str:
        e = events.iloc[r]
        where = f" ({files[r]})" if files[pair[0]] != files[pair[1]] else ""
        return (f"{pd.Timestamp(e['time']).isoformat()} {e['latitude_deg']:.4f}N {e['longitude_deg']:.4f}E "
                f"{e['depth_km']:g} km M{e['magnitude']:g}{where}")

    raise SeisbindInputError(
        f"{' and '.join(dict.fromkeys(files[pair]))}: event {event_id!r} is listed with different values: "
        f"{version(pair[0])} vs {version(pair[1])}"
        + (f"; {n_ids - 1} more event ids too" if n_ids > 1 else "")
        + ": keep one record per event (the catalog was revised between downloads?)"
    )
