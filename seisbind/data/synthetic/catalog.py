"""The synthetic earthquake catalog: mainshocks, Omori-Utsu aftershocks, background seismicity, quarry blasts,
the planted catalog precursor, and the INGV FDSN text file they are written to.

Why here and not in seisbind.data.catalog: that module reads catalogs; this one invents one whose statistics
(Gutenberg-Richter magnitudes thinned by a detection roll-off, Omori decay, declusterable mainshocks) are those the
readers and the probe's catalog features expect, so that the planted precursor is the only signal.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
from obspy.geodetics import locations2degrees
from scipy import special

from seisbind.data.synthetic.config import SyntheticConfig
from seisbind.data.synthetic.region import KM_PER_DEG, NORCIA_MAINSHOCKS, QUARRY_SITES, TOWNS
from seisbind.data.synthetic.timestamps import iso_times
from seisbind.errors import SeisbindInputError

_FDSN_HEADER = ("#EventID|Time|Latitude|Longitude|Depth/Km|Author|Catalog|Contributor|ContributorID|MagType|"
                "Magnitude|MagAuthor|EventLocationName|EventType")


def _gutenberg_richter(rng: np.random.Generator, n: int, b: float, m_low: float, m_high: float) -> np.ndarray:
    """Magnitudes from a doubly truncated Gutenberg-Richter law (inverse CDF)."""
    u = rng.random(n)
    return m_low - np.log10(1.0 - u * (1.0 - 10.0 ** (-b * (m_high - m_low)))) / b


def _detection_probability(m: np.ndarray, config: SyntheticConfig) -> np.ndarray:
    """Cumulative-normal roll-off (Ogata-Katsura): ~98 % detected at the completeness magnitude."""
    sigma = config.completeness_width
    return special.ndtr((m - (config.completeness_magnitude - 2 * sigma)) / sigma)


def _thinned_magnitudes(rng: np.random.Generator, n_detected: float, config: SyntheticConfig,
                        m_high: float) -> np.ndarray:
    """GR magnitudes as a network detects them: draw below completeness, keep each with its detection probability.

    `n_detected` is the expected number kept; magnitudes are rounded to 0.1 as catalogs report them.
    """
    m_low = config.completeness_magnitude - 5 * config.completeness_width
    grid = np.linspace(m_low, m_high, 400)
    b = config.b_value
    density = 10.0 ** (-b * grid)
    mean_p = float(np.sum(density * _detection_probability(grid, config)) / np.sum(density))
    m = _gutenberg_richter(rng, int(rng.poisson(n_detected / mean_p)), b, m_low, m_high)
    m = m[rng.random(m.size) < _detection_probability(m, config)]
    return np.round(m, 1)


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
        mag = float(np.round(_gutenberg_richter(rng, 1, config.b_value, *config.extra_mainshock_magnitude_range)[0], 1))
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
        mags = _thinned_magnitudes(rng, n_expected, config, main.magnitude - 0.2)
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


def natural_catalog(rng: np.random.Generator, config: SyntheticConfig, period_ms: int) -> pd.DataFrame:
    """Mainshocks, aftershocks, background seismicity and quarry blasts, sorted by time, with INGV-like ids.

    Background magnitudes stay below target_min_magnitude so that the only independent events at or above it
    are the planted targets listed in truth.json.
    """
    mainshocks = _mainshocks(rng, config, period_ms)
    aftershocks = _aftershocks(rng, config, mainshocks, period_ms)
    n_background = max(0.0, config.n_events * (1 - config.aftershock_fraction) - len(mainshocks))
    mags = _thinned_magnitudes(rng, n_background, config, config.target_min_magnitude - 0.05)
    background = pd.DataFrame({
        "time_ms": rng.integers(0, period_ms, mags.size),
        "latitude_deg": rng.uniform(*config.latitude_range_deg, mags.size),
        "longitude_deg": rng.uniform(*config.longitude_range_deg, mags.size),
        "depth_km": rng.uniform(*config.depth_range_km, mags.size),
        "magnitude": mags, "kind": "background"})
    n_days = max(1, period_ms // 86_400_000)
    site = rng.integers(0, len(QUARRY_SITES), config.n_quarry_blasts)
    quarry = pd.DataFrame({
        "time_ms": (rng.integers(0, n_days, config.n_quarry_blasts) * 86_400_000
                    + rng.integers(8 * 3_600_000, 15 * 3_600_000, config.n_quarry_blasts)),
        "latitude_deg": np.array([QUARRY_SITES[i][0] for i in site]) + rng.normal(0, 0.003, site.size),
        "longitude_deg": np.array([QUARRY_SITES[i][1] for i in site]) + rng.normal(0, 0.003, site.size),
        "depth_km": rng.uniform(0.0, 1.0, site.size),
        "magnitude": np.round(rng.uniform(1.0, 2.1, site.size), 1), "kind": "quarry"})
    quarry = quarry[quarry["time_ms"] < period_ms]
    catalog = pd.concat([mainshocks, aftershocks, background, quarry], ignore_index=True)
    catalog = catalog.sort_values("time_ms", kind="stable").reset_index(drop=True)
    catalog["time_ms"] = (catalog["time_ms"] // 10) * 10
    ids = 7_200_000 + np.cumsum(rng.integers(1, 25, len(catalog)))
    catalog["event_id"] = ids.astype(str)
    catalog["event_type"] = np.where(catalog["kind"] == "quarry", "quarry blast", "earthquake")
    catalog["name"] = catalog["name"].fillna("")
    catalog["target_event_id"] = ""
    return _with_source_attributes(rng, catalog)


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
        mags = np.round(_gutenberg_richter(rng, n, b, config.completeness_magnitude, m_high), 1)
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
