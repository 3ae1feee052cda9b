"""Continuous-waveform readers, station tables and the synthetic network, on ObsPy's bundled real files and on
synthetic MiniSEED written through ObsPy."""

from __future__ import annotations

import logging
from importlib.resources import files

import numpy as np
import obspy
import pytest
from scipy.signal import butter, sosfiltfilt

from seisbind.data.synthetic.continuous import write_synthetic_network
from seisbind.errors import SeisbindInputError
from seisbind.probe.stations.continuous import index_waveform_files, load_station, read_station_table

OBSPY = files("obspy")
FFBX_MSEED = str(OBSPY / "core/tests/data/ffbx_unrotated_gaps.mseed")  # 3 stations, HH 200 Hz + BH 40 Hz, gaps
FFBX_XML = str(OBSPY / "core/tests/data/ffbx.stationxml")
SAC_Q = str(OBSPY / "io/sac/tests/data/seism.sac")  # channel "Q": no component code
SAC_E = str(OBSPY / "io/sac/tests/data/LMOW.BHE.SAC")  # no network code, one E component


def test_real_multiband_gappy_file_picks_highest_rate_and_reports_processing():
    index, skipped = index_waveform_files(FFBX_MSEED)
    assert not skipped and set(index["station"]) == {"FFB1", "FFB2", "FFB3"}
    record = load_station(index, "BW", "FFB1", sampling_rate_hz=100.0)
    report = record.processing
    assert report["channels"] == ["HH2", "HH1", "HHZ"]  # 2 -> E, 1 -> N, unrotated, and said so
    assert report["unrotated_numbered_components"] and record.components == "ENZ"
    assert report["resampled_from_hz"] == 200.0 and set(report["ignored_channels"]) == {".BH1", ".BH2", ".BHZ"}
    assert record.data.shape == (3, 201) and record.data.dtype == np.float32 and record.valid.all()
    assert np.isfinite(record.data).all() and (record.data.std(axis=1) > 0).all()


def test_real_gaps_short_ones_interpolated_long_ones_masked():
    index, _ = index_waveform_files(FFBX_MSEED)
    record = load_station(index, "BW", "FFB1", sampling_rate_hz=100.0, channel_priority=["BH"])
    per_component = record.processing["per_component"]
    assert record.processing["resampled_from_hz"] == 40.0 and record.processing["merged_gaps"] == 2
    assert per_component["N"]["interpolated_gaps"] == 1 and per_component["N"]["masked_seconds"] == 0.0
    assert per_component["E"]["n_gaps"] == 1 and per_component["E"]["masked_seconds"] == pytest.approx(1.175)
    masked = (~record.valid).sum() / 100.0
    assert 1.1 < masked < 1.3  # the 1.175-s gap of BH2, on the 100 Hz grid
    assert (record.data[0, ~record.valid] == 0).all()
    # with a priority no station channel matches, the reason names the channels it has
    with pytest.raises(SeisbindInputError, match="channel_priority.*BW|channel_priority"):
        load_station(index, "BW", "FFB1", sampling_rate_hz=100.0, channel_priority=["LH"])


def test_real_stationxml_and_default_inventory_tables():
    table = read_station_table(FFBX_XML)
    assert list(table.columns) == ["network", "station", "latitude", "longitude", "elevation_m"]
    assert set(table["station"]) == {"FFB1", "FFB2", "FFB3"}
    default = read_station_table(str(OBSPY / "core/data/BW_GR_misc.xml"))  # obspy.read_inventory()'s default
    assert sorted(default["station"]) == ["FUR", "RJOB", "WET"]  # RJOB's three epochs kept once
    rjob = default.set_index("station").loc["RJOB"]
    inv = obspy.read_inventory()
    assert rjob["latitude"] == pytest.approx(inv.select(station="RJOB")[0][0].latitude)


def test_real_sac_without_component_code_is_refused_with_reason_and_plain_sac_reads():
    index, _ = index_waveform_files([SAC_Q, SAC_E])
    with pytest.raises(SeisbindInputError, match=r"\.CDV: no channel with an E/N/Z"):
        load_station(index, "", "CDV", sampling_rate_hz=100.0)
    record = load_station(index, "", "LMOW", sampling_rate_hz=100.0)
    assert record.components == "E" and record.processing["resampled_from_hz"] is None
    assert (record.data[1:] == 0).all() and record.data[0].std() > 0


def test_csv_station_table_aliases_and_errors(tmp_path, caplog):
    good = tmp_path / "good.csv"
    good.write_text("net,sta,lat,lon\nXS,A1,37.5,137.0\nXS,A2,37.6,137.1\n")
    table = read_station_table(good)
    assert table["latitude"].tolist() == [37.5, 37.6] and table["elevation_m"].isna().all()
    missing = tmp_path / "missing.csv"
    missing.write_text("network,station,latitude\nXS,A1,37.5\n")
    with pytest.raises(SeisbindInputError, match=r"missing\.csv: no 'longitude' column"):
        read_station_table(missing)
    bad = tmp_path / "bad.csv"
    bad.write_text("network,station,latitude,longitude\nXS,A1,37.5,137.0\nXS,A2,north,137.1\n")
    with pytest.raises(SeisbindInputError, match=r"bad\.csv, line 3: latitude 'north'"):
        read_station_table(bad)
    with_bom = tmp_path / "bom.csv"
    with_bom.write_text("network,station,latitude,longitude\nXS,A1,37.5,137.0\n", encoding="utf-8-sig")
    assert read_station_table(with_bom)["network"].tolist() == ["XS"]
    repeated = tmp_path / "repeated.csv"
    repeated.write_text("network,station,latitude,longitude\nXS,A1,37.5,137.0\nXS,A2,37.6,137.1\nXS,A1,37.5,137.0\n")
    with caplog.at_level(logging.WARNING, logger="seisbind.probe.stations.continuous"):
        assert read_station_table(repeated)["station"].tolist() == ["A1", "A2"]
    assert any("repeated.csv: 1 repeated identical station row(s) collapsed" in r.getMessage() for r in caplog.records)
    repeated.write_text(repeated.read_text() + "XS,A1,37.9,137.0\n")
    with pytest.raises(SeisbindInputError, match=r"repeated\.csv: station XS\.A1 is listed with different coordinates "
                                                 r"on line 2 \(latitude 37\.5, longitude 137\) and line 5 "
                                                 r"\(latitude 37\.9, longitude 137\)"):
        read_station_table(repeated)
    junk = tmp_path / "junk.xml"
    junk.write_text("not an inventory")
    with pytest.raises(SeisbindInputError, match="junk.xml: not a .csv station table"):
        read_station_table(junk)


def test_unreadable_files_are_counted_skips_or_raise(tmp_path):
    obspy.read().write(str(tmp_path / "example.mseed"), format="MSEED")
    (tmp_path / "README.txt").write_text("continuous data of RJOB")
    index, skipped = index_waveform_files(str(tmp_path / "*"))
    assert set(index["station"]) == {"RJOB"}
    readme = str(tmp_path / "README.txt")
    assert list(skipped) == [readme] and "ObsPy cannot read it" in skipped[readme]
    with pytest.raises(SeisbindInputError, match="README.txt: ObsPy cannot read it"):
        index_waveform_files(str(tmp_path), on_bad_file="raise")
    with pytest.raises(SeisbindInputError, match="matches no files"):
        index_waveform_files(str(tmp_path / "*.sac"))


def test_synthetic_network_exercises_rates_gaps_and_components(tmp_path):
    net = write_synthetic_network(tmp_path, n_stations=6, duration_minutes=6, event_minute=4, planted=(5,),
                                  planted_minutes=2, gap_minute=1.0, gap_seconds=20.0, transients_per_hour=0.0,
                                  station_format="csv")
    assert net.planted == ["S05"] and net.stations["distance_km"].is_monotonic_increasing
    table = read_station_table(net.stations_path)
    assert table[["latitude", "longitude"]].to_numpy() == pytest.approx(
        net.stations[["latitude", "longitude"]].to_numpy())
    index, skipped = index_waveform_files(net.waveforms)
    assert not skipped
    records = {s: load_station(index, "XS", s, sampling_rate_hz=100.0) for s in net.stations["station"]}
    assert records["S01"].processing["resampled_from_hz"] == 50.0
    assert records["S02"].processing["resampled_from_hz"] == 200.0
    assert records["S00"].processing["resampled_from_hz"] is None
    assert records["S03"].processing["merged_gaps"] == 3  # one per component
    assert (~records["S03"].valid).sum() == pytest.approx(2000, abs=2)
    assert records["S04"].components == "Z"
    origin = int(4 * 60 * 100)

    def peak_over_noise(x):  # the event's peak relative to the pre-event noise
        return np.abs(x[origin:]).max() / x[: origin - 100].std()

    assert peak_over_noise(records["S00"].data[2]) > 5 * peak_over_noise(records["S05"].data[2])

    def planted_band_ratio(x):  # 4-12 Hz std in the planted minutes over the same in the first minute
        y = sosfiltfilt(butter(4, [4.0, 12.0], btype="bandpass", fs=100.0, output="sos"), x)
        return y[int(2.5 * 60 * 100):origin].std() / y[: 60 * 100].std()

    assert planted_band_ratio(records["S05"].data[2]) > 1.5 > planted_band_ratio(records["S00"].data[2])
