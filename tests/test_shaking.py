"""The shaking family (seisbind/modalities/shaking.py) on hand-made catalogs and sensors, the sensor-position readers
and the building of several families per modality."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from seisbind.data.gnss import read_gnss_positions
from seisbind.data.movebank import read_movebank_positions
from seisbind.data.tables import SideTables
from seisbind.errors import SeisbindInputError
from seisbind.geodesy import epicentral_km
from seisbind.modalities.shaking import FLOOR_PGV_CMPS, ShakingFamily
from seisbind.probe.families import build_families, simulated_features
from seisbind.protocols import FamilyUnavailable, StudyData
from seisbind.seismicity.ground_motion import log10_pgv_cmps
from tests.test_gnss import tenv3_line, write_tenv3

FARM = (43.04, 13.05)
KM_PER_DEG = 111.19492664455873   # ObsPy's degrees2kilometers(1) on its 6371 km sphere
POSITIONS = {"reader": "seisbind.data.movebank.read_movebank_positions", "glob": "animals/*.csv"}
HEADER = ("event-id,timestamp,individual-local-identifier,tag-local-identifier,sensor-type,"
          "individual-taxon-canonical-name,location-long,location-lat,eobs:accelerations-raw,"
          "eobs:acceleration-axes,eobs:acceleration-sampling-frequency-per-axis")
PEAK, TOTAL = "shaking_animal_log10_peak_pgv_cmps", "shaking_animal_log10_sum_pgv_cmps"


def movebank(path: Path, rows: list[tuple[str, str, float | None, float | None]], header: str = HEADER) -> Path:
    """A Movebank CSV of (individual, sensor type, latitude, longitude) rows; None = empty coordinates."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [header]
    for k, (individual, sensor, lat, lon) in enumerate(rows):
        where = f"{'' if lon is None else lon},{'' if lat is None else lat}"
        lines.append(f"{k},2016-10-01 00:00:00.000,{individual},50{k},{sensor},Bos taurus,{where},1 2 3,XYZ,20")
    path.write_text("\n".join(lines) + "\n")
    return path


def north_of(point: tuple[float, float], km: float) -> tuple[float, float]:
    return point[0] + km / KM_PER_DEG, point[1]


def catalog(*events: tuple[str, float, tuple[float, float]]) -> pd.DataFrame:
    """Events (time, magnitude, (latitude, longitude)) with the study catalog's columns."""
    return pd.DataFrame({
        "event_id": [f"e{k}" for k in range(len(events))],
        "time": pd.to_datetime([e[0] for e in events], utc=True),
        "magnitude": [e[1] for e in events],
        "latitude_deg": [e[2][0] for e in events], "longitude_deg": [e[2][1] for e in events],
        "depth_km": 10.0})


def windows(*ends: str, hours: float = 6.0) -> pd.DataFrame:
    end = pd.to_datetime(list(ends), utc=True)
    return pd.DataFrame({"start_time": end - pd.Timedelta(hours=hours), "end_time": end},
                        index=[f"w{k}" for k in range(len(ends))])


def study_data(root: Path, events: pd.DataFrame, all_events: pd.DataFrame | None = None) -> StudyData:
    return StudyData(root=root, tables=SideTables(root), catalog=events, metadata=None, all_events=all_events)


def expected_log10(magnitude: float, where: tuple[float, float], sensor: tuple[float, float] = FARM) -> float:
    """ITA10 at the epicentral distance, the default site (A) and faulting (unspecified)."""
    return float(log10_pgv_cmps(magnitude, epicentral_km(*where, *sensor)))


@pytest.fixture
def farm_root(tmp_path) -> Path:
    """Two cows at the farm: one with acceleration rows only, one with a GPS fix too (coordinates a few metres
    apart; the median per animal)."""
    movebank(tmp_path / "animals" / "tags.csv", [
        ("cow1", "acceleration", FARM[0], FARM[1]), ("cow1", "acceleration", FARM[0], FARM[1]),
        ("cow2", "gps", FARM[0] + 1e-5, FARM[1]), ("cow2", "acceleration", None, None)])
    return tmp_path


def test_a_near_m5_outshakes_a_far_m3_and_matches_ita10(farm_root):
    near, far = north_of(FARM, 10.0), north_of(FARM, 100.0)
    events = catalog(("2016-10-02 03:00", 5.0, near), ("2016-10-02 04:00", 3.0, far),
                     ("2016-10-03 04:00", 3.0, far))
    family = ShakingFamily("animal", POSITIONS)
    features = family.compute(study_data(farm_root, events, events), windows("2016-10-02 06:00", "2016-10-04 06:00",
                                                                            "2016-12-01 00:00"))
    assert list(features.columns) == [PEAK, TOTAL] and list(features.index) == ["w0", "w1", "w2"]
    m5, m3 = expected_log10(5.0, near), expected_log10(3.0, far)
    assert m5 - m3 > 2.5   # ~1.6 cm/s against ~1e-3 cm/s: the near M5 is what the tags felt
    assert features.loc["w0", PEAK] == pytest.approx(m5, abs=1e-4)   # the two cows ~1 m apart: one value
    assert features.loc["w0", TOTAL] == pytest.approx(np.log10(10 ** m5 + 10 ** m3), abs=1e-4)
    # Window w1 [Oct 4 00:00, 06:00) with its 24 h lookback from Oct 3 00:00 holds the second M3 only.
    assert features.loc["w1", PEAK] == pytest.approx(m3, abs=1e-4)
    assert features.loc["w1", TOTAL] == pytest.approx(m3, abs=1e-4)
    assert (features.loc["w2"] == np.log10(FLOOR_PGV_CMPS)).all()   # no event: the floor


def test_lookback_counts_events_before_the_window_and_the_window_end_is_excluded(farm_root):
    near = north_of(FARM, 10.0)
    events = catalog(("2016-10-01 20:00", 5.0, near), ("2016-10-02 06:00", 5.0, near))
    data = study_data(farm_root, events, events)
    window = windows("2016-10-02 06:00")   # [00:00, 06:00): the event at 06:00 is its target, never in it
    with_lookback = ShakingFamily("animal", POSITIONS, lookback_hours=6).compute(data, window)
    without = ShakingFamily("animal", POSITIONS, lookback_hours=0).compute(data, window)
    assert with_lookback.loc["w0", PEAK] == pytest.approx(expected_log10(5.0, near), abs=1e-4)
    assert with_lookback.loc["w0", TOTAL] == pytest.approx(expected_log10(5.0, near), abs=1e-4)
    assert (without.loc["w0"] == np.log10(FLOOR_PGV_CMPS)).all()


def test_several_sensors_give_the_most_shaken_one(tmp_path):
    east = (FARM[0], FARM[1] + 0.5)
    movebank(tmp_path / "animals" / "a.csv", [("cow", "acceleration", *FARM), ("dog", "acceleration", *east)])
    near_dog = north_of(east, 5.0)
    events = catalog(("2016-10-02 01:00", 4.0, near_dog), ("2016-10-02 02:00", 3.5, north_of(FARM, 5.0)))
    features = ShakingFamily("animal", POSITIONS).compute(study_data(tmp_path, events, events),
                                                         windows("2016-10-02 06:00"))
    at_dog = 10 ** expected_log10(4.0, near_dog, east) + 10 ** expected_log10(3.5, north_of(FARM, 5.0), east)
    assert features.loc["w0", PEAK] == pytest.approx(expected_log10(4.0, near_dog, east), abs=1e-4)
    assert features.loc["w0", TOTAL] == pytest.approx(np.log10(at_dog), abs=1e-4)


def test_events_below_the_floor_count_unless_below_floor_is_false(farm_root):
    small = catalog(("2016-10-02 01:00", 1.5, north_of(FARM, 3.0)))
    floored = small.iloc[:0]
    data = study_data(farm_root, floored, small)
    window = windows("2016-10-02 06:00")
    assert ShakingFamily("animal", POSITIONS).compute(data, window).loc["w0", PEAK] == pytest.approx(
        expected_log10(1.5, north_of(FARM, 3.0)), abs=1e-4)
    above = ShakingFamily("animal", POSITIONS, below_floor=False).compute(data, window)
    assert (above.loc["w0"] == np.log10(FLOOR_PGV_CMPS)).all()


def test_simulated_catalogs_reuse_the_positions_read_by_compute(farm_root, tmp_path):
    family = ShakingFamily("animal", POSITIONS, below_floor=False)
    with pytest.raises(SeisbindInputError, match="before compute"):
        family.from_catalog(catalog(), windows("2016-10-02 06:00"))
    family.compute(study_data(farm_root, catalog(), catalog()), windows("2016-10-02 06:00"))
    other = catalog(("2016-10-02 01:00", 4.0, north_of(FARM, 20.0)))
    simulated = simulated_features([family], other, windows("2016-10-02 06:00"))
    assert simulated.loc["w0", PEAK] == pytest.approx(expected_log10(4.0, north_of(FARM, 20.0)), abs=1e-4)


def test_a_root_without_animal_files_or_coordinates_skips_the_family_with_the_reason(tmp_path):
    family = ShakingFamily("animal", POSITIONS)
    with pytest.raises(FamilyUnavailable, match=r"no file for animal sensor positions .*animals/\*\.csv"):
        family.compute(study_data(tmp_path, catalog(), catalog()), windows("2016-10-02 06:00"))
    movebank(tmp_path / "animals" / "a.csv", [("cow", "acceleration", None, None)])
    with pytest.raises(FamilyUnavailable, match="no animal sensor position"):
        family.compute(study_data(tmp_path, catalog(), catalog()), windows("2016-10-02 06:00"))


def test_bad_settings_stop_at_construction():
    with pytest.raises(SeisbindInputError, match="site_class='Z'"):
        ShakingFamily("animal", POSITIONS, site_class="Z")
    with pytest.raises(SeisbindInputError, match="lookback_hours"):
        ShakingFamily("animal", POSITIONS, lookback_hours=-1)


def test_movebank_positions_take_the_median_of_any_sensor_type(tmp_path):
    path = movebank(tmp_path / "a.csv", [("cow", "gps", 43.0, 13.0), ("cow", "gps", 43.2, 13.2),
                                         ("cow", "acceleration", 43.1, 13.1), ("dog", "acceleration", None, None)])
    positions = read_movebank_positions([path])
    assert positions.to_dict("records") == [{"sensor": "cow", "latitude_deg": 43.1, "longitude_deg": 13.1,
                                             "n_fixes": 3}]
    bare = movebank(tmp_path / "b.csv", [("cow", "acceleration", None, None)],
                    header=HEADER.replace(",location-long,location-lat", ",x,y"))
    assert read_movebank_positions([bare]).empty


def test_gnss_positions_are_one_per_station(tmp_path):
    cove = write_tenv3(tmp_path / "COVE.tenv3", tenv3_line("COVE", "2010-07-27"), tenv3_line("COVE", "2010-07-28"))
    positions = read_gnss_positions([cove])
    assert positions["sensor"].tolist() == ["COVE"] and positions["n_fixes"].tolist() == [2]
    assert positions["longitude_deg"].iloc[0] < 0   # 235.86 in the file, wrapped by read_gnss


def test_a_modality_may_configure_several_named_families():
    spec = {"animal": {"features": {
        "odba": {"_target_": "seisbind.modalities.animal.AnimalFamily", "source": POSITIONS},
        "shaking": {"_target_": "seisbind.modalities.shaking.ShakingFamily", "modality": "animal",
                    "positions": POSITIONS}}}}
    assert [f.name for f in build_families(spec)] == ["animal", "shaking_animal"]
    spec["animal"]["features"]["shaking"]["faulting"] = "thrust"
    with pytest.raises(SeisbindInputError, match=r"modality\.animal\.features\.shaking: faulting='thrust'"):
        build_families(spec)
