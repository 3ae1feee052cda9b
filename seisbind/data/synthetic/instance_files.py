"""The INSTANCE files of the synthetic root: event and noise traces as int32 counts in HDF5, and their metadata
CSVs with the published columns and quirks.

Why one module for both files: a trace's name is its HDF5 key and its metadata row, and the metadata describe the
counts as written; writing them together keeps the two in step (same order, same names).
"""

from __future__ import annotations

import math
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
from obspy.geodetics import gps2dist_azimuth

from seisbind.data.instance_schema import EVENT_COLUMNS, NOISE_COLUMNS, SAMPLING_RATE_HZ, TRACE_NPTS
from seisbind.data.synthetic.measurements import count_statistics, ground_motion, snr_db
from seisbind.data.synthetic.timestamps import iso_times
from seisbind.data.synthetic.waveforms import WaveformSynth


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


def _trace_name(stations: pd.DataFrame, station: int, prefix: str, channel: str) -> str:
    """INSTANCE trace name `<prefix>.IV.<station>.<location>.<channel>`; prefix = event id or noise start time."""
    return (f"{prefix}.IV.{stations.at[station, 'station_code']}."
            f"{stations.at[station, 'station_location_code']}.{channel}")


def _station_columns(stations: pd.DataFrame, station: np.ndarray, channel: list[str]) -> dict[str, object]:
    """The station_* metadata columns for traces recorded at row positions `station` of the station table."""
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


def write_event_traces(hdf5_path: Path, csv_path: Path, synth: WaveformSynth, traces: pd.DataFrame,
                       t0: np.datetime64) -> list[dict]:
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
    traces["s_sample"] = traces["p_sample"] + np.round((travel_s - travel_p) * SAMPLING_RATE_HZ).astype(int)
    s_ms = start_ms + traces["s_sample"].to_numpy() * 10

    names, arrays, stats, motions, snrs, marks = [], [], [], [], [], []
    for i, trace in enumerate(traces.itertuples()):
        name = _trace_name(stations, trace.station, trace.ev_event_id, trace.channel)
        noise = synth.record(synth.noise(synth.rng, trace.station, int(start_ms[i])), trace.channel, synth.rng)
        recorded = noise + synth.record(synth.event_signal(trace), trace.channel)
        weight, target_id = synth.precursor_weight(trace.station, int(start_ms[i]), trace.ev_event_id)
        if weight > 0:
            recorded += synth.precursor_energy(weight, noise)
            marks.append({"trace_name": name, "kind": "event", "target_event_id": target_id, "weight": weight})
        counts = synth.digitize(synth.rng, recorded, trace.station, trace.channel)
        names.append(name)
        arrays.append(counts)
        stats.append(count_statistics(counts))
        motions.append(ground_motion(counts, trace.channel, trace.p_sample))
        snrs.append(snr_db(counts, trace.p_sample))
    _write_hdf5(hdf5_path, names, arrays)

    picked = traces["s_picked"].to_numpy()
    mt = [_moment_tensor_text(m, s, d, r) for m, s, d, r in zip(
        traces["ev_magnitude"], traces["ev_strike_deg"], traces["ev_dip_deg"], traces["ev_rake_deg"])]
    has_mt = traces["ev_magnitude"].to_numpy() >= 3.5
    columns: dict[str, object] = {"source_id": traces["ev_event_id"].to_numpy()}
    columns.update(_station_columns(stations, traces["station"].to_numpy(), list(traces["channel"])))
    columns.update({
        "source_origin_time": iso_times(t0, traces["ev_time_ms"].to_numpy(), zulu=True),
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
        "trace_start_time": iso_times(t0, start_ms, zulu=True), "trace_dt_s": 1.0 / SAMPLING_RATE_HZ,
        "trace_npts": TRACE_NPTS,
        "trace_eval_P": np.where(traces["p_manual"], "manual", "automatic"),
        "trace_P_uncertainty_s": traces["p_uncertainty_s"], "trace_P_arrival_time": iso_times(t0, p_ms, zulu=True),
        "trace_polarity": traces["polarity"],
        "trace_eval_S": np.where(picked, "manual", ""),
        "trace_S_uncertainty_s": np.where(picked, traces["s_uncertainty_s"], np.nan),
        "trace_S_arrival_time": np.where(picked, iso_times(t0, s_ms, zulu=True), ""),
        "trace_P_arrival_sample": traces["p_sample"],
        "trace_S_arrival_sample": pd.Series(traces["s_sample"].to_numpy(), dtype="Int64").where(picked),
    })
    columns.update(_count_columns(stats))
    for c_index, c in enumerate("ENZ"):
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
    _write_metadata(csv_path, columns, EVENT_COLUMNS, n)
    return marks


def write_noise_traces(hdf5_path: Path, csv_path: Path, synth: WaveformSynth, schedule: pd.DataFrame,
                       t0: np.datetime64) -> list[dict]:
    """Synthesize noise traces (own random stream), write Instance_noise.hdf5 and its metadata."""
    stations = synth.stations
    names, arrays, stats, marks = [], [], [], []
    stamp = np.char.replace(np.char.replace(np.datetime_as_string(
        t0 + schedule["start_ms"].to_numpy().astype("timedelta64[ms]"), unit="s"), "-", ""), ":", "")
    for row, when in zip(schedule.itertuples(), stamp):
        name = _trace_name(stations, row.station, when, row.channel)
        recorded = synth.record(synth.noise(synth.noise_rng, row.station, int(row.start_ms)), row.channel,
                                synth.noise_rng)
        weight, target_id = synth.precursor_weight(row.station, int(row.start_ms), None)
        if weight > 0:
            recorded += synth.precursor_energy(weight, recorded)
            marks.append({"trace_name": name, "kind": "noise", "target_event_id": target_id, "weight": weight})
        counts = synth.digitize(synth.noise_rng, recorded, row.station, row.channel)
        names.append(name)
        arrays.append(counts)
        stats.append(count_statistics(counts))
    _write_hdf5(hdf5_path, names, arrays)
    columns: dict[str, object] = _station_columns(stations, schedule["station"].to_numpy(), list(schedule["channel"]))
    columns.update({"trace_start_time": iso_times(t0, schedule["start_ms"].to_numpy(), zulu=True),
                    "trace_dt_s": 1.0 / SAMPLING_RATE_HZ, "trace_npts": TRACE_NPTS, "trace_name": names})
    columns.update(_count_columns(stats))
    detections = np.stack(schedule["detections"].to_numpy()) if len(schedule) else np.zeros((0, 5), int)
    for j, key in enumerate(["trace_GPD_P_number", "trace_GPD_S_number", "trace_EQT_number_detections",
                             "trace_EQT_P_number", "trace_EQT_S_number"]):
        columns[key] = detections[:, j]
    _write_metadata(csv_path, columns, NOISE_COLUMNS, len(schedule))
    return marks


def _count_columns(stats: list[dict[str, np.ndarray]]) -> dict[str, object]:
    """The trace_{E,N,Z}_*_counts and _spikes columns, which event and noise metadata share, from count_statistics."""
    columns: dict[str, object] = {}
    for c_index, c in enumerate("ENZ"):
        for key in ("median", "mean", "min", "max", "rms", "lower_quartile", "upper_quartile"):
            columns[f"trace_{c}_{key}_counts"] = np.round([s[key][c_index] for s in stats], 3)
        columns[f"trace_{c}_spikes"] = [int(s["spikes"][c_index]) for s in stats]
    return columns


def _write_metadata(path: Path, columns: dict[str, object], order: list[str], n_rows: int) -> None:
    """Write the CSV in the published column order; a missing or unexpected column is a bug in this writer, so it
    fails loudly instead of producing a file the readers would reject."""
    missing = [c for c in order if c not in columns]
    extra = [c for c in columns if c not in order]
    if missing or extra:
        raise AssertionError(f"{path.name}: columns missing {missing}, unexpected {extra}")
    frame = pd.DataFrame({c: _broadcast(columns[c], n_rows) for c in order})
    frame.to_csv(path, index=False, na_rep="", lineterminator="\n")


def _broadcast(values: object, n_rows: int) -> object:
    """Repeat a scalar (a column constant over all traces, e.g. trace_npts) to `n_rows`; arrays pass through."""
    if isinstance(values, (str, int, float)):
        return [values] * n_rows
    return values


def _significant(values: list[float]) -> np.ndarray:
    """Round to 5 significant digits (ground-motion values span many decades)."""
    array = np.asarray(values, dtype=np.float64)
    return np.array([float(f"{v:.5g}") for v in array])
