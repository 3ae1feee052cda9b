"""Synthetic data root in the published layouts (INSTANCE, INGV FDSN text, Movebank), with planted precursors.

Why: every layer of seisbind (readers, DataModule, training, probe) must run end to end without the 156 GB INSTANCE
download, and the probe needs data whose answer is known. Three precursors can be planted, each with its own
strength (0 = exactly the null, ~1 = clearly detectable), each reaching one modality only:

- catalog (A): in the `catalog_hours` before each target, extra events near the target whose rate rises toward it
  (inverse Omori, rate ~ 1/(tau + c)) with a b-value lowered by `catalog_b_drop * A`; count ~ Poisson(A * n).
  They appear in catalog.txt only (unless `record_precursor_events`, then their traces can be drawn too).
- spectrum (B): event and noise traces starting in [target - `spectrum_hours`, target), at stations within
  `spectrum_radius_km` of the target epicentre, get extra 0.5-2 Hz ground motion whose band RMS is
  `B * spectrum_amplitude` times the trace's own noise RMS in that band.
- animal (C): ODBA of every animal is raised 1-20 h before each target by a factor
  1 + C * animal_gain * exp(-hypocentral distance from the farm / animal_decay_km) * individual responsiveness.

Determinism: all draws come from one `numpy.random.Generator(seed)`, split with `Generator.spawn` into one child
stream per component (catalog, stations, traces, waveforms, noise, each precursor, animals). Changing a precursor
strength therefore changes its own output only; the same seed gives byte-identical files.

Files (names as INGV and Movebank publish them; see REFERENCE.md sections 1, 3, 4):
- metadata_Instance_events_v3.csv: the 115 INSTANCE columns in order; real quirks: S-pick cells empty for part of
  the traces, the text "None" in station_vs_30_mps (stations without a Vs30), source_depth_uncertainty_km,
  source_mt_scalar_moment_Nm (events without a moment tensor) and trace_C_snr_db (P too close to the trace start),
  ISO times `%Y-%m-%dT%H:%M:%S.%fZ`, a multi-line quoted moment tensor for M >= 3.5.
  trace_C_pga_time / trace_C_pgv_time are seconds after trace_start_time.
- Instance_events_counts.hdf5 / Instance_noise.hdf5: group `data`, one contiguous uncompressed int32 dataset per
  trace_name, shape (3, 12000), E, N, Z, 100 Hz. int32 because a digitizer gives whole counts; velocity channels
  (HH, EH) clip at +-(2**23 - 1) like a 24-bit digitizer. Sensitivities: `SENSITIVITY_COUNTS`.
- metadata_Instance_noise.csv: `NOISE_COLUMNS`; noise trace_name = `<YYYYmmddTHHMMSS>.<net>.<sta>.<loc>.<ch>`.
- catalog.txt: INGV FDSN event text, 14 columns, newest first like the INGV service, a few `quarry blast` rows.
- animals/pieve_torina.csv: Movebank acceleration bursts (REFERENCE.md section 4), X Y Z interleaved raw counts,
  `animal.zero_g_counts` at 0 g and `animal.counts_per_g` per g.
- truth.json: the config, the targets, and which events / traces / windows carry planted precursors.
"""

from __future__ import annotations

import functools
import json
import logging
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
from obspy.geodetics import gps2dist_azimuth, locations2degrees
from scipy import signal, special

from seisbind.data.instance_schema import EVENT_COLUMNS, NOISE_COLUMNS, SAMPLING_RATE_HZ, TRACE_NPTS
from seisbind.errors import SeisbindInputError

log = logging.getLogger(__name__)

GENERATOR_VERSION = 1
"""Bumped whenever the output for a given config changes, so a cached folder is regenerated."""

FILE_NAMES: dict[str, str] = {
    "events_csv": "metadata_Instance_events_v3.csv",
    "events_hdf5": "Instance_events_counts.hdf5",
    "noise_csv": "metadata_Instance_noise.csv",
    "noise_hdf5": "Instance_noise.hdf5",
    "catalog": "catalog.txt",
    "animals": "animals/pieve_torina.csv",
    "truth": "truth.json",
}

SENSITIVITY_COUNTS: dict[str, float] = {"HH": 4.8e8, "EH": 1.6e8, "HN": 2.1e5}
"""Counts per m/s (HH broadband, EH short period) or per m/s^2 (HN accelerometer), 24-bit digitizer values."""

_KM_PER_DEG = 111.19492664455873
_FS = SAMPLING_RATE_HZ
_CLIP_COUNTS = 2**23 - 1
_FDSN_HEADER = ("#EventID|Time|Latitude|Longitude|Depth/Km|Author|Catalog|Contributor|ContributorID|MagType|"
                "Magnitude|MagAuthor|EventLocationName|EventType")
_MOVEBANK_COLUMNS = [
    "event-id", "timestamp", "individual-local-identifier", "tag-local-identifier", "sensor-type",
    "individual-taxon-canonical-name", "location-long", "location-lat", "eobs:accelerations-raw",
    "eobs:acceleration-axes", "eobs:acceleration-sampling-frequency-per-axis", "eobs:start-timestamp",
]

# The 2016 central-Italy mainshocks: name, origin time (UTC), latitude, longitude, depth km, magnitude (Mw).
_NORCIA_MAINSHOCKS = [
    ("Amatrice", "2016-08-24T01:36:32", 42.70, 13.23, 8.1, 6.0),
    ("Visso", "2016-10-26T19:18:05", 42.91, 13.13, 7.5, 5.9),
    ("Norcia", "2016-10-30T06:40:18", 42.83, 13.11, 9.2, 6.5),
]

# Network IV stations of central Italy (approximate coordinates, for realism only): code, lat, lon, elevation m,
# channels, location code.
_STATIONS = [
    ("NRCA", 42.8335, 13.1143, 927, "HH,HN", ""), ("MMO1", 42.8990, 13.3270, 957, "HH,HN", ""),
    ("CAMP", 42.5358, 13.4090, 1282, "HH", ""), ("FOSV", 43.2870, 12.7637, 480, "HH", ""),
    ("ASSB", 43.0426, 12.6587, 734, "HH,HN", ""), ("CESI", 43.0049, 12.9046, 745, "HH,HN", ""),
    ("LNSS", 42.6028, 12.9689, 885, "HH", ""), ("ARRO", 42.5792, 12.7657, 253, "EH", ""),
    ("RM33", 42.5089, 13.2145, 1100, "HH", ""), ("TERO", 42.6228, 13.6036, 649, "HH,HN", ""),
    ("FIAM", 42.2680, 13.1169, 1070, "HH", ""), ("GUMA", 43.0627, 13.3352, 545, "HH", ""),
    ("SSFR", 43.4363, 12.7834, 562, "HH", ""), ("ATFO", 43.3659, 12.5710, 543, "EH", "00"),
    ("SNTG", 43.2552, 12.9406, 700, "EH", "00"), ("SPO1", 42.7347, 12.7455, 480, "HH,HN", ""),
    ("FDMO", 43.0366, 13.0873, 550, "HH", ""), ("ACCU", 42.6960, 13.2430, 870, "HN", ""),
    ("AMT", 42.6324, 13.2864, 950, "HH,HN", ""), ("MTCE", 42.9780, 12.5520, 420, "EH", ""),
    ("CING", 43.3756, 13.1950, 626, "HH", ""), ("SMA1", 42.9700, 13.6300, 310, "EH", ""),
]

# Towns for INGV-style location names ("3 km SW Norcia (PG)").
_TOWNS = [
    ("Norcia", "PG", 42.7925, 13.0935), ("Visso", "MC", 42.9302, 13.0885), ("Amatrice", "RI", 42.6286, 13.2919),
    ("Accumoli", "RI", 42.6946, 13.2476), ("Arquata del Tronto", "AP", 42.7726, 13.2966),
    ("Preci", "PG", 42.8806, 13.0383), ("Ussita", "MC", 42.9431, 13.1386), ("Cascia", "PG", 42.7183, 13.0135),
    ("Camerino", "MC", 43.1355, 13.0683), ("Pieve Torina", "MC", 43.0432, 13.0478),
    ("Montereale", "AQ", 42.5236, 13.2453), ("Campotosto", "AQ", 42.5583, 13.3675),
    ("Sellano", "PG", 42.8877, 12.9260), ("Muccia", "MC", 43.0817, 13.0444), ("Montemonaco", "AP", 42.8985, 13.3311),
    ("Leonessa", "RI", 42.5640, 12.9614), ("Sarnano", "MC", 43.0338, 13.2996), ("Spoleto", "PG", 42.7342, 12.7386),
]
_QUARRY_SITES = [(42.955, 12.935), (42.585, 13.140), (43.120, 13.380)]
_TAXA = {"cow": "Bos taurus", "sheep": "Ovis aries", "dog": "Canis lupus familiaris"}
# Per taxon: base dynamic acceleration (g), diurnal amplitude (fraction), local hour of peak activity.
_TAXON_ACTIVITY = {"cow": (0.08, 0.6, 13.0), "sheep": (0.10, 0.5, 12.0), "dog": (0.15, 0.4, 18.0)}


@dataclass
class PrecursorConfig:
    """Strengths (0 = null) and shapes of the three planted precursors; see the module docstring."""

    catalog: float = 0.0
    spectrum: float = 0.0
    animal: float = 0.0
    catalog_hours: float = 24.0
    catalog_events_per_target: float = 40.0
    catalog_b_drop: float = 0.3
    catalog_rise_c_hours: float = 1.0
    catalog_spread_km: float = 3.0
    record_precursor_events: bool = False
    spectrum_hours: float = 24.0
    spectrum_radius_km: float = 50.0
    spectrum_band_hz: list[float] = field(default_factory=lambda: [0.5, 2.0])
    spectrum_amplitude: float = 2.0
    animal_lead_hours: list[float] = field(default_factory=lambda: [1.0, 20.0])
    animal_gain: float = 1.5
    animal_decay_km: float = 30.0


@dataclass
class AnimalConfig:
    """Movebank accelerometer bursts from the Pieve Torina farm (Wikelski et al. 2020 set-up)."""

    farm_latitude_deg: float = 43.04
    farm_longitude_deg: float = 13.05
    n_cows: int = 6
    n_sheep: int = 5
    n_dogs: int = 2
    coverage: list[str] = field(default_factory=lambda: ["2016-10-01/2016-12-01", "2017-01-01/2017-02-01"])
    burst_minutes: float = 15.0
    burst_seconds: float = 2.0
    sampling_hz: float = 20.0
    zero_g_counts: float = 2048.0
    counts_per_g: float = 370.0
    missing_burst_fraction: float = 0.01


@dataclass
class SyntheticConfig:
    """Everything that determines the synthetic data root; stored in truth.json to detect a matching cache.

    Period is [start, end) in UTC. n_events is the approximate number of catalogued earthquakes (mainshocks,
    aftershocks and background; quarry blasts and planted precursor events come on top).
    """

    seed: int = 0
    n_traces: int = 1000
    n_events: int = 4000
    start: str = "2016-08-01"
    end: str = "2017-02-01"
    latitude_range_deg: list[float] = field(default_factory=lambda: [42.5, 43.2])
    longitude_range_deg: list[float] = field(default_factory=lambda: [12.8, 13.5])
    depth_range_km: list[float] = field(default_factory=lambda: [5.0, 15.0])
    b_value: float = 1.0
    completeness_magnitude: float = 1.5
    completeness_width: float = 0.2
    include_norcia_mainshocks: bool = True
    n_extra_mainshocks: int = 20
    extra_mainshock_magnitude_range: list[float] = field(default_factory=lambda: [4.0, 5.5])
    mainshock_separation_hours: float = 72.0
    aftershock_fraction: float = 0.7
    productivity_alpha: float = 1.0
    omori_c_days: float = 0.05
    omori_p: float = 1.1
    n_quarry_blasts: int = 12
    target_min_magnitude: float = 4.0
    n_stations: int = 20
    noise_interval_hours: float = 6.0
    vp_kmps: float = 6.0
    vs_kmps: float = 3.46
    amplitude_log10_offset: float = -5.5
    precursor: PrecursorConfig = field(default_factory=PrecursorConfig)
    animal: AnimalConfig = field(default_factory=AnimalConfig)


# --------------------------------------------------------------------------------------------------------------
# Entry points
# --------------------------------------------------------------------------------------------------------------

def write_synthetic(out: Path, config: SyntheticConfig | None = None) -> dict:
    """Write the synthetic data root to `out` and return the truth dict (also written as out/truth.json).

    If `out/truth.json` exists with the same config and generator version and all files are present, nothing is
    written and the stored truth is returned. truth.json is written last, so an interrupted run is redone.
    """
    config = config or SyntheticConfig()
    _validate(config)
    out = Path(out)
    cached = _cached_truth(out, config)
    if cached is not None:
        log.info("synthetic data in %s already match the config; not regenerating", out)
        return cached
    (out / "animals").mkdir(parents=True, exist_ok=True)
    (out / FILE_NAMES["truth"]).unlink(missing_ok=True)
    streams = dict(zip(
        ["catalog", "catalog_precursor", "stations", "traces", "waveforms", "noise", "spectrum_precursor", "animals"],
        np.random.default_rng(config.seed).spawn(8),
    ))
    t0 = np.datetime64(config.start, "ms")
    period_ms = int((np.datetime64(config.end, "ms") - t0).astype(np.int64))

    catalog = _natural_catalog(streams["catalog"], config, period_ms)
    targets = catalog[(catalog["kind"] == "mainshock")
                      & (catalog["magnitude"] >= config.target_min_magnitude)].reset_index(drop=True)
    precursor_events = _precursor_events(streams["catalog_precursor"], config, targets)
    stations = _stations(streams["stations"], config)
    all_events = pd.concat([catalog, precursor_events], ignore_index=True) if len(precursor_events) else catalog
    _write_catalog_text(out / FILE_NAMES["catalog"], all_events, t0)

    recordable = all_events if config.precursor.record_precursor_events else catalog
    recordable = recordable[recordable["event_type"] == "earthquake"].reset_index(drop=True)
    event_traces = _sample_event_traces(streams["traces"], config, recordable, stations)
    noise_traces = _noise_schedule(streams["noise"], config, stations, period_ms)
    synth = _WaveformSynth(config, stations, targets, t0, period_ms, streams["waveforms"],
                           streams["noise"], streams["spectrum_precursor"])
    spectrum_marks = []
    spectrum_marks += _write_event_traces(out, synth, event_traces, t0)
    spectrum_marks += _write_noise_traces(out, synth, noise_traces, t0)

    animal_windows = _write_animals(out / FILE_NAMES["animals"], streams["animals"], config, targets, t0, period_ms)

    truth = {
        "generator": "seisbind.data.synthetic",
        "version": GENERATOR_VERSION,
        "config": asdict(config),
        "counts_dtype": "int32",
        "sensitivity_counts": SENSITIVITY_COUNTS,
        "animal_zero_g_counts": config.animal.zero_g_counts,
        "animal_counts_per_g": config.animal.counts_per_g,
        "n_catalog_events": int(len(catalog) + len(precursor_events)),
        "n_event_traces": int(len(event_traces)),
        "n_noise_traces": int(len(noise_traces)),
        "targets": [_event_record(row, t0) for row in targets.itertuples()],
        "precursors": {
            "catalog": {"events": [dict(_event_record(row, t0), target_event_id=row.target_event_id)
                                   for row in precursor_events.itertuples()]},
            "spectrum": {"traces": spectrum_marks},
            "animal": {"windows": animal_windows},
        },
        "stations": stations[["station_code", "station_location_code", "channels", "latitude_deg",
                              "longitude_deg"]].to_dict(orient="records"),
    }
    text = json.dumps(truth, indent=1, default=_json_default)
    (out / FILE_NAMES["truth"]).write_text(text)
    log.info("wrote synthetic data root %s: %d catalog events, %d event traces, %d noise traces, %d targets",
             out, truth["n_catalog_events"], len(event_traces), len(noise_traces), len(targets))
    return json.loads(text)


def read_truth(root: Path) -> dict:
    """The truth.json of a synthetic data root (targets and planted precursors)."""
    path = Path(root) / FILE_NAMES["truth"]
    if not path.is_file():
        raise SeisbindInputError(f"{path}: no truth.json; {root} is not a synthetic data root")
    return json.loads(path.read_text())


def _cached_truth(out: Path, config: SyntheticConfig) -> dict | None:
    path = out / FILE_NAMES["truth"]
    if not path.is_file():
        return None
    try:
        truth = json.loads(path.read_text())
    except json.JSONDecodeError:
        return None
    same = truth.get("version") == GENERATOR_VERSION and truth.get("config") == json.loads(
        json.dumps(asdict(config)))
    return truth if same and all((out / name).is_file() for name in FILE_NAMES.values()) else None


def _validate(config: SyntheticConfig) -> None:
    """Reject configs that cannot give a meaningful data root, naming the offending key."""
    problems = []
    pre = config.precursor
    strengths = {"catalog": pre.catalog, "spectrum": pre.spectrum, "animal": pre.animal}
    problems += [f"precursor.{key} must be >= 0 (got {value})" for key, value in strengths.items() if value < 0]
    if config.n_traces < 1 or config.n_events < 50:
        problems.append("n_traces must be >= 1 and n_events >= 50")
    dates = [config.start, config.end] + [day for span in config.animal.coverage for day in span.split("/")]
    try:
        for day in dates:
            np.datetime64(day)
    except ValueError as error:
        raise SeisbindInputError(f"invalid synthetic config: dates must be ISO (YYYY-MM-DD): {error}") from None
    if np.datetime64(config.end) <= np.datetime64(config.start):
        problems.append(f"end ({config.end}) must be after start ({config.start})")
    if not 1 <= config.n_stations <= len(_STATIONS):
        problems.append(f"n_stations must be in 1..{len(_STATIONS)}")
    for key in ("latitude_range_deg", "longitude_range_deg", "depth_range_km", "extra_mainshock_magnitude_range",
                "precursor.spectrum_band_hz", "precursor.animal_lead_hours"):
        obj = config
        for part in key.split("."):
            obj = getattr(obj, part)
        if len(obj) != 2 or obj[0] >= obj[1]:
            problems.append(f"{key} must be [low, high] with low < high (got {list(obj)})")
    if config.noise_interval_hours <= 0 or config.animal.burst_minutes <= 0:
        problems.append("noise_interval_hours and animal.burst_minutes must be > 0")
    for span in config.animal.coverage:
        parts = span.split("/")
        if len(parts) != 2:
            problems.append(f"animal.coverage entry {span!r} must be 'START/END'")
    if problems:
        raise SeisbindInputError("invalid synthetic config: " + "; ".join(problems))


# --------------------------------------------------------------------------------------------------------------
# Catalog
# --------------------------------------------------------------------------------------------------------------

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
    dlat = rng.normal(0.0, sigma_km, n) / _KM_PER_DEG
    dlon = rng.normal(0.0, sigma_km, n) / (_KM_PER_DEG * math.cos(math.radians(lat)))
    return (np.clip(lat + dlat, *config.latitude_range_deg), np.clip(lon + dlon, *config.longitude_range_deg))


def _mainshocks(rng: np.random.Generator, config: SyntheticConfig, period_ms: int) -> pd.DataFrame:
    """The three Norcia mainshocks (if inside the period) plus independent mainshocks at random, separated times."""
    t0 = np.datetime64(config.start, "ms")
    rows = []
    if config.include_norcia_mainshocks:
        for name, time, lat, lon, depth, mag in _NORCIA_MAINSHOCKS:
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


def _natural_catalog(rng: np.random.Generator, config: SyntheticConfig, period_ms: int) -> pd.DataFrame:
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
    site = rng.integers(0, len(_QUARRY_SITES), config.n_quarry_blasts)
    quarry = pd.DataFrame({
        "time_ms": (rng.integers(0, n_days, config.n_quarry_blasts) * 86_400_000
                    + rng.integers(8 * 3_600_000, 15 * 3_600_000, config.n_quarry_blasts)),
        "latitude_deg": np.array([_QUARRY_SITES[i][0] for i in site]) + rng.normal(0, 0.003, site.size),
        "longitude_deg": np.array([_QUARRY_SITES[i][1] for i in site]) + rng.normal(0, 0.003, site.size),
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


def _precursor_events(rng: np.random.Generator, config: SyntheticConfig, targets: pd.DataFrame) -> pd.DataFrame:
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
    town_lat = np.array([t[2] for t in _TOWNS])
    town_lon = np.array([t[3] for t in _TOWNS])
    dist = locations2degrees(lat[:, None], lon[:, None], town_lat[None, :], town_lon[None, :]) * _KM_PER_DEG
    nearest = np.argmin(dist, axis=1)
    compass = ["N", "NE", "E", "SE", "S", "SW", "W", "NW"]
    names = []
    for i, j in enumerate(nearest):
        dy = lat[i] - town_lat[j]
        dx = (lon[i] - town_lon[j]) * math.cos(math.radians(lat[i]))
        label = f"{_TOWNS[j][0]} ({_TOWNS[j][1]})"
        km = int(round(dist[i, j]))
        if km >= 1:
            label = f"{km} km {compass[int(round(math.degrees(math.atan2(dx, dy)) / 45.0)) % 8]} {label}"
        names.append(label)
    return names


def _write_catalog_text(path: Path, catalog: pd.DataFrame, t0: np.datetime64) -> None:
    """INGV FDSN event text (format=text, 14 columns), newest event first like the INGV service."""
    cat = catalog.sort_values(["time_ms", "event_id"], ascending=False, kind="stable")
    times = _iso(t0, cat["time_ms"].to_numpy(), zulu=False)
    names = _location_names(cat["latitude_deg"].to_numpy(), cat["longitude_deg"].to_numpy())
    lines = [_FDSN_HEADER] + [
        f"{e}|{t}|{la:.4f}|{lo:.4f}|{d:.1f}|SURVEY-INGV||||{mt}|{m:.1f}|--|{nm}|{et}"
        for e, t, la, lo, d, mt, m, nm, et in zip(
            cat["event_id"], times, cat["latitude_deg"], cat["longitude_deg"], cat["depth_km"],
            cat["magnitude_type"], cat["magnitude"], names, cat["event_type"])]
    path.write_text("\n".join(lines) + "\n")


# --------------------------------------------------------------------------------------------------------------
# Stations and trace selection
# --------------------------------------------------------------------------------------------------------------

def _stations(rng: np.random.Generator, config: SyntheticConfig) -> pd.DataFrame:
    """The first n_stations of the station table with per-station site, noise and digitizer properties."""
    rows = _STATIONS[: config.n_stations]
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


def _sample_event_traces(rng: np.random.Generator, config: SyntheticConfig, catalog: pd.DataFrame,
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
                            stations["longitude_deg"].to_numpy()[None, :]) * _KM_PER_DEG
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


def _noise_schedule(rng: np.random.Generator, config: SyntheticConfig, stations: pd.DataFrame,
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


# --------------------------------------------------------------------------------------------------------------
# Waveforms
# --------------------------------------------------------------------------------------------------------------

def _unit_rms_shape(shape: np.ndarray) -> np.ndarray:
    """Scale an rfft amplitude shape so that white unit-variance noise filtered by it has unit RMS (Parseval)."""
    n = TRACE_NPTS
    power = shape[0] ** 2 + 2 * np.sum(shape[1:-1] ** 2) + shape[-1] ** 2
    return shape / math.sqrt(power / n)


class _WaveformSynth:
    """Ground velocity = seismic noise + P and S wave packets (+ planted low-frequency energy), then counts.

    Noise: secondary microseism (peak ~0.18 Hz, level varying day to day like weather) plus cultural noise above
    1 Hz that is louder in daytime. Amplitudes: log10 PGV_S [m/s] = M - 1.11 log10 R - 0.00189 R +
    amplitude_log10_offset (Hutton-Boore shape), times a station site factor; P peaks at 20-45 % of S. Wave
    packets are white noise under an onset-rise / exponential-coda envelope, band-passed causally between
    corners set by the Brune corner frequency and path attenuation, polarised (P radial-vertical, S mostly
    transverse) by the back-azimuth.
    """

    def __init__(self, config: SyntheticConfig, stations: pd.DataFrame, targets: pd.DataFrame, t0: np.datetime64,
                 period_ms: int, rng: np.random.Generator, noise_rng: np.random.Generator,
                 precursor_rng: np.random.Generator) -> None:
        self.config = config
        self.stations = stations
        self.targets = targets
        self.t0 = t0
        self.rng = rng
        self.noise_rng = noise_rng
        self.precursor_rng = precursor_rng
        f = np.fft.rfftfreq(TRACE_NPTS, 1.0 / _FS)
        with np.errstate(divide="ignore"):
            micro = np.where(f > 0, np.exp(-0.5 * (np.log(np.maximum(f, 1e-6) / 0.18) / 0.4) ** 2), 0.0)
            cultural = np.where(f > 0, 1.0 / (1.0 + (1.0 / np.maximum(f, 1e-6)) ** 4) / (1.0 + (f / 30.0) ** 4), 0.0)
        lo, hi = config.precursor.spectrum_band_hz
        self.micro_shape = _unit_rms_shape(micro)
        self.cultural_shape = _unit_rms_shape(cultural)
        self.band_mask = (f >= lo) & (f <= hi)
        self.band_shape = _unit_rms_shape(self.band_mask.astype(np.float64))
        n_days = period_ms // 86_400_000 + 2
        self.weather = np.exp(np.convolve(rng.normal(0.0, 0.5, n_days + 4), np.ones(5) / 5, mode="valid"))[:n_days]
        target_lat = targets["latitude_deg"].to_numpy()
        target_lon = targets["longitude_deg"].to_numpy()
        self.station_target_km = locations2degrees(
            stations["latitude_deg"].to_numpy()[:, None], stations["longitude_deg"].to_numpy()[:, None],
            target_lat[None, :], target_lon[None, :]) * _KM_PER_DEG

    def noise(self, rng: np.random.Generator, station: int, start_ms: int) -> np.ndarray:
        """Seismic noise as ground velocity (3, N) in m/s."""
        day = max(int(start_ms // 86_400_000), 0)
        local_hour = (start_ms / 3.6e6 + 1.0) % 24.0
        daytime = 0.5 * (1.0 - math.cos(2 * math.pi * (local_hour - 3.0) / 24.0))
        factor = self.stations.at[station, "noise_factor"]
        spectrum = (8e-7 * self.weather[day] * self.micro_shape
                    + 5e-8 * (0.5 + 1.5 * daytime) * self.cultural_shape) * factor
        white = np.fft.rfft(rng.standard_normal((3, TRACE_NPTS)), axis=-1)
        return np.fft.irfft(white * spectrum, n=TRACE_NPTS, axis=-1)

    def precursor_weight(self, station: int, start_ms: int, source_id: str | None) -> tuple[float, str | None]:
        """Spectrum-precursor strength for a trace at `station` starting at `start_ms` (0 outside every window)."""
        pre = self.config.precursor
        if pre.spectrum <= 0 or self.targets.empty:
            return 0.0, None
        dt_ms = self.targets["time_ms"].to_numpy() - start_ms
        inside = ((dt_ms > 0) & (dt_ms <= pre.spectrum_hours * 3.6e6)
                  & (self.station_target_km[station] <= pre.spectrum_radius_km)
                  & (self.targets["event_id"].to_numpy() != source_id))
        if not inside.any():
            return 0.0, None
        return pre.spectrum, str(self.targets["event_id"].to_numpy()[np.flatnonzero(inside)[0]])

    def precursor_energy(self, weight: float, recorded_noise: np.ndarray) -> np.ndarray:
        """Band-limited (0.5-2 Hz) motion whose band RMS is weight * spectrum_amplitude * the recorded noise's.

        Scaled to what the instrument records (accelerometer self-noise included), so that a strength means the
        same detectability on every channel type.
        """
        spectrum = np.fft.rfft(recorded_noise, axis=-1)
        band_rms = np.sqrt(2.0 * np.sum(np.abs(spectrum[:, self.band_mask]) ** 2, axis=-1)) / TRACE_NPTS
        white = np.fft.rfft(self.precursor_rng.standard_normal((3, TRACE_NPTS)), axis=-1)
        unit = np.fft.irfft(white * self.band_shape, n=TRACE_NPTS, axis=-1)
        return unit * (weight * self.config.precursor.spectrum_amplitude * band_rms)[:, None]

    def event_signal(self, trace) -> np.ndarray:
        """P and S wave packets (3, N) in m/s for one event trace row (see class docstring)."""
        rng = self.rng
        magnitude, hyp_km = trace.ev_magnitude, trace.hyp_km
        site = self.stations.at[trace.station, "site_factor"]
        peak_s = site * 10.0 ** (magnitude - 1.11 * math.log10(hyp_km) - 0.00189 * hyp_km
                                 + self.config.amplitude_log10_offset + rng.normal(0.0, 0.2))
        peak_p = peak_s * rng.uniform(0.2, 0.45)
        moment = 10.0 ** (1.5 * magnitude + 9.1)
        corner_hz = 0.49 * 3500.0 * (3e6 / moment) ** (1 / 3)
        attenuation_hz = 1.0 / (math.pi * (0.02 + hyp_km / (200.0 * self.config.vs_kmps)))
        f_high = float(np.clip(min(2.0 * corner_hz, attenuation_hz), 0.8, 40.0))
        duration_s = 1.0 / corner_hz
        coda_s = 1.0 + 0.015 * hyp_km + duration_s
        rise_s = float(np.clip(0.5 * duration_s, 0.05, 10.0))
        azimuth = math.radians(trace.backazimuth_deg + 180.0)
        radial = np.array([math.sin(azimuth), math.cos(azimuth), 0.0])
        transverse = np.array([math.cos(azimuth), -math.sin(azimuth), 0.0])
        vertical = np.array([0.0, 0.0, 1.0])
        p = self._packet(trace.p_sample, rise_s, coda_s, min(1.5 * f_high, 45.0),
                         [(0.5 * radial + vertical, 1.0)])
        s = self._packet(trace.s_sample, rise_s, 1.5 * coda_s, f_high,
                         [(0.6 * radial + 0.35 * vertical, 1.0), (transverse, 1.0)])
        return peak_p * p / np.max(np.abs(p)) + peak_s * s / np.max(np.abs(s))

    def _packet(self, onset: int, rise_s: float, coda_s: float, f_high: float,
                polarisations: list[tuple[np.ndarray, float]]) -> np.ndarray:
        """Polarised, band-passed noise burst starting at sample `onset` (zero before it: causal filter)."""
        t = (np.arange(TRACE_NPTS) - onset) / _FS
        envelope = np.where(t < 0, 0.0, np.minimum(t / rise_s, 1.0) * np.exp(-np.maximum(t - rise_s, 0.0) / coda_s))
        sos = _butter_sos(2, (round(max(0.05, min(0.5, f_high / 6.0)), 2), round(f_high, 2)), "bandpass")
        out = 0.15 * self.rng.standard_normal((3, TRACE_NPTS))
        for direction, weight in polarisations:
            out += weight * direction[:, None] * self.rng.standard_normal(TRACE_NPTS)[None, :]
        return signal.sosfilt(sos, out * envelope, axis=-1)

    @staticmethod
    def record(velocity: np.ndarray, channel: str, rng: np.random.Generator | None = None) -> np.ndarray:
        """What the sensor measures: HN acceleration (m/s^2, + self-noise when `rng` is given), HH/EH velocity."""
        if channel != "HN":
            return velocity
        acceleration = np.gradient(velocity, 1.0 / _FS, axis=-1)
        return acceleration if rng is None else acceleration + 3e-5 * rng.standard_normal(velocity.shape)

    def digitize(self, rng: np.random.Generator, physical: np.ndarray, station: int, channel: str) -> np.ndarray:
        """Counts: sensitivity, station DC offset, rare single-sample spikes, 24-bit clipping of HH/EH."""
        counts = physical * SENSITIVITY_COUNTS[channel]
        counts += np.asarray(self.stations.at[station, "dc_offset_counts"])[:, None]
        if rng.random() < 0.01:
            channel_index = int(rng.integers(0, 3))
            counts[channel_index, rng.integers(0, TRACE_NPTS, int(rng.integers(1, 3)))] += (
                rng.choice([-1, 1]) * 40 * np.std(counts[channel_index]))
        limit = _CLIP_COUNTS if channel in ("HH", "EH") else np.iinfo(np.int32).max
        return np.clip(np.round(counts), -limit, limit).astype(np.int32)


@functools.lru_cache(maxsize=4096)
def _butter_sos(order: int, corner_hz: float | tuple[float, float], kind: str) -> np.ndarray:
    """Butterworth sections at 100 Hz, cached: the design costs more than filtering one trace."""
    return signal.butter(order, corner_hz, btype=kind, fs=_FS, output="sos")


@functools.lru_cache(maxsize=8)
def _oscillator(period_s: float) -> tuple[np.ndarray, np.ndarray]:
    """5 %-damped single-degree-of-freedom oscillator, ground acceleration -> relative displacement (bilinear)."""
    omega = 2 * math.pi / period_s
    return signal.bilinear([-1.0], [1.0, 2 * 0.05 * omega, omega**2], fs=_FS)


def _count_statistics(counts: np.ndarray) -> dict[str, np.ndarray]:
    """Per-channel amplitude statistics of the written counts (E, N, Z order) and isolated-spike counts."""
    x = counts.astype(np.float64)
    q25, q50, q75 = np.percentile(x, [25, 50, 75], axis=-1)
    diff = np.diff(x, axis=-1)
    threshold = 20.0 * 1.4826 * np.median(np.abs(diff - np.median(diff, axis=-1, keepdims=True)), axis=-1) + 1.0
    left, right = x[:, 1:-1] - x[:, :-2], x[:, 1:-1] - x[:, 2:]
    isolated = ((np.abs(left) > threshold[:, None]) & (np.abs(right) > threshold[:, None])
                & (np.sign(left) == np.sign(right))
                & (np.abs(x[:, 2:] - x[:, :-2]) < threshold[:, None] / 4))
    return {"median": q50, "mean": x.mean(axis=-1), "min": x.min(axis=-1), "max": x.max(axis=-1),
            "rms": np.sqrt(np.mean(x**2, axis=-1)), "lower_quartile": q25, "upper_quartile": q75,
            "spikes": isolated.sum(axis=-1)}


def _ground_motion(counts: np.ndarray, channel: str, p_sample: int) -> dict[str, np.ndarray]:
    """PGA (cm/s^2), PGV (cm/s), their times (s after trace start) and 5 %-damped PSA at 0.3, 1, 3 s."""
    x = counts.astype(np.float64)
    x -= np.mean(x[:, : max(p_sample, 50)], axis=-1, keepdims=True)
    x /= SENSITIVITY_COUNTS[channel]
    highpass = _butter_sos(2, 0.1, "highpass")
    if channel == "HN":
        acceleration = x
        velocity = signal.sosfilt(highpass, np.cumsum(x, axis=-1) / _FS, axis=-1)
    else:
        velocity = x
        acceleration = np.gradient(x, 1.0 / _FS, axis=-1)
    out = {"pga_cmps2": 100.0 * np.max(np.abs(acceleration), axis=-1),
           "pgv_cmps": 100.0 * np.max(np.abs(velocity), axis=-1),
           "pga_time": np.argmax(np.abs(acceleration), axis=-1) / _FS,
           "pgv_time": np.argmax(np.abs(velocity), axis=-1) / _FS}
    out["pga_perc"] = out["pga_cmps2"] / 980.665 * 100.0
    for period_s, key in ((0.3, "sa03_cmps2"), (1.0, "sa10_cmps2"), (3.0, "sa30_cmps2")):
        omega = 2 * math.pi / period_s
        displacement = signal.lfilter(*_oscillator(period_s), acceleration, axis=-1)
        out[key] = 100.0 * omega**2 * np.max(np.abs(displacement), axis=-1)
    return out


def _snr_db(counts: np.ndarray, p_sample: int) -> np.ndarray | None:
    """20 log10 of RMS 5 s after P over RMS up to 5 s before P, above 1 Hz (microseisms would mask small events).

    None when less than 0.5 s of noise is left after skipping the first second (filter transient).
    """
    noise_start = max(100, p_sample - 500)
    if p_sample - 10 - noise_start < 50:
        return None
    x = counts.astype(np.float64)
    x -= x[:, :p_sample].mean(axis=-1, keepdims=True)
    x = signal.sosfilt(_butter_sos(4, 1.0, "highpass"), x, axis=-1)
    noise_rms = np.sqrt(np.mean(x[:, noise_start: p_sample - 10] ** 2, axis=-1))
    signal_rms = np.sqrt(np.mean(x[:, p_sample: p_sample + 500] ** 2, axis=-1))
    return 20.0 * np.log10(signal_rms / np.maximum(noise_rms, 1e-9))


def _moment_tensor_text(magnitude: float, strike: float, dip: float, rake: float) -> tuple[float, str]:
    """Scalar moment (N m) and the moment tensor (Aki-Richards, r-t-p) as a multi-line matrix string."""
    m0 = 10.0 ** (1.5 * magnitude + 9.1)
    s, d, r = (math.radians(v) for v in (strike, dip, rake))
    mrr = m0 * math.sin(2 * d) * math.sin(r)
    mtt = -m0 * (math.sin(d) * math.cos(r) * math.sin(2 * s) + math.sin(2 * d) * math.sin(r) * math.sin(s) ** 2)
    mpp = m0 * (math.sin(d) * math.cos(r) * math.sin(2 * s) - math.sin(2 * d) * math.sin(r) * math.cos(s) ** 2)
    mrt = -m0 * (math.cos(d) * math.cos(r) * math.cos(s) + math.cos(2 * d) * math.sin(r) * math.sin(s))
    mrp = m0 * (math.cos(d) * math.cos(r) * math.sin(s) - math.cos(2 * d) * math.sin(r) * math.cos(s))
    mtp = -m0 * (math.sin(d) * math.cos(r) * math.cos(2 * s) + 0.5 * math.sin(2 * d) * math.sin(r) * math.sin(2 * s))
    rows = [[mrr, mrt, mrp], [mrt, mtt, mtp], [mrp, mtp, mpp]]
    text = "[" + ",\n ".join("[" + ", ".join(f"{v:.3e}" for v in row) + "]" for row in rows) + "]"
    return m0, text


def _station_columns(stations: pd.DataFrame, station: np.ndarray, channel: list[str]) -> dict[str, object]:
    st = stations.iloc[station]
    return {
        "station_network_code": ["IV"] * len(station),
        "station_code": st["station_code"].to_numpy(),
        "station_location_code": st["station_location_code"].to_numpy(),
        "station_channels": channel,
        "station_latitude_deg": st["latitude_deg"].to_numpy(),
        "station_longitude_deg": st["longitude_deg"].to_numpy(),
        "station_elevation_m": st["elevation_m"].to_numpy(),
        "station_vs_30_mps": st["vs30"].to_numpy(),
        "station_vs_30_detail": st["vs30_detail"].to_numpy(),
    }


def _write_hdf5(path: Path, names: list[str], arrays: list[np.ndarray]) -> None:
    """Group `data`, one contiguous uncompressed dataset per trace (fast random reads; no timestamps: reproducible)."""
    with h5py.File(path, "w", libver="earliest") as f:
        group = f.create_group("data")
        for name, array in zip(names, arrays):
            group.create_dataset(name, data=array, track_times=False)


def _write_event_traces(out: Path, synth: _WaveformSynth, traces: pd.DataFrame, t0: np.datetime64) -> list[dict]:
    """Synthesize event traces, write the counts HDF5 and the 115-column metadata; return spectrum-precursor marks."""
    config = synth.config
    stations = synth.stations
    n = len(traces)
    geometry = [gps2dist_azimuth(la, lo, stations.at[s, "latitude_deg"], stations.at[s, "longitude_deg"])
                for la, lo, s in zip(traces["ev_latitude_deg"], traces["ev_longitude_deg"], traces["station"])]
    traces = traces.assign(
        epi_km=np.round([g[0] / 1000.0 for g in geometry], 2),
        azimuth_deg=np.round([g[1] for g in geometry], 1),
        backazimuth_deg=np.round([g[2] for g in geometry], 1))
    traces["hyp_km"] = np.round(np.hypot(traces["epi_km"], traces["ev_depth_km"]), 2)
    static_p = stations["static_p_s"].to_numpy()[traces["station"]]
    static_s = stations["static_s_s"].to_numpy()[traces["station"]]
    travel_p = np.round(traces["hyp_km"] / config.vp_kmps + static_p + traces["p_pick_error_s"], 2)
    travel_s = np.round(traces["hyp_km"] / config.vs_kmps + static_s + traces["s_pick_error_s"], 2)
    travel_s = np.maximum(travel_s, travel_p + 0.1)
    p_ms = traces["ev_time_ms"].to_numpy() + np.round(travel_p * 1000).astype(np.int64)
    start_ms = p_ms - traces["p_sample"].to_numpy() * 10
    traces["s_sample"] = traces["p_sample"] + np.round((travel_s - travel_p) * _FS).astype(int)
    s_ms = start_ms + traces["s_sample"].to_numpy() * 10

    names, arrays, stats, motions, snrs, marks = [], [], [], [], [], []
    for i, trace in enumerate(traces.itertuples()):
        name = (f"{trace.ev_event_id}.IV.{stations.at[trace.station, 'station_code']}."
                f"{stations.at[trace.station, 'station_location_code']}.{trace.channel}")
        noise = synth.record(synth.noise(synth.rng, trace.station, int(start_ms[i])), trace.channel, synth.rng)
        recorded = noise + synth.record(synth.event_signal(trace), trace.channel)
        weight, target_id = synth.precursor_weight(trace.station, int(start_ms[i]), trace.ev_event_id)
        if weight > 0:
            recorded += synth.precursor_energy(weight, noise)
            marks.append({"trace_name": name, "kind": "event", "target_event_id": target_id, "weight": weight})
        counts = synth.digitize(synth.rng, recorded, trace.station, trace.channel)
        names.append(name)
        arrays.append(counts)
        stats.append(_count_statistics(counts))
        motions.append(_ground_motion(counts, trace.channel, trace.p_sample))
        snrs.append(_snr_db(counts, trace.p_sample))
    _write_hdf5(out / FILE_NAMES["events_hdf5"], names, arrays)

    picked = traces["s_picked"].to_numpy()
    mt = [_moment_tensor_text(m, s, d, r) for m, s, d, r in zip(
        traces["ev_magnitude"], traces["ev_strike_deg"], traces["ev_dip_deg"], traces["ev_rake_deg"])]
    has_mt = traces["ev_magnitude"].to_numpy() >= 3.5
    columns: dict[str, object] = {"source_id": traces["ev_event_id"].to_numpy()}
    columns.update(_station_columns(stations, traces["station"].to_numpy(), list(traces["channel"])))
    columns.update({
        "source_origin_time": _iso(t0, traces["ev_time_ms"].to_numpy(), zulu=True),
        "source_latitude_deg": traces["ev_latitude_deg"], "source_longitude_deg": traces["ev_longitude_deg"],
        "source_depth_km": traces["ev_depth_km"],
        "source_origin_uncertainty_s": traces["ev_origin_uncertainty_s"],
        "source_latitude_uncertainty_deg": traces["ev_latitude_uncertainty_deg"],
        "source_longitude_uncertainty_deg": traces["ev_longitude_uncertainty_deg"],
        "source_depth_uncertainty_km": traces["ev_depth_uncertainty_km"],
        "source_stderror_s": traces["ev_stderror_s"], "source_gap_deg": traces["ev_gap_deg"],
        "source_horizontal_uncertainty_km": traces["ev_horizontal_uncertainty_km"],
        "source_magnitude": traces["ev_magnitude"], "source_magnitude_type": traces["ev_magnitude_type"],
        "source_mt_eval_mode": np.where(has_mt, "manual", ""),
        "source_mt_status": np.where(has_mt, "reviewed", ""),
        "source_mt_scalar_moment_Nm": [f"{m[0]:.4e}" if ok else "None" for m, ok in zip(mt, has_mt)],
        "source_mechanism_strike_dip_rake": [f"{s:.0f},{d:.0f},{r:.0f}" if ok else "" for s, d, r, ok in zip(
            traces["ev_strike_deg"], traces["ev_dip_deg"], traces["ev_rake_deg"], has_mt)],
        "source_mechanism_moment_tensor": [m[1] if ok else "" for m, ok in zip(mt, has_mt)],
        "path_travel_time_P_s": travel_p,
        "path_travel_time_S_s": np.where(picked, travel_s, np.nan),
        "path_residual_P_s": np.round(travel_p - traces["hyp_km"] / config.vp_kmps, 2),
        "path_residual_S_s": np.where(picked, np.round(travel_s - traces["hyp_km"] / config.vs_kmps, 2), np.nan),
        "path_ep_distance_km": traces["epi_km"], "path_hyp_distance_km": traces["hyp_km"],
        "path_azimuth_deg": traces["azimuth_deg"], "path_backazimuth_deg": traces["backazimuth_deg"],
        "path_weight_phase_location_P": traces["p_weight"],
        "path_weight_phase_location_S": np.where(picked, traces["s_weight"], np.nan),
        "trace_start_time": _iso(t0, start_ms, zulu=True), "trace_dt_s": 1.0 / _FS, "trace_npts": TRACE_NPTS,
        "trace_eval_P": np.where(traces["p_manual"], "manual", "automatic"),
        "trace_P_uncertainty_s": traces["p_uncertainty_s"], "trace_P_arrival_time": _iso(t0, p_ms, zulu=True),
        "trace_polarity": traces["polarity"],
        "trace_eval_S": np.where(picked, "manual", ""),
        "trace_S_uncertainty_s": np.where(picked, traces["s_uncertainty_s"], np.nan),
        "trace_S_arrival_time": np.where(picked, _iso(t0, s_ms, zulu=True), ""),
        "trace_P_arrival_sample": traces["p_sample"],
        "trace_S_arrival_sample": pd.Series(traces["s_sample"].to_numpy(), dtype="Int64").where(picked),
    })
    for c_index, c in enumerate("ENZ"):
        for key in ("median", "mean", "min", "max", "rms", "lower_quartile", "upper_quartile"):
            columns[f"trace_{c}_{key}_counts"] = np.round([s[key][c_index] for s in stats], 3)
        columns[f"trace_{c}_spikes"] = [int(s["spikes"][c_index]) for s in stats]
        columns[f"trace_{c}_snr_db"] = ["None" if s is None else round(float(s[c_index]), 3) for s in snrs]
        for key in ("pga_cmps2", "pgv_cmps", "pga_perc", "pga_time", "pgv_time", "sa03_cmps2", "sa10_cmps2",
                    "sa30_cmps2"):
            columns[f"trace_{c}_{key}"] = _significant([m[key][c_index] for m in motions])
    for key in ("pga_cmps2", "pgv_cmps", "pga_perc", "sa03_cmps2", "sa10_cmps2", "sa30_cmps2"):
        columns[f"trace_{key}"] = _significant([max(m[key][0], m[key][1]) for m in motions])
    detections = np.stack(traces["detections"].to_numpy())
    snr_z = np.array([np.nan if s is None else s[2] for s in snrs])
    seen = np.where(np.isnan(snr_z) | (snr_z > 6.0), 1, 0)
    columns.update({
        "trace_name": names,
        "trace_GPD_P_number": seen + (detections[:, 0] == 2), "trace_GPD_S_number": seen * picked,
        "trace_EQT_number_detections": seen, "trace_EQT_P_number": seen,
        "trace_EQT_S_number": seen * (detections[:, 4] > 0),
        "trace_deconvolved_units": np.where(traces["channel"] == "HN", "mps2", "mps"),
        "source_type": "earthquake",
    })
    _write_metadata(out / FILE_NAMES["events_csv"], columns, EVENT_COLUMNS, n)
    return marks


def _write_noise_traces(out: Path, synth: _WaveformSynth, schedule: pd.DataFrame, t0: np.datetime64) -> list[dict]:
    """Synthesize noise traces (own random stream), write Instance_noise.hdf5 and its metadata."""
    stations = synth.stations
    names, arrays, stats, marks = [], [], [], []
    stamp = np.char.replace(np.char.replace(np.datetime_as_string(
        t0 + schedule["start_ms"].to_numpy().astype("timedelta64[ms]"), unit="s"), "-", ""), ":", "")
    for row, when in zip(schedule.itertuples(), stamp):
        name = (f"{when}.IV.{stations.at[row.station, 'station_code']}."
                f"{stations.at[row.station, 'station_location_code']}.{row.channel}")
        recorded = synth.record(synth.noise(synth.noise_rng, row.station, int(row.start_ms)), row.channel,
                                synth.noise_rng)
        weight, target_id = synth.precursor_weight(row.station, int(row.start_ms), None)
        if weight > 0:
            recorded += synth.precursor_energy(weight, recorded)
            marks.append({"trace_name": name, "kind": "noise", "target_event_id": target_id, "weight": weight})
        counts = synth.digitize(synth.noise_rng, recorded, row.station, row.channel)
        names.append(name)
        arrays.append(counts)
        stats.append(_count_statistics(counts))
    _write_hdf5(out / FILE_NAMES["noise_hdf5"], names, arrays)
    columns: dict[str, object] = _station_columns(stations, schedule["station"].to_numpy(), list(schedule["channel"]))
    columns.update({"trace_start_time": _iso(t0, schedule["start_ms"].to_numpy(), zulu=True),
                    "trace_dt_s": 1.0 / _FS, "trace_npts": TRACE_NPTS, "trace_name": names})
    for c_index, c in enumerate("ENZ"):
        for key in ("median", "mean", "min", "max", "rms", "lower_quartile", "upper_quartile"):
            columns[f"trace_{c}_{key}_counts"] = np.round([s[key][c_index] for s in stats], 3)
        columns[f"trace_{c}_spikes"] = [int(s["spikes"][c_index]) for s in stats]
    detections = np.stack(schedule["detections"].to_numpy()) if len(schedule) else np.zeros((0, 5), int)
    for j, key in enumerate(["trace_GPD_P_number", "trace_GPD_S_number", "trace_EQT_number_detections",
                             "trace_EQT_P_number", "trace_EQT_S_number"]):
        columns[key] = detections[:, j]
    _write_metadata(out / FILE_NAMES["noise_csv"], columns, NOISE_COLUMNS, len(schedule))
    return marks


def _write_metadata(path: Path, columns: dict[str, object], order: list[str], n_rows: int) -> None:
    missing = [c for c in order if c not in columns]
    extra = [c for c in columns if c not in order]
    if missing or extra:
        raise AssertionError(f"{path.name}: columns missing {missing}, unexpected {extra}")
    frame = pd.DataFrame({c: _broadcast(columns[c], n_rows) for c in order})
    frame.to_csv(path, index=False, na_rep="", lineterminator="\n")


def _broadcast(values: object, n_rows: int) -> object:
    if isinstance(values, (str, int, float)):
        return [values] * n_rows
    return values


def _significant(values: list[float]) -> np.ndarray:
    """Round to 5 significant digits (ground-motion values span many decades)."""
    array = np.asarray(values, dtype=np.float64)
    return np.array([float(f"{v:.5g}") for v in array])


# --------------------------------------------------------------------------------------------------------------
# Animals
# --------------------------------------------------------------------------------------------------------------

def _write_animals(path: Path, rng: np.random.Generator, config: SyntheticConfig, targets: pd.DataFrame,
                   t0: np.datetime64, period_ms: int) -> list[dict]:
    """Movebank CSV of accelerometer bursts; returns the animal-precursor windows (with coverage flags)."""
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
                                targets["latitude_deg"].to_numpy(), targets["longitude_deg"].to_numpy()) * _KM_PER_DEG
    hyp_km = np.hypot(farm_km, targets["depth_km"].to_numpy())
    lead_lo_ms, lead_hi_ms = (h * 3.6e6 for h in pre.animal_lead_hours)
    target_ms = targets["time_ms"].to_numpy()
    gains = pre.animal * pre.animal_gain * np.exp(-hyp_km / pre.animal_decay_km)

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
        activity *= 1.0 + responsiveness * (in_window * gains[None, :]).sum(axis=1)
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
                        "start": str(_iso(t0, np.array([int(lo)]), zulu=True)[0]),
                        "end": str(_iso(t0, np.array([int(hi)]), zulu=True)[0]),
                        "hypocentral_distance_km": round(float(distance), 2),
                        "relative_odba_rise": round(float(gain), 4), "covered": covered})
    return windows


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


# --------------------------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------------------------

def _iso(t0: np.datetime64, ms: np.ndarray, *, zulu: bool) -> np.ndarray:
    """ISO-8601 strings with microseconds; INSTANCE appends Z, the FDSN text service does not."""
    text = np.datetime_as_string(t0 + np.asarray(ms, dtype=np.int64).astype("timedelta64[ms]"), unit="us")
    return np.char.add(text, "Z") if zulu else text


def _event_record(row, t0: np.datetime64) -> dict:
    return {"event_id": row.event_id, "time": str(_iso(t0, np.array([row.time_ms]), zulu=True)[0]),
            "magnitude": float(row.magnitude), "latitude_deg": float(row.latitude_deg),
            "longitude_deg": float(row.longitude_deg), "depth_km": float(row.depth_km), "name": row.name}


def _json_default(value: object) -> object:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value)}")
