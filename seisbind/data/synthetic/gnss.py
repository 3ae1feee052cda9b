"""The synthetic GNSS network: NGL `.tenv3` daily positions with steady motion, seasons, noise, gaps, co-seismic
steps, the motion shaking causes (gnss.shaking_response_mm), and the planted GNSS precursor (a slip transient
ramping up before each target).

Why the published layout: seisbind.data.gnss must read what NGL serves, so the synthetic files exercise that reader
as a download would (integer + fractional coordinates, two-digit-year dates, GPS week, missing days simply absent).

Each line is one daily solution, i.e. the mean position over its UTC day: a step or a ramp that happens during a day
enters that day's solution in proportion to the part of the day after it, as it does in real 24-h solutions.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from seisbind.data.synthetic.config import GnssConfig, SyntheticConfig
from seisbind.data.synthetic.magnitudes import MS_PER_DAY
from seisbind.data.synthetic.region import KM_PER_DEG
from seisbind.data.synthetic.timestamps import iso_times
from seisbind.files import write_text
from seisbind.geodesy import epicentral_km
from seisbind.seismicity.ground_motion import pgv_cmps

TENV3_HEADER = ("site YYMMMDD yyyy.yyyy __MJD week d reflon _e0(m) __east(m) ____n0(m) _north(m) u0(m) ____up(m) "
                "_ant(m) sig_e(m) sig_n(m) sig_u(m) __corr_en __corr_eu __corr_nu _latitude(deg) _longitude(deg) "
                "__height(m)")
"""The header line of an NGL .tenv3 file (geodesy.unr.edu)."""

_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_M_PER_DEG = KM_PER_DEG * 1000.0
_MJD_1970 = 40587
_MJD_GPS_EPOCH = 44244
_DAYS_PER_YEAR = 365.25
_TRANSIENT_UP = 0.3
"""Up motion of the planted transient per unit of its horizontal amplitude (towards the epicentre)."""
_STEP_UP = -0.5
"""Up motion of a co-seismic step per unit of its horizontal amplitude (away from the epicentre): normal-fault
subsidence, as in the 2016 central-Italy sequence."""


def write_gnss(folder: Path, rng: np.random.Generator, config: SyntheticConfig, earthquakes: pd.DataFrame,
               felt: pd.DataFrame, targets: pd.DataFrame, t0: np.datetime64,
               span_ms: tuple[int, int]) -> tuple[dict, dict]:
    """One `<STA>.tenv3` per station in `folder`, covering the days of [t0 + span_ms[0], t0 + span_ms[1]).

    `earthquakes` (time_ms from t0, latitude_deg, longitude_deg, magnitude, event_id: the natural ones) give the
    co-seismic steps, `felt` (every listed earthquake, planted foreshocks included) the shaking, `targets` the
    planted transients.
    Returns the truth of the network (stations with their velocities, steps) and of the precursor (transients:
    target, station, amplitude). Every draw is made whatever the precursor strength, so that strength 0 and
    strength S differ by the transient only.
    """
    gnss = config.gnss
    t0_ms = int(t0.astype("datetime64[ms]").astype(np.int64))
    first_day = (t0_ms + span_ms[0]) // MS_PER_DAY
    days = np.arange(first_day, -(-(t0_ms + span_ms[1]) // MS_PER_DAY))
    day_start = days * MS_PER_DAY - t0_ms
    midday = (day_start + MS_PER_DAY / 2) / MS_PER_DAY
    quakes = earthquakes[earthquakes["magnitude"] >= gnss.step_min_magnitude]
    stations, steps, transients = [], [], []
    for number in range(gnss.n_stations):
        code = f"SG{number + 1:02d}"
        lat = float(rng.uniform(*config.latitude_range_deg))
        lon = float(rng.uniform(*config.longitude_range_deg))
        height = float(rng.uniform(200.0, 1500.0))
        speed, azimuth = rng.uniform(*gnss.speed_mm_per_yr), rng.uniform(0.0, 2 * math.pi)
        velocity = np.array([speed * math.sin(azimuth), speed * math.cos(azimuth),
                             rng.normal(0.0, gnss.up_velocity_sd_mm_per_yr)])
        seasonal = rng.uniform(0.5, 1.0, 3) * np.array([gnss.seasonal_horizontal_mm, gnss.seasonal_horizontal_mm,
                                                         gnss.seasonal_up_mm])
        phase = rng.uniform(0.0, 2 * math.pi, 3)
        noise_mm = np.array([gnss.noise_horizontal_mm, gnss.noise_horizontal_mm, gnss.noise_up_mm])
        noise = rng.normal(0.0, 1.0, (days.size, 3)) * noise_mm
        sigma_m = noise_mm / 1000.0 * np.exp(rng.normal(0.0, 0.15, (days.size, 3)))
        correlation = rng.uniform(-0.3, 0.3, (days.size, 3))
        keep = rng.random(days.size) >= gnss.missing_day_fraction
        outage = int(rng.integers(gnss.outage_days[0], gnss.outage_days[1] + 1))
        outage_start = int(rng.integers(0, max(days.size - outage, 0) + 1))
        keep[outage_start: outage_start + outage] = False

        enu_mm = (velocity[None, :] * midday[:, None] / _DAYS_PER_YEAR
                  + seasonal[None, :] * np.sin(2 * math.pi * midday[:, None] / _DAYS_PER_YEAR + phase[None, :])
                  + noise)
        for quake in quakes.itertuples():
            r_km = float(epicentral_km(lat, lon, quake.latitude_deg, quake.longitude_deg))
            size = 10.0 ** (quake.magnitude - 6.0)
            amplitude = gnss.step_mm_at_m6 * size ** 0.75 / (1.0 + (r_km / (gnss.step_length_km_at_m6 * size ** 0.5))
                                                             ** 2)
            move = amplitude * np.append(-_towards(lat, lon, quake.latitude_deg, quake.longitude_deg), _STEP_UP)
            enu_mm += move[None, :] * _day_mean_ramp(day_start, quake.time_ms, 0.0)[:, None]
            steps.append({"event_id": quake.event_id, "station": code, "distance_km": round(r_km, 2),
                          "east_mm": round(move[0], 3), "north_mm": round(move[1], 3), "up_mm": round(move[2], 3)})
        enu_mm += _shaking_motion(day_start, lat, lon, felt, gnss)
        transients += _plant_transients(enu_mm, day_start, code, lat, lon, targets, config, t0)
        stations.append({"code": code, "latitude_deg": lat, "longitude_deg": lon, "height_m": round(height, 3),
                         "velocity_east_mm_per_yr": round(velocity[0], 3),
                         "velocity_north_mm_per_yr": round(velocity[1], 3),
                         "velocity_up_mm_per_yr": round(velocity[2], 3)})
        text = _tenv3_text(code, lat, lon, height, days[keep], enu_mm[keep] / 1000.0, sigma_m[keep],
                           correlation[keep])
        write_text(Path(folder) / f"{code}.tenv3", text)
    return {"stations": stations, "steps": steps}, {"transients": transients}


def _shaking_motion(day_start_ms: np.ndarray, lat: float, lon: float, earthquakes: pd.DataFrame,
                    gnss: GnssConfig) -> np.ndarray:
    """(days, 3) east/north/up mm the shaking moves a station by (GnssConfig.shaking_response_mm): each earthquake
    shaking_response_mm x log10(1 + PGV / felt_pgv_cmps) mm away from its epicentre, `_STEP_UP` of it vertical, from
    the earthquake on; zeros when off. Directions and sizes follow from the catalog, so no random draw is made."""
    motion = np.zeros((day_start_ms.size, 3))
    if gnss.shaking_response_mm == 0 or earthquakes.empty:
        return motion
    r_km = epicentral_km(lat, lon, earthquakes["latitude_deg"].to_numpy(), earthquakes["longitude_deg"].to_numpy())
    size = gnss.shaking_response_mm * np.log10(
        1.0 + pgv_cmps(earthquakes["magnitude"].to_numpy(np.float64), r_km) / gnss.felt_pgv_cmps)
    felt = size > 1e-3
    quakes = earthquakes[felt]
    moves = np.array([np.append(-_towards(lat, lon, q.latitude_deg, q.longitude_deg), _STEP_UP)
                      for q in quakes.itertuples()]).reshape(-1, 3) * size[felt][:, None]
    # (days, events) share of each day after each earthquake, then one product for all of them
    share = _day_mean_ramp(day_start_ms[:, None], quakes["time_ms"].to_numpy(np.float64)[None, :], 0.0)
    return motion + share @ moves


def _plant_transients(enu_mm: np.ndarray, day_start_ms: np.ndarray, code: str, lat: float, lon: float,
                      targets: pd.DataFrame, config: SyntheticConfig, t0: np.datetime64) -> list[dict]:
    """Add the slip transient of every target within precursor.gnss_radius_km to `enu_mm` (in place).

    Amplitude S * gnss_mm * exp(-r / gnss_radius_km) (mm, r epicentral km), reached linearly over the gnss_days
    before the target and kept afterwards (slip is permanent), horizontally towards the epicentre with
    `_TRANSIENT_UP` of it upward. Returns the truth records of the transients planted (none at strength 0).
    """
    pre = config.precursor
    duration_ms = pre.gnss_days * MS_PER_DAY
    records = []
    for target in targets.itertuples():
        r_km = float(epicentral_km(lat, lon, target.latitude_deg, target.longitude_deg))
        amplitude = pre.gnss * pre.gnss_mm * math.exp(-r_km / pre.gnss_radius_km)
        if r_km > pre.gnss_radius_km or amplitude <= 0:
            continue
        move = amplitude * np.append(_towards(lat, lon, target.latitude_deg, target.longitude_deg), _TRANSIENT_UP)
        onset_ms = target.time_ms - duration_ms
        enu_mm += move[None, :] * _day_mean_ramp(day_start_ms, onset_ms, duration_ms)[:, None]
        start, end = iso_times(t0, np.array([int(round(onset_ms)), target.time_ms]), zulu=True)
        records.append({"target_event_id": target.event_id, "station": code, "distance_km": round(r_km, 2),
                        "amplitude_mm": round(amplitude, 3), "east_mm": round(move[0], 3),
                        "north_mm": round(move[1], 3), "up_mm": round(move[2], 3), "start": str(start),
                        "end": str(end)})
    return records


def _towards(lat: float, lon: float, to_lat: float, to_lon: float) -> np.ndarray:
    """Horizontal unit vector (east, north) from (lat, lon) towards (to_lat, to_lon); east when they coincide."""
    east = (to_lon - lon) * math.cos(math.radians(lat))
    north = to_lat - lat
    length = math.hypot(east, north)
    return np.array([east, north]) / length if length > 1e-9 else np.array([1.0, 0.0])


def _day_mean_ramp(day_start_ms: np.ndarray, onset_ms: float, duration_ms: float) -> np.ndarray:
    """Mean over each UTC day of a ramp from 0 at onset to 1 at onset + duration (a step when duration is 0).

    F(t), the integral of the ramp, is 0 before the onset, (t - onset)^2 / (2 duration) during it and
    duration / 2 + (t - end) after it; the day's mean is (F(day end) - F(day start)) / day."""
    end_ms = onset_ms + duration_ms
    scale = max(duration_ms, 1e-9)

    def integral(t: np.ndarray) -> np.ndarray:
        during = np.clip(t - onset_ms, 0.0, duration_ms)
        return during ** 2 / (2 * scale) + np.clip(t - end_ms, 0.0, None)

    return (integral(day_start_ms + MS_PER_DAY) - integral(day_start_ms.astype(np.float64))) / MS_PER_DAY


def _tenv3_text(code: str, lat: float, lon: float, height: float, days: np.ndarray, enu_m: np.ndarray,
                sigma_m: np.ndarray, correlation: np.ndarray) -> str:
    """The .tenv3 file of one station: header, then one line per day in NGL's column widths.

    Eastings are metres from the 0.1-degree reference meridian, northings from the equator (spherical metres per
    degree; NGL uses an ellipsoidal formula, which only shifts the fixed integer parts), up the ellipsoidal height;
    the integer parts are those of the first day and stay fixed, as NGL keeps them.
    """
    reflon = round(lon, 1)
    cos_lat = math.cos(math.radians(lat))
    east = (lon - reflon) * _M_PER_DEG * cos_lat + enu_m[:, 0]
    north = lat * _M_PER_DEG + enu_m[:, 1]
    up = height + enu_m[:, 2]
    integer = [int(math.trunc(values[0])) if values.size else 0 for values in (east, north, up)]
    latitude = lat + enu_m[:, 1] / _M_PER_DEG
    longitude = lon + enu_m[:, 0] / (_M_PER_DEG * cos_lat)
    mjd = days + _MJD_1970
    lines = [TENV3_HEADER]
    for i, day in enumerate(pd.to_datetime(days, unit="D")):
        gps = int(mjd[i]) - _MJD_GPS_EPOCH
        lines.append(
            f"{code} {day.year % 100:02d}{_MONTHS[day.month - 1]}{day.day:02d} "
            f"{2000.0 + (mjd[i] + 0.5 - 51544.5) / _DAYS_PER_YEAR:9.4f} {mjd[i]:5d} {gps // 7:4d} {gps % 7:1d} "
            f"{reflon:6.1f} {integer[0]:6d} {east[i] - integer[0]:9.6f} {integer[1]:9d} {north[i] - integer[1]:9.6f} "
            f"{integer[2]:5d} {up[i] - integer[2]:9.6f} {0.0:7.4f} {sigma_m[i, 0]:8.6f} {sigma_m[i, 1]:8.6f} "
            f"{sigma_m[i, 2]:8.6f} {correlation[i, 0]:9.6f} {correlation[i, 1]:9.6f} {correlation[i, 2]:9.6f} "
            f"{latitude[i]:14.10f} {longitude[i]:15.10f} {up[i]:11.5f}")
    return "\n".join(lines) + "\n"
