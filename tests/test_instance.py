"""INSTANCE readers on small files written by hand in the layouts INGV distributes."""

from __future__ import annotations

import logging
import multiprocessing
import pickle
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest

from seisbind.data.instance import InstanceWaveforms, find_instance_files, read_instance_metadata
from seisbind.data.instance_schema import EVENT_COLUMNS, NOISE_COLUMNS, TEXT_COLUMNS, TIME_COLUMNS
from seisbind.data.trace_filter import MetadataFilter
from seisbind.data.trace_index import open_waveforms
from seisbind.errors import BadTraceError, SeisbindInputError

MOMENT_TENSOR = "[[ 1.2e+15 -3.0e+14  2.1e+14]\n [-3.0e+14  8.0e+14 -1.0e+13]\n [ 2.1e+14 -1.0e+13 -2.0e+15]]"

# (source_id, network, station, location, channels, origin time, lat, lon, magnitude, station lat, station lon)
EVENTS = [
    ("1001", "IV", "OFFI", "", "HH", "2016-08-24T01:36:32.000000Z", 42.70, 13.23, 6.0, 42.93, 13.69),
    ("1001", "IV", "CAMP", "00", "EH", "2016-08-24T01:36:32.000000Z", 42.70, 13.23, 6.0, 42.53, 13.40),
    ("1002", "MN", "AQU", "", "HN", "2016-10-30T06:40:18Z", 42.83, 13.11, 6.5, 42.35, 13.40),
    ("1003", "IV", "OFFI", "", "HH", "2012-05-20T02:03:52.123Z", 44.89, 11.23, 5.9, 42.93, 13.69),
    ("1004", "IV", "CAMP", "00", "HH", "2017-01-18T10:25:40.500000Z", 42.53, 13.28, 5.5, 42.53, 13.40),
]


def event_rows(names_v1: bool = False) -> pd.DataFrame:
    """Five event rows with all 115 columns, as text, including the quirks of the real CSV."""
    rows = []
    for source_id, network, station, location, channels, origin, lat, lon, mag, st_lat, st_lon in EVENTS:
        row = {c: "" if c in TEXT_COLUMNS else "1.5" for c in EVENT_COLUMNS}
        row.update(
            source_id=source_id, station_network_code=network, station_code=station,
            station_location_code=location, station_channels=channels, source_origin_time=origin,
            trace_start_time=origin, source_latitude_deg=str(lat), source_longitude_deg=str(lon),
            source_magnitude=str(mag), source_magnitude_type="ML", station_latitude_deg=str(st_lat),
            station_longitude_deg=str(st_lon), trace_name=f"{source_id}.{network}.{station}.{location}.{channels}",
            trace_P_arrival_sample="1000", trace_S_arrival_sample="", trace_E_snr_db="None",
            trace_eval_P="manual", source_type="earthquake",
        )
        rows.append(row)
    rows[0]["source_mechanism_moment_tensor"] = MOMENT_TENSOR
    rows[1]["trace_S_arrival_sample"] = "2500"
    rows[1]["trace_E_snr_db"] = "12.5"
    frame = pd.DataFrame(rows, columns=EVENT_COLUMNS)
    return frame.rename(columns={"source_mt_scalar_moment_Nm": "source_mt_scalar_moment"}) if names_v1 else frame


def write_csv(frame: pd.DataFrame, path: Path) -> Path:
    frame.to_csv(path, index=False)
    return path


def write_hdf5(path: Path, traces: dict[str, np.ndarray]) -> Path:
    with h5py.File(path, "w") as handle:
        group = handle.create_group("data")
        for name, data in traces.items():
            group.create_dataset(name, data=data)
    return path


def waveform(seed: int, dtype: str) -> np.ndarray:
    return (np.random.default_rng(seed).normal(size=(3, 12000)) * 1000).astype(dtype)


def test_csv_fixture_is_real_layout(tmp_path):
    path = write_csv(event_rows(), tmp_path / "m.csv")
    text = path.read_text()
    assert text.splitlines()[0].count(",") == 114
    assert '"[[ 1.2e+15' in text  # the moment tensor is a quoted multi-line cell


def test_find_files_prefers_newest_full_set_and_counts(tmp_path):
    for name in ["metadata_Instance_events.csv", "metadata_Instance_events_v3.csv", "metadata_Instance_events_v2.csv",
                 "Instance_events_gm.hdf5", "Instance_events_counts.hdf5", "metadata_Instance_events_10k.csv",
                 "Instance_events_counts_10k.hdf5"]:
        (tmp_path / name).touch()
    files = find_instance_files(tmp_path)
    assert files.events_csv.name == "metadata_Instance_events_v3.csv"
    assert files.events_hdf5.name == "Instance_events_counts.hdf5"
    assert files.noise_csv is None and files.noise_hdf5 is None


def test_find_files_sample_suffix_gm_and_noise(tmp_path):
    for name in ["metadata_Instance_events_10k.csv", "Instance_events_gm_10k.hdf5", "metadata_Instance_noise_1k.csv",
                 "Instance_noise_1k.hdf5"]:
        (tmp_path / name).touch()
    files = find_instance_files(tmp_path)
    assert (files.events_csv.name, files.events_hdf5.name) == ("metadata_Instance_events_10k.csv",
                                                               "Instance_events_gm_10k.hdf5")
    assert (files.noise_csv.name, files.noise_hdf5.name) == ("metadata_Instance_noise_1k.csv",
                                                             "Instance_noise_1k.hdf5")


def test_find_files_errors_name_what_is_missing(tmp_path):
    with pytest.raises(SeisbindInputError, match="no INSTANCE event metadata"):
        find_instance_files(tmp_path)
    (tmp_path / "metadata_Instance_events_10k.csv").touch()
    (tmp_path / "Instance_events_counts.hdf5").touch()  # wrong sample suffix: no pair
    with pytest.raises(SeisbindInputError, match="Instance_events_counts_10k.hdf5"):
        find_instance_files(tmp_path)
    (tmp_path / "Instance_events_counts_10k.hdf5").touch()
    (tmp_path / "metadata_Instance_noise.csv").touch()
    with pytest.raises(SeisbindInputError, match="noise files come in pairs"):
        find_instance_files(tmp_path)


def test_read_metadata_dtypes_and_coercion(tmp_path):
    path = write_csv(event_rows(), tmp_path / "metadata_Instance_events_v3.csv")
    frame = read_instance_metadata(path)
    assert list(frame.columns) == EVENT_COLUMNS and len(frame) == 5
    numeric = [c for c in EVENT_COLUMNS if c not in TEXT_COLUMNS]
    assert all(frame[c].dtype == np.float32 for c in numeric)
    for column in ["station_network_code", "station_code", "station_location_code", "station_channels"]:
        assert isinstance(frame[column].dtype, pd.CategoricalDtype)
    for column in TIME_COLUMNS - {"trace_P_arrival_time", "trace_S_arrival_time"}:
        assert frame[column].dtype == "datetime64[ns, UTC]"
    assert frame["trace_P_arrival_time"].isna().all()  # empty cells -> NaT
    assert frame["source_origin_time"].iloc[2] == pd.Timestamp("2016-10-30T06:40:18", tz="UTC")  # no fraction
    assert frame["source_origin_time"].iloc[3] == pd.Timestamp("2012-05-20T02:03:52.123", tz="UTC")
    assert np.isnan(frame["trace_E_snr_db"].iloc[0]) and frame["trace_E_snr_db"].iloc[1] == np.float32(12.5)
    assert frame["trace_S_arrival_sample"].isna().sum() == 4 and frame["trace_S_arrival_sample"].iloc[1] == 2500
    assert frame["source_mechanism_moment_tensor"].iloc[0] == MOMENT_TENSOR
    assert frame["station_location_code"].iloc[0] == ""  # empty location kept as text, not NaN
    assert frame["trace_name"].iloc[0] == "1001.IV.OFFI..HH"
    assert frame["source_id"].iloc[0] == "1001"


def test_read_metadata_selected_columns_in_chunks(tmp_path):
    path = write_csv(event_rows(), tmp_path / "m.csv")
    frame = read_instance_metadata(path, ["source_magnitude", "station_code"], chunk_rows=2)
    assert list(frame.columns) == ["source_magnitude", "station_code", "trace_name"]
    assert frame["station_code"].tolist() == ["OFFI", "CAMP", "AQU", "OFFI", "CAMP"]
    assert isinstance(frame["station_code"].dtype, pd.CategoricalDtype)  # categories merged across chunks
    assert frame["source_magnitude"].tolist() == pytest.approx([6.0, 6.0, 6.5, 5.9, 5.5])


def test_read_metadata_v1_header_renames_moment(tmp_path):
    path = write_csv(event_rows(names_v1=True), tmp_path / "metadata_Instance_events.csv")
    frame = read_instance_metadata(path, ["source_mt_scalar_moment_Nm"])
    assert frame["source_mt_scalar_moment_Nm"].dtype == np.float32
    assert frame["source_mt_scalar_moment_Nm"].iloc[0] == np.float32(1.5)


def test_read_metadata_missing_column_names_file_and_column(tmp_path):
    path = write_csv(event_rows().drop(columns=["source_magnitude"]), tmp_path / "m.csv")
    with pytest.raises(SeisbindInputError, match=r"m\.csv.*source_magnitude"):
        read_instance_metadata(path, ["source_magnitude"])
    with pytest.raises(SeisbindInputError, match="source_magnitude"):
        read_instance_metadata(path, ["station_code"], filters=MetadataFilter(min_magnitude=3))


def test_read_metadata_bad_time_and_garbage_number(tmp_path, caplog):
    rows = event_rows()
    rows.loc[3, "trace_E_snr_db"] = "n/a?"
    path = write_csv(rows, tmp_path / "m.csv")
    with caplog.at_level(logging.WARNING):
        frame = read_instance_metadata(path, ["trace_E_snr_db"])
    assert frame["trace_E_snr_db"].isna().sum() == 4
    assert "trace_E_snr_db" in caplog.text and "1 non-numeric" in caplog.text  # counted, not silent
    rows.loc[2, "source_origin_time"] = "30/10/2016 06:40"
    path = write_csv(rows, tmp_path / "m.csv")
    with pytest.raises(SeisbindInputError, match=r"m\.csv.*source_origin_time.*data row 3"):
        read_instance_metadata(path, ["source_origin_time"], chunk_rows=2)


def test_read_metadata_unclosed_quote(tmp_path):
    path = write_csv(event_rows(), tmp_path / "m.csv")
    path.write_text(path.read_text() + '1005,IV,"OFFI,,HH,42.9\n')  # quote never closed: EOF inside a cell
    with pytest.raises(SeisbindInputError, match=r"m\.csv: malformed CSV"):
        read_instance_metadata(path, ["station_code"])


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (MetadataFilter(min_latitude_deg=42.5, max_latitude_deg=43.2, min_longitude_deg=12.8, max_longitude_deg=13.5),
         ["1001.IV.OFFI..HH", "1001.IV.CAMP.00.EH", "1002.MN.AQU..HN", "1004.IV.CAMP.00.HH"]),
        (MetadataFilter(start_time="2016-08-01", end_time="2017-01-01"),
         ["1001.IV.OFFI..HH", "1001.IV.CAMP.00.EH", "1002.MN.AQU..HN"]),
        (MetadataFilter(min_magnitude=5.95, max_magnitude=6.2), ["1001.IV.OFFI..HH", "1001.IV.CAMP.00.EH"]),
        (MetadataFilter(channels=["HH", "HN"]),
         ["1001.IV.OFFI..HH", "1002.MN.AQU..HN", "1003.IV.OFFI..HH", "1004.IV.CAMP.00.HH"]),
        (MetadataFilter(stations=["OFFI", "MN.AQU", "XX.CAMP"]),
         ["1001.IV.OFFI..HH", "1002.MN.AQU..HN", "1003.IV.OFFI..HH"]),
        (MetadataFilter(channels=["HH"], start_time=pd.Timestamp("2016-08-24 01:36:32", tz="UTC")),
         ["1001.IV.OFFI..HH", "1004.IV.CAMP.00.HH"]),
    ],
)
def test_filters_select_rows(tmp_path, filters, expected):
    path = write_csv(event_rows(), tmp_path / "m.csv")
    frame = read_instance_metadata(path, ["source_magnitude"], filters=filters, chunk_rows=2)
    assert frame["trace_name"].tolist() == expected
    assert list(frame.columns) == ["source_magnitude", "trace_name"]  # filter-only columns dropped


def noise_rows() -> pd.DataFrame:
    rows = []
    for i, (lat, start) in enumerate([(42.9, "2016-09-01T00:00:00.000000Z"), (44.0, "2016-09-02T00:00:00Z"),
                                      (42.6, "2019-01-01T00:00:00Z")]):
        row = {c: "" if c in TEXT_COLUMNS else "2.0" for c in NOISE_COLUMNS}
        row.update(station_network_code="IV", station_code=f"S{i}", station_channels="HH", station_latitude_deg=lat,
                   station_longitude_deg=13.0, trace_start_time=start, trace_name=f"IV.S{i}..HH.{i}",
                   trace_E_min_counts="None")
        rows.append(row)
    return pd.DataFrame(rows, columns=NOISE_COLUMNS)


def test_noise_metadata_filters_on_station_and_start_time(tmp_path):
    path = write_csv(noise_rows(), tmp_path / "metadata_Instance_noise.csv")
    box = MetadataFilter(min_latitude_deg=42.5, max_latitude_deg=43.2, end_time="2017-01-01")
    frame = read_instance_metadata(path, ["trace_E_min_counts"], kind="noise", filters=box)
    assert frame["trace_name"].tolist() == ["IV.S0..HH.0"]
    assert frame["trace_E_min_counts"].isna().all()
    with pytest.raises(SeisbindInputError, match="noise"):
        read_instance_metadata(path, kind="noise", filters=MetadataFilter(min_magnitude=2))


@pytest.fixture
def counts_file(tmp_path) -> Path:
    return write_hdf5(tmp_path / "Instance_events_counts.hdf5", {
        "1001.IV.OFFI..HH": waveform(0, "int32"),
        "1001.IV.CAMP.00.EH": waveform(1, "float64"),
        "1002.MN.AQU..HN": waveform(2, "float32")[:, :6000],
        "1003.IV.OFFI..HH": np.where(np.arange(12000) == 7, np.nan, waveform(3, "float32")),
        "1004.IV.CAMP.00.HH": waveform(4, "int16").T,
    })


def test_waveforms_any_dtype_to_float32(counts_file):
    reader = InstanceWaveforms(counts_file)
    for name, seed, dtype in [("1001.IV.OFFI..HH", 0, "int32"), ("1001.IV.CAMP.00.EH", 1, "float64")]:
        trace = reader.read(name)
        assert trace.dtype == np.float32 and trace.shape == (3, 12000) and trace.flags.c_contiguous
        np.testing.assert_allclose(trace, waveform(seed, dtype).astype(np.float32))
    reader.close()
    assert reader.read("1001.IV.OFFI..HH")[2, 5] == waveform(0, "int32")[2, 5]  # reopens after close


@pytest.mark.parametrize(
    ("name", "reason"),
    [("9999.IV.NONE..HH", "no dataset"), ("1002.MN.AQU..HN", r"shape \(3, 6000\)"),
     ("1004.IV.CAMP.00.HH", r"shape \(12000, 3\)"), ("1003.IV.OFFI..HH", "NaN or Inf")],
)
def test_bad_traces_name_file_trace_and_reason(counts_file, name, reason):
    with pytest.raises(BadTraceError, match=reason) as caught:
        InstanceWaveforms(counts_file).read(name)
    assert caught.value.trace_name == name and caught.value.path == str(counts_file)
    assert "Instance_events_counts.hdf5" in str(caught.value) and name in str(caught.value)


def test_truncated_or_missing_file_is_input_error(tmp_path, counts_file):
    truncated = tmp_path / "Instance_events_counts_1k.hdf5"
    truncated.write_bytes(counts_file.read_bytes()[: counts_file.stat().st_size // 3])
    reader = InstanceWaveforms(truncated)  # no open yet: constructing never touches the file
    with pytest.raises(SeisbindInputError, match="Instance_events_counts_1k.hdf5"):
        reader.read("1001.IV.OFFI..HH")
    with pytest.raises(SeisbindInputError, match="nothing.hdf5"):
        InstanceWaveforms(tmp_path / "nothing.hdf5").read("x")


def _read_in_child(reader: InstanceWaveforms) -> tuple[int, float]:
    trace = reader.read("1001.IV.OFFI..HH")
    return reader._pid, float(trace.sum())


def test_reader_is_picklable_and_reopens_after_fork(counts_file):
    reader = InstanceWaveforms(counts_file)
    expected = float(reader.read("1001.IV.OFFI..HH").sum())
    parent_pid = reader._pid
    clone = pickle.loads(pickle.dumps(reader))
    assert float(clone.read("1001.IV.OFFI..HH").sum()) == expected
    with multiprocessing.get_context("fork").Pool(2) as pool:  # the open handle is inherited, then replaced
        results = pool.map(_read_in_child, [reader, reader])
    assert all(pid != parent_pid and total == expected for pid, total in results)
    assert float(reader.read("1001.IV.OFFI..HH").sum()) == expected  # parent handle still good


def test_noise_hdf5_same_layout(tmp_path):
    path = write_hdf5(tmp_path / "Instance_noise.hdf5", {"IV.S0..HH.0": waveform(5, "int32")})
    np.testing.assert_array_equal(InstanceWaveforms(path).read("IV.S0..HH.0"), waveform(5, "int32"))


def test_open_waveforms_on_instance_folder(tmp_path):
    write_csv(event_rows(), tmp_path / "metadata_Instance_events_10k.csv")
    write_hdf5(tmp_path / "Instance_events_counts_10k.hdf5", {"1001.IV.OFFI..HH": waveform(0, "int32")})
    write_csv(noise_rows(), tmp_path / "metadata_Instance_noise_10k.csv")
    write_hdf5(tmp_path / "Instance_noise_10k.hdf5", {"IV.S0..HH.0": waveform(5, "float32")})
    metadata, reader = open_waveforms(tmp_path, ["source_magnitude"], filters=MetadataFilter(channels=["HH"]))
    assert isinstance(reader, InstanceWaveforms) and len(metadata) == 3
    assert reader.read(metadata["trace_name"].iloc[0]).shape == (3, 12000)
    noise, noise_reader = open_waveforms(tmp_path, kind="noise")
    assert len(noise) == 3 and noise_reader.read("IV.S0..HH.0").dtype == np.float32


def test_open_waveforms_on_empty_folder(tmp_path):
    with pytest.raises(SeisbindInputError, match="no waveform data found"):
        open_waveforms(tmp_path)


def test_read_metadata_short_row_and_empty_file(tmp_path):
    path = write_csv(event_rows(), tmp_path / "m.csv")
    path.write_text(path.read_text() + "1005,IV,OFFI,,HH,42.9\n")  # a download cut mid-row
    with pytest.raises(SeisbindInputError, match=r"m\.csv: data row 6 has no trace_name"):
        read_instance_metadata(path, ["station_code"])
    header_only = tmp_path / "h.csv"
    header_only.write_text(",".join(EVENT_COLUMNS) + "\n")
    frame = read_instance_metadata(header_only, ["source_magnitude", "station_code"])
    assert len(frame) == 0 and list(frame.columns) == ["source_magnitude", "station_code", "trace_name"]
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(SeisbindInputError, match="empty.csv"):
        read_instance_metadata(tmp_path / "empty.csv")


def test_repeated_trace_name_names_file_names_and_rows(tmp_path):
    rows = event_rows()
    rows.loc[3, "trace_name"] = rows.loc[0, "trace_name"]  # row 1 holds the multi-line moment tensor
    path = write_csv(rows, tmp_path / "metadata_Instance_events_v3.csv")
    message = (r"metadata_Instance_events_v3\.csv: 1 trace_name\(s\) on more than one row \(data rows: one per CSV "
               r"record, 1 = the first after the header\): '1001\.IV\.OFFI\.\.HH' at data rows 1, 4;")
    with pytest.raises(SeisbindInputError, match=message):  # across chunks, and with row 4 filtered out
        read_instance_metadata(path, ["source_id"], chunk_rows=2, filters=MetadataFilter(min_latitude_deg=42.0,
                                                                                          max_latitude_deg=43.0))
    noise = noise_rows()
    noise["trace_name"] = noise["trace_name"].iloc[0]
    with pytest.raises(SeisbindInputError, match=r"noise\.csv: 1 trace_name.*'IV\.S0\.\.HH\.0' at data rows 1, 2, 3;"):
        read_instance_metadata(write_csv(noise, tmp_path / "noise.csv"), kind="noise")


def test_metadata_with_byte_order_mark(tmp_path):
    events = tmp_path / "metadata_Instance_events_v3.csv"
    events.write_text(event_rows().to_csv(index=False), encoding="utf-8-sig")
    assert read_instance_metadata(events, ["source_id"])["source_id"].tolist() == [e[0] for e in EVENTS]
    noise = tmp_path / "metadata_Instance_noise.csv"
    noise.write_text(noise_rows().to_csv(index=False), encoding="utf-8-sig")
    assert len(read_instance_metadata(noise, ["station_network_code"], kind="noise")) == len(noise_rows())
