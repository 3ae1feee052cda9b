"""SeisBench-format reader on folders written by SeisBench's own WaveformDataWriter (the interoperability oracle)."""

from __future__ import annotations

import multiprocessing
import pickle
import re

import h5py
import numpy as np
import pandas as pd
import pytest

from seisbind.data.seisbench_format import (
    SeisBenchWaveforms,
    parse_trace_location,
    read_seisbench_metadata,
    seisbench_chunks,
)
from seisbind.data.trace_filter import MetadataFilter
from seisbind.data.trace_index import open_waveforms
from seisbind.errors import BadTraceError, SeisbindInputError
from tests.helpers.seisbench_folders import write_seisbench

sbd = pytest.importorskip("seisbench.data")

ZNE_FROM_ENZ = [2, 1, 0]


def originals(n: int, seed: int = 0) -> list[np.ndarray]:
    """ENZ float32 traces; every third is 6000 samples long, so blocks hold padded rows of mixed lengths."""
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(3, 6000 if i % 3 == 2 else 12000)).astype(np.float32) * (i + 1) for i in range(n)]


def test_parse_trace_location():
    assert parse_trace_location("bucket3$12,:3,:12000") == ("bucket3", (12, slice(None, 3), slice(None, 12000)))
    assert parse_trace_location("11030611.IV.OFFI..HH") == ("11030611.IV.OFFI..HH", None)
    assert parse_trace_location("b$2, 1:3 ,:") == ("b", (2, slice(1, 3), slice(None, None)))
    with pytest.raises(ValueError, match="::2"):
        parse_trace_location("b$1,::2")


@pytest.mark.parametrize(("dimension_order", "component_order"), [("CW", "ZNE"), ("WC", "NZE")])
def test_same_waveforms_as_written_in_enz(tmp_path, dimension_order, component_order):
    traces = originals(10)  # 7 long + 3 short in buckets of 3: blocks of both lengths and one single-trace dataset
    write_seisbench(tmp_path, traces, dimension_order=dimension_order, component_order=component_order,
                    bucket_size=3)
    metadata = read_seisbench_metadata(tmp_path)
    reader = SeisBenchWaveforms(tmp_path)
    names = metadata["trace_name"].tolist()
    assert any("$" in name for name in names) and any("$" not in name for name in names)
    for name, original_name in zip(names, metadata["trace_name_original"].fillna(metadata["trace_name"])):
        i = int(original_name.split(".")[0]) - 1000
        trace = reader.read(name)
        assert trace.dtype == np.float32 and trace.flags.c_contiguous
        np.testing.assert_array_equal(trace, traces[i])  # ENZ, unpadded length

    oracle = sbd.WaveformDataset(tmp_path, component_order="ENZ", dimension_order="NCW", cache=None)
    for i, name in enumerate(oracle.metadata["trace_name"]):
        np.testing.assert_array_equal(reader.read(name), oracle.get_waveforms(i))


def test_metadata_renamed_to_instance_names(tmp_path):
    write_seisbench(tmp_path, originals(5))
    metadata = read_seisbench_metadata(tmp_path).set_index("trace_name_original", drop=False)
    row = metadata.loc["1001.IV.ST01..HH"]
    assert row["trace_P_arrival_sample"] == 1001 and np.isnan(row["trace_S_arrival_sample"])
    assert metadata["trace_P_arrival_sample"].dtype == np.float32
    assert metadata["trace_dt_s"].to_numpy() == pytest.approx(0.01)
    assert "trace_sampling_rate_hz" not in metadata and "trace_p_arrival_sample" not in metadata
    assert row["path_backazimuth_deg"] == 10.0 and row["trace_pga_cmps2"] == pytest.approx(2.0)
    assert isinstance(metadata["station_channels"].dtype, pd.CategoricalDtype)
    assert metadata["station_location_code"].eq("").all()  # missing text -> "", as in the INSTANCE reader
    assert metadata["source_origin_time"].dtype == "datetime64[ns, UTC]"
    assert row["trace_start_time"] == pd.Timestamp("2016-10-30T06:40:01", tz="UTC")
    assert metadata["source_id"].iloc[0] == "1000"  # text, like INSTANCE
    assert metadata["source_magnitude"].dtype == np.float32


def test_chunked_folder(tmp_path):
    traces = originals(7)
    write_seisbench(tmp_path, traces[:4], chunk="a")
    write_seisbench(tmp_path, traces[4:], chunk="b", first=4)
    (tmp_path / "chunks").write_text("a\nb\n")
    assert seisbench_chunks(tmp_path) == ["a", "b"]
    metadata = read_seisbench_metadata(tmp_path, ["source_magnitude"])
    assert list(metadata.columns) == ["source_magnitude", "trace_name"]
    assert metadata["trace_name"].str.startswith(("a/", "b/")).all()
    reader = SeisBenchWaveforms(tmp_path)
    oracle = sbd.WaveformDataset(tmp_path, component_order="ENZ", dimension_order="NCW", cache=None)
    for i, name in enumerate(metadata["trace_name"]):
        np.testing.assert_array_equal(reader.read(name), oracle.get_waveforms(i))
    with pytest.raises(BadTraceError, match="chunk"):
        reader.read(oracle.metadata["trace_name"].iloc[0])  # unqualified name is ambiguous across chunks
    (tmp_path / "chunks").unlink()
    assert seisbench_chunks(tmp_path) == ["a", "b"]  # detected from file names as well


def test_bad_traces_and_layouts(tmp_path):
    traces = originals(4)
    traces[1][0, 5] = np.nan
    write_seisbench(tmp_path, traces)
    reader = SeisBenchWaveforms(tmp_path)
    name = read_seisbench_metadata(tmp_path)["trace_name"].iloc[1]
    with pytest.raises(BadTraceError, match="NaN or Inf") as caught:
        reader.read(name)
    assert "waveforms.hdf5" in str(caught.value) and name in str(caught.value)
    bucket = name.split("$")[0]
    for bad, reason in [("nobucket$0,:3,:12000", "no dataset data/nobucket"), (f"{bucket}$9,:3,:12000", "outside"),
                        (f"{bucket}$0,:3,:20000", "outside"), (f"{bucket}$0,:2,:12000", "components"),
                        (f"{bucket}$0,::2", "bad location")]:
        with pytest.raises(BadTraceError, match=reason):
            reader.read(bad)


def test_component_order_without_e_and_n_is_refused(tmp_path):
    write_seisbench(tmp_path, originals(2))
    with h5py.File(tmp_path / "waveforms.hdf5", "r+") as handle:
        del handle["data_format/component_order"]
        handle["data_format"].create_dataset("component_order", data="Z12")
    name = pd.read_csv(tmp_path / "metadata.csv")["trace_name"].iloc[0]
    with pytest.raises(SeisbindInputError, match="Z12"):
        SeisBenchWaveforms(tmp_path).read(name)


def test_truncated_waveform_file(tmp_path):
    write_seisbench(tmp_path, originals(4))
    path = tmp_path / "waveforms.hdf5"
    path.write_bytes(path.read_bytes()[:2048])
    with pytest.raises(SeisbindInputError, match="waveforms.hdf5"):
        SeisBenchWaveforms(tmp_path).read("bucket0$0,:3,:12000")


def _first_trace_sum(reader: SeisBenchWaveforms, name: str) -> float:
    return float(reader.read(name).sum())


def test_reader_pickles_and_forks(tmp_path):
    write_seisbench(tmp_path, originals(4))
    name = read_seisbench_metadata(tmp_path)["trace_name"].iloc[0]
    reader = SeisBenchWaveforms(tmp_path)
    expected = float(reader.read(name).sum())
    assert _first_trace_sum(pickle.loads(pickle.dumps(reader)), name) == expected
    with multiprocessing.get_context("fork").Pool(2) as pool:
        assert pool.starmap(_first_trace_sum, [(reader, name)] * 2) == [expected] * 2


def test_open_waveforms_on_seisbench_folder(tmp_path):
    traces = originals(6)
    write_seisbench(tmp_path, traces)
    metadata, reader = open_waveforms(tmp_path, ["source_magnitude"], filters=MetadataFilter(min_magnitude=3.0))
    assert isinstance(reader, SeisBenchWaveforms)
    assert list(metadata.columns) == ["source_magnitude", "trace_name"]
    assert metadata["source_magnitude"].tolist() == [3.0, 3.5, 4.0, 4.5]
    assert reader.read(metadata["trace_name"].iloc[0]).shape[0] == 3


def test_repeated_trace_name_in_metadata_is_refused(tmp_path):
    write_seisbench(tmp_path, originals(5), bucket_size=1)  # one dataset per trace: plain names, no blocks
    table = pd.read_csv(tmp_path / "metadata.csv")
    table.loc[3, "trace_name"] = table.loc[1, "trace_name"]
    table.to_csv(tmp_path / "metadata.csv", index=False)
    repeated = re.escape(repr(table.loc[1, "trace_name"]))
    with pytest.raises(SeisbindInputError, match=rf"metadata\.csv: 1 trace_name.*{repeated} at data rows 2, 4;"):
        read_seisbench_metadata(tmp_path)


def test_metadata_with_byte_order_mark(tmp_path):
    write_seisbench(tmp_path, originals(3))
    path = tmp_path / "metadata.csv"
    path.write_text(path.read_text(encoding="utf-8"), encoding="utf-8-sig")
    metadata = read_seisbench_metadata(tmp_path, ["trace_name_original", "source_magnitude"])
    assert metadata["source_magnitude"].tolist() == [2.0, 2.5, 3.0]
