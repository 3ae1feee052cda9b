"""The synthetic earthquake catalog: mainshocks, Omori-Utsu aftershocks or an ETAS cascade, background seismicity,
quarry blasts, the lead-in events before the study period, the planted catalog precursor, and the INGV FDSN text
file they are written to.

Why here and not in seisbind.data.catalog: that module reads catalogs; this one invents one whose statistics
(Gutenberg-Richter magnitudes thinned by a detection roll-off, Omori decay, declusterable mainshocks) are those the
readers and the probe's catalog features expect, so that the planted precursor is the only signal; and, as options,
with the confounders of real catalogs (sparse lead-in, changing completeness, ETAS clustering) that a probe must
not mistake for one.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
from obspy.geodetics import locations2degrees

from seisbind.data.synthetic.config import SyntheticConfig
from seisbind.data.synthetic.etas import etas_catalog
from seisbind.data.synthetic.magnitudes import (
    MS_PER_DAY,
    completeness_keep,
    detected_magnitudes,
    thinned_magnitudes,
)
from seisbind.data.synthetic.region import KM_PER_DEG, NORCIA_MAINSHOCKS, QUARRY_SITES, TOWNS
from seisbind.data.synthetic.timestamps import iso_times
from seisbind.errors import SeisbindInputError
from seisbind.seismicity.magnitudes import gutenberg_richter

_FDSN_HEADER = ("#EventID|Time|Latitude|Longitude|Depth/Km|Author|Catalog|Contributor|ContributorID|MagType|"
                "Magnitude|MagAuthor|EventLocationName|EventType")


def _offset_positions(rng: np.random.Generator, lat: float, lon: float, sigma_km: float, n: int,
                      config: SyntheticConfig) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian epicentres around (lat, lon), clipped into the region box."""
    dlat = rng.normal(0.0, sigma_km, n) / KM_PER_DEG
    dlon = rng.normal(0.0, sigma_km, n) / (KM_PER_DEG * math.cos(math.radians(lat)))
    return (np.clip(lat + dlat, *config.latitude_range_deg), np.clip(lon + dlon, *config.longitude_range_deg))


def _mainshocks(rng: np.random.Generator, config: SyntheticConfig, period_ms: int) -> pd.DataFrame:
    """The three Norcia mainshocks (if inside the period) plus independent mainshocks at random, separated times."""
    t0 = np.datetime64(config.start, "ms")
    rows = []
    if config.include_norcia_mainshocks:
        for name, time, lat, lon, depth, mag in NORCIA_MAINSHOCKS:
            ms = int((np.datetime64(time, "ms") - t0).astype(np.int64))
            if 0 <= ms < period_ms:
                rows.append((name, ms, lat, lon, float(np.clip(depth, *config.depth_range_km)), mag))
    lead_ms = int(max(config.precursor.catalog_hours, config.precursor.spectrum_hours,
                      config.precursor.animal_lead_hours[1]) * 3.6e6)
    separation_ms = config.mainshock_separation_hours * 3.6e6
    times = [r[1] for r in rows]
    n_extra = 0
    for _ in range(200 * max(config.n_extra_mainshocks, 1)):
        if n_extra == config.n_extra_mainshocks:
            break
        ms = int(rng.integers(lead_ms, period_ms))
        if times and np.min(np.abs(np.asarray(times) - ms)) < separation_ms:
            continue
        lat = rng.uniform(*config.latitude_range_deg)
        lon = rng.uniform(*config.longitude_range_deg)
        depth = rng.uniform(*config.depth_range_km)
        mag = float(np.round(gutenberg_richter(rng, 1, config.b_value, *config.extra_mainshock_magnitude_range)[0], 1))
        rows.append(("independent", ms, lat, lon, depth, mag))
        times.append(ms)
        n_extra += 1
    if n_extra < config.n_extra_mainshocks:
        raise SeisbindInputError(
            f"cannot place {config.n_extra_mainshocks} mainshocks {config.mainshock_separation_hours} h apart in "
            f"{config.start}..{config.end}; placed {n_extra}: shorten mainshock_separation_hours or the count")
    frame = pd.DataFrame(rows, columns=["name", "time_ms", "latitude_deg", "longitude_deg", "depth_km", "magnitude"])
    frame["kind"] = "mainshock"
    return frame


def _aftershocks(rng: np.random.Generator, config: SyntheticConfig, mainshocks: pd.DataFrame,
                 period_ms: int) -> pd.DataFrame:
    """Omori-Utsu aftershocks; total catalogued count aftershock_fraction * n_events split as 10^(alpha M)."""
    weights = 10.0 ** (config.productivity_alpha * mainshocks["magnitude"].to_numpy())
    expected = config.aftershock_fraction * config.n_events * weights / weights.sum()
    c, p = config.omori_c_days, config.omori_p
    parts = []
    for main, n_expected in zip(mainshocks.itertuples(), expected):
        mags = thinned_magnitudes(rng, n_expected, config, main.magnitude - 0.2)
        duration_days = (period_ms - main.time_ms) / 8.64e7
        u = rng.random(mags.size)
        a0, a1 = c ** (1 - p), (duration_days + c) ** (1 - p)
        tau_days = (a0 - u * (a0 - a1)) ** (1 / (1 - p)) - c
        rupture_km = 10.0 ** (-2.44 + 0.59 * main.magnitude)
        lat, lon = _offset_positions(rng, main.latitude_deg, main.longitude_deg, max(1.0, 0.5 * rupture_km),
                                     mags.size, config)
        depth = np.clip(main.depth_km + rng.normal(0.0, 1.5, mags.size), *config.depth_range_km)
        parts.append(pd.DataFrame({
            "time_ms": main.time_ms + np.maximum(np.round(tau_days * 8.64e7), 1000).astype(np.int64),
            "latitude_deg": lat, "longitude_deg": lon, "depth_km": depth, "magnitude": mags}))
    frame = pd.concat(parts, ignore_index=True)
    frame = frame[frame["time_ms"] < period_ms]
    frame["kind"] = "aftershock"
    return frame


def _background(rng: np.random.Generator, config: SyntheticConfig, period_ms: int, n_mainshocks: int) -> pd.DataFrame:
    """Omori mode's background: Poisson in time, uniform in space, magnitudes below target_min_magnitude."""
    n_background = max(0.0, config.n_events * (1 - config.aftershock_fraction) - n_mainshocks)
    mags = thinned_magnitudes(rng, n_background, config, config.target_min_magnitude - 0.05)
    return pd.DataFrame({
        "time_ms": rng.integers(0, period_ms, mags.size),
        "latitude_deg": rng.uniform(*config.latitude_range_deg, mags.size),
        "longitude_deg": rng.uniform(*config.longitude_range_deg, mags.size),
        "depth_km": rng.uniform(*config.depth_range_km, mags.size),
        "magnitude": mags, "kind": "background"})


def _quarry_blasts(rng: np.random.Generator, config: SyntheticConfig, period_ms: int) -> pd.DataFrame:
    """Daytime blasts at the known quarries, M 1.0-2.1, not thinned (a blast is reported by its operator)."""
    n_days = max(1, period_ms // 86_400_000)
    site = rng.integers(0, len(QUARRY_SITES), config.n_quarry_blasts)
    quarry = pd.DataFrame({
        "time_ms": (rng.integers(0, n_days, config.n_quarry_blasts) * 86_400_000
                    + rng.integers(8 * 3_600_000, 15 * 3_600_000, config.n_quarry_blasts)),
        "latitude_deg": np.array([QUARRY_SITES[i][0] for i in site]) + rng.normal(0, 0.003, site.size),
        "longitude_deg": np.array([QUARRY_SITES[i][1] for i in site]) + rng.normal(0, 0.003, site.size),
        "depth_km": rng.uniform(0.0, 1.0, site.size),
        "magnitude": np.round(rng.uniform(1.0, 2.1, site.size), 1), "kind": "quarry"})
    return quarry[quarry["time_ms"] < period_ms]


def natural_catalog(rng: np.random.Generator, completeness_rng: np.random.Generator, config: SyntheticConfig,
                    period_ms: int) -> tuple[pd.DataFrame, dict]:
    """Mainshocks, their sequences, background seismicity and quarry blasts, sorted by time, with INGV-like ids,
    and a summary of the clustering model for truth.json.

    omori: background magnitudes stay below target_min_magnitude so that the only independent events at or above
    it are the mainshocks (the targets listed in truth.json). etas: see seisbind.data.synthetic.etas. In both, the
    time-varying completeness (completeness_changes, the rise of Mc after large shocks) then thins the natural
    earthquakes, not the mainshocks nor the quarry blasts, drawing from `completeness_rng` alone, so that the other
    draws, and with a constant completeness the whole catalog, stay as they are.
    """
    mainshocks = _mainshocks(rng, config, period_ms)
    if config.clustering == "etas":
        quakes, model = etas_catalog(rng, config, period_ms, mainshocks)
    else:
        aftershocks = _aftershocks(rng, config, mainshocks, period_ms)
        background = _background(rng, config, period_ms, len(mainshocks))
        quakes, model = pd.concat([mainshocks, aftershocks, background], ignore_index=True), {"clustering": "omori"}
    time_ms, magnitude = quakes["time_ms"].to_numpy(), quakes["magnitude"].to_numpy(dtype=float)
    reported = completeness_keep(completeness_rng, time_ms, magnitude, config, time_ms, magnitude)
    quakes = quakes[reported | (quakes["kind"] == "mainshock").to_numpy()]
    catalog = pd.concat([quakes, _quarry_blasts(rng, config, period_ms)], ignore_index=True)
    catalog = catalog.sort_values("time_ms", kind="stable").reset_index(drop=True)
    catalog["time_ms"] = (catalog["time_ms"] // 10) * 10
    ids = 7_200_000 + np.cumsum(rng.integers(1, 25, len(catalog)))
    catalog["event_id"] = ids.astype(str)
    catalog["event_type"] = np.where(catalog["kind"] == "quarry", "quarry blast", "earthquake")
    catalog["name"] = catalog["name"].fillna("")
    catalog["target_event_id"] = ""
    return _with_source_attributes(rng, catalog), model


def target_events(catalog: pd.DataFrame, config: SyntheticConfig) -> pd.DataFrame:
    """The events precursors are planted before: earthquakes M >= target_min_magnitude in the study period.

    omori: the mainshocks among them only (their aftershocks belong to their sequences, and the planted-precursor
    design of this mode is one precursor per independent shock). etas: all of them, triggered ones included, as a
    probe that selects targets from the catalog would see them.
    """
    chosen = ((catalog["event_type"] == "earthquake") & (catalog["time_ms"] >= 0)
              & (catalog["magnitude"] >= config.target_min_magnitude))
    if config.clustering == "omori":
        chosen &= catalog["kind"] == "mainshock"
    return catalog[chosen].reset_index(drop=True)


def lead_in_catalog(rng: np.random.Generator, config: SyntheticConfig) -> pd.DataFrame:
    """Events before the study period: lead_in_events spread uniformly over the lead_in_days before `start`.

    Why: a real catalog download often reaches back before the study period with sparse coverage; a probe that
    counts events per window must not read the jump at `start` as a change in seismicity. Times are negative (ms
    before `start`); ids lie below the study period's and increase with time like INGV's. Magnitudes as omori-mode
    background events at completeness_magnitude, below target_min_magnitude, so none is a target. Empty (no
    columns) when lead_in_days or lead_in_events is 0.
    """
    lead_ms = int(round(config.lead_in_days * MS_PER_DAY))
    n = config.lead_in_events if lead_ms > 0 else 0
    if n == 0:
        return pd.DataFrame()
    time_ms = np.sort(rng.integers(-lead_ms, 0, n)) // 10 * 10
    frame = pd.DataFrame({
        "time_ms": time_ms,
        "latitude_deg": rng.uniform(*config.latitude_range_deg, n),
        "longitude_deg": rng.uniform(*config.longitude_range_deg, n),
        "depth_km": rng.uniform(*config.depth_range_km, n),
        "magnitude": detected_magnitudes(rng, n, config, config.target_min_magnitude - 0.05),
        "kind": "lead_in", "name": "", "event_type": "earthquake", "target_event_id": "",
        "event_id": (7_200_000 - np.cumsum(rng.integers(1, 25, n))[::-1]).astype(str)})
    return _with_source_attributes(rng, frame)


def precursor_events(rng: np.random.Generator, config: SyntheticConfig, targets: pd.DataFrame) -> pd.DataFrame:
    """Planted catalog precursor: Poisson(A * n) events per target, rate ~ 1/(tau + c) before it, lower b-value."""
    pre = config.precursor
    hours, c_h = pre.catalog_hours, pre.catalog_rise_c_hours
    b = max(0.3, config.b_value - pre.catalog_b_drop * pre.catalog)
    parts = []
    for target in targets.itertuples():
        n = int(rng.poisson(pre.catalog * pre.catalog_events_per_target))
        tau_h = c_h * ((hours + c_h) / c_h) ** rng.random(n) - c_h
        m_high = min(target.magnitude - 0.5, config.target_min_magnitude - 0.05)
        mags = np.round(gutenberg_richter(rng, n, b, config.completeness_magnitude, m_high), 1)
        lat, lon = _offset_positions(rng, target.latitude_deg, target.longitude_deg, pre.catalog_spread_km, n,
                                     config)
        depth = np.clip(target.depth_km + rng.normal(0.0, 1.0, n), *config.depth_range_km)
        time_ms = target.time_ms - np.maximum(np.round(tau_h * 3.6e6), 1000).astype(np.int64)
        parts.append(pd.DataFrame({"time_ms": (time_ms // 10) * 10, "latitude_deg": lat, "longitude_deg": lon,
                                   "depth_km": depth, "magnitude": mags, "target_event_id": target.event_id}))
    columns = ["time_ms", "latitude_deg", "longitude_deg", "depth_km", "magnitude", "target_event_id"]
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)
    frame = frame.sort_values("time_ms", kind="stable").reset_index(drop=True)
    frame["time_ms"] = frame["time_ms"].astype(np.int64)
    frame["kind"] = "precursor"
    frame["name"] = ""
    frame["event_type"] = "earthquake"
    frame["event_id"] = (9_000_000 + np.cumsum(rng.integers(1, 25, len(frame)))).astype(str)
    return _with_source_attributes(rng, frame)


def _with_source_attributes(rng: np.random.Generator, events: pd.DataFrame) -> pd.DataFrame:
    """Per-event location quality, magnitude type and normal-faulting mechanism (Apennine strike ~150 deg)."""
    n = len(events)
    events = events.copy()
    events["magnitude_type"] = np.where(events["magnitude"] >= 5.5, "Mw", "ML")
    events["origin_uncertainty_s"] = np.round(rng.uniform(0.05, 0.5, n), 2)
    events["latitude_uncertainty_deg"] = np.round(rng.uniform(0.002, 0.02, n), 4)
    events["longitude_uncertainty_deg"] = np.round(rng.uniform(0.002, 0.02, n), 4)
    depth_unc = np.round(rng.uniform(0.3, 3.0, n), 1)
    events["depth_uncertainty_km"] = np.where(rng.random(n) < 0.05, "None", depth_unc.astype(str))
    events["stderror_s"] = np.round(rng.uniform(0.05, 0.4, n), 2)
    events["gap_deg"] = np.round(rng.uniform(40, 200, n)).astype(int)
    events["horizontal_uncertainty_km"] = np.round(rng.uniform(0.2, 2.0, n), 2)
    events["strike_deg"] = np.round(rng.normal(150, 15, n)) % 360
    events["dip_deg"] = np.clip(np.round(rng.normal(45, 8, n)), 20, 80)
    events["rake_deg"] = np.clip(np.round(rng.normal(-90, 15, n)), -180, 180)
    events["magnitude"] = np.round(events["magnitude"].astype(float), 1)
    for key, decimals in (("latitude_deg", 4), ("longitude_deg", 4), ("depth_km", 1)):
        events[key] = np.round(events[key].astype(float), decimals)
    return events


def _location_names(lat: np.ndarray, lon: np.ndarray) -> list[str]:
    """INGV-style '3 km SW Norcia (PG)': distance and compass direction from the nearest town."""
    town_lat = np.array([t[2] for t in TOWNS])
    town_lon = np.array([t[3] for t in TOWNS])
    dist = locations2degrees(lat[:, None], lon[:, None], town_lat[None, :], town_lon[None, :]) * KM_PER_DEG
    nearest = np.argmin(dist, axis=1)
    compass = ["N", "NE", "E", "SE", "S", "SW", "W", "NW"]
    names = []
    for i, j in enumerate(nearest):
        dy = lat[i] - town_lat[j]
        dx = (lon[i] - town_lon[j]) * math.cos(math.radians(lat[i]))
        label = f"{TOWNS[j][0]} ({TOWNS[j][1]})"
        km = int(round(dist[i, j]))
        if km >= 1:
            label = f"{km} km {compass[int(round(math.degrees(math.atan2(dx, dy)) / 45.0)) % 8]} {label}"
        names.append(label)
    return names


def write_catalog_text(path: Path, catalog: pd.DataFrame, t0: np.datetime64) -> None:
    """INGV FDSN event text (format=text, 14 columns), newest event first like the INGV service."""
    cat = catalog.sort_values(["time_ms", "event_id"], ascending=False, kind="stable")
    times = iso_times(t0, cat["time_ms"].to_numpy(), zulu=False)
    names = _location_names(cat["latitude_deg"].to_numpy(), cat["longitude_deg"].to_numpy())
    lines = [_FDSN_HEADER] + [
        f"{e}|{t}|{la:.4f}|{lo:.4f}|{d:.1f}|SURVEY-INGV||||{mt}|{m:.1f}|--|{nm}|{et}"
        for e, t, la, lo, d, mt, m, nm, et in zip(
            cat["event_id"], times, cat["latitude_deg"], cat["longitude_deg"], cat["depth_km"],
            cat["magnitude_type"], cat["magnitude"], names, cat["event_type"])]
    path.write_text("\n".join(lines) + "\n")
