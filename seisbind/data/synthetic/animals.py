"""The synthetic farm: Movebank accelerometer bursts of cows, sheep and dogs with diurnal rhythms, gaps and an
outage, and the planted animal precursor (raised activity hours before each target).

Why raw e-obs counts and not ODBA: seisbind.data.movebank must turn the published format into ODBA itself, so the
synthetic file exercises that reader exactly as a download from Movebank would.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
from obspy.geodetics import locations2degrees

from seisbind.data.synthetic.config import AnimalConfig, SyntheticConfig
from seisbind.data.synthetic.region import KM_PER_DEG
from seisbind.data.synthetic.timestamps import iso_times
from seisbind.seismicity.ground_motion import pgv_cmps

# The columns of a Movebank e-obs acceleration export, in its order.
_MOVEBANK_COLUMNS = [
    "event-id", "timestamp", "individual-local-identifier", "tag-local-identifier", "sensor-type",
    "individual-taxon-canonical-name", "location-long", "location-lat", "eobs:accelerations-raw",
    "eobs:acceleration-axes", "eobs:acceleration-sampling-frequency-per-axis", "eobs:start-timestamp",
]

_TAXA = {"cow": "Bos taurus", "sheep": "Ovis aries", "dog": "Canis lupus familiaris"}
# Per taxon: base dynamic acceleration (g), diurnal amplitude (fraction), local hour of peak activity.
_TAXON_ACTIVITY = {"cow": (0.08, 0.6, 13.0), "sheep": (0.10, 0.5, 12.0), "dog": (0.15, 0.4, 18.0)}


def write_animals(path: Path, rng: np.random.Generator, config: SyntheticConfig, targets: pd.DataFrame,
                  t0: np.datetime64, period_ms: int, earthquakes: pd.DataFrame) -> list[dict]:
    """Movebank CSV of accelerometer bursts; returns the animal-precursor windows (with coverage flags).
    `earthquakes` (time_ms, latitude_deg, longitude_deg, magnitude): what the animals feel with
    animal.shaking_response > 0."""
    animal = config.animal
    pre = config.precursor
    individuals = ([("cow", i) for i in range(animal.n_cows)] + [("sheep", i) for i in range(animal.n_sheep)]
                   + [("dog", i) for i in range(animal.n_dogs)])
    step_ms = int(round(animal.burst_minutes * 60_000))
    spans = []
    for span in animal.coverage:
        lo, hi = (int((np.datetime64(p, "ms") - t0).astype(np.int64)) for p in span.split("/"))
        lo, hi = max(lo, 0), min(hi, period_ms)
        if hi > lo:
            spans.append(np.arange(lo - lo % step_ms + (step_ms if lo % step_ms else 0), hi, step_ms))
    bins_ms = np.concatenate(spans) if spans else np.zeros(0, np.int64)
    n_samples = int(round(animal.burst_seconds * animal.sampling_hz))
    farm_km = locations2degrees(animal.farm_latitude_deg, animal.farm_longitude_deg,
                                targets["latitude_deg"].to_numpy(), targets["longitude_deg"].to_numpy()) * KM_PER_DEG
    hyp_km = np.hypot(farm_km, targets["depth_km"].to_numpy())
    lead_lo_ms, lead_hi_ms = (h * 3.6e6 for h in pre.animal_lead_hours)
    target_ms = targets["time_ms"].to_numpy()
    gains = pre.animal * pre.animal_gain * np.exp(-hyp_km / pre.animal_decay_km)
    felt = felt_shaking(bins_ms, earthquakes, animal)

    outage_individual = int(rng.integers(0, len(individuals)))
    outage_start = int(rng.choice(bins_ms)) if bins_ms.size else 0
    frames = []
    for index, (taxon, number) in enumerate(individuals):
        base, diurnal_amp, peak_hour = _TAXON_ACTIVITY[taxon]
        level = base * math.exp(rng.normal(0.0, 0.25))
        responsiveness = math.exp(rng.normal(0.0, 0.3))
        offset_ms = int(rng.integers(0, 60)) * 1000
        times = bins_ms + offset_ms
        local_hour = (times / 3.6e6 + 1.0) % 24.0
        day = (times // 86_400_000).astype(int)
        day_factor = np.exp(rng.normal(0.0, 0.2, day.max() + 1 if day.size else 1))[day]
        activity = (level * (1.0 + diurnal_amp * np.cos(2 * np.pi * (local_hour - peak_hour) / 24.0)) * day_factor
                    * np.exp(rng.normal(0.0, 0.35, times.size)))
        tau_ms = target_ms[None, :] - times[:, None]
        in_window = (tau_ms >= lead_lo_ms) & (tau_ms <= lead_hi_ms)
        activity *= 1.0 + responsiveness * ((in_window * gains[None, :]).sum(axis=1) + felt)
        keep = rng.random(times.size) >= animal.missing_burst_fraction
        if index == outage_individual:
            keep &= ~((times >= outage_start) & (times < outage_start + 2 * 86_400_000))
        raw = _bursts(rng, activity, n_samples, animal)
        raw, times = raw[keep], times[keep]
        fmt = " ".join(["%d"] * (3 * n_samples))
        stamps = np.char.replace(np.datetime_as_string(t0 + times.astype("timedelta64[ms]"), unit="ms"), "T", " ")
        frames.append(pd.DataFrame({
            "timestamp": stamps,
            "individual-local-identifier": f"{taxon.capitalize()}_{number + 1}",
            "tag-local-identifier": str(4500 + 7 * index),
            "sensor-type": "acceleration",
            "individual-taxon-canonical-name": _TAXA[taxon],
            "location-long": animal.farm_longitude_deg, "location-lat": animal.farm_latitude_deg,
            "eobs:accelerations-raw": [fmt % tuple(r) for r in raw.reshape(len(raw), -1).tolist()],
            "eobs:acceleration-axes": "XYZ",
            "eobs:acceleration-sampling-frequency-per-axis": float(animal.sampling_hz),
            "eobs:start-timestamp": stamps}))
    movebank = pd.concat(frames, ignore_index=True)
    movebank.insert(0, "event-id", np.arange(1_000_000_000, 1_000_000_000 + len(movebank)))
    movebank[_MOVEBANK_COLUMNS].to_csv(path, index=False, lineterminator="\n")

    covered_ms = bins_ms
    windows = []
    for target, gain, distance in zip(targets.itertuples(), gains, hyp_km):
        lo, hi = target.time_ms - lead_hi_ms, target.time_ms - lead_lo_ms
        covered = bool(np.any((covered_ms >= lo) & (covered_ms <= hi)))
        windows.append({"target_event_id": target.event_id,
                        "start": str(iso_times(t0, np.array([int(lo)]), zulu=True)[0]),
                        "end": str(iso_times(t0, np.array([int(hi)]), zulu=True)[0]),
                        "hypocentral_distance_km": round(float(distance), 2),
                        "relative_odba_rise": round(float(gain), 4), "covered": covered})
    return windows


def felt_shaking(bins_ms: np.ndarray, earthquakes: pd.DataFrame, animal: AnimalConfig) -> np.ndarray:
    """Relative activity rise at each burst time (ms) from the shaking the farm felt (AnimalConfig says how): the
    sum over earlier earthquakes within 5 shaking_hours of shaking_response log10(1 + PGV / felt_pgv_cmps)
    exp(-lag / shaking_hours); zeros when shaking_response is 0."""
    felt = np.zeros(bins_ms.size)
    if animal.shaking_response == 0 or earthquakes.empty or not bins_ms.size:
        return felt
    rjb_km = locations2degrees(animal.farm_latitude_deg, animal.farm_longitude_deg,
                               earthquakes["latitude_deg"].to_numpy(), earthquakes["longitude_deg"].to_numpy()
                               ) * KM_PER_DEG
    size = animal.shaking_response * np.log10(1.0 + pgv_cmps(earthquakes["magnitude"].to_numpy(np.float64), rjb_km)
                                              / animal.felt_pgv_cmps)
    decay_ms = animal.shaking_hours * 3.6e6
    event_ms = earthquakes["time_ms"].to_numpy(np.int64)
    order = np.argsort(bins_ms, kind="stable")
    ordered = bins_ms[order]
    first = np.searchsorted(ordered, event_ms, side="right")
    last = np.searchsorted(ordered, event_ms + 5 * decay_ms, side="right")
    event = np.repeat(np.arange(event_ms.size), last - first)
    at = np.concatenate([np.arange(a, b) for a, b in zip(first, last)]) if event.size else event
    np.add.at(felt, order[at], size[event] * np.exp(-(ordered[at] - event_ms[event]) / decay_ms))
    return felt


def _bursts(rng: np.random.Generator, activity_g: np.ndarray, n_samples: int, animal: AnimalConfig) -> np.ndarray:
    """Raw e-obs counts (bursts, samples, XYZ): gravity by posture + gait oscillation and jitter scaled by activity."""
    n = activity_g.size
    tilt = np.radians(np.clip(rng.normal(25.0, 15.0, n), 0.0, 90.0))
    heading = rng.uniform(0.0, 2 * np.pi, n)
    gravity = np.stack([np.sin(tilt) * np.cos(heading), np.sin(tilt) * np.sin(heading), np.cos(tilt)], axis=-1)
    t = np.arange(n_samples) / animal.sampling_hz
    gait_hz = rng.uniform(0.8, 2.5, n)
    phase = rng.uniform(0.0, 2 * np.pi, n)
    axis_weight = rng.uniform(0.5, 1.2, (n, 3))
    gait = np.sin(2 * np.pi * gait_hz[:, None] * t[None, :] + phase[:, None])
    dynamic = activity_g[:, None, None] * (gait[:, :, None] * axis_weight[:, None, :]
                                           + 0.5 * rng.standard_normal((n, n_samples, 3)))
    g = gravity[:, None, :] + dynamic
    counts = animal.zero_g_counts + animal.counts_per_g * g + rng.normal(0.0, 1.0, g.shape)
    return np.clip(np.round(counts), 0, 4095).astype(np.int64)
