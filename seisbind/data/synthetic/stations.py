"""The recording side of the synthetic data: which stations exist, which event records they hold, and when
noise traces are cut.

Why a random draw of records rather than every possible one: INSTANCE holds a sample of what the network picked,
biased only by detectability (distance and magnitude), never by time; sampling the same way keeps the trace set
from telling a model when a target is near.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from obspy.geodetics import locations2degrees

from seisbind.data.synthetic.config import SyntheticConfig
from seisbind.data.synthetic.region import KM_PER_DEG, STATIONS
from seisbind.errors import SeisbindInputError


def station_table(rng: np.random.Generator, config: SyntheticConfig) -> pd.DataFrame:
    """The first n_stations of the station table with per-station site, noise and digitizer properties."""
    rows = STATIONS[: config.n_stations]
    n = len(rows)
    frame = pd.DataFrame(rows, columns=["station_code", "latitude_deg", "longitude_deg", "elevation_m", "channels",
                                        "station_location_code"])
    vs30 = np.round(rng.uniform(350, 1200, n)).astype(int)
    no_vs30 = rng.random(n) < 0.15
    frame["vs30"] = np.where(no_vs30, "None", vs30.astype(str))
    frame["vs30_detail"] = np.where(no_vs30, "", np.where(rng.random(n) < 0.4, "measured", "inferred from geology"))
    frame["site_factor"] = 10.0 ** rng.normal(0.0, 0.15, n)
    frame["noise_factor"] = np.exp(rng.normal(0.0, 0.4, n))
    frame["static_p_s"] = rng.normal(0.0, 0.08, n)
    frame["static_s_s"] = rng.normal(0.0, 0.15, n)
    frame["dc_offset_counts"] = list(np.round(rng.normal(0.0, 300.0, (n, 3))))
    return frame


def sample_event_traces(rng: np.random.Generator, config: SyntheticConfig, catalog: pd.DataFrame,
                         stations: pd.DataFrame) -> pd.DataFrame:
    """Draw n_traces distinct (event, station, channel) records uniformly among those a network would pick.

    Like INSTANCE, a record exists where the phase could be picked: hypocentral distance below a magnitude-
    dependent detection radius (30 km at M1.5, x10^0.45 per magnitude unit; the nearest station always), and
    accelerometer (HN) records only from M >= 2. Larger events thus yield more records; no time window is favoured.
    """
    ev_lat = catalog["latitude_deg"].to_numpy()
    ev_lon = catalog["longitude_deg"].to_numpy()
    magnitude = catalog["magnitude"].to_numpy()
    epi = locations2degrees(ev_lat[:, None], ev_lon[:, None], stations["latitude_deg"].to_numpy()[None, :],
                            stations["longitude_deg"].to_numpy()[None, :]) * KM_PER_DEG
    hyp = np.hypot(epi, catalog["depth_km"].to_numpy()[:, None])
    radius = np.minimum(250.0, 30.0 * 10.0 ** (0.45 * (magnitude - 1.5)))
    eligible = hyp <= radius[:, None]
    eligible[np.arange(len(catalog)), np.argmin(hyp, axis=1)] = True
    records = []
    for station, channels in enumerate(stations["channels"]):
        events = np.flatnonzero(eligible[:, station])
        for channel in channels.split(","):
            usable = events[magnitude[events] >= 2.0] if channel == "HN" else events
            records += [(int(e), station, channel) for e in usable]
    if len(records) < config.n_traces:
        raise SeisbindInputError(f"only {len(records)} distinct event traces possible; lower n_traces "
                                 f"({config.n_traces}) or raise n_events")
    chosen = [records[i] for i in rng.choice(len(records), config.n_traces, replace=False)]
    frame = pd.DataFrame(chosen, columns=["event", "station", "channel"])
    frame = frame.sort_values(["event", "station", "channel"], kind="stable").reset_index(drop=True)
    frame["p_sample"] = np.where(rng.random(len(frame)) < 0.02, rng.integers(30, 100, len(frame)),
                                 rng.integers(500, 3001, len(frame)))
    frame["s_picked"] = rng.random(len(frame)) < 0.7
    frame["p_pick_error_s"] = rng.normal(0.0, 0.04, len(frame))
    frame["s_pick_error_s"] = rng.normal(0.0, 0.08, len(frame))
    frame["p_manual"] = rng.random(len(frame)) < 0.8
    frame["p_uncertainty_s"] = np.round(rng.uniform(0.02, 0.2, len(frame)), 2)
    frame["s_uncertainty_s"] = np.round(rng.uniform(0.05, 0.3, len(frame)), 2)
    frame["polarity"] = rng.choice(["positive", "negative", "undecidable", ""], len(frame), p=[0.3, 0.3, 0.2, 0.2])
    frame["p_weight"] = rng.choice([1.0, 0.75, 0.5, 0.25], len(frame), p=[0.5, 0.3, 0.15, 0.05])
    frame["s_weight"] = rng.choice([1.0, 0.75, 0.5, 0.25], len(frame), p=[0.3, 0.3, 0.25, 0.15])
    frame["detections"] = list(rng.integers(0, 3, (len(frame), 5)))
    for key in catalog.columns:
        frame[f"ev_{key}"] = catalog[key].to_numpy()[frame["event"]]
    return frame


def noise_schedule(rng: np.random.Generator, config: SyntheticConfig, stations: pd.DataFrame,
                    period_ms: int) -> pd.DataFrame:
    """One noise trace every noise_interval_hours, stations in a shuffled round robin, start jittered by < 1 h."""
    step_ms = config.noise_interval_hours * 3.6e6
    ticks = np.arange(0, period_ms - 3_600_000 - 120_000, step_ms).astype(np.int64)
    order = rng.permutation(len(stations))
    station = order[np.arange(ticks.size) % len(stations)]
    start_ms = (ticks + rng.integers(0, 3_600_000, ticks.size)) // 10 * 10
    channel = [str(rng.choice(stations.at[s, "channels"].split(","))) for s in station]
    return pd.DataFrame({"station": station, "channel": channel, "start_ms": start_ms,
                         "detections": list(rng.choice([0, 1], (ticks.size, 5), p=[0.9, 0.1]))})
