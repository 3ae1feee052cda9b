"""prepare_norcia.py: the Norcia traces of a data root (INSTANCE or SeisBench) written to Parquet."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest

from seisbind.data.instance import find_instance_files
from seisbind.data.instance_schema import EVENT_COLUMNS
from tests.helpers.seisbench_folders import write_seisbench

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "prepare_norcia.py"


def prepare(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], check=False, capture_output=True, text=True,
                          timeout=300, env=env)


def test_prepare_norcia_keeps_the_region_and_period(tmp_path: Path, synthetic_root: Path) -> None:
    out = tmp_path / "norcia.parquet"
    done = prepare(f"data.root={synthetic_root}", f"out={out}", "period.start=2016-10-01",
                   "period.end=2016-11-30T23:59:59")
    assert done.returncode == 0, done.stderr[-2000:]
    table = pd.read_parquet(out)
    raw = pd.read_csv(synthetic_root / "metadata_Instance_events_v3.csv", usecols=["source_origin_time"])
    origin = pd.to_datetime(raw["source_origin_time"], utc=True)
    expected = int(((origin >= "2016-10-01") & (origin <= "2016-11-30T23:59:59")).sum())
    assert len(table) == expected > 0
    assert f"{expected} traces" in done.stdout
    assert list(table.columns) == EVENT_COLUMNS
    assert table["source_origin_time"].between(pd.Timestamp("2016-10-01", tz="UTC"),
                                               pd.Timestamp("2016-11-30T23:59:59", tz="UTC")).all()
    assert table["source_latitude_deg"].between(42.5, 43.2).all()
    assert "WARNING" not in done.stderr


def seisbench_copy(instance_root: Path, out: Path, chunks: list[str]) -> Path:
    """The event traces of an INSTANCE root with all their metadata, written by SeisBench's own writer and split
    evenly over `chunks` ([""] = one unchunked metadata.csv + waveforms.hdf5)."""
    files = find_instance_files(instance_root)
    metadata = pd.read_csv(files.events_csv, dtype=str, keep_default_na=False)
    with h5py.File(files.events_hdf5, "r") as handle:
        traces = [handle["data"][name][()] for name in metadata["trace_name"]]
    out.mkdir()
    for chunk, rows in zip(chunks, np.array_split(np.arange(len(metadata)), len(chunks))):
        write_seisbench(out, [traces[i] for i in rows], chunk=chunk,
                        metadata=[metadata.iloc[i].to_dict() for i in rows])
    if chunks != [""]:
        (out / "chunks").write_text("\n".join(chunks) + "\n")
    return out


@pytest.mark.parametrize("chunks", [[""], ["a", "b"]], ids=["plain", "chunked"])
def test_seisbench_copy_gives_the_same_traces(tmp_path: Path, synthetic_root: Path, chunks: list[str]) -> None:
    period = ["period.start=2016-10-01", "period.end=2016-11-30T23:59:59"]  # cuts the synthetic traces
    instance_out = tmp_path / "instance.parquet"
    assert prepare(f"data.root={synthetic_root}", f"out={instance_out}", *period).returncode == 0
    copy = seisbench_copy(synthetic_root, tmp_path / "seisbench", chunks)
    out = tmp_path / "seisbench.parquet"
    done = prepare(f"data.root={copy}", f"out={out}", *period)
    assert done.returncode == 0, done.stderr[-2000:]
    expected = pd.read_parquet(instance_out)
    table = pd.read_parquet(out)
    n_all = len(pd.read_csv(find_instance_files(synthetic_root).events_csv, usecols=["trace_name"]))
    assert len(table) == len(expected) and 0 < len(expected) < n_all
    assert sorted(table["trace_name_original"]) == sorted(expected["trace_name"])
    assert f"{len(expected)} traces" in done.stdout and str(copy) in done.stdout


def test_missing_column_is_named_in_a_warning(tmp_path: Path, synthetic_root: Path) -> None:
    files = find_instance_files(synthetic_root)
    root = tmp_path / "root"
    root.mkdir()
    pd.read_csv(files.events_csv, dtype=str, keep_default_na=False).drop(columns="trace_polarity").to_csv(
        root / files.events_csv.name, index=False)
    (root / files.events_hdf5.name).symlink_to(files.events_hdf5)
    out = tmp_path / "norcia.parquet"
    done = prepare(f"data.root={root}", f"out={out}")
    assert done.returncode == 0, done.stderr[-2000:]
    assert len(pd.read_parquet(out).columns) == len(EVENT_COLUMNS) - 1
    warning = next(line for line in done.stderr.splitlines() if line.startswith("WARNING"))
    assert "1 of the 115 INSTANCE event columns are missing" in warning and warning.endswith(": trace_polarity")


@pytest.mark.parametrize("case", ["missing root", "no data in it"])
def test_user_error_is_one_line_with_exit_code_2(tmp_path: Path, case: str) -> None:
    root = tmp_path / "nowhere"
    if case == "no data in it":
        root.mkdir()
        (root / "notes.txt").write_text("not data")
    done = prepare(f"data.root={root}", f"out={tmp_path / 'x.parquet'}")
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and done.stderr.startswith(f"error: {root}: ")
    assert ("not a folder" if case == "missing root" else "no waveform data found") in done.stderr
    assert not (tmp_path / "x.parquet").exists()
    debug = prepare(f"data.root={root}", env={**os.environ, "HYDRA_FULL_ERROR": "1"})
    assert debug.returncode == 1 and "Traceback" in debug.stderr and "SeisbindInputError" in debug.stderr
