"""What determines a synthetic data root: the config dataclasses and the check that rejects unusable ones.

Why dataclasses: scripts/make_synthetic.py builds them from `key=value` overrides with OmegaConf (typed, unknown
keys rejected), and truth.json stores `asdict(config)` so that a cached folder is reused only for the same config.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from seisbind.data.synthetic.region import STATIONS
from seisbind.errors import SeisbindInputError


@dataclass
class PrecursorConfig:
    """Strengths (0 = null) and shapes of the four planted precursors; see the package docstring."""

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
    gnss: float = 0.0
    gnss_days: float = 5.0
    gnss_mm: float = 5.0
    gnss_radius_km: float = 50.0


@dataclass
class AnimalConfig:
    """Movebank accelerometer bursts from the Pieve Torina farm (Wikelski et al. 2020 set-up).

    shaking_response: animals that feel earthquakes, and nothing else (the felt-shaking null; 0 = off): every
    earthquake of the catalog, small ones and planted foreshocks included, raises activity at the farm by
    shaking_response x log10(1 + PGV / felt_pgv_cmps) (relative, times each animal's responsiveness), PGV the ITA10
    median at the farm (seisbind.seismicity.ground_motion, cm/s; 0.1 cm/s is about where people begin to feel
    shaking), decaying as exp(-t / shaking_hours) after the event. Animals that react to felt foreshocks and
    aftershocks are the first explanation of an animal "precursor" to rule out (Zoeller et al. 2021 on Wikelski et
    al. 2020); precursor.animal, by contrast, raises activity before targets whatever the shaking."""

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
    shaking_response: float = 0.0
    felt_pgv_cmps: float = 0.1
    shaking_hours: float = 1.0


@dataclass
class GnssConfig:
    """Synthetic GNSS stations written as NGL `.tenv3` daily positions (seisbind.data.synthetic.gnss).

    Stations are placed uniformly in the region box (latitude_range_deg x longitude_range_deg). Each day's position
    is a steady horizontal velocity (speed drawn in speed_mm_per_yr, any azimuth; vertical velocity normal with sd
    up_velocity_sd_mm_per_yr), an annual term (amplitude drawn in [0.5, 1] x seasonal_*_mm, random phase), white
    daily noise (sd noise_*_mm), co-seismic steps at catalog earthquakes M >= step_min_magnitude and, when
    precursor.gnss > 0, the planted slip transient. Steps scale as 10^(0.75 (M - 6)) from step_mm_at_m6 at the
    epicentre (moment^(1/2): slip times rupture size over distance) and fall off as 1 / (1 + (r / L)^2) with
    L = step_length_km_at_m6 x 10^(0.5 (M - 6)) (the rupture length), horizontally away from the epicentre with
    half as much subsidence: an M6.5 moves a station above it by decimetres, an M5 at 20 km by a few mm. Missing
    days: each day independently with missing_day_fraction, plus one outage per station lasting outage_days
    [shortest, longest] days.

    shaking_response_mm: stations that move with the shaking, and nothing else (the GNSS felt-shaking null; 0 =
    off): every earthquake of the catalog, small ones and planted foreshocks included, moves the station by
    shaking_response_mm x log10(1 + PGV / felt_pgv_cmps) mm away from the epicentre with half as much
    subsidence, kept afterwards (monument settling and the co-seismic motion of events below step_min_magnitude
    that a step catalogue does not list), PGV the ITA10 median at the station (seisbind.seismicity.ground_motion,
    cm/s). The study's shaking:gnss features see the same shaking, so a verdict beyond seismic data must say "no
    evidence"; precursor.gnss, by contrast, moves stations before targets whatever the shaking.
    """

    n_stations: int = 8
    speed_mm_per_yr: list[float] = field(default_factory=lambda: [1.0, 5.0])
    up_velocity_sd_mm_per_yr: float = 1.0
    seasonal_horizontal_mm: float = 1.5
    seasonal_up_mm: float = 5.0
    noise_horizontal_mm: float = 1.5
    noise_up_mm: float = 5.0
    missing_day_fraction: float = 0.03
    outage_days: list[int] = field(default_factory=lambda: [3, 10])
    step_min_magnitude: float = 5.0
    step_mm_at_m6: float = 150.0
    step_length_km_at_m6: float = 10.0
    shaking_response_mm: float = 0.0
    felt_pgv_cmps: float = 0.1


@dataclass
class SyntheticConfig:
    """Everything that determines the synthetic data root; stored in truth.json to detect a matching cache.

    Period is [start, end) in UTC (the study period). n_events is the approximate number of catalogued earthquakes
    in it (mainshocks, aftershocks and background; quarry blasts, lead-in and planted precursor events come on top)
    as a network at completeness_magnitude would report them; completeness changes then add or remove events.

    Confounders of real catalogs, all off by default (every default reproduces the original output):

    - lead_in_days, lead_in_events: the catalog also holds lead_in_events events spread uniformly over the
      lead_in_days (days) before `start`, as a download that reaches back before the study period with sparse
      coverage. Magnitudes like background events at completeness_magnitude; no waveform traces; not targets.
      lead_in_events is used only when lead_in_days > 0.
    - completeness_changes: "ISO_DATE:MC" strings (dates increasing), a piecewise-constant completeness magnitude
      (magnitude units) from each date on; completeness_magnitude applies before the first.
    - mc_after_mainshock_rise (magnitude units), mc_after_mainshock_days (days): after every event
      M >= mc_after_mainshock_min_magnitude, Mc is raised by rise * exp(-t / days), as aftershock codas mask small
      events (see magnitudes.completeness_at).
    - clustering: "omori" (Omori-Utsu aftershocks of the mainshocks only, background magnitudes below
      target_min_magnitude) or "etas" (every event triggers offspring, see seisbind.data.synthetic.etas). For
      "etas": etas_branching_ratio (mean number of direct offspring per event within etas_branching_days days,
      or over unlimited time when that is 0, the default, where it must be < 1), etas_alpha (productivity
      exp(alpha (M - Mc)), 1/magnitude on the natural-log scale of seisbind.seismicity.etas; 1.84 is 0.8 per
      magnitude unit in the log10 form), etas_c_days and etas_p (Omori delay law; p <= 1 needs
      etas_branching_days > 0), etas_max_magnitude (upper Gutenberg-Richter bound of every triggered and
      background event). The mainshocks (Norcia and the extra ones) are fixed immigrants: with
      etas_mainshock_productivity "budget" (default) their sequences hold about aftershock_fraction * n_events
      catalogued events; with "law" they trigger by the same law as every event, as the M6 mainshocks of a real
      sequence do, and n_events sets the background (needed for etas_branching_days > 0). Targets are all
      earthquakes M >= target_min_magnitude of the study period, triggered ones included.
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
    lead_in_days: float = 0.0
    lead_in_events: int = 30
    completeness_changes: list[str] = field(default_factory=list)
    mc_after_mainshock_rise: float = 0.0
    mc_after_mainshock_days: float = 0.0
    mc_after_mainshock_min_magnitude: float = 5.0
    clustering: str = "omori"
    etas_branching_ratio: float = 0.6
    etas_alpha: float = 1.84
    etas_c_days: float = 0.01
    etas_p: float = 1.2
    etas_max_magnitude: float = 6.0
    etas_branching_days: float = 0.0
    etas_mainshock_productivity: str = "budget"
    precursor: PrecursorConfig = field(default_factory=PrecursorConfig)
    animal: AnimalConfig = field(default_factory=AnimalConfig)
    gnss: GnssConfig = field(default_factory=GnssConfig)


def validate(config: SyntheticConfig) -> None:
    """Reject configs that cannot give a meaningful data root, naming the offending key.

    All problems are collected first so that one run names every bad key, not just the first.
    """
    problems: list[str] = []
    pre = config.precursor
    strengths = {"catalog": pre.catalog, "spectrum": pre.spectrum, "animal": pre.animal, "gnss": pre.gnss}
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
    if not 1 <= config.n_stations <= len(STATIONS):
        problems.append(f"n_stations must be in 1..{len(STATIONS)}")
    for key in ("latitude_range_deg", "longitude_range_deg", "depth_range_km", "extra_mainshock_magnitude_range",
                "precursor.spectrum_band_hz", "precursor.animal_lead_hours"):
        obj = config
        for part in key.split("."):
            obj = getattr(obj, part)
        if len(obj) != 2 or obj[0] >= obj[1]:
            problems.append(f"{key} must be [low, high] with low < high (got {list(obj)})")
    if config.animal.shaking_response < 0 or config.animal.felt_pgv_cmps <= 0 or config.animal.shaking_hours <= 0:
        problems.append(f"animal.shaking_response must be >= 0, animal.felt_pgv_cmps and animal.shaking_hours > 0 "
                        f"(got {config.animal.shaking_response}, {config.animal.felt_pgv_cmps}, "
                        f"{config.animal.shaking_hours})")
    if config.noise_interval_hours <= 0 or config.animal.burst_minutes <= 0:
        problems.append("noise_interval_hours and animal.burst_minutes must be > 0")
    for span in config.animal.coverage:
        parts = span.split("/")
        if len(parts) != 2:
            problems.append(f"animal.coverage entry {span!r} must be 'START/END'")
    problems += _confounder_problems(config)
    problems += _gnss_problems(config)
    if problems:
        raise SeisbindInputError("invalid synthetic config: " + "; ".join(problems))


def completeness_steps(config: SyntheticConfig) -> list[tuple[np.datetime64, float]]:
    """completeness_changes as (date, Mc) pairs; the date is everything before the last colon, so times may have
    colons too ("2016-11-01T12:00:1.2")."""
    steps = []
    for entry in config.completeness_changes:
        day, _, mc = str(entry).rpartition(":")
        if not day:
            raise ValueError(f"{entry!r} has no date")
        steps.append((np.datetime64(day, "ms"), float(mc)))
    return steps


def _gnss_problems(config: SyntheticConfig) -> list[str]:
    """Problems with the gnss keys and the GNSS precursor shape, each message naming its key."""
    gnss, pre = config.gnss, config.precursor
    problems: list[str] = []
    if not 1 <= gnss.n_stations <= 99:
        problems.append(f"gnss.n_stations must be in 1..99 (got {gnss.n_stations})")
    if len(gnss.speed_mm_per_yr) != 2 or not 0 <= gnss.speed_mm_per_yr[0] <= gnss.speed_mm_per_yr[1]:
        problems.append(f"gnss.speed_mm_per_yr must be [low, high] with 0 <= low <= high "
                        f"(got {list(gnss.speed_mm_per_yr)})")
    if len(gnss.outage_days) != 2 or not 0 <= gnss.outage_days[0] <= gnss.outage_days[1]:
        problems.append(f"gnss.outage_days must be [shortest, longest] with 0 <= shortest <= longest "
                        f"(got {list(gnss.outage_days)})")
    if not 0 <= gnss.missing_day_fraction < 1:
        problems.append(f"gnss.missing_day_fraction must be in [0, 1) (got {gnss.missing_day_fraction})")
    sizes = {"up_velocity_sd_mm_per_yr": gnss.up_velocity_sd_mm_per_yr,
             "seasonal_horizontal_mm": gnss.seasonal_horizontal_mm, "seasonal_up_mm": gnss.seasonal_up_mm,
             "noise_horizontal_mm": gnss.noise_horizontal_mm, "noise_up_mm": gnss.noise_up_mm,
             "step_mm_at_m6": gnss.step_mm_at_m6, "shaking_response_mm": gnss.shaking_response_mm}
    problems += [f"gnss.{key} must be >= 0 (got {value})" for key, value in sizes.items() if value < 0]
    if gnss.felt_pgv_cmps <= 0:
        problems.append(f"gnss.felt_pgv_cmps must be > 0 (got {gnss.felt_pgv_cmps})")
    if gnss.step_length_km_at_m6 <= 0:
        problems.append(f"gnss.step_length_km_at_m6 must be > 0 (got {gnss.step_length_km_at_m6})")
    if pre.gnss_days <= 0 or pre.gnss_radius_km <= 0 or pre.gnss_mm < 0:
        problems.append(f"precursor.gnss_days and precursor.gnss_radius_km must be > 0 and precursor.gnss_mm >= 0 "
                        f"(got {pre.gnss_days}, {pre.gnss_radius_km}, {pre.gnss_mm})")
    return problems


def _confounder_problems(config: SyntheticConfig) -> list[str]:
    """Problems with the lead-in, completeness and clustering keys, each message naming its key."""
    problems: list[str] = []
    if config.lead_in_days < 0 or config.lead_in_events < 0:
        problems.append(f"lead_in_days and lead_in_events must be >= 0 (got {config.lead_in_days}, "
                        f"{config.lead_in_events})")
    try:
        days = [day for day, _ in completeness_steps(config)]
    except ValueError:
        problems.append(f"completeness_changes entries must be 'ISO_DATE:MC', e.g. '2016-11-01:1.2' "
                        f"(got {list(config.completeness_changes)})")
    else:
        if any(later <= earlier for earlier, later in zip(days, days[1:])):
            problems.append(f"completeness_changes dates must increase (got {list(config.completeness_changes)})")
    if config.mc_after_mainshock_rise < 0 or config.mc_after_mainshock_days < 0:
        problems.append("mc_after_mainshock_rise and mc_after_mainshock_days must be >= 0")
    elif config.mc_after_mainshock_rise > 0 and config.mc_after_mainshock_days == 0:
        problems.append("mc_after_mainshock_days must be > 0 when mc_after_mainshock_rise > 0")
    if config.clustering not in ("omori", "etas"):
        problems.append(f"clustering must be 'omori' or 'etas' (got {config.clustering!r})")
    problems += _etas_law_problems(config)
    if config.etas_max_magnitude <= config.completeness_magnitude:
        problems.append(f"etas_max_magnitude ({config.etas_max_magnitude}) must be above completeness_magnitude "
                        f"({config.completeness_magnitude})")
    return problems


def _etas_law_problems(config: SyntheticConfig) -> list[str]:
    """Problems with the ETAS law's keys: over unlimited time (etas_branching_days 0) the ratio must stay below 1
    and p above 1; over a finite reach any ratio and p > 0 give a finite cascade within the period, which only
    the "law" mainshock productivity can calibrate."""
    problems: list[str] = []
    if config.etas_mainshock_productivity not in ("budget", "law"):
        problems.append(f"etas_mainshock_productivity must be 'budget' or 'law' "
                        f"(got {config.etas_mainshock_productivity!r})")
    if config.etas_alpha < 0 or config.etas_c_days <= 0 or config.etas_branching_days < 0:
        problems.append("etas_alpha and etas_branching_days must be >= 0 and etas_c_days > 0")
    if config.etas_branching_days == 0:
        if not 0 <= config.etas_branching_ratio < 1 and config.etas_mainshock_productivity == "budget":
            problems.append(f"etas_branching_ratio must be in [0, 1) (got {config.etas_branching_ratio}); "
                            f"a ratio >= 1 needs etas_mainshock_productivity: law")
        if config.etas_p <= 1:
            problems.append(f"etas_p must be > 1 for a finite number of offspring (got {config.etas_p}); "
                            f"p <= 1 needs etas_branching_days > 0")
    else:
        if config.etas_mainshock_productivity != "law":
            problems.append("etas_branching_days > 0 needs etas_mainshock_productivity: law")
        if config.etas_p <= 0 or config.etas_branching_ratio < 0:
            problems.append(f"etas_p must be > 0 and etas_branching_ratio >= 0 (got {config.etas_p}, "
                            f"{config.etas_branching_ratio})")
    return problems
