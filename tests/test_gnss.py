"""GNSS daily positions: the NGL and PBO readers, the detrended residual, the per-trace input arrays, the probe's
per-window family (seisbind.modalities.gnss.GnssFamily), and the synthetic network (its files, its steps, its planted
transient)."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from omegaconf import OmegaConf
from scipy import stats

from seisbind.data.catalog import read_catalog
from seisbind.data.gnss import COLUMNS, read_gnss, read_pos, read_tenv3
from seisbind.data.gnss_displacement import displacement_windows
from seisbind.data.synthetic import (
    FILE_NAMES,
    GNSS_DIR,
    AnimalConfig,
    GnssConfig,
    PrecursorConfig,
    SyntheticConfig,
    write_synthetic,
)
from seisbind.data.synthetic.gnss import TENV3_HEADER
from seisbind.data.tables import SideTables
from seisbind.errors import SeisbindInputError
from seisbind.geodesy import epicentral_km
from seisbind.modalities.gnss import GnssFamily
from seisbind.protocols import FamilyUnavailable, StudyData

OLD_LINE = ("00NA 08MAR27 2008.2355 54552 1472 5  130.8   4781  0.498445  -1378706 -0.278810   104  0.839210  0.0000 "
            "0.000842 0.000745 0.003627  0.050600  0.024673  0.011391")
"""REFERENCE.md section 9's example: an older line that stops after the correlations."""
NEW_LINE = ("COVE 10JUL28 2010.5708 55405 1594 3 -112.8  -3815 -0.638876   4276712  0.811250  1687  0.349158  0.1800 "
            "0.000902 0.000992 0.004512  0.091352 -0.536983  0.041338  38.6235432767  247.1561841656  1687.34916")
"""A line with latitude, longitude (0-360 here) and height."""

POS_TEXT = """PBO Station Position Time Series. Reference Frame : IGS14
Format Version: 1.1.0
4-character ID: P403
Station name  : FloeQuaryGWA2005
First Epoch   : 20050913 120000
Last Epoch    : 20050916 120000
Release Date  : 20170127 235743
XYZ Reference position :  -2396874.51122 -3534734.44146  4721722.14918 (IGS14)
NEU Reference position :    48.0623223017  235.8591253307  284.67725 (IGS14/WGS84)
Start Field Description
YYYYMMDD      Year, month, day for the given position epoch
HHMMSS        Hour, minute, second for the given position epoch
JJJJJ.JJJJJ   Modified Julian day for the given position epoch
X             X coordinate, Specified Reference Frame, meters
Y             Y coordinate, Specified Reference Frame, meters
Z             Z coordinate, Specified Reference Frame, meters
Sx            Standard deviation of the X position, meters
Sy            Standard deviation of the Y position, meters
Sz            Standard deviation of the Z position, meters
Rxy           Correlation of the X and Y position
Rxz           Correlation of the X and Z position
Ryz           Correlation of the Y and Z position
Nlat          North latitude, WGS-84 ellipsoid, decimal degrees
Elong         East longitude, WGS-84 ellipsoid, decimal degrees
Height (Up)   Height relative to WGS-84 ellipsoid, m
dN            Difference in North component from NEU reference position, meters
dE            Difference in East component from NEU reference position, meters
du            Difference in vertical component from NEU reference position, meters
Sn            Standard deviation of dN, meters
Se            Standard deviation of dE, meters
Su            Standard deviation of dU, meters
Rne           Correlation of dN and dE
Rnu           Correlation of dN and dU
Reu           Correlation of dEand dU
Soln          "rapid", "final", "suppl/suppf", "campd", or "repro"
End Field Description
*YYYYMMDD HHMMSS JJJJJ.JJJJ         X             Y             Z            Sx        Sy       Sz     Rxy   Rxz    Ryz            NLat         Elong         Height         dN        dE        dU         Sn       Se       Su      Rne    Rnu    Reu  Soln
 20050913 120000 53626.5000 -2396874.58357 -3534734.44007  4721722.12054  0.00645  0.00812  0.00994  0.811 -0.686 -0.775      48.0623218656  235.8591245168  284.68231    -0.04854  -0.06055   0.00506    0.00471  0.00314  0.01320  0.163 -0.115 -0.095 repro
 20050914 120000 53627.5000 -2396874.57419 -3534734.44167  4721722.12726  0.00261  0.00353  0.00416  0.793 -0.733 -0.788      48.0623219323  235.8591246330  284.68468    -0.04111  -0.05190   0.00743    0.00185  0.00134  0.00560 -0.002 -0.141 -0.016 repro
 20050916 120000 53629.5000 -2396874.57001 -3534734.44201  4721722.12801  0.00255  0.00349  0.00410  0.790 -0.730 -0.780      48.0623219500  235.8591246500  284.68500    -0.04000  -0.05100   0.00800    0.00180  0.00130  0.00550 -0.001 -0.140 -0.015 rapid
"""  # noqa: E501  (data rows as PBO writes them)

DAY = pd.Timedelta(days=1)
CONFIGS = Path(__file__).resolve().parents[1] / "configs"
EPICENTRE = (42.80, 13.10)


def write_tenv3(path: Path, *lines: str) -> Path:
    path.write_text("\n".join([TENV3_HEADER, *lines]) + "\n")
    return path


def tenv3_line(station: str, date: str, east_m: float = 0.5) -> str:
    """A 23-field line for `date` (ISO), its other fields those of NEW_LINE."""
    day = pd.Timestamp(date)
    fields = NEW_LINE.split()
    fields[0], fields[1], fields[8] = station, day.strftime("%y%b%d").upper(), f"{east_m:.6f}"
    fields[2] = f"{day.year + (day.dayofyear - 0.5) / 365.25:.4f}"
    return " ".join(fields)


# ---------------------------------------------------------------------------------------------------- readers
def test_tenv3_reference_lines_with_and_without_coordinates(tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="seisbind.data.gnss"):
        old = read_tenv3(write_tenv3(tmp_path / "00NA.tenv3", OLD_LINE))
    assert list(old.columns) == COLUMNS and len(old) == 1
    row = old.iloc[0]
    assert row["station"] == "00NA" and row["time"] == pd.Timestamp("2008-03-27T12:00", tz="UTC")
    assert row["east_m"] == pytest.approx(4781.498445, abs=1e-9)
    assert row["north_m"] == pytest.approx(-1378706.278810, abs=1e-9)
    assert row["up_m"] == pytest.approx(104.839210, abs=1e-9)
    assert (row["sigma_east_m"], row["sigma_north_m"], row["sigma_up_m"]) == (0.000842, 0.000745, 0.003627)
    assert np.isnan(row[["latitude_deg", "longitude_deg", "height_m"]].astype(float)).all()
    assert sum("00NA.tenv3" in r.getMessage() and "NaN" in r.getMessage() for r in caplog.records) == 1
    assert str(old["time"].dtype) == "datetime64[ns, UTC]"

    new = read_tenv3(write_tenv3(tmp_path / "COVE.tenv3", NEW_LINE)).iloc[0]
    assert new["time"] == pd.Timestamp("2010-07-28T12:00", tz="UTC")
    assert new["east_m"] == pytest.approx(-3815.638876, abs=1e-9) and new["up_m"] == pytest.approx(1687.349158)
    assert new["latitude_deg"] == pytest.approx(38.6235432767)
    assert new["longitude_deg"] == pytest.approx(247.1561841656 - 360.0)  # 0-360 wrapped to [-180, 180)
    assert new["height_m"] == pytest.approx(1687.34916)


def test_tenv3_missing_day_is_a_gap_and_dates_are_noon_utc(tmp_path):
    path = write_tenv3(tmp_path / "GAPS.tenv3", tenv3_line("GAPS", "2016-08-24"), tenv3_line("GAPS", "2016-08-25"),
                       tenv3_line("GAPS", "2016-08-28"))
    table = read_tenv3(path)
    assert table["time"].tolist() == [pd.Timestamp(f"2016-08-{d}T12:00", tz="UTC") for d in (24, 25, 28)]


@pytest.mark.parametrize(("bad", "reason"), [
    (OLD_LINE.rsplit(" ", 1)[0], "19 fields"),
    (NEW_LINE.replace("0.811250", "0.8112x0"), "'0.8112x0' is not a finite number"),
    (NEW_LINE.replace("0.811250", "nan"), "'nan' is not a finite number"),
    (NEW_LINE.replace("10JUL28", "10JLY28"), "bad date '10JLY28'"),
    (NEW_LINE.replace("10JUL28", "10FEB30"), "bad date '10FEB30'"),
])
def test_tenv3_malformed_line_names_file_and_line(tmp_path, bad, reason):
    path = write_tenv3(tmp_path / "COVE.tenv3", tenv3_line("COVE", "2010-07-26"), bad)
    with pytest.raises(SeisbindInputError, match=rf"COVE\.tenv3: line 3: .*{reason}") as error:
        read_tenv3(path)
    assert "\n" not in str(error.value)


def test_tenv3_duplicated_day_names_both_lines(tmp_path):
    path = write_tenv3(tmp_path / "COVE.tenv3", tenv3_line("COVE", "2010-07-26"), tenv3_line("COVE", "2010-07-27"),
                       tenv3_line("COVE", "2010-07-26", east_m=0.7))
    with pytest.raises(SeisbindInputError, match=r"COVE\.tenv3: lines 2 and 4: .*2010-07-26"):
        read_tenv3(path)


def test_pos_reader(tmp_path):
    (tmp_path / "P403.pbo.igs14.pos").write_text(POS_TEXT)
    table = read_pos(tmp_path / "P403.pbo.igs14.pos")
    assert list(table.columns) == COLUMNS and (table["station"] == "P403").all()
    assert table["time"].tolist() == [pd.Timestamp(f"2005-09-{d}T12:00", tz="UTC") for d in (13, 14, 16)]
    np.testing.assert_allclose(table["east_m"], [-0.06055, -0.05190, -0.05100])
    np.testing.assert_allclose(table["north_m"], [-0.04854, -0.04111, -0.04000])
    np.testing.assert_allclose(table["up_m"], [0.00506, 0.00743, 0.00800])
    np.testing.assert_allclose(table["sigma_east_m"], [0.00314, 0.00134, 0.00130])
    np.testing.assert_allclose(table["sigma_north_m"], [0.00471, 0.00185, 0.00180])
    np.testing.assert_allclose(table["longitude_deg"], 235.8591245168 - 360.0, atol=1e-6)
    np.testing.assert_allclose(table["latitude_deg"], 48.06232, atol=1e-5)
    lines = POS_TEXT.splitlines()
    bad = tmp_path / "bad.pos"
    bad.write_text("\n".join(lines[:-1] + [lines[-1].replace("0.00800", "O.00800")]) + "\n")
    with pytest.raises(SeisbindInputError, match=rf"bad\.pos: line {len(lines)}: 'O.00800'"):
        read_pos(bad)
    bad.write_text("\n".join(lines + [lines[-2]]) + "\n")
    with pytest.raises(SeisbindInputError, match=rf"bad\.pos: lines {len(lines) - 1} and {len(lines) + 1}"):
        read_pos(bad)
    bad.write_text("\n".join(lines[:2] + lines[3:]) + "\n")
    with pytest.raises(SeisbindInputError, match="4-character ID"):
        read_pos(bad)


def test_read_gnss_dispatches_sorts_and_rejects(tmp_path):
    (tmp_path / "P403.pos").write_text(POS_TEXT)
    cove = write_tenv3(tmp_path / "COVE.tenv3", tenv3_line("COVE", "2010-07-28"), tenv3_line("COVE", "2010-07-27"))
    table = read_gnss([tmp_path / "P403.pos", cove])
    assert list(table.columns) == COLUMNS
    assert table["station"].tolist() == ["COVE"] * 2 + ["P403"] * 3
    assert table["time"].iloc[:2].tolist() == [pd.Timestamp(f"2010-07-{d}T12:00", tz="UTC") for d in (27, 28)]
    other = write_tenv3(tmp_path / "COVE_again.tenv3", tenv3_line("COVE", "2010-08-01"))
    with pytest.raises(SeisbindInputError, match=r"COVE is in two GNSS files: .*COVE\.tenv3 and .*COVE_again"):
        read_gnss([cove, other])
    (tmp_path / "COVE.csv").write_text("x")
    with pytest.raises(SeisbindInputError, match=r"no GNSS files \(\.tenv3 or \.pos\) among .*COVE\.csv"):
        read_gnss([tmp_path / "COVE.csv"])


def daily_lines(station: str, up_m: np.ndarray, first: str = "2016-01-01") -> list[str]:
    """One .tenv3 line per day from `first`, the up position's fraction given (m), 1.5 mm noise east."""
    east = 0.5 + np.random.default_rng(0).normal(0.0, 0.0015, up_m.size)
    lines = []
    for day, (e, u) in enumerate(zip(east, up_m)):
        fields = tenv3_line(station, str(pd.Timestamp(first) + day * DAY), east_m=e).split()
        fields[12] = f"{u:.6f}"
        lines.append(" ".join(fields))
    return lines


def test_pos_files_next_to_tenv3_files_are_read_and_other_files_named(tmp_path, caplog):
    """The modality's own glob (configs/modality/gnss.yaml) takes both formats from one folder."""
    folder = tmp_path / "gnss"
    folder.mkdir()
    (folder / "P403.pos").write_text(POS_TEXT)
    write_tenv3(folder / "COVE.tenv3", tenv3_line("COVE", "2010-07-27"))
    (folder / "steps.txt").write_text("COVE 10JUL28 1 antenna change\n")
    source = OmegaConf.load(CONFIGS / "modality" / "gnss.yaml").gnss.source
    with caplog.at_level(logging.WARNING, logger="seisbind.data.gnss"):
        table = SideTables(tmp_path).load(source)
    assert sorted(table["station"].unique()) == ["COVE", "P403"]
    assert any("skipped 1 GNSS file(s), not .tenv3" in r.getMessage() and "steps.txt" in r.getMessage()
               for r in caplog.records)


def test_a_gross_outlier_is_dropped_with_its_reason_and_a_step_is_kept(tmp_path, caplog):
    noise = np.random.default_rng(1).normal(0.0, 0.005, 40)
    up = 0.3 + noise + np.where(np.arange(40) >= 25, 0.4, 0.0)     # a 0.4 m co-seismic step on day 25
    up[12] += 1000.0                                                # one day +1000 m
    path = write_tenv3(tmp_path / "OUTL.tenv3", *daily_lines("OUTL", up))
    with caplog.at_level(logging.WARNING, logger="seisbind.data.gnss"):
        table = read_gnss([path])
    assert len(table) == 39 and pd.Timestamp("2016-01-13T12:00", tz="UTC") not in set(table["time"])
    assert table["up_m"].max() < 1687.0 + 1.0                       # NEW_LINE's integer part, 1687 m
    (message,) = [r.getMessage() for r in caplog.records if "gross outlier" in r.getMessage()]
    assert "OUTL.tenv3: dropped 1 daily position(s)" in message and "2016-01-13 up +999.99" in message
    jump = table["up_m"].diff().abs().max()
    assert jump == pytest.approx(0.4, abs=0.03)   # the step survives whole


def test_a_byte_order_mark_is_not_part_of_the_station_code(tmp_path):
    path = tmp_path / "COVE.tenv3"
    path.write_text("\n".join([TENV3_HEADER, tenv3_line("COVE", "2010-07-27")]) + "\n", encoding="utf-8-sig")
    assert read_tenv3(path)["station"].tolist() == ["COVE"]
    headless = tmp_path / "PBOM.tenv3"
    headless.write_text(tenv3_line("PBOM", "2010-07-27") + "\n", encoding="utf-8-sig")
    assert read_gnss([headless])["station"].tolist() == ["PBOM"]


def test_empty_or_header_only_files_are_skipped_and_named_or_refused_when_nothing_else(tmp_path, caplog):
    """A file without a daily position is a counted skip next to files with data, and an error alone."""
    (tmp_path / "EMPT.tenv3").write_text("")
    header_only = write_tenv3(tmp_path / "HEAD.tenv3")
    cove = write_tenv3(tmp_path / "COVE.tenv3", tenv3_line("COVE", "2010-07-27"))
    with caplog.at_level(logging.WARNING, logger="seisbind.data.gnss"):
        table = read_gnss([tmp_path / "EMPT.tenv3", header_only, cove])
    assert table["station"].tolist() == ["COVE"]
    assert any("skipped 2 GNSS file(s), no daily position" in r.getMessage() and "HEAD.tenv3" in r.getMessage()
               for r in caplog.records)
    with pytest.raises(SeisbindInputError, match=r"no daily position in any of the 2 GNSS file\(s\) .*EMPT\.tenv3, "
                                                 r".*HEAD\.tenv3$"):
        read_gnss([tmp_path / "EMPT.tenv3", header_only])


# --------------------------------------------------------------------------------- residuals and model inputs
def station_series(station: str, lat: float, lon: float, east_mm: np.ndarray, *, first_day: str = "2016-01-01",
                   north_mm: np.ndarray | None = None, up_mm: np.ndarray | None = None,
                   drop: tuple[int, ...] = ()) -> pd.DataFrame:
    """A read_gnss table of one station, one row per day from `first_day`, positions given in mm."""
    n = east_mm.size
    zeros = np.zeros(n)
    keep = np.setdiff1d(np.arange(n), drop)
    return pd.DataFrame({
        "station": station, "time": pd.date_range(first_day, periods=n, freq="D", tz="UTC")[keep] + pd.Timedelta(
            hours=12), "east_m": east_mm[keep] / 1000.0,
        "north_m": (zeros if north_mm is None else north_mm)[keep] / 1000.0,
        "up_m": (zeros if up_mm is None else up_mm)[keep] / 1000.0,
        "sigma_east_m": 0.0015, "sigma_north_m": 0.0015, "sigma_up_m": 0.005,
        "latitude_deg": lat, "longitude_deg": lon, "height_m": 500.0}, columns=COLUMNS)


def one_query(series: pd.DataFrame, end: pd.Timestamp, **kwargs) -> tuple[np.ndarray, np.ndarray]:
    options = {"radius_km": 50.0, "window_days": 10, "trend_days": 60, "max_stations": 2, "min_coverage": 0.8}
    values, mask = displacement_windows(series, np.array([end.value]), np.array([EPICENTRE[0]]),
                                        np.array([EPICENTRE[1]]), **(options | kwargs))
    return values[0], mask[0]


def test_linear_trend_leaves_no_residual_and_a_step_in_the_trend_period_does_not_tilt_it():
    days = np.arange(200.0)
    trend = 0.08 * days + 30.0  # 29 mm/yr plus an offset
    end = pd.Timestamp("2016-01-01", tz="UTC") + 150 * DAY  # window: days 140..149, trend: days 80..139
    values, mask = one_query(station_series("LINE", 42.85, 13.10, trend, north_mm=-trend, up_mm=2 * trend), end)
    assert mask.tolist() == [True] * 3 + [False] * 3
    np.testing.assert_allclose(values[:3], 0.0, atol=1e-6)
    assert (values[3:] == 0).all()

    step = trend + 50.0 * (days >= 110)  # a co-seismic step in the middle of the trend period
    values, _ = one_query(station_series("STEP", 42.85, 13.10, step), end)
    np.testing.assert_allclose(values[0], 0.0, atol=1e-6)
    slope = np.polyfit(days[80:140], step[80:140], 1)[0]  # a least-squares line would be tilted by the step
    assert (slope - 0.08) * 10 > 5.0

    noise = np.random.default_rng(3).normal(0.0, 1.5, (100, days.size))
    residuals = [one_query(station_series("NOIS", 42.85, 13.10, step + n), end)[0][0] for n in noise]
    assert abs(np.mean(residuals)) < 0.5 and np.std(np.mean(residuals, axis=1)) < 3.0


def test_without_a_trend_an_earlier_transient_does_not_tilt_the_displacement():
    days = np.arange(200.0)
    end = pd.Timestamp("2016-01-01", tz="UTC") + 150 * DAY  # window: days 145..149; anchor: days 140..144
    # two slow slips of 10 mm over 5 days in the 30 days before (days 119-123 and 129-133), then no motion
    earlier = 10.0 * (np.clip((days - 118) / 5.0, 0.0, 1.0) + np.clip((days - 128) / 5.0, 0.0, 1.0))
    noise = np.random.default_rng(5).normal(0.0, 0.3, days.size)
    series = station_series("EARL", 42.85, 13.10, earlier + noise)
    tilted, _ = one_query(series, end, window_days=5, trend_days=30)
    flat, mask = one_query(series, end, window_days=5, trend_days=0)
    assert mask.tolist() == [True] * 3 + [False] * 3
    assert abs(tilted[0, -1]) > 2.0 and abs(flat[0, -1]) < 1.0
    # a ramp inside the window is the displacement since the anchor days; a steady 25 mm/yr adds < 0.6 mm
    ramp = 8.0 * np.clip((days - 144) / 5.0, 0.0, 1.0) + 25.0 / 365.25 * days
    values, _ = one_query(station_series("RAMP", 42.85, 13.10, ramp + noise), end, window_days=5, trend_days=0)
    assert 8.0 < values[0, -1] < 8.0 + 0.6 + 1.0
    # too few of the 5 anchor days: the station does not count
    values, mask = one_query(station_series("GAPS", 42.85, 13.10, noise, drop=(140, 141, 142)), end, window_days=5,
                             trend_days=0)
    assert not mask.any()
    with pytest.raises(SeisbindInputError, match="trend_days 0"):
        one_query(series, end, trend_days=1)


def test_displacement_windows_recover_a_ramp_at_the_near_station_and_mask_the_far_one():
    rng = np.random.default_rng(0)
    days = np.arange(300)
    end = pd.Timestamp("2016-01-01T13:00", tz="UTC") + 250 * DAY  # last usable day: day 249
    ramp = 10.0 * np.clip((days - 244) / 5.0, 0.0, 1.0)  # 0 before day 245, 10 mm from day 249 on
    near = station_series("NEAR", 42.85, 13.10, 0.01 * days + ramp + rng.normal(0, 0.5, days.size),
                          north_mm=rng.normal(0, 0.5, days.size), drop=(246,))
    far = station_series("FARR", 44.20, 13.10, rng.normal(0, 0.5, days.size))
    spike = near.copy()
    spike.loc[spike["time"] == pd.Timestamp("2016-01-01T12:00", tz="UTC") + 250 * DAY, "east_m"] = 1.0
    series = pd.concat([spike, far], ignore_index=True)
    values, mask = one_query(series, end)
    assert epicentral_km(42.85, 13.10, *EPICENTRE) < 10 and epicentral_km(44.20, 13.10, *EPICENTRE) > 150
    assert mask.tolist() == [True] * 3 + [False] * 3 and values.dtype == np.float32
    east = values[0]
    assert abs(east[:4].mean()) < 1.5  # days 240..243: before the ramp
    assert 7.0 < east[-1] < 13.0  # day 249 (day 250, after the end, is not used: its spike does not show)
    assert east[6] == east[5]  # day 246 is missing: the residual of day 245 is held
    assert np.isfinite(values).all() and (values[3:] == 0).all()

    values, mask = one_query(series, end, radius_km=200.0)
    assert mask.all() and abs(values[3:6].mean()) < 1.5  # the far station fills the second slot
    values, mask = one_query(series, end, radius_km=200.0, max_stations=1)
    assert mask.tolist() == [True] * 3 and 7.0 < values[0, -1] < 13.0  # nearest first


def test_displacement_windows_mask_queries_without_data_and_share_work():
    days = np.arange(120)
    series = station_series("NEAR", 42.85, 13.10, 0.01 * days, drop=tuple(range(60, 70)))
    start = pd.Timestamp("2016-01-01", tz="UTC")
    ends = np.array([(start + d * DAY).value for d in (100, 100, 25, 75, 500, 100)])
    lat = np.array([EPICENTRE[0], EPICENTRE[0], EPICENTRE[0], EPICENTRE[0], EPICENTRE[0], np.nan])
    lon = np.full(6, EPICENTRE[1])
    values, mask = displacement_windows(series, ends, lat, lon, radius_km=50.0, window_days=10, trend_days=20,
                                        max_stations=3, min_coverage=0.8)
    assert values.shape == (6, 9, 10) and mask.shape == (6, 9)
    assert mask[0, :3].all() and not mask[0, 3:].any() and (values[0] == values[1]).all()
    # too little history, an outage in the window, after the data, no location: nothing counts
    assert not mask[2:].any() and (values[2:] == 0).all()


def quakes(*events: tuple[float, float, float]) -> pd.DataFrame:
    """A catalog of (days after 2016-01-01, magnitude, km north of EPICENTRE) earthquakes."""
    days, magnitude, north_km = (np.array(column, dtype=float) for column in zip(*events))
    return pd.DataFrame({"time": pd.Timestamp("2016-01-01", tz="UTC") + pd.to_timedelta(days, unit="D"),
                         "latitude_deg": EPICENTRE[0] + north_km / 111.19, "longitude_deg": EPICENTRE[1],
                         "magnitude": magnitude})


STEP_MM = 40.0
"""A co-seismic step of an M6 at ~6 km: tens of mm against 0.5 mm of daily noise."""


def with_step(clean_mm: np.ndarray, day: float) -> np.ndarray:
    """`clean_mm` plus a STEP_MM step at `day` (fractional: the event's day solution averages both levels)."""
    days = np.arange(clean_mm.size)
    return clean_mm + STEP_MM * np.clip(days + 1 - day, 0.0, 1.0)


@pytest.mark.parametrize(("event_day", "where"), [(145.75, "window"), (137.25, "anchor days"), (100.5, "trend")])
def test_a_catalogued_coseismic_step_is_removed_wherever_it_falls(event_day, where):
    """Window days 140..149, anchor days 135..139, trend days 80..139: with the catalog, the residual of a station
    that stepped by 40 mm is that of the same station without the step (the truth), within the noise of the two
    days whose difference is the estimated offset; without it, the step is most of the residual."""
    rng = np.random.default_rng(5)
    days = np.arange(200)
    clean = 0.01 * days + rng.normal(0.0, 0.5, days.size)
    end = pd.Timestamp("2016-01-01T08:00", tz="UTC") + 150 * DAY
    truth, _ = one_query(station_series("STEP", 42.85, 13.10, clean), end)
    stepped = station_series("STEP", 42.85, 13.10, with_step(clean, event_day))
    kept, _ = one_query(stepped, end)
    removed, mask = one_query(stepped, end, events=quakes((event_day, 6.0, 0.0)))
    assert mask[:3].all()
    if where != "trend":   # an early step spoils a few velocity pairs only: the median ignores it either way
        assert abs(kept[0, -1] - truth[0, -1]) > 0.2 * STEP_MM, where
    np.testing.assert_allclose(removed[0], truth[0], atol=2.5)
    if where == "window":  # the event's own day (day 145, index 5) mixes both levels: dropped, the day before held
        assert removed[0, 5] == removed[0, 4]


def test_an_offset_uses_no_day_after_the_end_and_only_the_catalogued_nearby_earthquakes():
    rng = np.random.default_rng(6)
    days = np.arange(200)
    clean = 0.01 * days + rng.normal(0.0, 0.5, days.size)
    end = pd.Timestamp("2016-01-01T08:00", tz="UTC") + 150 * DAY   # last usable day: 149
    stepped = with_step(clean, 148.5)
    target_step = 1000.0 * (days >= 150)   # the query's own target, after its end
    truth, _ = one_query(station_series("STEP", 42.85, 13.10, clean), end)
    events = quakes((148.5, 6.0, 0.0))
    removed, _ = one_query(station_series("STEP", 42.85, 13.10, stepped + target_step), end, events=events)
    np.testing.assert_allclose(removed[0], truth[0], atol=2.5)   # the offset is day 149 minus day 147
    alone, _ = one_query(station_series("STEP", 42.85, 13.10, stepped[:150]), end, events=events)
    assert (removed == alone).all()

    kept, _ = one_query(station_series("STEP", 42.85, 13.10, stepped), end)
    far = quakes((148.5, 6.0, 200.0))   # NGL's radius for an M6: 158 km
    small = quakes((148.5, 4.9, 0.0))
    for events in (far, small, None):
        assert (one_query(station_series("STEP", 42.85, 13.10, stepped), end, events=events)[0] == kept).all()
    lowered, _ = one_query(station_series("STEP", 42.85, 13.10, stepped), end, events=small, step_min_magnitude=4.5)
    np.testing.assert_allclose(lowered[0], truth[0], atol=2.5)


# ------------------------------------------------------------------------------- synthetic network, probe family
def synthetic_config(gnss: float) -> SyntheticConfig:
    """Small root over a year, its GNSS files starting 90 days before it (enough for a 60-day trend)."""
    return SyntheticConfig(seed=7, n_traces=10, n_events=800, end="2017-08-01", noise_interval_hours=48.0,
                           lead_in_days=90.0,
                           animal=AnimalConfig(coverage=["2016-10-24/2016-10-25"]),
                           precursor=PrecursorConfig(gnss=gnss))


@pytest.fixture(scope="module")
def gnss_roots(tmp_path_factory) -> dict[float, tuple[Path, dict]]:
    roots = {}
    for strength in (0.0, 2.0):
        root = tmp_path_factory.mktemp(f"gnss{strength:g}")
        roots[strength] = root, write_synthetic(root, synthetic_config(strength))
    return roots


def gnss_files(root: Path) -> list[Path]:
    return sorted((root / GNSS_DIR).glob("*.tenv3"))


def test_synthetic_tenv3_files_read_back(gnss_roots):
    root, truth = gnss_roots[0.0]
    stations = pd.DataFrame(truth["gnss"]["stations"])
    assert [p.stem for p in gnss_files(root)] == stations["code"].tolist() and len(stations) == 8
    lines = gnss_files(root)[0].read_text().splitlines()
    assert lines[0] == TENV3_HEADER and {len(line.split()) for line in lines[1:]} == {23}
    series = read_gnss(gnss_files(root))
    assert (series["time"].dt.hour == 12).all()
    per_station = series.groupby("station").agg(n=("time", "size"), lat=("latitude_deg", "median"),
                                                lon=("longitude_deg", "median"))
    n_days = 365 + 90
    assert per_station["n"].between(0.9 * n_days - 10, n_days - 3).all()  # ~3 % missing and one outage each
    np.testing.assert_allclose(per_station["lat"], stations["latitude_deg"], atol=1e-5)  # 1 m: they move
    np.testing.assert_allclose(per_station["lon"], stations["longitude_deg"], atol=1e-5)
    assert series["latitude_deg"].between(42.5, 43.2).all() and series["longitude_deg"].between(12.8, 13.5).all()

    steps = pd.DataFrame(truth["gnss"]["steps"])
    norcia = next(t for t in truth["targets"] if t["name"] == "Norcia")
    step = steps[steps["event_id"] == norcia["event_id"]].sort_values("distance_km").iloc[0]
    assert np.hypot(step["east_mm"], step["north_mm"]) > 50.0  # decimetres near the M6.5
    track = series[series["station"] == step["station"]].set_index("time")
    before = track.loc["2016-10-27":"2016-10-29"].iloc[-1]  # after Visso's step, before Norcia's
    after = track.loc["2016-10-31":].iloc[0]
    moved_mm = (after[["east_m", "north_m", "up_m"]] - before[["east_m", "north_m", "up_m"]]).to_numpy(float) * 1000
    expected_mm = step[["east_mm", "north_mm", "up_mm"]].to_numpy(float)
    np.testing.assert_allclose(moved_mm[:2], expected_mm[:2], atol=8.0)  # daily noise 1.5 mm horizontal
    np.testing.assert_allclose(moved_mm[2], expected_mm[2], atol=25.0)  # and 5 mm up


def test_gnss_precursor_changes_only_the_gnss_files_and_the_same_seed_writes_the_same_bytes(gnss_roots, tmp_path):
    (null, null_truth), (planted, truth) = gnss_roots[0.0], gnss_roots[2.0]

    def digest(path: Path) -> str:
        return hashlib.sha256(path.read_bytes()).hexdigest()

    assert {key for key, name in FILE_NAMES.items() if digest(null / name) != digest(planted / name)} == {"truth"}
    assert truth["gnss"] == null_truth["gnss"] and not null_truth["precursors"]["gnss"]["transients"]
    transients = pd.DataFrame(truth["precursors"]["gnss"]["transients"])
    assert transients["distance_km"].le(50.0).all() and transients["amplitude_mm"].between(0.0, 10.0).all()
    changed = {p.stem for p, q in zip(gnss_files(null), gnss_files(planted)) if digest(p) != digest(q)}
    assert changed == set(transients["station"])
    write_synthetic(tmp_path, synthetic_config(0.0))
    assert [digest(p) for p in gnss_files(tmp_path)] == [digest(p) for p in gnss_files(null)]
    gnss_files(tmp_path)[0].unlink()  # an incomplete root is rewritten, not reused
    write_synthetic(tmp_path, synthetic_config(0.0))
    assert [digest(p) for p in gnss_files(tmp_path)] == [digest(p) for p in gnss_files(null)]


def quiet_ends(ends: np.ndarray, events: np.ndarray, before_days: float, after_days: float) -> np.ndarray:
    """Which `ends` have no event in [end - before_days, end + after_days)."""
    gap = (events[None, :] - ends[:, None]) / np.timedelta64(1, "D")
    return ~((gap >= -before_days) & (gap < after_days)).any(axis=1)


GNSS_SOURCE = {"reader": "seisbind.data.gnss.read_gnss", "glob": ["gnss/*.tenv3", "gnss/*.pos"]}
"""The gnss modality's source (configs/modality/gnss.yaml)."""


def study_data(root: Path, catalog: pd.DataFrame | None = None) -> StudyData:
    """What the probe hands a family: the root's side tables and its catalog (event_id, epicentre, ...)."""
    catalog = read_catalog(root / FILE_NAMES["catalog"]) if catalog is None else catalog
    return StudyData(root=root, tables=SideTables(root), catalog=catalog, metadata=None)


def windows_frame(ends: pd.DatetimeIndex, target_event_id: list, stratum: list, **kwargs) -> pd.DataFrame:
    """Day-long windows ending at `ends` with the columns GnssFamily reads (target NaN for background)."""
    return pd.DataFrame({"start_time": ends - pd.Timedelta(hours=24), "end_time": ends,
                         "target_event_id": target_event_id, "stratum": stratum}, **kwargs)


def pre_target_vs_background(root: Path, truth: dict) -> tuple[pd.Series, pd.Series]:
    """Horizontal displacement (east + north, mm, from GnssFamily's log10 features) before each target and at the
    end of each background day, the background day matched to the target nearest in time (its stratum, as with
    match_days), so both classes look at the stations of the same targets.

    Windows whose span holds a co-seismic step stay in both classes: the family removes the offsets of the
    catalogued M >= 5 earthquakes (Norcia's pre window holds Visso's M5.9 step, ~35 mm against 1-3 mm of noise).
    Background windows whose span or anchor days (11 days before the end: 5 window days, 5 anchor days, the day
    boundary) overlap a target's 5-day transient are left out: they would be pre-event windows.
    """
    catalog = read_catalog(root / FILE_NAMES["catalog"])
    targets = pd.DataFrame(truth["targets"])
    target_ids = targets["event_id"].astype(str).to_numpy()
    target_times = pd.to_datetime(targets["time"]).dt.tz_localize(None).to_numpy()
    background = np.arange(np.datetime64("2016-08-01"), np.datetime64("2017-08-01"), np.timedelta64(1, "D"))
    background = background[quiet_ends(background, target_times, 10, 5)]
    nearest = np.abs(background[:, None] - target_times[None, :]).argmin(axis=1)
    windows = pd.concat([
        windows_frame(pd.to_datetime(target_times, utc=True), list(target_ids), list(target_ids)),
        windows_frame(pd.to_datetime(background, utc=True), [np.nan] * background.size, list(target_ids[nearest])),
    ], ignore_index=True)
    family = GnssFamily(GNSS_SOURCE)
    features = family.compute(study_data(root, catalog), windows)
    assert list(features.columns) == list(family.columns) and features.index.equals(windows.index)
    assert (features["gnss_n_stations"] == family.max_stations).all()  # 4 of the 8 within 50 km
    horizontal = 10.0 ** features["gnss_east_log10_mm"] + 10.0 ** features["gnss_north_log10_mm"]
    return horizontal.iloc[: target_ids.size], horizontal.iloc[target_ids.size:]


def test_gnss_family_sees_the_planted_transient_and_nothing_at_strength_zero(gnss_roots):
    planted_pre, planted_background = pre_target_vs_background(*gnss_roots[2.0])
    assert len(planted_pre) >= 15 and len(planted_background) >= 80
    assert stats.mannwhitneyu(planted_pre, planted_background, alternative="greater").pvalue < 1e-6
    assert planted_pre.median() > 1.5 * planted_background.median()
    null_pre, null_background = pre_target_vs_background(*gnss_roots[0.0])
    assert len(null_pre) == len(planted_pre) and len(null_background) == len(planted_background)
    assert stats.mannwhitneyu(null_pre, null_background).pvalue > 0.1
    assert 0.8 < null_pre.median() / null_background.median() < 1.25


def test_gnss_family_removes_the_coseismic_steps_the_truth_lists(gnss_roots):
    """Day-long background windows matched to their nearest target, at strength 0: those whose window or anchor days
    (the 11 days before the end) hold a step of more than 5 mm at a station within 50 km of the target (the truth's
    steps of the M >= 5 earthquakes) move by about the step when offsets are kept, and by noise alone once the
    catalogued offsets are removed: the noise of the two days whose difference is the offset on top of the other
    windows' (1.5 mm daily noise: sqrt(1.8^2 + 2 x 1.5^2) / 1.8 mm, a 1.5 times larger residual)."""
    root, truth = gnss_roots[0.0]
    catalog = read_catalog(root / FILE_NAMES["catalog"])
    targets = pd.DataFrame(truth["targets"])
    ends = pd.date_range("2016-08-01", "2017-08-01", freq="D", tz="UTC")
    nearest = np.abs(ends.to_numpy()[:, None] - pd.to_datetime(targets["time"]).to_numpy()[None, :]).argmin(axis=1)
    target_ids = targets["event_id"].astype(str).to_numpy()[nearest]
    windows = windows_frame(ends, [np.nan] * ends.size, list(target_ids))

    steps = pd.DataFrame(truth["gnss"]["steps"]).merge(catalog[["event_id", "time"]], on="event_id")
    stations = pd.DataFrame(truth["gnss"]["stations"]).set_index("code")
    located = targets.set_index(targets["event_id"].astype(str))
    near = epicentral_km(located.loc[target_ids, ["latitude_deg"]].to_numpy(),
                         located.loc[target_ids, ["longitude_deg"]].to_numpy(),
                         stations.loc[steps["station"], "latitude_deg"].to_numpy()[None, :],
                         stations.loc[steps["station"], "longitude_deg"].to_numpy()[None, :]) <= 50.0
    age_days = (ends.to_numpy()[:, None] - steps["time"].to_numpy()[None, :]) / np.timedelta64(1, "D")
    large = np.hypot(steps["east_mm"], steps["north_mm"]).to_numpy()[None, :] > 5.0
    stepped = (near & large & (age_days > 0) & (age_days <= 11)).any(axis=1)

    def horizontal_mm(family: GnssFamily) -> pd.Series:
        features = family.compute(study_data(root, catalog), windows)
        return (10.0 ** features["gnss_east_log10_mm"] + 10.0 ** features["gnss_north_log10_mm"]) / 2

    kept = horizontal_mm(GnssFamily(GNSS_SOURCE, step_min_magnitude=10.0))
    removed = horizontal_mm(GnssFamily(GNSS_SOURCE))
    assert stepped.sum() >= 10 and (~stepped).sum() >= 200
    assert kept[stepped].median() > 4 * kept[~stepped].median() and kept[stepped].median() > 5.0
    assert 1.0 < removed[stepped].median() / removed[~stepped].median() < 1.8
    assert removed[stepped].max() < 10.0 < kept[stepped].max()


def test_gnss_family_is_nan_without_a_located_target_or_a_station_nearby(gnss_roots):
    root, truth = gnss_roots[0.0]
    catalog = read_catalog(root / FILE_NAMES["catalog"])
    far = catalog.iloc[:1].assign(event_id="FAR", latitude_deg=45.5, longitude_deg=9.2)  # Milan, ~400 km away
    data = study_data(root, pd.concat([catalog, far], ignore_index=True))
    target = next(t for t in truth["targets"] if t["name"] == "independent")
    target_id, target_time = str(target["event_id"]), pd.Timestamp(target["time"])
    first_day = read_gnss(gnss_files(root))["time"].min()
    ends = pd.DatetimeIndex([target_time, target_time - 3 * DAY, target_time - 3 * DAY, target_time, target_time,
                             first_day + 7 * DAY])
    windows = windows_frame(ends, [target_id, np.nan, np.nan, "NOT_IN_CATALOG", "FAR", target_id],
                            [target_id, target_id, "all", "NOT_IN_CATALOG", "FAR", target_id],
                            index=[5, 6, 7, 8, 9, 10])
    family = GnssFamily(GNSS_SOURCE)
    features = family.compute(data, windows)
    assert features.index.tolist() == [5, 6, 7, 8, 9, 10] and list(features.columns) == list(family.columns)
    # its pre window and a background window of its stratum: the same 4 stations
    assert features.loc[[5, 6], "gnss_n_stations"].tolist() == [4, 4] and features.loc[[5, 6]].notna().all(axis=None)
    # unmatched background (stratum "all"), a target not in the catalog, one 400 km from every station, and one
    # 7 days after the first GNSS day (2 of the 5 anchor days before its 5-day window): no station, so every
    # feature and the count are NaN
    assert features.loc[[7, 8, 9, 10]].isna().all(axis=None)
    with pytest.raises(FamilyUnavailable, match="no GNSS station within 50 km of any target"):
        family.compute(data, windows.loc[[7, 8, 9, 10]])


@pytest.mark.parametrize(("gnss", "precursor", "key"), [
    ({"n_stations": 0}, {}, "gnss.n_stations"),
    ({"outage_days": [5, 2]}, {}, "gnss.outage_days"),
    ({"missing_day_fraction": 1.0}, {}, "gnss.missing_day_fraction"),
    ({}, {"gnss": -1.0}, "precursor.gnss must be >= 0"),
    ({}, {"gnss_days": 0.0}, "precursor.gnss_days"),
])
def test_gnss_keys_are_validated(tmp_path, gnss, precursor, key):
    config = SyntheticConfig(gnss=GnssConfig(**gnss), precursor=PrecursorConfig(**precursor))
    with pytest.raises(SeisbindInputError, match=key):
        write_synthetic(tmp_path, config)
    assert not any(tmp_path.iterdir())
