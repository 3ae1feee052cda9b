"""Synthetic data root in the published layouts (INSTANCE, INGV FDSN text, Movebank, NGL), with planted precursors.

Why: every layer of seisbind (readers, DataModule, training, probe) must run end to end without the 156 GB INSTANCE
download, and the probe needs data whose answer is known. Four precursors can be planted, each with its own
strength (0 = exactly the null, ~1 = clearly detectable), each reaching one modality only:

- catalog (A): in the `catalog_hours` before each target, extra events near the target whose rate rises toward it
  (inverse Omori, rate ~ 1/(tau + c)) with a b-value lowered by `catalog_b_drop * A`; count ~ Poisson(A * n).
  They appear in catalog.txt only (unless `record_precursor_events`, then their traces can be drawn too).
- spectrum (B): event and noise traces starting in [target - `spectrum_hours`, target), at stations within
  `spectrum_radius_km` of the target epicentre, get extra 0.5-2 Hz ground motion whose band RMS is
  `B * spectrum_amplitude` times the trace's own noise RMS in that band.
- animal (C): ODBA of every animal is raised 1-20 h before each target by a factor
  1 + C * animal_gain * exp(-hypocentral distance from the farm / animal_decay_km) * individual responsiveness.
- gnss (S): every GNSS station within `gnss_radius_km` of a target's epicentre slips towards it over the
  `gnss_days` before the target, linearly, by S * gnss_mm * exp(-distance / gnss_radius_km) mm horizontally and
  0.3 times that upward, and stays there (slip is permanent).

Confounders of real catalogs can be switched on (SyntheticConfig docstring): a sparse lead-in before `start`, a
completeness magnitude that changes with time or rises after large shocks, and ETAS clustering (foreshocks and
cascades without any precursor). Each leaves the output of the default config byte for byte as it was.

Determinism: all draws come from one `numpy.random.Generator(seed)`, split with `Generator.spawn` into one child
stream per component (catalog, stations, traces, waveforms, noise, each precursor, animals, then the time-varying
completeness, the lead-in and the GNSS network, appended last so that the earlier streams keep their seeds).
Changing a precursor strength therefore changes its own output only; the same seed gives byte-identical files.

Files (names as INGV, Movebank and NGL publish them):
- metadata_Instance_events_v3.csv: the 115 INSTANCE columns in order; real quirks: S-pick cells empty for part of
  the traces, the text "None" in station_vs_30_mps (stations without a Vs30), source_depth_uncertainty_km,
  source_mt_scalar_moment_Nm (events without a moment tensor) and trace_C_snr_db (P too close to the trace start),
  ISO times `%Y-%m-%dT%H:%M:%S.%fZ`, a multi-line quoted moment tensor for M >= 3.5.
  trace_C_pga_time / trace_C_pgv_time are seconds after trace_start_time.
- Instance_events_counts.hdf5 / Instance_noise.hdf5: group `data`, one contiguous uncompressed int32 dataset per
  trace_name, shape (3, 12000), E, N, Z, 100 Hz. int32 because a digitizer gives whole counts; velocity channels
  (HH, EH) clip at +-(2**23 - 1) like a 24-bit digitizer. Sensitivities: `SENSITIVITY_COUNTS`.
- metadata_Instance_noise.csv: `NOISE_COLUMNS`; noise trace_name = `<YYYYmmddTHHMMSS>.<net>.<sta>.<loc>.<ch>`.
- catalog.txt: INGV FDSN event text, 14 columns, newest first like the INGV service, a few `quarry blast` rows;
  with lead_in_days > 0 it starts before the study period (lead-in events have no traces).
- animals/pieve_torina.csv: Movebank e-obs acceleration bursts (Wikelski et al. 2020), X Y Z interleaved raw counts,
  `animal.zero_g_counts` at 0 g and `animal.counts_per_g` per g.
- gnss/<STA>.tenv3: NGL daily positions (geodesy.unr.edu .tenv3), one file per station (`gnss.n_stations`, codes
  SG01, SG02, ...), one line per day of the study period and the lead-in, with random missing days and one
  multi-day outage per station; positions carry a steady velocity, an annual term, white noise, co-seismic steps
  at catalog earthquakes M >= gnss.step_min_magnitude (decimetres near an M6.5), with gnss.shaking_response_mm
  the motion every felt earthquake causes, and the planted GNSS precursor.
- truth.json: the config, the study period [start, end) and the catalog span (which includes the lead-in), the
  clustering model (for ETAS its derived constants), the targets, the GNSS stations (code, coordinates,
  velocity) and co-seismic steps, and which events / traces / windows / GNSS stations carry planted precursors.

Modules: config (what a root is made from), region (real places drawn around), catalog, magnitudes (Gutenberg-
Richter draws and the completeness that thins them), etas (the ETAS cascade), stations (records and noise
schedule), waveforms (the synthesiser), measurements (metadata measured from the counts), instance_files, animals,
gnss, timestamps. This file owns the file layout, the random streams and truth.json.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from seisbind.data.synthetic.animals import write_animals
from seisbind.data.synthetic.catalog import (
    lead_in_catalog,
    natural_catalog,
    precursor_events,
    target_events,
    write_catalog_text,
)
from seisbind.data.synthetic.config import AnimalConfig, GnssConfig, PrecursorConfig, SyntheticConfig, validate
from seisbind.data.synthetic.gnss import write_gnss
from seisbind.data.synthetic.instance_files import write_event_traces, write_noise_traces
from seisbind.data.synthetic.magnitudes import MS_PER_DAY
from seisbind.data.synthetic.stations import noise_schedule, sample_event_traces, station_table
from seisbind.data.synthetic.timestamps import iso_times
from seisbind.data.synthetic.waveforms import SENSITIVITY_COUNTS, WaveformSynth
from seisbind.errors import SeisbindInputError

__all__ = ["FILE_NAMES", "GENERATOR_VERSION", "GNSS_DIR", "SENSITIVITY_COUNTS", "STREAM_NAMES", "AnimalConfig",
           "GnssConfig", "PrecursorConfig", "SyntheticConfig", "random_streams", "read_truth", "write_synthetic"]

log = logging.getLogger(__name__)

STREAM_NAMES = ("catalog", "catalog_precursor", "stations", "traces", "waveforms", "noise", "spectrum_precursor",
                "animals", "completeness", "lead_in", "gnss")
"""Component streams in spawn order; new components go at the end, so the earlier ones keep their seeds."""

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

GNSS_DIR = "gnss"
"""Folder of the `<STA>.tenv3` files (one per station, so not in FILE_NAMES); truth.json lists the stations."""


def write_synthetic(out: Path, config: SyntheticConfig | None = None) -> dict:
    """Write the synthetic data root to `out` and return the truth dict (also written as out/truth.json).

    If `out/truth.json` exists with the same config and generator version and all files are present, nothing is
    written and the stored truth is returned. truth.json is written last, so an interrupted run is redone.
    """
    config = config or SyntheticConfig()
    validate(config)
    out = Path(out)
    cached = _cached_truth(out, config)
    if cached is not None:
        log.info("synthetic data in %s already match the config; not regenerating", out)
        return cached
    (out / "animals").mkdir(parents=True, exist_ok=True)
    (out / FILE_NAMES["truth"]).unlink(missing_ok=True)
    streams = random_streams(config.seed)
    t0 = np.datetime64(config.start, "ms")
    period_ms = int((np.datetime64(config.end, "ms") - t0).astype(np.int64))

    catalog, catalog_model = natural_catalog(streams["catalog"], streams["completeness"], config, period_ms)
    targets = target_events(catalog, config)
    planted_events = precursor_events(streams["catalog_precursor"], config, targets)
    lead_in = lead_in_catalog(streams["lead_in"], config)
    stations = station_table(streams["stations"], config)
    all_events = pd.concat([catalog, planted_events], ignore_index=True) if len(planted_events) else catalog
    listed = pd.concat([lead_in, all_events], ignore_index=True) if len(lead_in) else all_events
    write_catalog_text(out / FILE_NAMES["catalog"], listed, t0)

    recordable = all_events if config.precursor.record_precursor_events else catalog
    recordable = recordable[recordable["event_type"] == "earthquake"].reset_index(drop=True)
    event_traces = sample_event_traces(streams["traces"], config, recordable, stations)
    noise_traces = noise_schedule(streams["noise"], config, stations, period_ms)
    synth = WaveformSynth(config, stations, targets, t0, period_ms, streams["waveforms"],
                          streams["noise"], streams["spectrum_precursor"])
    spectrum_marks: list[dict] = []
    spectrum_marks += write_event_traces(out / FILE_NAMES["events_hdf5"], out / FILE_NAMES["events_csv"], synth,
                                         event_traces, t0)
    spectrum_marks += write_noise_traces(out / FILE_NAMES["noise_hdf5"], out / FILE_NAMES["noise_csv"], synth,
                                         noise_traces, t0)

    animal_windows = write_animals(out / FILE_NAMES["animals"], streams["animals"], config, targets, t0, period_ms,
                                   listed[listed["event_type"] == "earthquake"])
    natural = pd.concat([lead_in, catalog], ignore_index=True) if len(lead_in) else catalog
    catalog_start_ms = -int(round(config.lead_in_days * MS_PER_DAY))
    gnss_network, gnss_precursor = write_gnss(out / GNSS_DIR, streams["gnss"], config,
                                              natural[natural["event_type"] == "earthquake"],
                                              listed[listed["event_type"] == "earthquake"], targets, t0,
                                              (catalog_start_ms, period_ms))

    truth = {
        "generator": "seisbind.data.synthetic",
        "version": GENERATOR_VERSION,
        "config": asdict(config),
        "counts_dtype": "int32",
        "sensitivity_counts": SENSITIVITY_COUNTS,
        "animal_zero_g_counts": config.animal.zero_g_counts,
        "animal_counts_per_g": config.animal.counts_per_g,
        "study_period": _span(t0, 0, period_ms),
        "catalog_span": _span(t0, catalog_start_ms, period_ms),
        "catalog_model": catalog_model,
        "n_catalog_events": int(len(listed)),
        "n_lead_in_events": int(len(lead_in)),
        "n_event_traces": int(len(event_traces)),
        "n_noise_traces": int(len(noise_traces)),
        "targets": [_event_record(row, t0) for row in targets.itertuples()],
        "precursors": {
            "catalog": {"events": [dict(_event_record(row, t0), target_event_id=row.target_event_id)
                                   for row in planted_events.itertuples()]},
            "spectrum": {"traces": spectrum_marks},
            "animal": {"windows": animal_windows},
            "gnss": gnss_precursor,
        },
        "stations": stations[["station_code", "station_location_code", "channels", "latitude_deg",
                              "longitude_deg"]].to_dict(orient="records"),
        "gnss": gnss_network,
    }
    text = json.dumps(truth, indent=1, default=_json_default)
    (out / FILE_NAMES["truth"]).write_text(text)
    log.info("wrote synthetic data root %s: %d catalog events, %d event traces, %d noise traces, %d targets",
             out, truth["n_catalog_events"], len(event_traces), len(noise_traces), len(targets))
    return json.loads(text)


def random_streams(seed: int) -> dict[str, np.random.Generator]:
    """The independent generator of each component (see Determinism in the module docstring), by name.

    Public so that a tool or test that redraws one component alone (the natural catalog, say) gets exactly the
    draws write_synthetic makes for it.
    """
    return dict(zip(STREAM_NAMES, np.random.default_rng(seed).spawn(len(STREAM_NAMES))))


def read_truth(root: Path) -> dict:
    """The truth.json of a synthetic data root (targets and planted precursors)."""
    path = Path(root) / FILE_NAMES["truth"]
    if not path.is_file():
        raise SeisbindInputError(f"{path}: no truth.json; {root} is not a synthetic data root")
    return json.loads(path.read_text())


def _cached_truth(out: Path, config: SyntheticConfig) -> dict | None:
    """The stored truth if `out` already holds a complete root for this config and generator version, else None.

    Complete means every file of FILE_NAMES and the .tenv3 file of every GNSS station truth.json lists.

    Configs are compared after a JSON round trip, as truth.json stores them (tuples become lists, ints stay ints).
    """
    path = out / FILE_NAMES["truth"]
    if not path.is_file():
        return None
    try:
        truth = json.loads(path.read_text())
    except json.JSONDecodeError:
        return None
    same = truth.get("version") == GENERATOR_VERSION and truth.get("config") == json.loads(
        json.dumps(asdict(config)))
    if not same:
        return None
    gnss_files = [f"{GNSS_DIR}/{station['code']}.tenv3" for station in truth.get("gnss", {}).get("stations", [])]
    complete = all((out / name).is_file() for name in [*FILE_NAMES.values(), *gnss_files])
    return truth if complete else None


def _span(t0: np.datetime64, start_ms: int, end_ms: int) -> dict:
    """[start, end) as truth.json lists periods: ISO times like the targets'."""
    start, end = iso_times(t0, np.array([start_ms, end_ms]), zulu=True)
    return {"start": str(start), "end": str(end)}


def _event_record(row: Any, t0: np.datetime64) -> dict:
    """One catalog row (`itertuples`) as truth.json lists it: id, ISO time and the location the probe scores."""
    return {"event_id": row.event_id, "time": str(iso_times(t0, np.array([row.time_ms]), zulu=True)[0]),
            "magnitude": float(row.magnitude), "latitude_deg": float(row.latitude_deg),
            "longitude_deg": float(row.longitude_deg), "depth_km": float(row.depth_km), "name": row.name}


def _json_default(value: object) -> object:
    """numpy scalars and arrays as plain JSON values; anything else is a bug in the truth dict, so it raises."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value)}")
