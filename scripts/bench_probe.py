"""Benchmark of the whole pre-event study (`python probe.py`, no checkpoint) at the scale of the Norcia study.

Data (written once into --data, reused while its settings match): a synthetic catalog of ~--events events over
Aug 2016 - Feb 2017 with the synthetic animals (seisbind.data.synthetic, catalog and animal precursors planted), and
an INSTANCE event-metadata CSV of --traces rows with all 115 columns in file order - the trace statistics the
probe reads are filled (start time, origin time, station, SNR, PGA, RMS), the rest left empty - next to an empty
waveform file, since the study reads metadata only.

Timed: `seisbind.probe.study.run_study` end to end with the default configs/probe/study.yaml (4 horizons,
200 refit permutations of every row, 200 simulated studies of the ETAS null, all outputs written), reading the
files; the ETAS null's own time (fit + simulations + scoring) is reported apart. Then the study runs once more
with the null as it was before its parameter draws, pooling, incompleteness, given shocks and conditioning on
each window's past (POINT_NULL: whole catalogs from the point estimate, one per simulated study, no blind
intervals, no shock held), and the ratio of the two nulls' times is printed.

python scripts/bench_probe.py [--traces 150000] [--events 4000] [--data data/bench_probe] [--out runs/bench_probe]
Last line: `probe_seconds=S etas_null_seconds=E point_null_seconds=E0 etas_null_ratio=E/E0` (targets S < 120 and
E < 90 on 2 cores).
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
from hydra import compose, initialize_config_dir

from seisbind.data.catalog import read_catalog
from seisbind.data.instance_schema import EVENT_COLUMNS
from seisbind.data.synthetic import PrecursorConfig, SyntheticConfig, write_synthetic
from seisbind.probe.study import run_study

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
STATIONS = 40
POINT_NULL = ["probe.nulls.etas.conditioning=catalogs", "probe.nulls.etas.parameter_uncertainty=false",
              "probe.nulls.etas.max_pool=1", "probe.incompleteness=null", "probe.nulls.etas.given_min_magnitude=null"]


def write_metadata(path: Path, catalog: pd.DataFrame, n_traces: int, seed: int = 0) -> None:
    """`n_traces` INSTANCE rows spread over the catalog's earthquakes (more for larger ones, as in INSTANCE), with
    amplitude statistics that grow with magnitude and fall with distance."""
    rng = np.random.default_rng(seed)
    weights = 10.0 ** (0.3 * catalog["magnitude"].fillna(1.0).to_numpy())
    event = rng.choice(len(catalog), size=n_traces, p=weights / weights.sum())
    event.sort()
    origin = catalog["time"].to_numpy()[event]
    magnitude = catalog["magnitude"].fillna(1.0).to_numpy()[event]
    distance_km = rng.uniform(5, 120, n_traces)
    start = origin + pd.to_timedelta(distance_km / 6.0 - rng.uniform(5, 15, n_traces), unit="s")
    station = rng.integers(0, STATIONS, n_traces)
    log_amplitude = magnitude - 1.6 * np.log10(distance_km) + rng.normal(0, 0.3, n_traces)
    table = pd.DataFrame("", index=np.arange(n_traces), columns=EVENT_COLUMNS)
    iso = "%Y-%m-%dT%H:%M:%S.%fZ"
    table["source_id"] = catalog["event_id"].to_numpy()[event]
    table["station_network_code"] = "IV"
    table["station_code"] = np.char.add("S", station.astype(str))
    table["station_channels"] = "HH"
    table["source_origin_time"] = pd.DatetimeIndex(origin).strftime(iso)
    table["source_latitude_deg"] = catalog["latitude_deg"].to_numpy()[event].round(4)
    table["source_longitude_deg"] = catalog["longitude_deg"].to_numpy()[event].round(4)
    table["source_magnitude"] = magnitude.round(1)
    table["path_ep_distance_km"] = distance_km.round(2)
    table["trace_start_time"] = pd.DatetimeIndex(start).strftime(iso)
    for c in "ENZ":
        table[f"trace_{c}_snr_db"] = (20 * log_amplitude + rng.normal(10, 3, n_traces)).round(2)
        table[f"trace_{c}_rms_counts"] = (10 ** (log_amplitude + 3) * rng.lognormal(0, 0.2, n_traces)).round(1)
    table["trace_pga_cmps2"] = (10 ** (log_amplitude - 1.5)).round(5)
    # An event recorded twice at one station gets another location code: trace names must be unique.
    table["station_location_code"] = table.groupby(["source_id", "station_code"]).cumcount().map("{:02d}".format)
    table["trace_name"] = (table["source_id"] + ".IV." + table["station_code"] + "." + table["station_location_code"]
                           + ".HH").to_numpy()
    table.to_csv(path, index=False)


def prepare(data: Path, n_traces: int, n_events: int) -> Path:
    """The bench data root (reused when settings.json matches)."""
    settings = {"traces": n_traces, "events": n_events, "version": 2}
    root = data / "root"
    if (data / "settings.json").is_file() and json.loads((data / "settings.json").read_text()) == settings:
        return root
    synthetic = data / "synthetic"
    write_synthetic(synthetic, SyntheticConfig(seed=0, n_traces=4, n_events=n_events, noise_interval_hours=24 * 365,
                                               precursor=PrecursorConfig(catalog=0.5, animal=1.0)))
    root.mkdir(parents=True, exist_ok=True)
    for name in ("catalog.txt", "animals"):
        link = root / name
        if not link.exists():
            link.symlink_to((synthetic / name).resolve())
    write_metadata(root / "metadata_Instance_events_v3.csv", read_catalog(synthetic / "catalog.txt"), n_traces)
    with h5py.File(root / "Instance_events_counts.hdf5", "w") as f:
        f.create_group("data")
    (data / "settings.json").write_text(json.dumps(settings))
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--traces", type=int, default=150_000)
    parser.add_argument("--events", type=int, default=3500)
    parser.add_argument("--data", type=Path, default=Path("data/bench_probe"))
    parser.add_argument("--out", type=Path, default=Path("runs/bench_probe"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    root = prepare(args.data, args.traces, args.events)

    def config(out: Path, *overrides: str):
        with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
            return compose("probe", overrides=[f"data.root={root.resolve()}", f"out={out.resolve()}",
                                               f"paths.root_dir={Path.cwd()}", *overrides])

    cfg = config(args.out)
    started = time.perf_counter()
    metrics = run_study(cfg)
    seconds = time.perf_counter() - started
    point = run_study(config(args.out / "point_null", *POINT_NULL))["nulls"].get("etas") or {}

    data = metrics["data"]
    results = pd.DataFrame(metrics["results"])
    checked = cfg.probe.checked
    main = results[(results["feature_set"] == checked.feature_set) & (results["score"] == checked.score)]
    print(f"{data['n_traces']} traces, {data['catalog_events']} catalog events, {data['n_targets']} targets, "
          f"{len(results)} AUCs with {cfg.probe.n_permutations} refit permutations each; outputs in {args.out}")
    for row in main.itertuples():
        print(f"  {row.horizon_hours:>4g} h {row.feature_set}/{row.score}: AUC {row.auc:.3f} "
              f"[{row.auc_ci_low:.3f}, {row.auc_ci_high:.3f}]")
    etas = metrics["nulls"].get("etas") or {}
    e, e0 = etas.get("seconds", float("nan")), point.get("seconds", float("nan"))
    print(f"ETAS null: {etas.get('targets')}; point null: {point.get('targets')}")
    print(f"probe_seconds={seconds:.1f} etas_null_seconds={e:.1f} point_null_seconds={e0:.1f} "
          f"etas_null_ratio={e / e0:.2f}")


if __name__ == "__main__":
    main()
