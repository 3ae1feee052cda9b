"""Each catalog event once: repeated records (two downloads concatenated, overlapping files, rows without ids) read
once and counted, one event id with two different records refused, and records of one event under two ids with
slightly different values (two magnitudes, two agencies' locations) read once and counted
(seisbind/data/catalog.py reads through it)."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from seisbind.errors import SeisbindInputError
from seisbind.geodesy import epicentral_km
from seisbind.times import to_utc_ns

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
    return near_repeats_once(events[~repeated], files[~repeated])


NEAR_SECONDS = 1.0
NEAR_KM = 5.0
"""Two records closer than this in origin time (s) and epicentre (km) are one event listed twice: a catalog cannot
resolve two earthquakes that close (INGV's location errors are ~1 km and ~0.1 s), while an event listed with two
magnitudes, or by two agencies, lands there."""


def near_repeats_once(events: pd.DataFrame, files: np.ndarray) -> pd.DataFrame:
    """The events less those within NEAR_SECONDS and NEAR_KM of another record, counted in a warning that names
    each pair with both magnitudes, so a doubled event neither adds its own pre-event windows nor passes unseen.
    Of a pair the larger magnitude is kept (the first listed on a tie): were they two earthquakes after all, the
    larger is the one a study may take as a target."""
    if len(events) < 2:
        return events
    t = to_utc_ns(events["time"]) / 1e9
    order = np.argsort(t, kind="stable")
    gaps = np.diff(t[order])
    lat, lon = events["latitude_deg"].to_numpy(), events["longitude_deg"].to_numpy()
    ids, mags = events["event_id"].to_numpy(), events["magnitude"].to_numpy(np.float64)
    drop = np.zeros(len(events), dtype=bool)
    pairs = []
    for k in np.flatnonzero(gaps <= NEAR_SECONDS):
        for j in range(k + 1, len(order)):
            a, b = sorted((order[k], order[j]), key=lambda r: (-mags[r], r))
            if t[order[j]] - t[order[k]] > NEAR_SECONDS:
                break
            if drop[a] or drop[b]:
                continue
            if epicentral_km(lat[a], lon[a], lat[b], lon[b]) <= NEAR_KM:
                drop[b] = True
                pairs.append((a, b))
    if pairs:
        named = [f"{ids[b]} M{mags[b]:g} (= {ids[a]} M{mags[a]:g})" for a, b in pairs]
        log.warning("%s: %d records within %g s and %g km of another read once as the same event (the larger "
                    "magnitude kept): %s%s", " and ".join(dict.fromkeys(files[drop])), len(pairs), NEAR_SECONDS,
                    NEAR_KM, ", ".join(named[:5]), ", ..." if len(named) > 5 else "")
    return events[~drop]


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
