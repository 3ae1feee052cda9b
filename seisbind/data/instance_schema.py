"""Column layout of the INSTANCE metadata CSVs (Michelini et al. 2021), in file order.

The readers validate against these lists and the synthetic writer emits them, so a file written by INGV and a
file written by seisbind have the same header. Units live in the names: _deg, _km, _m, _s, _mps, _cmps2 (cm/s^2),
_cmps (cm/s), _perc (% g), _db, _counts.
"""

from __future__ import annotations

_CHANNELS = ("E", "N", "Z")

STATION_COLUMNS: list[str] = [
    "station_network_code", "station_code", "station_location_code", "station_channels",
    "station_latitude_deg", "station_longitude_deg", "station_elevation_m", "station_vs_30_mps",
    "station_vs_30_detail",
]

SOURCE_COLUMNS: list[str] = [
    "source_origin_time", "source_latitude_deg", "source_longitude_deg", "source_depth_km",
    "source_origin_uncertainty_s", "source_latitude_uncertainty_deg", "source_longitude_uncertainty_deg",
    "source_depth_uncertainty_km", "source_stderror_s", "source_gap_deg", "source_horizontal_uncertainty_km",
    "source_magnitude", "source_magnitude_type", "source_mt_eval_mode", "source_mt_status",
    "source_mt_scalar_moment_Nm", "source_mechanism_strike_dip_rake", "source_mechanism_moment_tensor",
]

PATH_COLUMNS: list[str] = [
    "path_travel_time_P_s", "path_travel_time_S_s", "path_residual_P_s", "path_residual_S_s",
    "path_ep_distance_km", "path_hyp_distance_km", "path_azimuth_deg", "path_backazimuth_deg",
    "path_weight_phase_location_P", "path_weight_phase_location_S",
]

PICK_COLUMNS: list[str] = [
    "trace_start_time", "trace_dt_s", "trace_npts", "trace_eval_P", "trace_P_uncertainty_s",
    "trace_P_arrival_time", "trace_polarity", "trace_eval_S", "trace_S_uncertainty_s", "trace_S_arrival_time",
    "trace_P_arrival_sample", "trace_S_arrival_sample",
]

COUNT_STATS: list[str] = ["median", "mean", "min", "max", "rms", "lower_quartile", "upper_quartile"]

COUNT_COLUMNS: list[str] = [
    name
    for c in _CHANNELS
    for name in [f"trace_{c}_{s}_counts" for s in COUNT_STATS] + [f"trace_{c}_spikes"]
]
"""Per-channel amplitude statistics (counts) and spike counts, without SNR: the block the noise file shares."""

EVENT_COUNT_COLUMNS: list[str] = [
    name
    for c in _CHANNELS
    for name in [f"trace_{c}_{s}_counts" for s in COUNT_STATS] + [f"trace_{c}_spikes", f"trace_{c}_snr_db"]
]

GROUND_MOTION_COLUMNS: list[str] = [
    name
    for c in _CHANNELS
    for name in (
        f"trace_{c}_pga_cmps2", f"trace_{c}_pgv_cmps", f"trace_{c}_pga_perc", f"trace_{c}_pga_time",
        f"trace_{c}_pgv_time", f"trace_{c}_sa03_cmps2", f"trace_{c}_sa10_cmps2", f"trace_{c}_sa30_cmps2",
    )
] + ["trace_pga_cmps2", "trace_pgv_cmps", "trace_pga_perc", "trace_sa03_cmps2", "trace_sa10_cmps2",
     "trace_sa30_cmps2"]

DETECTION_COLUMNS: list[str] = [
    "trace_GPD_P_number", "trace_GPD_S_number", "trace_EQT_number_detections", "trace_EQT_P_number",
    "trace_EQT_S_number",
]

EVENT_COLUMNS: list[str] = (
    ["source_id"] + STATION_COLUMNS + SOURCE_COLUMNS + PATH_COLUMNS + PICK_COLUMNS + EVENT_COUNT_COLUMNS
    + GROUND_MOTION_COLUMNS + ["trace_name"] + DETECTION_COLUMNS + ["trace_deconvolved_units", "source_type"]
)
"""The 115 columns of metadata_Instance_events_v2/v3.csv in file order."""

V1_RENAMES: dict[str, str] = {"source_mt_scalar_moment": "source_mt_scalar_moment_Nm"}
"""v1 spelled the moment column without its unit; readers rename it to the v2/v3 name."""

NOISE_COLUMNS: list[str] = (
    STATION_COLUMNS + ["trace_start_time", "trace_dt_s", "trace_npts"] + COUNT_COLUMNS + ["trace_name"]
    + DETECTION_COLUMNS
)
"""The noise-metadata columns seisbind knows (station block, timing, amplitude statistics, name, detections).

The published noise CSV has 46 columns; readers require only the columns they use and keep any others.
"""

TEXT_COLUMNS: frozenset[str] = frozenset({
    "source_id", "station_network_code", "station_code", "station_location_code", "station_channels",
    "station_vs_30_detail", "source_origin_time", "source_magnitude_type", "source_mt_eval_mode", "source_mt_status",
    "source_mechanism_strike_dip_rake", "source_mechanism_moment_tensor", "trace_start_time", "trace_eval_P",
    "trace_P_arrival_time", "trace_polarity", "trace_eval_S", "trace_S_arrival_time", "trace_name",
    "trace_deconvolved_units", "source_type",
})
"""Columns that hold text; every other column is numeric and is coerced (empty, 'None' -> NaN)."""

TIME_COLUMNS: frozenset[str] = frozenset({
    "source_origin_time", "trace_start_time", "trace_P_arrival_time", "trace_S_arrival_time",
})
"""ISO-8601 UTC strings such as 2016-10-30T06:40:18.000000Z; parsed to datetime64[ns, UTC]."""

SAMPLING_RATE_HZ = 100.0
TRACE_NPTS = 12000
CHANNEL_ORDER = "ENZ"
"""INSTANCE stores (3, 12000) per trace, E, N, Z at 100 Hz: 120 s. ENZ is also seisbind's internal order."""

CATEGORY_COLUMNS: frozenset[str] = frozenset({
    "station_network_code", "station_code", "station_location_code", "station_channels", "station_vs_30_detail",
    "source_magnitude_type", "source_mt_eval_mode", "source_mt_status", "trace_eval_P", "trace_polarity",
    "trace_eval_S", "trace_deconvolved_units", "source_type",
})
"""Text columns with few distinct values (codes, flags); readers hold them as pandas categories: 1-2 bytes a row."""
