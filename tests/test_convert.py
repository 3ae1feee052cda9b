"""INSTANCE -> blocked SeisBench folder: same traces and metadata, read by seisbind and by SeisBench, resumable;
the block-aware sampler keeps reads within few blocks."""

from __future__ import annotations

import os
import resource
import runpy
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest

from seisbind.data.convert import block_of, convert_instance
from seisbind.data.datamodule import BlockShuffleSampler
from seisbind.data.instance import InstanceWaveforms, find_instance_files
from seisbind.data.seisbench_format import SeisBenchWaveforms, read_seisbench_metadata
from seisbind.data.trace_index import open_waveforms

ROOT = Path(__file__).resolve().parents[1]


class Interrupt(RuntimeError):
    pass


def test_converted_folder_holds_the_same_traces_and_metadata(tmp_path: Path, synthetic_root: Path) -> None:
    out = tmp_path / "blocked"
    result = convert_instance(synthetic_root, out, block_size=16, compression="gzip", progress_bar=False)
    files = find_instance_files(synthetic_root)
    original = pd.read_csv(files.events_csv, dtype=str, keep_default_na=False)
    assert result.n_traces == len(original) and result.n_blocks == -(-len(original) // 16)
    converted = pd.read_csv(out / "metadata.csv", dtype=str, keep_default_na=False)
    assert (converted["trace_name_original"] == original["trace_name"]).all()
    for column in ("source_id", "trace_start_time", "trace_E_snr_db", "source_mechanism_moment_tensor"):
        assert (converted[column] == original[column]).all(), column
    instance, blocked = InstanceWaveforms(files.events_hdf5), SeisBenchWaveforms(out)
    for original_name, name in zip(converted["trace_name_original"][::7], converted["trace_name"][::7]):
        np.testing.assert_array_equal(blocked.read(name), instance.read(original_name))
    # seisbind sees it as a data root with INSTANCE column names.
    metadata, reader = open_waveforms(out, ["trace_name", "source_id", "trace_start_time"])
    assert len(metadata) == len(original) and isinstance(reader, SeisBenchWaveforms)


def test_seisbench_reads_the_converted_folder(tmp_path: Path, synthetic_root: Path) -> None:
    import seisbench.data as sbd

    out = tmp_path / "blocked"
    convert_instance(synthetic_root, out, block_size=32, progress_bar=False)
    dataset = sbd.WaveformDataset(out, component_order="ZNE", cache=None)
    ours = SeisBenchWaveforms(out)
    names = read_seisbench_metadata(out, ["trace_name"])["trace_name"]
    waveform = dataset.get_waveforms(5)
    np.testing.assert_allclose(waveform[[2, 1, 0]], ours.read(names[5]))
    assert len(dataset) == len(names)


def test_an_interrupted_conversion_resumes_to_the_same_result(tmp_path: Path, synthetic_root: Path) -> None:
    straight = tmp_path / "straight"
    convert_instance(synthetic_root, straight, block_size=10, progress_bar=False)

    def stop_after_three(blocks: int, traces: int) -> None:
        if blocks == 3:
            raise Interrupt

    resumed = tmp_path / "resumed"
    with pytest.raises(Interrupt):
        convert_instance(synthetic_root, resumed, block_size=10, on_block=stop_after_three, progress_bar=False)
    assert not (resumed / "metadata.csv").exists() and (resumed / ".convert" / "progress.json").is_file()
    calls = []
    convert_instance(synthetic_root, resumed, block_size=10, progress_bar=False,
                     on_block=lambda blocks, traces: calls.append(blocks))
    assert calls[0] == 4  # went on from the fourth block
    assert (resumed / "metadata.csv").read_bytes() == (straight / "metadata.csv").read_bytes()
    a, b = SeisBenchWaveforms(straight), SeisBenchWaveforms(resumed)
    for name in pd.read_csv(straight / "metadata.csv")["trace_name"]:
        np.testing.assert_array_equal(a.read(name), b.read(name))


def test_convert_script_reports_user_errors(tmp_path: Path, synthetic_root: Path, capsys) -> None:
    main = runpy.run_path(str(ROOT / "scripts" / "convert.py"))["main"]
    with pytest.raises(SystemExit) as stopped:
        main([f"src={tmp_path / 'nowhere'}", f"out={tmp_path / 'x'}"])
    assert stopped.value.code == 2 and "nowhere" in capsys.readouterr().err
    main([f"src={synthetic_root}", f"out={tmp_path / 'x'}", "block_size=64"])
    with pytest.raises(SystemExit):
        main([f"src={synthetic_root}", f"out={tmp_path / 'x'}"])
    assert "already holds a converted dataset" in capsys.readouterr().err


def test_block_sampler_reads_few_blocks_at_a_time_and_is_seeded() -> None:
    blocks = np.repeat(np.arange(40), 25)
    sampler = BlockShuffleSampler(blocks, seed=3, window_blocks=4)
    sampler.set_epoch(2)
    order = np.array(list(sampler))
    assert sorted(order.tolist()) == list(range(blocks.size))
    # every run of 100 consecutive draws touches exactly the 4 blocks of one window
    assert all(np.unique(blocks[order[k:k + 100]]).size == 4 for k in range(0, blocks.size, 100))
    assert list(sampler) == order.tolist()
    sampler.set_epoch(3)
    assert list(sampler) != order.tolist()
    assert block_of(pd.Series(["bucket1$0,:3,:100", "c1/bucket0$3,:3,:100"])).tolist() == [0, 1]
    assert block_of(pd.Series(["11030611.IV.OFFI..HH"])) is None


def test_datamodule_trains_on_a_converted_root_with_the_block_sampler(tmp_path: Path, synthetic_root: Path) -> None:
    from seisbind.data.datamodule import SeisBindDataModule
    from seisbind.modalities.waveform import WaveformInput

    out = tmp_path / "blocked"
    convert_instance(synthetic_root, out, block_size=8, progress_bar=False)
    dm = SeisBindDataModule(str(out), {"spectrum": WaveformInput()}, filters={}, batch_size=8,
                            split={"strategy": "event", "val_fraction": 0.25, "seed": 0})
    dm.setup("fit")
    loader = dm.train_dataloader()
    assert isinstance(loader.sampler, BlockShuffleSampler)
    batch = next(iter(loader))
    assert batch["spectrum"]["x"].shape == (8, 3, 12000) and batch["spectrum"]["present"].all()


def test_traces_with_nan_samples_are_skipped_and_counted_not_cast(tmp_path: Path, synthetic_root: Path,
                                                                   capsys) -> None:
    """Two traces of an int32 file stored as float with NaN samples: skipped with their reason, never written as
    -2147483648 into an int32 block; every other trace is copied exactly."""
    src = tmp_path / "src"
    shutil.copytree(synthetic_root, src)
    files = find_instance_files(src)
    with h5py.File(files.events_hdf5, "r+") as f:
        names = sorted(f["data"])[:2]
        for name in names:
            samples = f["data"][name][()].astype(np.float32)
            samples[1, 100:110] = np.nan
            del f["data"][name]
            f["data"][name] = samples
    main = runpy.run_path(str(ROOT / "scripts" / "convert.py"))["main"]
    main([f"src={src}", f"out={tmp_path / 'out'}", "block_size=64"])
    assert f"(2 skipped, with their reasons in {tmp_path / 'out' / 'skipped.csv'})" in capsys.readouterr().out
    skipped = pd.read_csv(tmp_path / "out" / "skipped.csv")
    assert sorted(skipped["trace_name"]) == names and set(skipped["reason"]) == {"10 NaN or Inf samples"}
    converted = read_seisbench_metadata(tmp_path / "out")
    assert not set(names) & set(converted["trace_name_original"])
    reader, source = SeisBenchWaveforms(tmp_path / "out"), InstanceWaveforms(files.events_hdf5)
    for name, original in zip(converted["trace_name"], converted["trace_name_original"]):
        np.testing.assert_array_equal(reader.read(name), source.read(original))


def test_an_out_that_cannot_be_a_folder_is_one_line(tmp_path: Path, synthetic_root: Path) -> None:
    (tmp_path / "a-file").write_text("")
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "convert.py"), f"src={synthetic_root}",
                           f"out={tmp_path / 'a-file' / 'out'}"], capture_output=True, text=True)
    errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr[-2000:]
    assert len(errors) == 1 and "a-file/out: cannot be written" in errors[0]


def convert_script(src: Path, out: Path, env: dict[str, str] | None = None,
                   max_file_bytes: int | None = None) -> subprocess.CompletedProcess:
    """scripts/convert.py with block_size=10 in a process of its own, optionally with extra environment variables
    or a limit on the size of the files it writes (RLIMIT_FSIZE, SIGXFSZ ignored: writes fail with EFBIG, as on a
    full disk)."""

    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (max_file_bytes, max_file_bytes))

    return subprocess.run([sys.executable, str(ROOT / "scripts" / "convert.py"), f"src={src}", f"out={out}",
                           "block_size=10"], capture_output=True, text=True, env=os.environ | (env or {}),
                          preexec_fn=limit if max_file_bytes else None)


def assert_same_copy(a: Path, b: Path) -> None:
    """Same metadata table (byte for byte), same sample data under each trace name, same data_format."""
    assert (a / "metadata.csv").read_bytes() == (b / "metadata.csv").read_bytes()
    with h5py.File(a / "waveforms.hdf5", "r") as fa, h5py.File(b / "waveforms.hdf5", "r") as fb:
        assert sorted(fa["data"]) == sorted(fb["data"])
        for name in fa["data"]:
            np.testing.assert_array_equal(fa["data"][name][()], fb["data"][name][()])
            assert fa["data"][name].dtype == fb["data"][name].dtype
        assert {k: fa["data_format"][k][()] for k in fa["data_format"]} == \
            {k: fb["data_format"][k][()] for k in fb["data_format"]}
    assert sorted(p.name for p in a.iterdir()) == sorted(p.name for p in b.iterdir())


@pytest.fixture(scope="module")
def straight_copy(tmp_path_factory: pytest.TempPathFactory, synthetic_root: Path) -> Path:
    out = tmp_path_factory.mktemp("straight") / "out"
    convert_instance(synthetic_root, out, block_size=10, progress_bar=False)
    return out


@pytest.mark.parametrize("point", ["mid-block:2", "metadata:2", "between-blocks:2", "assemble:2", "finish:9"])
def test_a_conversion_killed_at_any_point_resumes_to_the_same_copy(tmp_path: Path, synthetic_root: Path,
                                                                   straight_copy: Path, point: str) -> None:
    """SIGKILL (seisbind.data.convert.KILL_AT) while a block file is half written, after a block's metadata rows
    are written but before they are recorded, between two recorded blocks, and while the blocks are copied into
    waveforms.hdf5, and after the final renames: the same command then ends with the copy an uninterrupted run
    makes."""
    out = tmp_path / "out"
    killed = convert_script(synthetic_root, out, env={"SEISBIND_CONVERT_KILL_AT": point})
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert (out / "metadata.csv").exists() == point.startswith("finish")
    done = convert_script(synthetic_root, out)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "96 traces in 10 blocks (0 skipped)" in done.stdout
    assert_same_copy(straight_copy, out)


@pytest.mark.parametrize(("max_file_bytes", "failed"), [(200_000, "bucket0.hdf5"), (3_000_000, "waveforms.hdf5")])
def test_a_full_disk_is_one_line_and_the_same_command_then_resumes(tmp_path: Path, synthetic_root: Path,
                                                                   straight_copy: Path, max_file_bytes: int,
                                                                   failed: str) -> None:
    """A write that fails (EFBIG here, ENOSPC on a full disk) in the first block file or in the final
    waveforms.hdf5 is one line naming the file, exit 2, no HDF5 crash; once there is room the same command goes on
    to the same copy."""
    out = tmp_path / "out"
    done = convert_script(synthetic_root, out, max_file_bytes=max_file_bytes)
    errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr[-2000:]
    assert len(errors) == 1 and f"{failed}: could not be written (File too large)" in errors[0], errors
    assert not (out / "metadata.csv").exists()
    done = convert_script(synthetic_root, out)
    assert done.returncode == 0, done.stderr[-2000:]
    assert_same_copy(straight_copy, out)
