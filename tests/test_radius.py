"""probe.radius_km: catalog features count the events near each window's target (a background window's matched
target, else the target nearest in time), against counts made here by hand; and the study with a radius runs
its ETAS null on the events near its targets."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from seisbind.probe import features
from seisbind.probe.study import run_study
from seisbind.probe.windows import make_windows
from tests.helpers.study_roots import probe_config, synthetic

T0 = pd.Timestamp("2016-08-01", tz="UTC")
AREAS = {"A": (42.80, 13.10), "B": (44.60, 13.10)}   # ~200 km apart, north-south
TARGETS = {"A": 20.0, "B": 35.0}                    # an M5.0 in each area, on these days


def _haversine_km(lat1, lon1, lat2, lon2):
    lat1, lon1, lat2, lon2 = (np.radians(np.asarray(v, float)) for v in (lat1, lon1, lat2, lon2))
    a = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371.0 * np.arcsin(np.sqrt(a))


@pytest.fixture
def two_sequences() -> pd.DataFrame:
    """60 days of M1-3 events within ~11 km of each area's centre, and one M5.0 target at each centre."""
    rng = np.random.default_rng(5)
    parts = []
    for name, (lat, lon) in AREAS.items():
        n = 600
        parts.append(pd.DataFrame({
            "event_id": [f"{name}{i}" for i in range(n)],
            "time": T0 + pd.to_timedelta(rng.uniform(0, 60, n), unit="D"),
            "latitude_deg": lat + rng.uniform(-0.1, 0.1, n), "longitude_deg": lon + rng.uniform(-0.1, 0.1, n),
            "magnitude": np.round(rng.uniform(1.0, 3.0, n), 1)}))
        parts.append(pd.DataFrame({"event_id": [name], "time": [T0 + pd.Timedelta(days=TARGETS[name])],
                                   "latitude_deg": [lat], "longitude_deg": [lon], "magnitude": [5.0]}))
    catalog = pd.concat(parts, ignore_index=True).assign(depth_km=10.0)
    catalog["time"] = catalog["time"].dt.as_unit("ns")
    return catalog.sort_values("time", ignore_index=True)


def _windows(catalog: pd.DataFrame, match_days: float | None) -> pd.DataFrame:
    return make_windows(catalog, target_min_magnitude=4.5, decluster="none", horizons_hours=[24],
                        match_days=match_days, background_per_target=4, n_background=12, quiet_min_magnitude=4.5,
                        quiet_hours=24)


def _counts(catalog: pd.DataFrame, windows: pd.DataFrame, centres: list[str], radius_km: float | None) -> np.ndarray:
    """Events in each window [start, end) within radius_km of the centre area's target, counted one by one."""
    times = catalog["time"]
    out = []
    for (_, w), area in zip(windows.iterrows(), centres):
        inside = ((times >= w["start_time"]) & (times < w["end_time"])).to_numpy()
        if radius_km is not None:
            distance = _haversine_km(*AREAS[area], catalog["latitude_deg"], catalog["longitude_deg"])
            inside = inside & (distance <= radius_km)
        out.append(int(inside.sum()))
    return np.array(out)


def test_matched_windows_count_the_events_near_their_target(two_sequences):
    windows = _windows(two_sequences, match_days=10)
    main = windows[windows["window_type"].isin(["pre", "background"])]
    assert set(main["window_type"]) == {"pre", "background"} and set(main["stratum"]) == {"A", "B"}
    # a background window's target is its stratum's, even when the other target is nearer in time
    centres = [w.target_event_id if w.window_type == "pre" else w.stratum for w in main.itertuples()]
    assert list(main["centre_event_id"]) == centres
    near = features.catalog_features(two_sequences, main, radius_km=50)["n_events"].to_numpy()
    everywhere = features.catalog_features(two_sequences, main)["n_events"].to_numpy()
    assert near.tolist() == _counts(two_sequences, main, centres, 50).tolist()
    assert everywhere.tolist() == _counts(two_sequences, main, centres, None).tolist()
    assert (everywhere > near).all() and (near > 0).all()   # both areas are active in every window


def test_unmatched_background_looks_around_the_target_nearest_in_time(two_sequences):
    windows = _windows(two_sequences, match_days=None)
    background = windows[windows["window_type"] == "background"]
    middle_days = ((background["start_time"] + (background["end_time"] - background["start_time"]) / 2 - T0)
                   / pd.Timedelta(days=1))
    centres = ["A" if abs(d - TARGETS["A"]) <= abs(d - TARGETS["B"]) else "B" for d in middle_days]
    assert {"A", "B"} <= set(centres) and list(background["centre_event_id"]) == centres
    near = features.catalog_features(two_sequences, background, radius_km=50)["n_events"].to_numpy()
    assert near.tolist() == _counts(two_sequences, background, centres, 50).tolist()


def test_a_study_with_a_radius_fits_its_etas_null_to_the_events_near_its_targets(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    shutil.copy(synthetic(tmp_path / "full") / "catalog.txt", root / "catalog.txt")
    out = tmp_path / "out"
    metrics = run_study(probe_config(root, out, "modality=[catalog]", "probe.horizons_hours=[24]",
                                     "probe.n_permutations=20", "probe.n_jobs=1", "probe.nulls.etas.n_sims=20",
                                     "probe.radius_km=15"))
    assert metrics["settings"]["radius_km"] == 15 and metrics["data"]["radius_km"] == 15
    assert any(r["p_value_etas"] is not None for r in metrics["results"] if r["feature_set"] == "catalog")
    # the null fitted exactly the period's earthquakes above the floor within 15 km of some target
    catalog = pd.read_csv(root / "catalog.txt", sep="|").query("EventType == 'earthquake'")
    windows = pd.read_csv(out / "windows.csv")
    targets = catalog[catalog["#EventID"].astype(str).isin(windows["centre_event_id"].dropna().astype(str))]
    distance = _haversine_km(catalog["Latitude"].to_numpy()[:, None], catalog["Longitude"].to_numpy()[:, None],
                             targets["Latitude"].to_numpy()[None, :], targets["Longitude"].to_numpy()[None, :])
    times = pd.to_datetime(catalog["Time"], utc=True)
    start, end = (pd.Timestamp(t) for t in metrics["data"]["period"])
    fitted = ((distance.min(axis=1) <= 15) & (catalog["Magnitude"] >= metrics["data"]["magnitude_floor"])
              & (times >= start) & (times <= end))
    assert metrics["nulls"]["etas"]["observed_events"] == int(fitted.sum()) < len(catalog)
