"""Movebank CSV reader and ODBA binning, on small hand-written e-obs exports."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from seisbind.data.movebank import burst_odba, odba_bins, read_movebank
from seisbind.data.tables import TableSource
from seisbind.errors import SeisbindInputError

COLUMNS = ("event-id,timestamp,individual-local-identifier,tag-local-identifier,sensor-type,"
           "individual-taxon-canonical-name,location-long,location-lat,eobs:accelerations-raw,"
           "eobs:acceleration-axes,eobs:acceleration-sampling-frequency-per-axis,eobs:start-timestamp")
HZ = 20.0
PERIOD = 20  # samples per cycle of the test sinusoid (1 Hz at 20 Hz)
N_SAMPLES = 81  # 4 s; both ends on a peak, so the mirrored running mean of whole cycles is exactly the offset


def cosine_burst(amplitudes_counts, offset_counts=2048, n=N_SAMPLES):
    """Raw (n, 3) counts: offset + A_axis cos(2 pi k / PERIOD), gravity-like offsets differ per axis."""
    k = np.arange(n)[:, None]
    offsets = offset_counts + np.array([0, 300, -500])
    return np.rint(offsets + np.asarray(amplitudes_counts, float) * np.cos(2 * np.pi * k / PERIOD)).astype(int)


def analytic_odba(amplitudes_counts, n=N_SAMPLES):
    """ODBA of cosine_burst: sum_axis A_axis * mean_k |cos(2 pi k / PERIOD)| (~ 2/pi per unit amplitude)."""
    return float(np.sum(amplitudes_counts)) * np.abs(np.cos(2 * np.pi * np.arange(n) / PERIOD)).mean()


def row(event_id, when, individual, raw=None, sensor="acceleration", taxon="Bos taurus", tag="5001", raw_text=None):
    text = raw_text if raw_text is not None else (" ".join(map(str, raw.ravel())) if raw is not None else "")
    location = ",13.05,43.03" if sensor == "gps" else ",,"
    hz = "" if sensor == "gps" else f"{HZ:g}"
    axes = "" if sensor == "gps" else "XYZ"
    return f"{event_id},{when},{individual},{tag},{sensor},{taxon}{location},{text},{axes},{hz},{when}"


def write_csv(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([COLUMNS, *rows]) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def farm_csv(tmp_path):
    return write_csv(tmp_path / "animals" / "farm.csv", [
        row(1, "2016-10-28 00:00:03.000", "Cow_1", cosine_burst([100, 0, 0])),
        row(2, "2016-10-28 00:01:00.000", "Cow_1", sensor="gps"),
        row(3, "2016-10-28 00:05:00.000", "Cow_1", cosine_burst([300, 0, 0])),
        row(4, "2016-10-28 00:20:00.000", "Dog_1", cosine_burst([500, 500, 500]),
            taxon="Canis lupus familiaris", tag="5002"),
        row(5, "2016-10-28 01:10:00.000", "Cow_1", cosine_burst([0, 0, 200])),
    ])


def test_read_movebank_keeps_bursts_and_counts_gps(farm_csv, caplog):
    with caplog.at_level(logging.INFO):
        bursts = read_movebank(farm_csv)
    assert "ignored 1 gps rows" in caplog.text
    assert list(bursts["individual"]) == ["Cow_1", "Cow_1", "Cow_1", "Dog_1"]
    assert list(bursts["line"]) == [2, 4, 6, 5]
    assert bursts["timestamp"].iloc[0] == pd.Timestamp("2016-10-28 00:00:03", tz="UTC")
    assert str(bursts["timestamp"].dtype) == "datetime64[ns, UTC]"
    first = bursts["raw"].iloc[0]
    assert first.shape == (N_SAMPLES, 3)
    np.testing.assert_array_equal(first, cosine_burst([100, 0, 0]))  # X Y Z de-interleaved
    assert bursts["sampling_hz"].iloc[0] == HZ and bursts["taxon"].iloc[3] == "Canis lupus familiaris"


def test_odba_of_cosine_burst_is_analytic():
    amplitudes = np.array([1000.0, 400.0, 250.0])
    bursts = pd.DataFrame({"raw": [cosine_burst(amplitudes)], "sampling_hz": [HZ], "tag": ["5001"]})
    assert burst_odba(bursts)[0] == pytest.approx(analytic_odba(amplitudes), rel=1e-3)
    assert analytic_odba(amplitudes) == pytest.approx(amplitudes.sum() * 2 / np.pi, rel=2e-3)
    # offsets cancel, the calibration scales: 1 count = 0.001 g
    shifted = pd.DataFrame({"raw": [cosine_burst(amplitudes, offset_counts=0)], "sampling_hz": [HZ], "tag": ["5001"]})
    assert burst_odba(shifted)[0] == pytest.approx(burst_odba(bursts)[0], rel=1e-6)
    calibrated = burst_odba(bursts, g_per_count={"5001": 0.001})[0]
    assert calibrated == pytest.approx(analytic_odba(amplitudes) / 1000, rel=1e-3)
    with pytest.raises(SeisbindInputError, match="5001"):
        burst_odba(bursts, g_per_count={"9999": 0.001})


def test_short_burst_uses_its_mean():
    raw = cosine_burst([100, 0, 0], n=21)  # 1 s burst, 2 s running mean: static part = burst mean
    bursts = pd.DataFrame({"raw": [raw], "sampling_hz": [HZ], "tag": ["t"]})
    expected = np.abs(raw - raw.mean(axis=0)).sum(axis=1).mean()
    assert burst_odba(bursts)[0] == pytest.approx(expected)
    assert burst_odba(bursts, running_mean_s=0.5)[0] != pytest.approx(expected)  # a shorter window differs


def test_odba_bins_keep_gaps(farm_csv):
    bins = odba_bins(read_movebank(farm_csv))
    expected_index = pd.date_range("2016-10-28 00:00", "2016-10-28 01:00", freq="15min", tz="UTC")
    assert bins.index.equals(pd.DatetimeIndex(expected_index, name="bin_start"))
    assert list(bins.columns) == ["Cow_1", "Dog_1"]
    cow, dog = bins["Cow_1"], bins["Dog_1"]
    assert cow.iloc[0] == pytest.approx((analytic_odba([100, 0, 0]) + analytic_odba([300, 0, 0])) / 2, rel=1e-3)
    assert cow.iloc[1:4].isna().all()  # gap stays a gap
    assert cow.iloc[4] == pytest.approx(analytic_odba([0, 0, 200]), rel=1e-3)
    assert dog.notna().sum() == 1 and dog.iloc[1] == pytest.approx(analytic_odba([500, 500, 500]), rel=1e-3)
    assert bins.attrs["taxon"] == {"Cow_1": "Bos taurus", "Dog_1": "Canis lupus familiaris"}
    assert bins.attrs["odba_unit"] == "count"
    hourly = odba_bins(read_movebank(farm_csv), bin_minutes=60, g_per_count=0.001)
    assert len(hourly) == 2 and hourly.attrs["odba_unit"] == "g"


@pytest.mark.parametrize(
    ("raw_text", "reason"),
    [
        ("1 2 3 4 5", "sample count not divisible by axes"),
        ("1 2 3.5", "non-integer or out-of-range sample"),
        ("1 2 99999999999", "non-integer or out-of-range sample"),
        ("", "empty burst"),
    ],
)
def test_malformed_burst_raises_with_line_or_is_skipped(tmp_path, raw_text, reason, caplog):
    path = write_csv(tmp_path / "bad.csv", [
        row(1, "2016-10-28 00:00:03.000", "Cow_1", cosine_burst([100, 0, 0])),
        row(2, "2016-10-28 00:01:00.000", "Cow_1", sensor="gps"),
        row(3, "2016-10-28 00:05:00.000", "Cow_1", raw_text=raw_text),
    ])
    with pytest.raises(SeisbindInputError, match=rf"bad\.csv: line 4: {reason}"):
        read_movebank(path)
    with caplog.at_level(logging.WARNING):
        bursts = read_movebank(path, on_bad="skip")
    assert len(bursts) == 1 and "skipped 1 malformed records" in caplog.text and "line 4" in caplog.text


def test_irregular_whitespace_still_parses(tmp_path):
    path = write_csv(tmp_path / "ws.csv", [
        row(1, "2016-10-28 00:00:03.000", "Cow_1", raw_text=" 1  2 3\t4 5 6 "),
        row(2, "2016-10-28 00:00:09.000", "Cow_1", raw_text="7 8 9"),
    ])
    bursts = read_movebank(path)
    np.testing.assert_array_equal(bursts["raw"].iloc[0], [[1, 2, 3], [4, 5, 6]])
    np.testing.assert_array_equal(bursts["raw"].iloc[1], [[7, 8, 9]])


def test_missing_column_and_gps_only(tmp_path):
    path = tmp_path / "nocol.csv"
    path.write_text("timestamp,individual-local-identifier\n2016-10-28 00:00:00.000,Cow_1\n")
    with pytest.raises(SeisbindInputError, match=r"nocol\.csv: missing Movebank column"):
        read_movebank(path)
    gps = write_csv(tmp_path / "gps.csv", [row(1, "2016-10-28 00:01:00.000", "Cow_1", sensor="gps")])
    with pytest.raises(SeisbindInputError, match="no acceleration bursts"):
        read_movebank(gps)


def test_animal_source_glob_and_several_files(farm_csv, tmp_path):
    second = write_csv(tmp_path / "animals" / "sheep.csv", [
        row(1, "2016-10-28 00:30:00.000", "Sheep_1", cosine_burst([10, 10, 10]), taxon="Ovis aries", tag="6001"),
    ])
    source = TableSource(reader="seisbind.data.movebank.read_movebank", glob=("animals/*.csv",))
    found = source.paths(tmp_path)
    assert found == sorted([farm_csv, second])
    assert source.paths(tmp_path / "nowhere") == []
    assert set(read_movebank(found)["individual"]) == {"Cow_1", "Dog_1", "Sheep_1"}


def test_byte_order_mark_before_the_header(farm_csv):
    table = pd.read_csv(farm_csv, dtype=str, keep_default_na=False)
    table = table[["timestamp", *table.columns.drop("timestamp")]]  # a required column first, next to the BOM
    farm_csv.write_text(table.to_csv(index=False), encoding="utf-8-sig")
    assert read_movebank(farm_csv)["line"].tolist() == [2, 4, 6, 5]


def test_one_animal_on_two_tags_at_once_is_refused_and_a_tag_change_is_not(tmp_path):
    """Two tags on one animal at the same times were averaged into one ODBA; a retagged animal is one series."""
    burst = cosine_burst([100, 0, 0])
    both = write_csv(tmp_path / "both.csv", [
        row(1, "2016-10-28 00:00:00.000", "Cow_1", burst, tag="5001"),
        row(2, "2016-10-28 00:05:00.000", "Cow_1", burst, tag="5001"),
        row(3, "2016-10-28 00:05:00.000", "Cow_1", burst, tag="5009"),
        row(4, "2016-10-28 00:10:00.000", "Cow_1", burst, tag="5001"),
    ])
    with pytest.raises(SeisbindInputError, match=r"animal 'Cow_1' records on tags '5001' and '5009' at once, first at "
                                                 r"2016-10-28T00:05:00\+00:00 \(.*both\.csv line 4\)"):
        read_movebank(both)
    retagged = write_csv(tmp_path / "retagged.csv", [
        row(1, "2016-10-28 00:00:00.000", "Cow_1", burst, tag="5001"),
        row(2, "2016-10-28 00:05:00.000", "Cow_1", burst, tag="5009"),
        row(3, "2016-10-28 00:05:00.000", "Dog_1", burst, tag="5002"),
    ])
    assert odba_bins(read_movebank(retagged)).columns.tolist() == ["Cow_1", "Dog_1"]
