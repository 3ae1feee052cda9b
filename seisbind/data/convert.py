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

Resumable: after each block the waveform file is flushed and `.convert_progress.json` records the blocks and
metadata bytes written; a rerun with the same arguments truncates what a crash left half-written and goes on.
The final names appear only when the whole folder is done.
"""

from __future__ import annotations

import errno
import json
import logging
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import h5py
import numpy as np
import pandas as pd

from seisbind.data.instance import find_instance_files
from seisbind.errors import SeisbindInputError, SeisbindOutputError
from seisbind.files import write_json

log = logging.getLogger(__name__)

PROGRESS = ".convert_progress.json"
PARTIAL_METADATA = "metadata.partial.csv"
PARTIAL_WAVEFORMS = "waveforms.partial.hdf5"
COMPRESSIONS = (None, "gzip", "lzf")


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


def _progress(out: Path) -> dict | None:
    path = out / PROGRESS
    return json.loads(path.read_text()) if path.is_file() else None


_OUTPUT_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOTDIR}
"""What an output that cannot be written raises: full disk or quota, file too large, read-only or forbidden."""


def convert_instance(src: str | os.PathLike, out: str | os.PathLike, **options) -> ConvertResult:
    """`convert` (see there), with an output that cannot be written (a folder that cannot be made, a read-only or
    full one where Python writes) reported as one SeisbindOutputError naming `out`; what was recorded before it
    stays, and the same command resumes. HDF5's own writes fail otherwise: h5py raises RuntimeError on a full
    disk and cannot close the file after it."""
    try:
        return convert(src, out, **options)
    except SeisbindOutputError:
        raise
    except OSError as error:
        text = str(error)
        if error.errno not in _OUTPUT_ERRNOS and not any(os.strerror(code) in text for code in _OUTPUT_ERRNOS):
            raise
        raise SeisbindOutputError(f"out={out}: cannot be written ({error.strerror or text.splitlines()[0]}); free "
                                  "disk space or choose a writable folder, then rerun the same command to go on "
                                  "from the last recorded block") from None


def convert(src: str | os.PathLike, out: str | os.PathLike, *, block_size: int = 1024,
            compression: str | None = None, kind: str = "events", sampling_rate_hz: float = 100.0,
            on_block: Callable[[int, int], None] | None = None, progress_bar: bool = True) -> ConvertResult:
    """Convert the INSTANCE events (or noise, `kind="noise"`) pair of `src` into the SeisBench folder `out`.

    `on_block(blocks_done, traces_done)` is called after each block is safely recorded (the progress bar uses it
    too; tests use it to interrupt a run). A metadata row whose trace is missing from the HDF5 file or holds NaN or
    Inf samples is skipped, counted, logged and listed with its reason in `out/skipped.csv`."""
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
    if (out / "metadata.csv").is_file() and not (out / PROGRESS).is_file():
        raise SeisbindInputError(f"out={out}: already holds a converted dataset (metadata.csv); choose another out=")
    out.mkdir(parents=True, exist_ok=True)
    settings = ConvertSettings(str(Path(csv_path).resolve()), str(Path(hdf5_path).resolve()), block_size,
                               compression, sampling_rate_hz)
    state = _progress(out)
    if state is not None and state["settings"] != asdict(settings):
        raise SeisbindInputError(f"out={out}: holds an unfinished conversion with other settings "
                                 f"({state['settings']}); remove the folder or rerun with those settings")
    state = state or {"settings": asdict(settings), "blocks_done": 0, "traces_done": 0, "rows_done": 0,
                      "metadata_bytes": 0, "skipped": []}
    metadata_path, waveforms_path = out / PARTIAL_METADATA, out / PARTIAL_WAVEFORMS
    if state["blocks_done"] == 0:
        metadata_path.unlink(missing_ok=True)
        waveforms_path.unlink(missing_ok=True)

    bar = None
    if progress_bar:
        from tqdm import tqdm

        bar = tqdm(desc=f"convert {Path(csv_path).name}", unit="trace", initial=state["rows_done"])
    reader = pd.read_csv(csv_path, dtype=str, keep_default_na=False, chunksize=block_size, encoding="utf-8-sig")
    with h5py.File(hdf5_path, "r") as source, h5py.File(waveforms_path, "a", libver="latest") as target, \
            open(metadata_path, "a+b") as metadata:
        # Drop what a crash left after the last recorded block.
        metadata.truncate(state["metadata_bytes"])
        metadata.seek(state["metadata_bytes"])
        group = target.require_group("data")
        stale = f"bucket{state['blocks_done']}"
        if stale in group:
            del group[stale]
        rows_seen = 0
        for frame in reader:
            rows_seen += len(frame)
            if rows_seen <= state["rows_done"]:
                continue
            if "trace_name" not in frame.columns:
                raise SeisbindInputError(f"{csv_path}: no trace_name column")
            names = frame["trace_name"].tolist()
            traces, skipped = _block_traces(source["data"], names, hdf5_path)
            if skipped:
                log.warning("%s: %d metadata rows of this block are skipped (e.g. %s)", csv_path, len(skipped),
                            skipped[:3])
                state["skipped"] += skipped
            frame = frame[frame["trace_name"].isin(traces)]
            if len(frame):
                block = f"bucket{state['blocks_done']}"
                stack = np.stack(list(traces.values()))
                group.create_dataset(block, data=stack, chunks=(1, *stack.shape[1:]), compression=compression)
                target.flush()
                n_samples = stack.shape[-1]
                frame = frame.assign(trace_name_original=frame["trace_name"],
                                     trace_name=[f"{block}${j},:3,:{n_samples}" for j in range(len(frame))],
                                     trace_sampling_rate_hz=f"{sampling_rate_hz:g}")
                frame.to_csv(metadata, header=state["metadata_bytes"] == 0, index=False)
                metadata.flush()
                os.fsync(metadata.fileno())
                state["blocks_done"] += 1
                state["traces_done"] += len(frame)
            state["rows_done"] = rows_seen
            state["metadata_bytes"] = metadata.tell()
            write_json(out / PROGRESS, state)
            if bar is not None:
                bar.update(len(names))
            if on_block is not None:
                on_block(state["blocks_done"], state["traces_done"])
        data_format = target.require_group("data_format")
        for key, value in {"dimension_order": "CW", "component_order": "ENZ", "sampling_rate": sampling_rate_hz,
                           "measurement": "velocity", "unit": "counts"}.items():
            if key in data_format:
                del data_format[key]
            data_format.create_dataset(key, data=value)
    if bar is not None:
        bar.close()
    if state["skipped"]:
        pd.DataFrame(state["skipped"], columns=["trace_name", "reason"]).to_csv(out / "skipped.csv", index=False)
    if state["traces_done"] == 0:
        raise SeisbindInputError(f"{csv_path}: no row has its trace in {hdf5_path}")
    os.replace(waveforms_path, out / "waveforms.hdf5")
    os.replace(metadata_path, out / "metadata.csv")
    (out / PROGRESS).unlink()
    log.info("%s -> %s: %d traces in %d blocks, %d skipped", csv_path, out, state["traces_done"],
             state["blocks_done"], len(state["skipped"]))
    return ConvertResult(out, state["traces_done"], state["blocks_done"], len(state["skipped"]))


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
