"""Rewrite an INSTANCE root as a SeisBench-format folder whose traces sit in blocks, streaming and resumable.

Why: INSTANCE stores each of its 1.16 M traces as its own HDF5 dataset in one group. Looking a dataset up by name
slows down as the group grows (h5py's issue #2540: ~9,000 lookups/s at 119 k datasets, ~200/s at 1 M), and a
random read per trace from a 156 GB file the page cache cannot hold starves a GPU. SeisBench's blocked layout puts
`block_size` traces into one dataset `data/bucket<i>` of shape (n, 3, n_samples), addressed as
`bucket<i>$<j>,:3,:<n_samples>` (SeisBench PR #39: 22x faster sequential reads); chunked one trace per HDF5
chunk, a trace is still one contiguous read, and neighbours in a block are neighbours on disk, which the
block-aware training sampler (seisbind/data/datamodule.py) exploits.

The result is read by seisbind's SeisBench reader and by `seisbench.data.WaveformDataset`. Metadata are carried
over as written (every column, the cell text unchanged), with the original name in `trace_name_original`.
Samples keep their stored dtype (counts stay integers), components stay E, N, Z (`component_order` "ENZ").

Resumable, also after `kill -9`: each block is written as its own HDF5 file under a temporary
name in `out/.convert/` and renamed when complete; its metadata rows are appended to `out/.convert/metadata.csv`
and synced; only then does `progress.json` (written atomically) record the block, the rows read and the metadata
bytes. A rerun with the same arguments drops whatever the journal does not record (a half-written block file,
metadata rows after the recorded bytes) and goes on; no HDF5 file open for writing is ever reopened, since HDF5
cannot repair one that a kill interrupted. At the end the blocks are copied into one `waveforms.hdf5` (also under a
temporary name, redone whole if interrupted), so the disk needs about twice the converted size until the block
files are removed. The final names appear only when the whole folder is done, `metadata.csv` last.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import shutil
import signal
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import BinaryIO

import h5py
import numpy as np
import pandas as pd

from seisbind.data.instance import find_instance_files
from seisbind.errors import SeisbindInputError, SeisbindOutputError
from seisbind.files import atomic_hdf5, write_csv, write_json

log = logging.getLogger(__name__)

WORK = ".convert"
PROGRESS = "progress.json"
METADATA = "metadata.csv"
COMPRESSIONS = (None, "gzip", "lzf")
KILL_AT = "SEISBIND_CONVERT_KILL_AT"
"""Test hook: `<point>:<block>` makes the process SIGKILL itself at that point of that block (0-based), so the
tests can check the resume after a kill at each place one can land: `mid-block` (its HDF5 file half written),
`metadata` (its rows written, not yet recorded), `between-blocks` (recorded), `assemble` (that block copied into
the final file), `finish` (the last block's point: after the final renames, the work folder not yet removed)."""


@dataclass
class ConvertSettings:
    """What a resumed run must share with the run it continues."""

    src_csv: str
    src_hdf5: str
    block_size: int
    compression: str | None
    sampling_rate_hz: float


@dataclass
class ConvertResult:
    out: Path
    n_traces: int
    n_blocks: int
    n_skipped: int


def _kill_point(point: str, block: int) -> None:
    """See `KILL_AT`."""
    if os.environ.get(KILL_AT) == f"{point}:{block}":
        os.kill(os.getpid(), signal.SIGKILL)


def _progress(work: Path) -> dict | None:
    path = work / PROGRESS
    return json.loads(path.read_text()) if path.is_file() else None


def _result(out: Path, state: dict) -> ConvertResult:
    return ConvertResult(out, state["traces_done"], state["blocks_done"], len(state["skipped"]))


_OUTPUT_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOTDIR}
"""What an output that cannot be written raises: full disk or quota, file too large, read-only or forbidden."""


def convert_instance(src: str | os.PathLike, out: str | os.PathLike, **options) -> ConvertResult:
    """`convert` (see there), with an output that cannot be written (a folder that cannot be made, a read-only or
    full one) reported as one SeisbindOutputError naming `out` or the file; what was recorded before it stays, and
    the same command resumes."""
    try:
        return convert(src, out, **options)
    except SeisbindOutputError:
        raise
    except OSError as error:
        if error.errno not in _OUTPUT_ERRNOS:
            raise
        raise SeisbindOutputError(f"out={out}: cannot be written ({error.strerror or error}); free disk space or "
                                  "choose a writable folder, then rerun the same command to go on from the last "
                                  "recorded block") from None


def convert(src: str | os.PathLike, out: str | os.PathLike, *, block_size: int = 1024,
            compression: str | None = None, kind: str = "events", sampling_rate_hz: float = 100.0,
            on_block: Callable[[int, int], None] | None = None, progress_bar: bool = True) -> ConvertResult:
    """Convert the INSTANCE events (or noise, `kind="noise"`) pair of `src` into the SeisBench folder `out`.

    `on_block(blocks_done, traces_done)` is called after each block is recorded (the progress bar uses it too;
    tests use it to interrupt a run). A metadata row whose trace is missing from the HDF5 file or holds NaN or Inf
    samples is skipped, counted, logged and listed with its reason in `out/skipped.csv`."""
    if block_size < 1:
        raise SeisbindInputError(f"block_size={block_size}: must be >= 1")
    if compression not in COMPRESSIONS:
        raise SeisbindInputError(f"compression={compression!r}: choose none, gzip or lzf")
    files = find_instance_files(src)
    csv_path, hdf5_path = (files.events_csv, files.events_hdf5) if kind == "events" else \
        (files.noise_csv, files.noise_hdf5)
    if csv_path is None:
        raise SeisbindInputError(f"src={src}: no INSTANCE {kind} files")
    out = Path(out)
    work = out / WORK
    if (out / METADATA).is_file():
        state = _progress(work)
        if state is None:
            raise SeisbindInputError(f"out={out}: already holds a converted dataset (metadata.csv); choose another "
                                     "out=")
        # Killed while removing its work folder after the last rename: the copy is complete.
        _remove_work(work)
        return _result(out, state)
    settings = asdict(ConvertSettings(str(Path(csv_path).resolve()), str(Path(hdf5_path).resolve()), block_size,
                                      compression, sampling_rate_hz))
    state = _resume(work, settings)

    from tqdm import tqdm

    # The bar is closed (its line ended) before an error is printed, so the error stays one line of its own.
    with tqdm(desc=f"convert {Path(csv_path).name}", unit="trace", initial=state["rows_done"],
              disable=not progress_bar) as bar, h5py.File(hdf5_path, "r") as source, \
            open(work / METADATA, "a+b") as metadata:
        metadata.truncate(state["metadata_bytes"])
        metadata.seek(state["metadata_bytes"])
        for frame in _frames_after(csv_path, block_size, state["rows_done"]):
            _convert_block(frame, source["data"], hdf5_path, work, metadata, state, compression, sampling_rate_hz)
            bar.update(len(frame))
            if on_block is not None:
                on_block(state["blocks_done"], state["traces_done"])
    if state["skipped"]:
        write_csv(out / "skipped.csv", pd.DataFrame(state["skipped"], columns=["trace_name", "reason"]))
    if state["traces_done"] == 0:
        raise SeisbindInputError(f"{csv_path}: no row has its trace in {hdf5_path}")
    _assemble(work, state["blocks_done"], sampling_rate_hz)
    os.replace(work / "waveforms.hdf5", out / "waveforms.hdf5")
    os.replace(work / METADATA, out / METADATA)
    _kill_point("finish", state["blocks_done"] - 1)
    _remove_work(work)
    log.info("%s -> %s: %d traces in %d blocks, %d skipped", csv_path, out, state["traces_done"],
             state["blocks_done"], len(state["skipped"]))
    return _result(out, state)


def _resume(work: Path, settings: dict) -> dict:
    """The journal of an unfinished conversion with the same settings (a fresh one if there is none), with every
    file in `work` it does not record removed: those a kill left half-written or written but not recorded."""
    state = _progress(work)
    if state is None:
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        state = {"settings": settings, "blocks_done": 0, "traces_done": 0, "rows_done": 0, "metadata_bytes": 0,
                 "skipped": []}
        write_json(work / PROGRESS, state)
        return state
    if state["settings"] != settings:
        raise SeisbindInputError(f"out={work.parent}: holds an unfinished conversion with other settings "
                                 f"({state['settings']}); remove the folder or rerun with those settings")
    recorded = {PROGRESS, METADATA, *(_block_file(i) for i in range(state["blocks_done"]))}
    for path in work.iterdir():
        if path.name not in recorded:
            path.unlink()
    return state


def _remove_work(work: Path) -> None:
    """Remove the work folder, its journal last: while any other file of it is left, a rerun finds the journal."""
    for path in work.iterdir():
        if path.name != PROGRESS:
            path.unlink()
    (work / PROGRESS).unlink()
    work.rmdir()


def _block_file(block: int) -> str:
    return f"bucket{block}.hdf5"


def _frames_after(csv_path: Path, block_size: int, rows_done: int) -> Iterator[pd.DataFrame]:
    """The metadata rows in blocks of `block_size`, from the first block not yet recorded; every cell as text."""
    reader = pd.read_csv(csv_path, dtype=str, keep_default_na=False, chunksize=block_size, encoding="utf-8-sig")
    rows_seen = 0
    for frame in reader:
        rows_seen += len(frame)
        if rows_seen <= rows_done:
            continue
        if "trace_name" not in frame.columns:
            raise SeisbindInputError(f"{csv_path}: no trace_name column")
        yield frame


def _convert_block(frame: pd.DataFrame, data: h5py.Group, hdf5_path: Path, work: Path, metadata: BinaryIO,
                   state: dict, compression: str | None, sampling_rate_hz: float) -> None:
    """Write one block's traces to their own file and its rows to the metadata, then record both in the journal
    (`state`, written to `work/progress.json`)."""
    n_rows = len(frame)
    traces, skipped = _block_traces(data, frame["trace_name"].tolist(), hdf5_path)
    if skipped:
        log.warning("%s: %d metadata rows of this block are skipped (e.g. %s)", hdf5_path, len(skipped),
                    skipped[:3])
        state["skipped"] += skipped
    frame = frame[frame["trace_name"].isin(traces)]
    block = state["blocks_done"]
    if len(frame):
        name = f"bucket{block}"
        stack = np.stack(list(traces.values()))
        with atomic_hdf5(work / _block_file(block)) as (target, _):
            target.create_dataset(f"data/{name}", data=stack, chunks=(1, *stack.shape[1:]), compression=compression)
            _kill_point("mid-block", block)
        frame = frame.assign(trace_name_original=frame["trace_name"],
                             trace_name=[f"{name}${j},:3,:{stack.shape[-1]}" for j in range(len(frame))],
                             trace_sampling_rate_hz=f"{sampling_rate_hz:g}")
        frame.to_csv(metadata, header=state["metadata_bytes"] == 0, index=False)
        metadata.flush()
        _kill_point("metadata", block)
        os.fsync(metadata.fileno())
        state["blocks_done"] += 1
        state["traces_done"] += len(frame)
    state["rows_done"] += n_rows
    state["metadata_bytes"] = metadata.tell()
    write_json(work / PROGRESS, state)
    _kill_point("between-blocks", block)


def _assemble(work: Path, n_blocks: int, sampling_rate_hz: float) -> None:
    """Copy the block files into `work/waveforms.hdf5` (HDF5 copies the stored chunks, compressed as they are) with
    SeisBench's `data_format` group; stops at the first failed write, which `atomic_hdf5` reports."""
    with atomic_hdf5(work / "waveforms.hdf5") as (target, failed):
        group = target.create_group("data")
        for block in range(n_blocks):
            with h5py.File(work / _block_file(block), "r") as part:
                part.copy(part[f"data/bucket{block}"], group)
            _kill_point("assemble", block)
            if failed():
                break
        data_format = target.create_group("data_format")
        for key, value in {"dimension_order": "CW", "component_order": "ENZ", "sampling_rate": sampling_rate_hz,
                           "measurement": "velocity", "unit": "counts"}.items():
            data_format.create_dataset(key, data=value)


def _block_traces(data: h5py.Group, names: list[str], hdf5_path: Path) -> tuple[dict[str, np.ndarray], list]:
    """The traces of one block ({name: samples}, in order) and the [name, reason] of the rows skipped: no dataset,
    or NaN/Inf samples (an integer block would store them as arbitrary numbers). The block keeps the stored dtype,
    widened (numpy's result type) when its traces differ, so no value is cast into a narrower one."""
    traces, skipped = {}, []
    for name in names:
        if name not in data:
            skipped.append([name, "no dataset in the HDF5 file"])
            continue
        samples = data[name][()]
        if samples.dtype.kind == "f" and not np.isfinite(samples).all():
            skipped.append([name, f"{int(np.sum(~np.isfinite(samples)))} NaN or Inf samples"])
            continue
        traces[name] = samples
    shapes = {samples.shape for samples in traces.values()}
    if len(shapes) > 1:
        raise SeisbindInputError(f"{hdf5_path}: the traces of one block have shapes {sorted(shapes)}; convert them "
                                 "with a block_size that keeps one shape per block, or fix the file")
    dtype = np.result_type(*traces.values()) if traces else None
    return {name: samples.astype(dtype, copy=False) for name, samples in traces.items()}, skipped


def block_of(trace_names: pd.Series) -> np.ndarray | None:
    """Block id per trace of a blocked SeisBench layout (`bucket3$12,:3,:12000` -> code of `bucket3`, with the
    chunk prefix), or None when the traces are not in blocks: what the block-aware sampler groups by."""
    names = trace_names.astype(str)
    if not names.str.contains("$", regex=False).all():
        return None
    return pd.factorize(names.str.split("$", n=1, regex=False).str[0])[0]
