"""Benchmark at INSTANCE's full scale: per-trace vs blocked layout, and the metadata index of 1.2 M rows.

python scripts/bench_scale.py [--n 1200000] [--cache data/bench_scale] [--reads 3000] [--samples 100]

Writes once into --cache (reused while its settings match):
- `instance/Instance_events_counts.hdf5`: --n per-trace datasets `data/<trace_name>` in one group, the real layout,
  int16 (3, --samples) so that 1.2 M of them fit on a small disk (the lookup cost is what grows with the count).
  File format: HDF5's newest (`libver="latest"`, B-tree v2 groups): writing the classic format slowed to a crawl
  past ~1.04 M datasets here (1 MB in 9 minutes), which no INSTANCE user can wait for either; the newest format is
  also what h5py recommends for groups this large. The classic format at 100 k datasets read 4,228/s against
  14,627/s for the newest (measured earlier on this machine), so the per-trace figure below is the favourable one.
- `instance/metadata_Instance_events_v3.csv`: --n rows x 115 columns with the real file's quirks
  (seisbind.data.synthetic.metadata_csv), the trace names of the HDF5 file.
- `blocked/`: the same traces converted with scripts/convert.py's code (blocks of 1,024, one trace per HDF5 chunk).
Measures in one run:
- per_trace_reads_per_s: --reads random traces through seisbind's INSTANCE reader (name lookup + read);
- blocked_reads_per_s: the DataModule's dataset (TraceDataset + waveform input) on the blocked folder, batches of
  --batch-size in the order of the training sampler (BlockShuffleSampler), --reads x 10 samples, fetched the way
  the DataLoader fetches them (`__getitems__`: one HDF5 selection per block and batch);
- blocked_vs_h5py: against a plain h5py loop reading the same rows of the same blocks (target >= 0.9);
- index_seconds_1p2M / index_mb_1p2M: building the training index (`read_instance_metadata`, INDEX_COLUMNS) of
  the CSV in a child process: wall time and peak-RSS growth (scripts/bench_loader.py --measure-index).
Last line: `n_datasets=N per_trace_reads_per_s=A blocked_reads_per_s=B blocked_vs_per_trace=R
index_seconds_1p2M=T index_mb_1p2M=M blocked_vs_h5py=H` (targets R >= 10, M <= 700, H >= 0.9).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pandas as pd

from seisbind.data.convert import block_of, convert_instance
from seisbind.data.datamodule import BlockShuffleSampler
from seisbind.data.dataset import TraceDataset
from seisbind.data.instance import InstanceWaveforms
from seisbind.data.seisbench_format import SeisBenchWaveforms
from seisbind.data.synthetic.metadata_csv import write_instance_csv
from seisbind.data.tables import SideTables
from seisbind.modalities.waveform import WaveformInput
from seisbind.protocols import InputData

LOADER = Path(__file__).resolve().parent / "bench_loader.py"


def prepare(cache: Path, n: int, n_samples: int) -> dict:
    """Write (or reuse) the per-trace file, the CSV and the blocked copy; returns their build times."""
    settings = {"n": n, "samples": n_samples, "version": 1}
    stamp = cache / "settings.json"
    if stamp.is_file() and json.loads(stamp.read_text())["settings"] == settings:
        return json.loads(stamp.read_text())["seconds"]
    instance = cache / "instance"
    instance.mkdir(parents=True, exist_ok=True)
    seconds = {}
    started = time.perf_counter()
    csv_path = instance / "metadata_Instance_events_v3.csv"
    write_instance_csv(csv_path, n)
    seconds["csv"] = time.perf_counter() - started
    names = pd.read_csv(csv_path, usecols=["trace_name"], dtype=str, keep_default_na=False)["trace_name"]
    rng = np.random.default_rng(0)
    started = time.perf_counter()
    with h5py.File(instance / "Instance_events_counts.hdf5", "w", libver="latest") as handle:
        group = handle.create_group("data")
        for name in names:
            group.create_dataset(name, data=rng.integers(-2000, 2000, (3, n_samples), dtype=np.int16))
    seconds["per_trace_file"] = time.perf_counter() - started
    started = time.perf_counter()
    convert_instance(instance, cache / "blocked", block_size=1024, progress_bar=False)
    seconds["convert"] = time.perf_counter() - started
    stamp.write_text(json.dumps({"settings": settings, "seconds": seconds}))
    return seconds


def rate(loop, count: int) -> float:
    started = time.perf_counter()
    loop()
    return count / (time.perf_counter() - started)


def evict(*paths: Path) -> None:
    """Drop the files' pages from the page cache (clean pages only: these are read-only here), so that a read
    rate is the cold one a 156 GB file gives on a node whose memory cannot hold it."""
    for path in paths:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_200_000)
    parser.add_argument("--cache", type=Path, default=Path("data/bench_scale"))
    parser.add_argument("--reads", type=int, default=3000)
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds of the blocked measurements")
    parser.add_argument("--warm", action="store_true", help="keep the page cache (default: evict before each read)")
    args = parser.parse_args(argv)
    built = prepare(args.cache, args.n, args.samples)
    instance, blocked = args.cache / "instance", args.cache / "blocked"

    names = pd.read_csv(instance / "metadata_Instance_events_v3.csv", usecols=["trace_name"], dtype=str,
                        keep_default_na=False)["trace_name"].to_numpy()
    per_trace_file, blocked_file = instance / "Instance_events_counts.hdf5", blocked / "waveforms.hdf5"
    cold = (lambda: None) if args.warm else (lambda: evict(per_trace_file, blocked_file))
    reader = InstanceWaveforms(per_trace_file, n_samples=args.samples)
    picks = np.random.default_rng(1).choice(names, size=min(args.reads, names.size), replace=False)
    cold()
    per_trace = rate(lambda: [reader.read(name) for name in picks], picks.size)

    index = pd.read_csv(blocked / "metadata.csv", usecols=["trace_name"], dtype=str)
    index["waveform_file"] = np.int8(0)
    waveform = WaveformInput(n_samples=args.samples)
    waveform.setup(index, InputData(waveforms=[SeisBenchWaveforms(blocked)], tables=SideTables(".")),
                   on_bad_trace="raise")
    dataset = TraceDataset(np.arange(len(index)), {"spectrum": waveform})
    sampler = BlockShuffleSampler(block_of(index["trace_name"]), seed=0)
    order = np.fromiter(iter(sampler), dtype=np.int64)[: args.reads * 10]
    batches = [order[k:k + args.batch_size].tolist() for k in range(0, order.size, args.batch_size)]

    located = index["trace_name"].str.extract(r"^(?P<block>[^$]+)\$(?P<row>\d+),")
    blocks, rows = located["block"].to_numpy(), located["row"].astype(int).to_numpy()

    def plain_h5py(group: h5py.Group) -> None:
        """The same batches, one sorted row selection per block and batch, as float32 arrays."""
        for batch in batches:
            for block in np.unique(blocks[batch]):
                group[block][np.unique(rows[batch][blocks[batch] == block])].astype(np.float32)

    # Alternating rounds, each from a cold cache, the order swapped every round: the load of a noisy machine then
    # falls on both paths alike, and the ratio is the median of the rounds'.
    dataset_rates, h5py_rates = [], []
    with h5py.File(blocked_file, "r") as handle:
        for k in range(args.rounds):
            for path in (("dataset", "h5py") if k % 2 == 0 else ("h5py", "dataset")):
                cold()
                if path == "dataset":
                    dataset_rates.append(rate(lambda: [dataset.__getitems__(batch) for batch in batches],
                                              order.size))
                else:
                    h5py_rates.append(rate(lambda: plain_h5py(handle["data"]), order.size))
    blocked_rate, h5py_rate = float(np.median(dataset_rates)), float(np.median(h5py_rates))
    ratio = float(np.median(np.asarray(dataset_rates) / np.asarray(h5py_rates)))

    csv_path = instance / "metadata_Instance_events_v3.csv"
    started = time.perf_counter()
    child = subprocess.run([sys.executable, str(LOADER), "--measure-index", str(csv_path)], capture_output=True,
                           text=True, check=True)
    index_seconds = time.perf_counter() - started
    delta_mb, n_rows, frame_mb = child.stdout.split()
    index_mb = float(delta_mb) * 1_200_000 / int(n_rows)

    print(f"built (s): {', '.join(f'{k} {v:.0f}' for k, v in built.items())}; {args.n} traces of int16 "
          f"(3, {args.samples})")
    print(f"  per-trace layout, random reads:       {per_trace:10.0f} traces/s")
    print(f"  blocked layout, DataModule dataset:   {blocked_rate:10.0f} traces/s (block-aware order, batches of "
          f"{args.batch_size})")
    print(f"  blocked layout, plain h5py:           {h5py_rate:10.0f} traces/s (same order; medians of "
          f"{args.rounds} alternating rounds, {'warm' if args.warm else 'cold'} cache)")
    print(f"  index of {n_rows} rows: {index_seconds:.1f} s, peak RSS +{float(delta_mb):.0f} MB "
          f"(frame {float(frame_mb):.0f} MB)")
    figures = {"n_datasets": args.n, "per_trace_reads_per_s": per_trace, "blocked_reads_per_s": blocked_rate,
               "blocked_vs_per_trace": blocked_rate / per_trace, "index_seconds_1p2M": index_seconds,
               "index_mb_1p2M": index_mb, "blocked_vs_h5py": ratio}
    print(" ".join(f"{k}={v:.0f}" if k == "n_datasets" else f"{k}={v:.2f}" if "vs" in k else f"{k}={v:.1f}"
                   for k, v in figures.items()))
    return figures


if __name__ == "__main__":
    main()
