"""The synthetic writer: published layouts, physical consistency, determinism, and precursors that are exact nulls
at strength 0 and reach only their own modality at strength 1."""

from __future__ import annotations

import hashlib
import math
import runpy
import sys
from dataclasses import replace
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
from obspy.geodetics import locations2degrees
from scipy import signal

from seisbind.data.catalog import read_catalog
from seisbind.data.gnss import read_tenv3
from seisbind.data.instance import InstanceWaveforms, find_instance_files, read_instance_metadata
from seisbind.data.instance_schema import EVENT_COLUMNS, NOISE_COLUMNS
from seisbind.data.movebank import odba_bins, read_movebank
from seisbind.data.synthetic import (
    FILE_NAMES,
    GNSS_DIR,
    AnimalConfig,
    PrecursorConfig,
    SyntheticConfig,
    random_streams,
    read_truth,
    write_synthetic,
)
from seisbind.data.synthetic.catalog import natural_catalog, target_events
from seisbind.data.synthetic.magnitudes import detection_probability
from seisbind.data.synthetic.region import KM_PER_DEG
from seisbind.errors import SeisbindInputError
from seisbind.seismicity.etas.model import omori_integral
from seisbind.seismicity.ground_motion import pgv_cmps

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "make_synthetic.py"

NULL_CATALOG_SHA256 = "7644ca1d530c4b0941818d7772bbcaefc65a4723102506b4d0deff5de853cd3c"
"""sha256 of catalog.txt for small_config(), as written before the lead-in, completeness and clustering keys existed."""

STUDY_START = pd.Timestamp("2016-08-01", tz="UTC")


def small_config(**precursor: float) -> SyntheticConfig:
    """Small but complete: 800 events, 60 event traces, a noise trace every 48 h, 8 days of animals."""
    return SyntheticConfig(
        seed=7, n_traces=60, n_events=800, noise_interval_hours=48.0,
        animal=AnimalConfig(coverage=["2016-10-24/2016-11-01"]), precursor=PrecursorConfig(**precursor))


@pytest.fixture(scope="module")
def roots(tmp_path_factory) -> dict[str, Path]:
    """Null data root plus one root per precursor at strength 1, all from the same seed."""
    out = {}
    for name, precursor in [("null", {}), ("catalog", {"catalog": 1.0}), ("spectrum", {"spectrum": 1.0}),
                            ("animal", {"animal": 1.0})]:
        out[name] = tmp_path_factory.mktemp(name)
        write_synthetic(out[name], small_config(**precursor))
    return out


def file_hashes(root: Path) -> dict[str, str]:
    return {key: hashlib.sha256((root / name).read_bytes()).hexdigest() for key, name in FILE_NAMES.items()}


def natural_quakes(config: SyntheticConfig) -> pd.DataFrame:
    """The natural earthquakes of `config` drawn from the streams write_synthetic uses, without writing a root."""
    streams = random_streams(config.seed)
    period_ms = int((np.datetime64(config.end, "ms") - np.datetime64(config.start, "ms")).astype(np.int64))
    catalog, _ = natural_catalog(streams["catalog"], streams["completeness"], config, period_ms)
    return catalog[catalog["event_type"] == "earthquake"].reset_index(drop=True)


def read_events(root: Path) -> pd.DataFrame:
    return pd.read_csv(root / FILE_NAMES["events_csv"], keep_default_na=False, dtype=str)


def read_fdsn(root: Path) -> pd.DataFrame:
    catalog = pd.read_csv(root / FILE_NAMES["catalog"], sep="|", dtype={"#EventID": str})
    catalog["time"] = pd.to_datetime(catalog["Time"], format="%Y-%m-%dT%H:%M:%S.%f", utc=True)
    return catalog


def target_times(root: Path) -> pd.Series:
    return pd.to_datetime(pd.Series([t["time"] for t in read_truth(root)["targets"]]), utc=True)


def odba_per_burst(root: Path) -> pd.DataFrame:
    """Mean ODBA (g) per burst with the burst mean as the static component."""
    truth = read_truth(root)
    bursts = pd.read_csv(root / FILE_NAMES["animals"])
    raw = np.stack([np.array(s.split(), dtype=float).reshape(-1, 3) for s in bursts["eobs:accelerations-raw"]])
    g = (raw - truth["animal_zero_g_counts"]) / truth["animal_counts_per_g"]
    odba = np.abs(g - g.mean(axis=1, keepdims=True)).sum(axis=2).mean(axis=1)
    return pd.DataFrame({"time": pd.to_datetime(bursts["timestamp"], utc=True), "odba_g": odba})


def test_event_metadata_has_instance_columns_and_consistent_picks(roots):
    events = read_events(roots["null"])
    assert list(events.columns) == EVENT_COLUMNS
    assert len(events) == 60
    assert (events["trace_S_arrival_sample"] == "").any() and (events["trace_S_arrival_sample"] != "").any()
    assert events["trace_name"].is_unique
    parts = events["trace_name"].str.split(".", expand=True)
    assert (parts[0] == events["source_id"]).all() and (parts[2] == events["station_code"]).all()
    assert (parts[3] == events["station_location_code"]).all() and (parts[4] == events["station_channels"]).all()
    iso = "%Y-%m-%dT%H:%M:%S.%fZ"
    start = pd.to_datetime(events["trace_start_time"], format=iso, utc=True)
    p_time = pd.to_datetime(events["trace_P_arrival_time"], format=iso, utc=True)
    origin = pd.to_datetime(events["source_origin_time"], format=iso, utc=True)
    p_sample = events["trace_P_arrival_sample"].astype(int)
    np.testing.assert_allclose((p_time - start).dt.total_seconds(), p_sample / 100.0, atol=1e-6)
    np.testing.assert_allclose((p_time - origin).dt.total_seconds(), events["path_travel_time_P_s"].astype(float),
                               atol=1e-6)
    picked = events["trace_S_arrival_sample"] != ""
    s_time = pd.to_datetime(events.loc[picked, "trace_S_arrival_time"], format=iso, utc=True)
    np.testing.assert_allclose((s_time - start[picked]).dt.total_seconds(),
                               events.loc[picked, "trace_S_arrival_sample"].astype(int) / 100.0, atol=1e-6)
    hyp = events["path_hyp_distance_km"].astype(float)
    np.testing.assert_allclose(events["path_travel_time_P_s"].astype(float), hyp / 6.0, atol=0.5)
    has_tensor = events["source_magnitude"].astype(float) >= 3.5
    assert (events.loc[has_tensor, "source_mechanism_moment_tensor"].str.count("\n") == 2).all()
    assert (events.loc[~has_tensor, "source_mt_scalar_moment_Nm"] == "None").all()


def test_hdf5_matches_metadata_and_statistics(roots):
    for csv_key, hdf5_key, columns in [("events_csv", "events_hdf5", EVENT_COLUMNS),
                                       ("noise_csv", "noise_hdf5", NOISE_COLUMNS)]:
        meta = pd.read_csv(roots["null"] / FILE_NAMES[csv_key], keep_default_na=False, dtype=str)
        assert list(meta.columns) == columns
        with h5py.File(roots["null"] / FILE_NAMES[hdf5_key], "r") as f:
            assert list(f.keys()) == ["data"]
            assert set(f["data"].keys()) == set(meta["trace_name"])
            for row in meta.iloc[:10].itertuples():
                x = f["data"][row.trace_name][:]
                assert x.shape == (3, 12000) and x.dtype == np.int32
                np.testing.assert_allclose(float(row.trace_Z_max_counts), x[2].max())
                np.testing.assert_allclose(float(row.trace_E_mean_counts), x[0].mean(), atol=1e-3)
                np.testing.assert_allclose(float(row.trace_N_rms_counts),
                                           np.sqrt(np.mean(x[1].astype(float) ** 2)), atol=1e-3)


def test_p_arrival_is_visible(roots):
    events = read_events(roots["null"])
    highpass = signal.butter(4, 2.0, btype="highpass", fs=100.0, output="sos")
    ratios = []
    with h5py.File(roots["null"] / FILE_NAMES["events_hdf5"], "r") as f:
        for row in events.itertuples():
            p = int(row.trace_P_arrival_sample)
            if p < 400:
                continue
            x = f["data"][row.trace_name][:].astype(float)
            x = signal.sosfilt(highpass, x - x[:, :p].mean(axis=1, keepdims=True), axis=1)
            energy = (x**2).sum(axis=0)
            ratios.append(energy[p: p + 100].mean() / energy[p - 300: p - 20].mean())
            # Nothing arrives before P: the samples before it are noise, whatever the magnitude.
    assert np.median(ratios) > 10.0
    assert np.mean(np.asarray(ratios) > 2.0) > 0.8


def test_same_seed_gives_identical_files_and_cache_is_reused(roots, tmp_path):
    again = tmp_path / "again"
    write_synthetic(again, small_config())
    assert file_hashes(again) == file_hashes(roots["null"])
    before = {name: (again / name).stat().st_mtime_ns for name in FILE_NAMES.values()}
    truth = write_synthetic(again, small_config())
    assert truth == read_truth(roots["null"])
    assert {name: (again / name).stat().st_mtime_ns for name in FILE_NAMES.values()} == before
    other = write_synthetic(again, small_config(catalog=1.0))
    assert other["config"]["precursor"]["catalog"] == 1.0
    assert file_hashes(again) == file_hashes(roots["catalog"])


def test_fdsn_catalog_text(roots):
    lines = (roots["null"] / FILE_NAMES["catalog"]).read_text().splitlines()
    assert lines[0] == ("#EventID|Time|Latitude|Longitude|Depth/Km|Author|Catalog|Contributor|ContributorID|"
                        "MagType|Magnitude|MagAuthor|EventLocationName|EventType")
    assert all(line.count("|") == 13 for line in lines)
    catalog = read_fdsn(roots["null"])
    assert not catalog["Time"].str.endswith("Z").any()
    assert catalog["time"].is_monotonic_decreasing
    assert 3 <= (catalog["EventType"] == "quarry blast").sum() <= 12
    quakes = catalog[catalog["EventType"] == "earthquake"]
    assert 600 <= len(quakes) <= 1000
    assert quakes["Latitude"].between(42.5, 43.2).all() and quakes["Longitude"].between(12.8, 13.5).all()
    assert quakes["Depth/Km"].between(5.0, 15.0).all()
    norcia = quakes[quakes["time"] == pd.Timestamp("2016-10-30T06:40:18", tz="UTC")]
    assert norcia["Magnitude"].tolist() == [6.5] and norcia["MagType"].tolist() == ["Mw"]
    complete = quakes["Magnitude"][quakes["Magnitude"].between(1.5, 3.9)]  # mainshocks and sequences aside
    b_value = np.log10(np.e) / (complete.mean() - 1.45)
    assert 0.75 < b_value < 1.25
    truth = read_truth(roots["null"])
    assert len(truth["targets"]) == 23
    assert {t["event_id"] for t in truth["targets"]} <= set(quakes["#EventID"])


def test_catalog_precursor_adds_events_before_targets_only_in_catalog(roots):
    null, planted = file_hashes(roots["null"]), file_hashes(roots["catalog"])
    assert {key for key in null if null[key] != planted[key]} == {"catalog", "truth"}
    assert not read_truth(roots["null"])["precursors"]["catalog"]["events"]
    before, after = read_fdsn(roots["null"]), read_fdsn(roots["catalog"])
    assert set(before["#EventID"]) <= set(after["#EventID"])

    def pre_target(catalog: pd.DataFrame) -> pd.DataFrame:
        times = target_times(roots["null"]).to_numpy()
        lag_h = (times[None, :] - catalog["time"].to_numpy()[:, None]) / np.timedelta64(1, "h")
        return catalog[((lag_h > 0) & (lag_h <= 24)).any(axis=1) & (catalog["EventType"] == "earthquake")]

    n_targets = len(target_times(roots["null"]))
    assert len(pre_target(after)) - len(pre_target(before)) > 20 * n_targets
    added = after[~after["#EventID"].isin(before["#EventID"])]
    b_added = np.log10(np.e) / (added["Magnitude"].mean() - 1.45)
    assert b_added < 0.85


def test_spectrum_precursor_adds_low_frequency_energy_only_to_pre_target_traces(roots):
    null, planted = file_hashes(roots["null"]), file_hashes(roots["spectrum"])
    assert {key for key in null if null[key] != planted[key]} <= {"events_hdf5", "events_csv", "noise_hdf5",
                                                                  "noise_csv", "truth"}
    marks = read_truth(roots["spectrum"])["precursors"]["spectrum"]["traces"]
    assert not read_truth(roots["null"])["precursors"]["spectrum"]["traces"]
    marked = {m["trace_name"] for m in marks}
    assert any(m["kind"] == "noise" for m in marks)

    def band_ratio(x: np.ndarray) -> float:
        f, p = signal.welch(x.astype(float) - x.mean(axis=1, keepdims=True), fs=100.0, nperseg=1024, axis=1)
        return float(p[:, (f >= 0.5) & (f <= 2.0)].sum() / p[:, (f > 2.0) & (f <= 20.0)].sum())

    ratios = []
    for key in ("events_hdf5", "noise_hdf5"):
        with h5py.File(roots["null"] / FILE_NAMES[key], "r") as a, h5py.File(roots["spectrum"] / FILE_NAMES[key],
                                                                             "r") as b:
            for name in a["data"]:
                x0, x1 = a["data"][name][:], b["data"][name][:]
                if name in marked:
                    ratios.append(band_ratio(x1) / band_ratio(x0))
                else:
                    np.testing.assert_array_equal(x0, x1)
    assert len(ratios) == len(marked) and np.median(ratios) > 3.0


def test_animal_precursor_raises_odba_before_targets_only(roots):
    null, planted = file_hashes(roots["null"]), file_hashes(roots["animal"])
    assert {key for key in null if null[key] != planted[key]} == {"animals", "truth"}
    base, raised = odba_per_burst(roots["null"]), odba_per_burst(roots["animal"])
    windows = read_truth(roots["animal"])["precursors"]["animal"]["windows"]
    inside = np.zeros(len(base), bool)
    for w in windows:
        inside |= base["time"].between(pd.Timestamp(w["start"]), pd.Timestamp(w["end"])).to_numpy()
    assert sum(w["covered"] for w in windows) >= 2 and inside.sum() > 100
    np.testing.assert_array_equal(base["odba_g"][~inside], raised["odba_g"][~inside])
    assert raised["odba_g"][inside].mean() / base["odba_g"][inside].mean() > 1.2


def test_animals_that_feel_shaking_respond_to_felt_earthquakes_only(roots, tmp_path):
    """animal.shaking_response: bursts in the hour after an earthquake the farm felt (ITA10 PGV >= 0.5 cm/s there,
    computed here from catalog.txt) are raised, bursts with no earthquake above 0.01 cm/s in the 5 h before are
    within a few per cent of the null root's (small shaking adds log10(1 + PGV / 0.1 cm/s) each), and no other
    file changes."""
    config = small_config()
    config = replace(config, animal=replace(config.animal, shaking_response=1.0))
    write_synthetic(tmp_path, config)
    null, felt = file_hashes(roots["null"]), file_hashes(tmp_path)
    assert {key for key in null if null[key] != felt[key]} == {"animals", "truth"}
    catalog = read_catalog(tmp_path / "catalog.txt")
    farm_km = KM_PER_DEG * locations2degrees(config.animal.farm_latitude_deg, config.animal.farm_longitude_deg,
                                             catalog["latitude_deg"].to_numpy(), catalog["longitude_deg"].to_numpy())
    pgv = pgv_cmps(catalog["magnitude"].to_numpy(), farm_km)
    base, raised = odba_per_burst(roots["null"]), odba_per_burst(tmp_path)
    # datetime64 arrays: tz-aware columns come out of to_numpy() as Timestamp objects, 100 times slower here
    lag_h = ((base["time"].to_numpy("datetime64[ns]")[:, None] - catalog["time"].to_numpy("datetime64[ns]")[None, :])
             / np.timedelta64(1, "h"))
    after_felt = ((lag_h > 0) & (lag_h <= 1) & (pgv[None, :] >= 0.5)).any(axis=1)
    quiet = ~((lag_h > 0) & (lag_h <= 5) & (pgv[None, :] >= 0.01)).any(axis=1)
    assert after_felt.sum() > 20 and quiet.sum() > 100
    assert raised["odba_g"][after_felt].mean() / base["odba_g"][after_felt].mean() > 1.2
    ratio = (raised["odba_g"] / base["odba_g"])[quiet]
    assert abs(ratio.median() - 1.0) < 0.01 and ratio.quantile(0.95) < 1.07


def test_gnss_stations_that_feel_shaking_move_with_felt_earthquakes_only(roots, tmp_path):
    """gnss.shaking_response_mm: each station moves by shaking_response_mm x log10(1 + PGV / 0.1 cm/s) away from
    every earthquake's epicentre, half as much down (ITA10 PGV at the station, computed here from catalog.txt and
    the station coordinates in the .tenv3 files), kept afterwards; the displacement against the null root on the
    last day matches that sum, and no file but the GNSS ones and truth.json changes."""
    config = small_config()
    config = replace(config, gnss=replace(config.gnss, shaking_response_mm=2.0))
    write_synthetic(tmp_path, config)
    null, felt = file_hashes(roots["null"]), file_hashes(tmp_path)
    assert {key for key in null if null[key] != felt[key]} == {"truth"}
    catalog = read_catalog(tmp_path / "catalog.txt")
    quakes = catalog[catalog["event_type"] == "earthquake"] if "event_type" in catalog else catalog
    moved = 0
    for path in sorted((tmp_path / GNSS_DIR).glob("*.tenv3")):
        base, shaken = read_tenv3(roots["null"] / GNSS_DIR / path.name), read_tenv3(path)
        last = shaken.iloc[-1]
        lat, lon = float(shaken["latitude_deg"].iloc[0]), float(shaken["longitude_deg"].iloc[0])
        r_km = KM_PER_DEG * locations2degrees(lat, lon, quakes["latitude_deg"].to_numpy(),
                                              quakes["longitude_deg"].to_numpy())
        size = 2.0 * np.log10(1.0 + pgv_cmps(quakes["magnitude"].to_numpy(), r_km) / 0.1)
        day_end = last["time"].normalize() + pd.Timedelta(days=1)
        share = np.clip((day_end - quakes["time"]) / pd.Timedelta(days=1), 0.0, 1.0).to_numpy()
        east = (lon - quakes["longitude_deg"].to_numpy()) * math.cos(math.radians(lat))
        north = lat - quakes["latitude_deg"].to_numpy()
        length = np.hypot(east, north)
        expected = np.array([np.sum(size * share * east / length), np.sum(size * share * north / length),
                             -0.5 * np.sum(size * share)])
        got = 1000.0 * np.array([last[key] - base[key].iloc[-1] for key in ("east_m", "north_m", "up_m")])
        np.testing.assert_allclose(got, expected, rtol=0.03, atol=0.05)
        moved += np.hypot(*got[:2]) > 1.0
    assert moved >= 2


def test_movebank_csv(roots):
    bursts = pd.read_csv(roots["null"] / FILE_NAMES["animals"])
    assert list(bursts.columns) == [
        "event-id", "timestamp", "individual-local-identifier", "tag-local-identifier", "sensor-type",
        "individual-taxon-canonical-name", "location-long", "location-lat", "eobs:accelerations-raw",
        "eobs:acceleration-axes", "eobs:acceleration-sampling-frequency-per-axis", "eobs:start-timestamp"]
    lengths = bursts["eobs:accelerations-raw"].str.split().str.len()
    assert (lengths % 3 == 0).all() and (lengths == 120).all()
    taxa = bursts.groupby("individual-taxon-canonical-name")["individual-local-identifier"].nunique()
    assert taxa.to_dict() == {"Bos taurus": 6, "Canis lupus familiaris": 2, "Ovis aries": 5}
    assert bursts["timestamp"].str.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}").all()
    times = pd.to_datetime(bursts["timestamp"], utc=True)
    assert times.min() >= pd.Timestamp("2016-10-24", tz="UTC") and times.max() < pd.Timestamp("2016-11-01", tz="UTC")
    assert (bursts["sensor-type"] == "acceleration").all() and (bursts["eobs:acceleration-axes"] == "XYZ").all()
    per_animal = bursts.groupby("individual-local-identifier").size()
    assert per_animal.max() <= 8 * 96 and per_animal.min() < per_animal.max()


def test_instance_readers_round_trip(roots):
    files = find_instance_files(roots["null"])
    assert files.events_csv.name == FILE_NAMES["events_csv"] and files.noise_hdf5.name == FILE_NAMES["noise_hdf5"]
    raw = read_events(roots["null"])
    meta = read_instance_metadata(files.events_csv)
    assert list(meta.columns) == EVENT_COLUMNS and len(meta) == len(raw)
    np.testing.assert_array_equal(meta["trace_S_arrival_sample"].isna(), raw["trace_S_arrival_sample"] == "")
    np.testing.assert_array_equal(meta["source_mt_scalar_moment_Nm"].isna(),
                                  raw["source_mt_scalar_moment_Nm"] == "None")
    assert str(meta["trace_start_time"].dt.tz) == "UTC"
    noise = read_instance_metadata(files.noise_csv, kind="noise")
    waveforms = InstanceWaveforms(files.events_hdf5)
    with h5py.File(files.events_hdf5, "r") as f:
        for name in meta["trace_name"].iloc[:5]:
            np.testing.assert_array_equal(waveforms.read(name), f["data"][name][:].astype(np.float32))
    assert InstanceWaveforms(files.noise_hdf5).read(noise["trace_name"].iloc[0]).shape == (3, 12000)


def test_catalog_reader_round_trip(roots):
    fdsn = read_fdsn(roots["catalog"])
    catalog = read_catalog(roots["catalog"] / "catalog.txt")
    # the writer can place two events within 1 s and 5 km, which a catalog reader takes for one (counted)
    assert len(catalog) + catalog.attrs["n_read_once"] == (fdsn["EventType"] == "earthquake").sum()
    assert catalog.attrs["n_read_once"] <= 2
    assert catalog.attrs["dropped_event_types"] == {"quarry blast": (fdsn["EventType"] == "quarry blast").sum()}
    truth = read_truth(roots["catalog"])
    by_id = catalog.set_index("event_id")
    for event in truth["targets"] + truth["precursors"]["catalog"]["events"][:50]:
        row = by_id.loc[event["event_id"]]
        assert row["time"] == pd.Timestamp(event["time"]) and row["magnitude"] == event["magnitude"]


def test_movebank_reader_round_trip_sees_the_animal_precursor(roots):
    truth = read_truth(roots["animal"])
    g_per_count = 1.0 / truth["animal_counts_per_g"]
    bursts = read_movebank(sorted((roots["null"] / "animals").glob("*.csv")))
    assert len(bursts) == len(pd.read_csv(roots["null"] / FILE_NAMES["animals"]))
    assert {b.shape for b in bursts["raw"]} == {(40, 3)}
    base = odba_bins(bursts, g_per_count=g_per_count)
    raised = odba_bins(read_movebank(sorted((roots["animal"] / "animals").glob("*.csv"))), g_per_count=g_per_count)
    assert base.shape[1] == 13 and set(base.attrs["taxon"].values()) == {
        "Bos taurus", "Ovis aries", "Canis lupus familiaris"}
    inside = np.zeros(len(base), bool)
    for w in truth["precursors"]["animal"]["windows"]:
        inside |= (base.index >= pd.Timestamp(w["start"])) & (base.index <= pd.Timestamp(w["end"]))
    ratio = raised[inside].mean().mean() / base[inside].mean().mean()
    assert ratio > 1.2
    pd.testing.assert_frame_equal(raised[~inside], base[~inside])


def test_bad_config_is_rejected(tmp_path):
    with pytest.raises(SeisbindInputError, match="precursor.catalog"):
        write_synthetic(tmp_path, small_config(catalog=-1.0))
    with pytest.raises(SeisbindInputError, match="end"):
        write_synthetic(tmp_path, replace(small_config(), end="2016-01-01"))


def test_script_parses_overrides_and_reuses_matching_folder(roots, monkeypatch, capsys):
    args = ["seed=7", "n_traces=60", "n_events=800", "noise_interval_hours=48",
            "animal.coverage=[2016-10-24/2016-11-01]", "precursor.animal=1"]
    monkeypatch.setattr(sys, "argv", ["make_synthetic.py", f"out={roots['animal']}", *args])
    before = (roots["animal"] / FILE_NAMES["events_hdf5"]).stat().st_mtime_ns
    runpy.run_path(str(SCRIPT), run_name="__main__")
    assert "targets=23" in capsys.readouterr().out
    assert (roots["animal"] / FILE_NAMES["events_hdf5"]).stat().st_mtime_ns == before
    monkeypatch.setattr(sys, "argv", ["make_synthetic.py", "out=unused", "precursor.nonsense=1"])
    with pytest.raises(SystemExit) as stopped:
        runpy.run_path(str(SCRIPT), run_name="__main__")
    assert stopped.value.code == 2 and "nonsense" in capsys.readouterr().err


def test_default_keys_write_the_catalog_they_always_wrote(roots):
    """Every confounder key at its default leaves the output as it was (cached roots rely on it)."""
    assert hashlib.sha256((roots["null"] / FILE_NAMES["catalog"]).read_bytes()).hexdigest() == NULL_CATALOG_SHA256
    truth = read_truth(roots["null"])
    period = {"start": "2016-08-01T00:00:00.000000Z", "end": "2017-02-01T00:00:00.000000Z"}
    assert truth["study_period"] == truth["catalog_span"] == period
    assert truth["n_lead_in_events"] == 0 and truth["catalog_model"] == {"clustering": "omori"}


def test_lead_in_events_are_sparse_before_start_and_have_no_traces(roots, tmp_path):
    truth = write_synthetic(tmp_path, replace(small_config(), lead_in_days=61.0, lead_in_events=30))
    null, lead = file_hashes(roots["null"]), file_hashes(tmp_path)
    assert {key for key in null if null[key] != lead[key]} == {"catalog", "truth"}  # no traces, nothing else moved
    lines = (tmp_path / FILE_NAMES["catalog"]).read_text().splitlines()
    null_lines = (roots["null"] / FILE_NAMES["catalog"]).read_text().splitlines()
    assert lines[: len(null_lines)] == null_lines and len(lines) == len(null_lines) + 30  # newest first
    catalog = read_fdsn(tmp_path)
    before = catalog[catalog["time"] < STUDY_START]
    assert len(before) == 30 == truth["n_lead_in_events"]
    assert before["time"].min() >= STUDY_START - pd.Timedelta(days=61)
    assert (before["EventType"] == "earthquake").all() and before["Magnitude"].max() < 4.0
    ids = catalog["#EventID"].astype(int)
    assert ids[before.index].is_monotonic_decreasing and ids[before.index].max() < ids.drop(before.index).min()
    study_rate = (catalog["time"] >= STUDY_START).sum() / 184.0
    assert len(before) / 61.0 < 0.2 * study_rate  # ~0.5 a day against ~4.5
    assert set(before["#EventID"]).isdisjoint(read_events(tmp_path)["source_id"])
    assert truth["catalog_span"]["start"] == "2016-06-01T00:00:00.000000Z"
    assert truth["study_period"] == read_truth(roots["null"])["study_period"]


def test_completeness_change_raises_the_rate_between_the_two_mc():
    """Mc 1.8 -> 1.2 on 2016-11-15: events 1.2 <= M < 1.8 per event M >= 2.3 (complete throughout) rise by the
    factor the detection roll-off predicts (2.1), with activity changes (the Norcia sequences) divided out."""
    config = SyntheticConfig(seed=1, completeness_magnitude=1.8, completeness_changes=["2016-11-15:1.2"])
    quakes = natural_quakes(config)
    quakes = quakes[quakes["kind"] != "mainshock"]
    change_ms = (np.datetime64("2016-11-15", "ms") - np.datetime64("2016-08-01", "ms")).astype(np.int64)
    after = (quakes["time_ms"] >= change_ms).to_numpy()

    def band_share(m: pd.Series) -> float:
        return m.between(1.2, 1.75).sum() / (m >= 2.3).sum()

    observed = band_share(quakes["magnitude"][after]) / band_share(quakes["magnitude"][~after])
    grid = np.arange(0.5, 3.95, 0.001)  # rounded magnitudes 1.2-1.7 are true ones in [1.15, 1.75)
    expected = [np.sum((w := 10.0 ** -grid * detection_probability(grid, mc, 0.2))[(grid >= 1.15) & (grid < 1.75)])
                / np.sum(w[grid >= 2.25]) for mc in (1.2, 1.8)]
    assert 0.75 < observed / (expected[0] / expected[1]) < 1.3


def test_mc_rise_after_large_shocks_masks_small_events_for_a_while():
    config = SyntheticConfig(seed=2, n_events=2000)
    seen = natural_quakes(config)
    masked = natural_quakes(replace(config, mc_after_mainshock_rise=1.5, mc_after_mainshock_days=1.0))

    def keys(frame: pd.DataFrame) -> set:
        return set(zip(frame["time_ms"], frame["magnitude"], frame["latitude_deg"]))

    assert keys(masked) < keys(seen)  # the same events, some no longer reported
    shocks = seen.loc[seen["magnitude"] >= 5.0, "time_ms"].to_numpy()
    assert shocks.size >= 3

    def small_after(frame: pd.DataFrame, low_days: float, high_days: float) -> int:
        lag = (frame["time_ms"].to_numpy()[:, None] - shocks[None, :]) / 8.64e7
        return int((((lag > low_days) & (lag <= high_days)).any(axis=1) & (frame["magnitude"] < 2.5)).sum())

    assert small_after(masked, 0.0, 0.25) < 0.1 * small_after(seen, 0.0, 0.25)
    assert small_after(masked, 0.25, 1.0) < 0.3 * small_after(seen, 0.25, 1.0)
    first = shocks.min()
    assert keys(masked[masked["time_ms"] <= first]) == keys(seen[seen["time_ms"] <= first])


def test_etas_catalog_is_overdispersed_and_gives_foreshocks():
    """Pure ETAS (no fixed mainshocks), sparse enough that a Poisson catalog rarely puts an event within 10 km and
    24 h before an M >= 4: daily counts far more variable, and far more M >= 4 events with such a foreshock, than the
    same events at uniform times and places."""
    rng = np.random.default_rng(0)
    cv, cv_poisson, hits, hits_poisson, n_large = [], [], 0, 0, 0
    for seed in range(4):
        config = SyntheticConfig(seed=seed, clustering="etas", include_norcia_mainshocks=False, n_extra_mainshocks=0,
                                 n_events=1500, completeness_magnitude=3.0, end="2018-02-01")
        quakes = natural_quakes(config)
        assert 1000 < len(quakes) < 2100 and (quakes["kind"] == "aftershock").mean() > 0.2
        shuffled = quakes.assign(
            time_ms=rng.integers(0, int(pd.Timedelta(days=549) / pd.Timedelta(milliseconds=1)), len(quakes)),
            latitude_deg=rng.uniform(*config.latitude_range_deg, len(quakes)),
            longitude_deg=rng.uniform(*config.longitude_range_deg, len(quakes)))
        for frame, cvs in ((quakes, cv), (shuffled, cv_poisson)):
            daily = np.bincount((frame["time_ms"] // 86_400_000).to_numpy().astype(int))
            cvs.append(daily.std() / daily.mean())
        n_large += int((quakes["magnitude"] >= 4.0).sum())
        hits += foreshocked(quakes)
        hits_poisson += foreshocked(shuffled)
    assert np.mean(cv) > 1.6 * np.mean(cv_poisson)
    assert n_large > 150 and hits / n_large > 0.3 and hits / n_large > 1.8 * hits_poisson / n_large


def foreshocked(quakes: pd.DataFrame, km: float = 10.0, hours: float = 24.0) -> int:
    """Number of M >= 4 events with at least one catalogued event within `km` and `hours` before them."""
    t = quakes["time_ms"].to_numpy()
    lat, lon = quakes["latitude_deg"].to_numpy(), quakes["longitude_deg"].to_numpy()
    large = np.flatnonzero(quakes["magnitude"].to_numpy() >= 4.0)
    lag_h = (t[large, None] - t[None, :]) / 3.6e6
    dist = KM_PER_DEG * np.hypot(lat[large, None] - lat[None, :],
                                 (lon[large, None] - lon[None, :]) * np.cos(np.radians(lat[large, None])))
    return int((((lag_h > 0) & (lag_h <= hours) & (dist <= km)).any(axis=1)).sum())


def test_etas_keeps_the_norcia_mainshocks_and_their_sequences_and_the_event_count():
    config = SyntheticConfig(clustering="etas")
    quakes = natural_quakes(config)
    assert 0.85 * config.n_events < len(quakes) < 1.15 * config.n_events
    t0 = np.datetime64(config.start, "ms")
    for time, magnitude in (("2016-08-24T01:36:32", 6.0), ("2016-10-30T06:40:18", 6.5)):
        ms = int((np.datetime64(time, "ms") - t0).astype(np.int64))
        shock = quakes[quakes["time_ms"] == ms]
        assert shock["magnitude"].tolist() == [magnitude] and shock["kind"].tolist() == ["mainshock"]
        lag_days = (quakes["time_ms"] - ms) / 8.64e7
        assert ((lag_days > 0) & (lag_days <= 1)).sum() > 10 * ((lag_days < 0) & (lag_days >= -1)).sum() + 50
    targets = target_events(quakes, config)
    large = quakes[quakes["magnitude"] >= config.target_min_magnitude]
    assert set(targets["event_id"]) == set(large["event_id"]) and (large["kind"] != "mainshock").any()


def test_law_productivity_keeps_the_count_and_lets_mainshocks_trigger_like_every_event():
    """"law": mainshocks trigger by the law of every event and the background fills n_events: the mean catalogued
    count of 8 seeds is within 5 % of n_events (p 1.2, ratio 0.8); with p 0.9 and a ratio of 1.1 over the period
    (an infinite-time ratio of infinity, as the SED fit) the cascade stays finite, truth says so, and the Norcia
    M6.5 is followed by far more events in its first day than an M4 triggers by the same law."""
    counts = [len(natural_quakes(SyntheticConfig(
        seed=seed, clustering="etas", etas_mainshock_productivity="law", etas_p=1.2, etas_branching_ratio=0.8,
        etas_alpha=1.2, n_extra_mainshocks=0, n_events=3000))) for seed in range(8)]
    assert abs(np.mean(counts) / 3000 - 1.0) < 0.05
    config = SyntheticConfig(clustering="etas", etas_mainshock_productivity="law", etas_p=0.9,
                             etas_branching_ratio=1.1, etas_branching_days=184.0, etas_alpha=1.8,
                             completeness_magnitude=2.5, n_extra_mainshocks=0, n_events=2000)
    streams = random_streams(config.seed)
    catalog, model = natural_catalog(streams["catalog"], streams["completeness"], config, 184 * 86_400_000)
    quakes = catalog[catalog["event_type"] == "earthquake"]
    assert model["branching_ratio_infinite_time"] == math.inf and model["mainshock_productivity"] == "law"
    norcia = quakes[quakes["magnitude"] == 6.5]["time_ms"].iloc[0]
    after = int(((quakes["time_ms"] > norcia) & (quakes["time_ms"] <= norcia + 86_400_000)).sum())
    expected_m4 = model["K"] * math.exp(config.etas_alpha * (4.0 - 2.5)) * omori_integral(1.0, 0.01, 0.9)
    assert after > 30 * expected_m4 and len(quakes) < 50 * config.n_events


def test_precursors_and_targets_on_top_of_every_option(tmp_path):
    config = replace(small_config(catalog=1.0, spectrum=1.0), clustering="etas", lead_in_days=30.0,
                     completeness_changes=["2016-11-15:1.2"], mc_after_mainshock_rise=1.0, mc_after_mainshock_days=1.0)
    truth = write_synthetic(tmp_path, config)
    assert truth["catalog_model"]["clustering"] == "etas" and truth["n_lead_in_events"] == 30
    catalog = read_fdsn(tmp_path)
    quakes = catalog[(catalog["EventType"] == "earthquake") & (catalog["time"] >= STUDY_START)]
    target_ids = {t["event_id"] for t in truth["targets"]}
    assert target_ids == set(quakes.loc[quakes["Magnitude"] >= 4.0, "#EventID"])
    planted = pd.DataFrame(truth["precursors"]["catalog"]["events"])
    assert set(planted["target_event_id"]) == target_ids and set(planted["event_id"]) <= set(catalog["#EventID"])
    target_time = {t["event_id"]: pd.Timestamp(t["time"]) for t in truth["targets"]}
    lead_h = (planted["target_event_id"].map(target_time) - pd.to_datetime(planted["time"])).dt.total_seconds() / 3600
    assert lead_h.between(0, 24).all()
    assert truth["precursors"]["spectrum"]["traces"]
    lead_in = catalog[catalog["#EventID"].astype(int) < 7_200_000]
    assert len(lead_in) == 30 and set(lead_in["#EventID"]).isdisjoint(read_events(tmp_path)["source_id"])


@pytest.mark.parametrize(("override", "key"), [
    ({"lead_in_days": -1.0}, "lead_in_days"),
    ({"completeness_changes": ["2016-11-01"]}, "completeness_changes"),
    ({"completeness_changes": ["2016-12-01:1.2", "2016-11-01:1.0"]}, "completeness_changes dates must increase"),
    ({"mc_after_mainshock_rise": 1.0}, "mc_after_mainshock_days"),
    ({"clustering": "poisson"}, "clustering"),
    ({"etas_branching_ratio": 1.0}, "etas_branching_ratio"),
    ({"etas_p": 1.0}, "etas_p"),
    ({"etas_p": 0.9, "etas_branching_days": 184.0}, "etas_branching_days > 0 needs etas_mainshock_productivity"),
    ({"etas_mainshock_productivity": "fixed"}, "etas_mainshock_productivity"),
    ({"etas_branching_ratio": 1.1}, "a ratio >= 1 needs etas_mainshock_productivity: law"),
    ({"animal": AnimalConfig(shaking_response=-1.0)}, "animal.shaking_response"),
])
def test_confounder_keys_are_validated(tmp_path, override, key):
    with pytest.raises(SeisbindInputError, match=key):
        write_synthetic(tmp_path, replace(small_config(), **override))


def test_script_parses_confounder_keys():
    parse_args = runpy.run_path(str(SCRIPT))["parse_args"]
    _, config = parse_args(["clustering=etas", "lead_in_days=61", "completeness_changes=[2016-11-01:1.2]"])
    assert config.clustering == "etas" and config.lead_in_days == 61.0
    assert config.completeness_changes == ["2016-11-01:1.2"]
