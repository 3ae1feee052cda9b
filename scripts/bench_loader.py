"""Benchmark of seisbind's waveform reader and metadata index against plain h5py and SeisBench.

Writes, in a temporary folder, `--traces` random traces in the INSTANCE layout (`data/<trace_name>`, (3, 12000)) and
a SeisBench copy of the same traces with SeisBench's own WaveformDataWriter (ZNE, bucketed blocks), then measures
with a warm page cache, in one run:
  (a) traces/s of the DataModule's dataset (TraceDataset with the waveform input: HDF5 read -> tensor sample),
  (b) traces/s of a plain h5py loop reading the same datasets,
  (c) traces/s of SeisBench's `GenericGenerator` over a `WaveformDataset` of the SeisBench copy,
and the peak-RSS growth of `read_instance_metadata` building the training index (`INDEX_COLUMNS`) of a generated
`--rows`-row, 115-column INSTANCE CSV, measured in a fresh child process.

Last line: `loader_vs_h5py=R1 loader_vs_seisbench=R2 index_mb_per_100k_rows=M` (targets R1 >= 0.9, R2 >= 3, M <= 60).
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np
import pandas as pd

from seisbind.data.dataset import TraceDataset
from seisbind.data.instance import INDEX_COLUMNS, InstanceWaveforms, read_instance_metadata
from seisbind.data.instance_schema import TRACE_NPTS
from seisbind.data.synthetic.metadata_csv import write_instance_csv
from seisbind.data.tables import SideTables
from seisbind.modalities.waveform import WaveformInput
from seisbind.protocols import InputData


def waveform_dataset(path: Path, trace_names: list[str]) -> TraceDataset:
    """The DataModule's dataset with the waveform input alone (the spectrum modality's sample)."""
    index = pd.DataFrame({"trace_name": trace_names, "waveform_file": np.int8(0)})
    waveform = WaveformInput()
    waveform.setup(index, InputData(waveforms=[InstanceWaveforms(path)], tables=SideTables(".")),
                   on_bad_trace="raise")
    return TraceDataset(np.arange(len(index)), {"spectrum": waveform})


def write_traces(folder: Path, n_traces: int, dtype: str, seed: int = 0) -> tuple[Path, Path, list[str]]:
    """The same random traces as an INSTANCE HDF5 file and as a SeisBench folder; returns paths and trace names."""
    import seisbench.data as sbd

    rng = np.random.default_rng(seed)
    names = [f"{11000000 + i // 8}.IV.S{i % 8:03d}..HH" for i in range(n_traces)]
    instance_path = folder / "Instance_events_counts.hdf5"
    seisbench_folder = folder / "seisbench"
    writer = sbd.WaveformDataWriter(seisbench_folder / "metadata.csv", seisbench_folder / "waveforms.hdf5")
    with h5py.File(instance_path, "w") as handle, writer:
        group = handle.create_group("data")
        writer.data_format = {"dimension_order": "CW", "component_order": "ZNE", "sampling_rate": 100,
                              "measurement": "velocity", "unit": "counts"}
        for name in names:
            trace = (rng.normal(size=(3, TRACE_NPTS)) * 1000).astype(dtype)  # E, N, Z
            group.create_dataset(name, data=trace)
            writer.add_trace({"trace_name": name, "trace_sampling_rate_hz": 100.0}, trace[[2, 1, 0]])
    return instance_path, seisbench_folder, names


def traces_per_second(loop: Callable[[], int], repeats: int) -> float:
    """Median rate over `repeats` timed passes, after one untimed pass that warms the page cache."""
    loop()
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        count = loop()
        rates.append(count / (time.perf_counter() - start))
    return statistics.median(rates)


def memory_mb(field: str) -> float:
    """A memory figure of this process from /proc/self/status (VmRSS: now, VmHWM: peak), in MiB."""
    return int(re.search(rf"{field}:\s+(\d+)", Path("/proc/self/status").read_text()).group(1)) / 1024


def measure_index(csv_path: Path) -> None:
    """Child-process part: peak RSS growth (MB) while building the index; prints `rss_delta_mb rows frame_mb`.

    The peak is the process's VmHWM, reset to the current RSS just before the read (clear_refs 5). getrusage's
    ru_maxrss would not do: Linux carries it over from the parent through fork + exec, so a child of a large
    parent reports the parent's size.
    """
    Path("/proc/self/clear_refs").write_text("5")
    before = memory_mb("VmRSS")
    frame = read_instance_metadata(csv_path, INDEX_COLUMNS)
    print(f"{memory_mb('VmHWM') - before:.1f} {len(frame)} {frame.memory_usage(deep=True).sum() / 2**20:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--traces", type=int, default=240)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--dtype", default="float32", help="stored sample dtype of the INSTANCE copy")
    parser.add_argument("--measure-index", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure_index:
        measure_index(args.measure_index)
        return

    import seisbench.data as sbd
    import seisbench.generate as sbg

    with tempfile.TemporaryDirectory(prefix="seisbind_bench_") as tmp:
        folder = Path(tmp)
        instance_path, seisbench_folder, names = write_traces(folder, args.traces, args.dtype)

        dataset = waveform_dataset(instance_path, names)

        def loader() -> int:
            for i in range(len(dataset)):
                dataset[i]
            return len(dataset)

        plain_file = h5py.File(instance_path, "r")
        plain_group = plain_file["data"]

        def plain_h5py() -> int:
            for name in names:
                plain_group[name][()]
            return len(names)

        generator = sbg.GenericGenerator(sbd.WaveformDataset(seisbench_folder, component_order="ENZ", cache=None))

        def seisbench_generator() -> int:
            for i in range(len(generator)):
                generator[i]
            return len(generator)

        rate_loader = traces_per_second(loader, args.repeats)
        rate_h5py = traces_per_second(plain_h5py, args.repeats)
        rate_seisbench = traces_per_second(seisbench_generator, args.repeats)
        plain_file.close()

        csv_path = folder / "metadata_Instance_events_v3.csv"
        start = time.perf_counter()
        write_instance_csv(csv_path, args.rows)
        written_s = time.perf_counter() - start
        start = time.perf_counter()
        child = subprocess.run([sys.executable, __file__, "--measure-index", str(csv_path)], capture_output=True,
                               text=True, check=True)
        index_s = time.perf_counter() - start
        delta_mb, rows, frame_mb = child.stdout.split()
        csv_mb = csv_path.stat().st_size / 2**20

    mb_per_100k = float(delta_mb) / (int(rows) / 100_000)
    print(f"traces: {args.traces} x (3, {TRACE_NPTS}) {args.dtype}, median of {args.repeats} warm passes")
    print(f"  seisbind TraceDataset (waveform input): {rate_loader:10.0f} traces/s")
    print(f"  plain h5py loop:                        {rate_h5py:10.0f} traces/s")
    print(f"  SeisBench GenericGenerator:             {rate_seisbench:10.0f} traces/s")
    print(f"index: {rows} rows x 115 columns ({csv_mb:.0f} MB CSV, written in {written_s:.0f} s), "
          f"{len(INDEX_COLUMNS)} columns kept: peak RSS +{float(delta_mb):.0f} MB, frame {float(frame_mb):.0f} MB, "
          f"{index_s:.1f} s in a child process")
    print(f"loader_vs_h5py={rate_loader / rate_h5py:.2f} loader_vs_seisbench={rate_loader / rate_seisbench:.2f} "
          f"index_mb_per_100k_rows={mb_per_100k:.1f}")


if __name__ == "__main__":
    main()
