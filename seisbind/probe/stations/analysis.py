"""Zero-shot station anomaly analysis of continuous multi-station waveforms, with significance.

Why: the Lambda³ station-anomaly report (F-net, Noto 2024-01-01) gives, for one earthquake, per-station anomaly scores,
the network ranking of the epicentral station, pre-event coefficients of variation, onset jumps and "quiet" stations,
all descriptive. `run(cfg)` gives those numbers from any ObsPy-readable continuous data and attaches a null to each
claim: the epicentral rank gets a permutation p-value over stations, pre-event vs background windows an AUC with a
bootstrap CI (stations and blocks of windows resampled), the onset jump a Spearman test against distance, the quiet
stations a binomial test against the rate expected by chance. The AUC and the epicentral rank also get a placebo null
(station_placebo): the same scoring with the event moved to times where nothing happened, which the bootstrap cannot
provide when slow drift alone separates pre-event from background windows.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from obspy.geodetics import gps2dist_azimuth
from omegaconf import DictConfig, OmegaConf
from scipy.stats import binomtest, mannwhitneyu, rankdata, spearmanr

from seisbind.config_schema import StationsConfig, typed_config
from seisbind.errors import SeisbindInputError
from seisbind.files import jsonable, write_csv, write_json
from seisbind.probe.stations.continuous import StationRecord, index_waveform_files, load_station, read_station_table
from seisbind.probe.stations.features import (
    Fitter,
    WindowGrid,
    band_edges_hz,
    centroid_cosine,
    fit_background,
    leave_out_scores,
    make_window_grid,
    station_windows,
    window_features,
)
from seisbind.probe.stations.placebo import StationValues, placebo_null
from seisbind.probe.stations.report import console_summary, plot_map, plot_timeseries
from seisbind.probe.stats import weighted_auc

log = logging.getLogger(__name__)
Embedder = Callable[[np.ndarray], np.ndarray]
STATION_CSV_COLUMNS = ["network", "station", "distance_km", "score", "rank", "percentile", "cv_pct",
                       "onset_jump_pct", "quiescent", "n_windows"]


@dataclass(frozen=True)
class Event:
    time: pd.Timestamp
    latitude: float
    longitude: float


def parse_event(event: DictConfig) -> Event:
    """event.time (ISO 8601; naive means UTC), event.latitude, event.longitude (degrees)."""
    latitude, longitude = event.latitude, event.longitude
    try:
        time = pd.Timestamp(event.time)
    except (ValueError, TypeError) as exc:
        raise SeisbindInputError(f"event.time={event.time!r}: not an ISO 8601 time ({exc})") from exc
    time = time.tz_localize("UTC") if time.tzinfo is None else time.tz_convert("UTC")
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 360):
        raise SeisbindInputError(f"event: latitude {latitude} / longitude {longitude} out of range")
    return Event(time, latitude, longitude)


@dataclass
class CheckpointEmbedder:
    """Windows (W, 3, L) float32 at 100 Hz -> embeddings (W, D) by the anchor encoder of a trained SeisBindModule
    (the modality its checkpoint records as `anchor`, the waveform one), via
    `module.embed({anchor: {"x": (B, 3, L), "present": (B,)}})[anchor]`. n_samples: the trace length the encoder
    was built for (its positional grid is fixed), so the windows must have exactly that length."""

    module: object
    device: str
    n_samples: int | None
    batch_size: int
    anchor: str

    def __call__(self, windows: np.ndarray) -> np.ndarray:
        import torch

        out = []
        with torch.no_grad():
            for start in range(0, len(windows), self.batch_size):
                x = torch.from_numpy(np.ascontiguousarray(windows[start:start + self.batch_size], np.float32))
                x = x.to(self.device)
                present = torch.ones(len(x), dtype=torch.bool, device=self.device)
                embedding = self.module.embed({self.anchor: {"x": x, "present": present}})[self.anchor]
                out.append(embedding.float().cpu().numpy())
        return np.concatenate(out)


def load_embedder(ckpt: str, *, sampling_rate_hz: float, batch_size: int) -> CheckpointEmbedder:
    """Load a SeisBindModule checkpoint for embedding scores; torch and the module are imported here only, so the
    zero-shot analysis never needs them."""
    if sampling_rate_hz != 100.0:
        raise SeisbindInputError(f"ckpt={ckpt}: the anchor encoder takes 100 Hz input; set data.sampling_rate_hz=100")
    try:
        import torch

        from seisbind.module import SeisBindModule
    except ImportError as exc:
        raise SeisbindInputError(f"ckpt={ckpt}: cannot import seisbind.module.SeisBindModule ({exc})") from exc
    device = "cuda" if torch.cuda.is_available() else "cpu"
    module = SeisBindModule.from_checkpoint(ckpt).to(device)
    anchor = module.hparams.anchor
    shape = (module.hparams.get("input_shapes") or {}).get(anchor)
    return CheckpointEmbedder(module, device, int(shape[-1]) if shape else None, batch_size, anchor)


def _window_seconds(probe: DictConfig, embed: Embedder | None, sampling_rate_hz: float) -> float | None:
    """probe.window_seconds, or the encoder's trace length when a checkpoint fixes it and none was given."""
    n_samples = getattr(embed, "n_samples", None)
    if n_samples is None:
        return probe.window_seconds
    encoder_seconds = n_samples / sampling_rate_hz
    if probe.window_seconds is not None and abs(probe.window_seconds - encoder_seconds) > 0.5 / sampling_rate_hz:
        raise SeisbindInputError(f"probe.window_seconds={probe.window_seconds} but the checkpoint's spectrum encoder "
                                 f"takes {n_samples} samples ({encoder_seconds:g} s): leave it unset or set it to that")
    return encoder_seconds


def _coordinates(index: pd.DataFrame, table: pd.DataFrame, source: str) -> tuple[dict, dict, list[str]]:
    """({(network, station): (lat, lon)} for the stations in the waveform index, {id: reason} for those without,
    table stations without waveforms). A waveform without a network code (common in SAC) matches a table station
    of the same code if that is unique."""
    found, missing, used = {}, {}, set()
    for net, sta in index[["network", "station"]].drop_duplicates().itertuples(index=False):
        rows = table[(table["station"] == sta) & ((table["network"] == net) | (net == ""))]
        if len(rows) == 1:
            found[(net, sta)] = (float(rows["latitude"].iloc[0]), float(rows["longitude"].iloc[0]))
            used.add(rows.index[0])
        else:
            missing[f"{net}.{sta}"] = (f"no coordinates in data.stations={source}" if rows.empty else
                                       f"station code matches {len(rows)} networks in data.stations={source}")
    unused = table.drop(index=list(used))
    return found, missing, sorted(unused["network"] + "." + unused["station"])


def score_station(record: StationRecord, grid: WindowGrid, probe: DictConfig, embed: Embedder | None
                  ) -> tuple[pd.DataFrame, dict, dict[str, StationValues]]:
    """Window scores of one station (a frame with grid step, times, phase, score[, embedding_score]), the
    counts of windows it could not score, and its features (and embeddings) of every usable grid window, keyed
    by score column, for the placebo null; raises SeisbindInputError when a phase has too few windows."""
    positions, windows, dropped = station_windows(record, grid, probe.max_gap_fraction)
    phase = grid.phase[positions]
    counts = {p: int((phase == p).sum()) for p in ("background", "pre", "post")}
    need = {"background": probe.min_background_windows, "pre": probe.min_pre_windows}
    short = [f"{counts[p]} {p} windows (need >= {n})" for p, n in need.items() if counts[p] < n]
    if short:
        raise SeisbindInputError(f"{record.seed_id}: too little data in a phase: {' and '.join(short)}; windows "
                                 f"outside its record: {dropped['outside_record']}, with gaps: {dropped['gappy']}")
    fs = record.sampling_rate_hz
    n_window = windows.shape[-1]
    edges, nperseg = band_edges_hz(n_window, fs, record.native_sampling_rate_hz, probe.n_bands)
    lta = int(min(probe.lta_seconds * fs, n_window // 2))
    sta = int(max(1, min(probe.sta_seconds * fs, lta // 4)))
    steps = grid.steps[positions]
    values = {"score": StationValues(record.seed_id, steps,
                                     window_features(windows[:, record.component_rows], fs, edges, nperseg, sta,
                                                     lta))}
    if embed is not None:
        values["embedding_score"] = StationValues(record.seed_id, steps, embed(windows))
    scored = phase != ""
    is_background = phase[scored] == "background"
    frame = pd.DataFrame({
        "network": record.network, "station": record.station, "step": steps[scored],
        "window_start": grid.starts[positions[scored]], "window_end": grid.ends[positions[scored]],
        "phase": phase[scored]})
    for column, fit in (("score", fit_background(probe.score)), ("embedding_score", centroid_cosine)):
        if column in values:
            frame[column] = leave_out_scores(fit, values[column].values[scored], is_background, steps[scored],
                                             grid.stride)
    return frame, {"windows": counts, "windows_dropped": dropped, "band_edges_hz": np.round(edges, 4).tolist(),
                   "sta_lta_samples": [sta, lta]}, values


def station_summary(windows: pd.DataFrame, coordinates: dict, event: Event, stride: int, alpha: float,
                    score: str = "score") -> tuple[pd.DataFrame, dict]:
    """stations.csv rows (STATION_CSV_COLUMNS) and each station's quiescence p-value.

    Quiescence: one-sided Mann-Whitney U of pre-event vs background scores, using non-overlapping windows only
    (grid step a multiple of stride) so that the test's independence assumption is not violated by overlap.
    """
    rows, quiescence_p = [], {}
    for (net, sta), g in windows.groupby(["network", "station"], sort=False):
        pre = g.loc[g["phase"] == "pre", score]
        post = g[g["phase"] == "post"].sort_values("step")
        level = pre.mean()
        first_post = post[score].iloc[0] if len(post) else np.nan
        spaced = g[g["step"] % stride == 0]
        spaced_pre = spaced.loc[spaced["phase"] == "pre", score]
        spaced_bg = spaced.loc[spaced["phase"] == "background", score]
        p = (mannwhitneyu(spaced_pre, spaced_bg, alternative="less").pvalue
             if min(len(spaced_pre), len(spaced_bg)) >= 3 else np.nan)
        quiescence_p[f"{net}.{sta}"] = p
        lat, lon = coordinates[(net, sta)]
        rows.append({
            "network": net, "station": sta,
            "distance_km": gps2dist_azimuth(event.latitude, event.longitude, lat, lon)[0] / 1000.0,
            "score": level, "cv_pct": 100 * pre.std(ddof=1) / level,
            "onset_jump_pct": 100 * (first_post - level) / level,
            "quiescent": bool(p < alpha), "n_windows": len(g), "latitude": lat, "longitude": lon})
    table = pd.DataFrame(rows)
    table["rank"] = rankdata(table["score"], method="min").astype(int)
    table["percentile"] = 100.0 * table["rank"] / len(table)
    return table, quiescence_p


def pre_vs_background_auc(scores: np.ndarray, is_pre: np.ndarray, groups: np.ndarray, blocks: np.ndarray, *,
                          n_bootstrap: int, seed: int, level: float = 0.95) -> tuple[float, list[float]]:
    """AUC of pre-event (1) vs background (0) window scores with a hierarchical bootstrap CI.

    Each replicate resamples stations with replacement, then, within each drawn station and phase, blocks of
    windows (one block = windows within one window length, which overlap) with replacement: stations and
    neighbouring windows are the units that vary independently, single windows are not. A replicate is a
    weight per window (how often it was drawn): m draws of a station's n blocks are one multinomial of m x n.
    """
    rng = np.random.default_rng(seed)
    station_ids, station_of = np.unique(groups, return_inverse=True)
    n_stations = len(station_ids)
    station_draws = rng.multinomial(n_stations, np.full(n_stations, 1 / n_stations), size=n_bootstrap)
    weights = np.zeros((n_bootstrap, len(scores)))
    for station in range(n_stations):
        for phase in (True, False):
            idx = np.flatnonzero((station_of == station) & (is_pre == phase))
            block_ids, block_of = np.unique(blocks[idx], return_inverse=True)
            counts = rng.multinomial(station_draws[:, station] * len(block_ids), np.full(len(block_ids),
                                                                                           1 / len(block_ids)))
            weights[:, idx] = counts[:, block_of]
    low, high = np.quantile(weighted_auc(scores, is_pre, weights), [(1 - level) / 2, (1 + level) / 2])
    return pooled_auc(scores, is_pre), [float(low), float(high)]


def pooled_auc(scores: np.ndarray, is_pre: np.ndarray) -> float:
    """AUC of pre-event (1) vs background (0) window scores pooled over stations."""
    return float(weighted_auc(np.asarray(scores, float), np.asarray(is_pre, bool), np.ones((1, len(scores))))[0])


def network_summary(stations: pd.DataFrame, windows: pd.DataFrame, quiescence_p: dict, grid: WindowGrid,
                    probe: DictConfig, score: str = "score") -> dict:
    """The network-level claims of the Lambda³ Noto report, each with its test."""
    rng = np.random.default_rng(probe.seed)
    epicentral = stations.loc[stations["distance_km"].idxmin()]
    draws = stations["rank"].to_numpy()[rng.integers(len(stations), size=probe.n_permutations)]
    rank_p = (1 + int((draws <= epicentral["rank"]).sum())) / (1 + probe.n_permutations)
    scored = windows[windows["phase"].isin(["pre", "background"])]
    auc, ci = pre_vs_background_auc(
        scored[score].to_numpy(), (scored["phase"] == "pre").to_numpy(),
        (scored["network"] + "." + scored["station"]).to_numpy(), (scored["step"] // grid.stride).to_numpy(),
        n_bootstrap=probe.n_bootstrap, seed=probe.seed)
    jumps = stations.dropna(subset=["onset_jump_pct"])
    if len(jumps) >= 3 and jumps["distance_km"].nunique() > 1:
        rho, rho_p = spearmanr(jumps["distance_km"], jumps["onset_jump_pct"])
        trend = {"rho": float(rho), "p_value": float(rho_p), "n_stations": len(jumps)}
    else:
        trend = {"rho": None, "p_value": None, "n_stations": len(jumps),
                 "reason": "needs >= 3 stations at different distances with a post-event window"}
    tested = [p for p in quiescence_p.values() if np.isfinite(p)]
    n_quiet = int(stations["quiescent"].sum())
    return {
        "epicentral_station": f"{epicentral['network']}.{epicentral['station']}",
        "epicentral_distance_km": float(epicentral["distance_km"]),
        "epicentral_rank": int(epicentral["rank"]),
        "n_stations": len(stations),
        "epicentral_rank_p_value": rank_p,
        "pre_vs_background_auc": auc,
        "pre_vs_background_auc_ci": ci,
        "onset_jump_vs_distance": trend,
        "quiescent_fraction": n_quiet / len(tested) if tested else None,
        "quiescent_binomial_p_value": (float(binomtest(n_quiet, len(tested), probe.quiescence_alpha,
                                                       alternative="greater").pvalue) if tested else None),
        "quiescence_p_values": quiescence_p,
    }


def placebo_claims(values: list[StationValues], fit: Fitter, grid: WindowGrid, probe: DictConfig, claims: dict
                   ) -> tuple[dict, pd.DataFrame]:
    """Placebo null (station_placebo) of the observed AUC and epicentral rank in `claims` (network_summary)."""
    return placebo_null(values, fit, grid, auc=pooled_auc,
                        epicentral=claims["epicentral_station"], observed_auc=claims["pre_vs_background_auc"],
                        observed_rank=claims["epicentral_rank"], n_placebo=probe.n_placebo, seed=probe.seed,
                        min_background_windows=probe.min_background_windows, min_pre_windows=probe.min_pre_windows)


def run(cfg: DictConfig) -> dict:
    """Score every station and window, test the network-level claims, write OUT/stations.csv,
    station_windows.csv, summary.json, placebo.csv, map.png, timeseries.png, print the claims table (see
    console_summary); return the summary."""
    cfg = typed_config(cfg, StationsConfig)
    probe, data = cfg.probe, cfg.data
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    event = parse_event(cfg.event)
    table = read_station_table(data.stations)
    waveforms = OmegaConf.to_container(data.waveforms) if OmegaConf.is_list(data.waveforms) else data.waveforms
    index, skipped_files = index_waveform_files(waveforms, format=data.format, on_bad_file=data.on_bad_file)
    coordinates, skipped, without_waveforms = _coordinates(index, table, data.stations)
    if not coordinates:
        raise SeisbindInputError(f"no station in data.waveforms={waveforms!r} has coordinates in "
                                 f"data.stations={data.stations}: {skipped}")
    with_coords = index[[k in coordinates for k in zip(index["network"], index["station"])]]
    record_start, record_end = with_coords["starttime"].min(), with_coords["endtime"].max()
    if not record_start < event.time < record_end:
        raise SeisbindInputError(f"event.time {event.time} is outside the record [{record_start}, {record_end}] "
                                 f"of data.waveforms={waveforms!r}")
    ckpt = cfg.get("ckpt")
    embed = load_embedder(ckpt, sampling_rate_hz=data.sampling_rate_hz, batch_size=probe.batch_size) if ckpt else None
    grid = make_window_grid(
        record_start, record_end, event.time, sampling_rate_hz=data.sampling_rate_hz,
        window_seconds=_window_seconds(probe, embed, data.sampling_rate_hz), step_seconds=probe.step_seconds,
        background_fraction=probe.background_fraction, post_seconds=probe.post_seconds,
        lookback_seconds=probe.lookback_seconds, target_pre_event_windows=probe.target_pre_event_windows,
        min_background_windows=probe.min_background_windows, min_pre_windows=probe.min_pre_windows)
    channel_priority = OmegaConf.to_container(data.channel_priority) if data.channel_priority else None
    frames, values, processing = [], {"score": [], "embedding_score": []}, {}
    for net, sta in coordinates:
        try:
            record = load_station(index, net, sta, sampling_rate_hz=data.sampling_rate_hz, format=data.format,
                                  channel_priority=channel_priority,
                                  max_interpolated_gap_seconds=data.max_interpolated_gap_seconds)
            frame, counts, station_values = score_station(record, grid, probe, embed)
        except SeisbindInputError as exc:
            log.warning("skipping station %s.%s: %s", net, sta, exc)
            skipped[f"{net}.{sta}"] = str(exc)
            continue
        processing[record.seed_id] = {**record.processing, **counts}
        frames.append(frame)
        for column, station_value in station_values.items():
            values[column].append(station_value)
    if not frames:
        raise SeisbindInputError(f"no station could be scored: {skipped}")
    windows = pd.concat(frames, ignore_index=True)
    stations, quiescence_p = station_summary(windows, coordinates, event, grid.stride, probe.quiescence_alpha)
    summary = network_summary(stations, windows, quiescence_p, grid, probe)
    summary["placebo"], placebo = placebo_claims(values["score"], fit_background(probe.score), grid, probe, summary)
    if embed is not None:
        emb_stations, emb_quiet = station_summary(windows, coordinates, event, grid.stride, probe.quiescence_alpha,
                                                  score="embedding_score")
        stations["embedding_score"] = emb_stations["score"].to_numpy()
        summary["embedding"] = network_summary(emb_stations, windows, emb_quiet, grid, probe,
                                               score="embedding_score")
        summary["embedding"]["placebo"], _ = placebo_claims(values["embedding_score"], centroid_cosine, grid, probe,
                                                            summary["embedding"])
    summary.update({
        "event": {"time": event.time, "latitude": event.latitude, "longitude": event.longitude},
        "record": [record_start, record_end],
        "window_seconds": grid.window_seconds, "step_seconds": grid.step_seconds,
        "lookback_seconds": probe.lookback_seconds, "background_end": grid.background_end,
        "n_windows": {p: int((windows["phase"] == p).sum()) for p in ("background", "pre", "post")},
        "n_windows_straddling_event_or_boundary": grid.n_straddling,
        "score": probe.score,
        "skipped": skipped, "skipped_files": skipped_files, "processing": processing,
        "stations_in_table_without_waveforms": without_waveforms,
    })
    extra = ["embedding_score"] if embed is not None else []
    write_csv(out / "stations.csv", stations[STATION_CSV_COLUMNS + extra])
    write_csv(out / "station_windows.csv",
              windows[["network", "station", "window_start", "window_end", "phase", "score"] + extra])
    write_csv(out / "placebo.csv", placebo)
    summary = jsonable(summary)
    write_json(out / "summary.json", summary, indent=2)
    plot_map(stations, event, out / "map.png")
    plot_timeseries(windows, stations, grid, out / "timeseries.png")
    log.info("station anomaly outputs written to %s", out)
    print(console_summary(summary))
    print(f"outputs: {out}")
    return summary
