"""scripts/bench_scale.py in small (20 k datasets): it builds its layouts and prints the figures it promises."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "bench_scale.py"
KEYS = ("n_datasets", "per_trace_reads_per_s", "blocked_reads_per_s", "blocked_vs_per_trace", "index_seconds_1p2M",
        "index_mb_1p2M", "blocked_vs_h5py")


@pytest.mark.slow
def test_small_scale_benchmark_runs_and_reports(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    figures = runpy.run_path(str(SCRIPT))["main"](["--n", "20000", "--cache", str(tmp_path), "--reads", "500"])
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert [pair.split("=")[0] for pair in last.split()] == list(KEYS)
    assert figures["n_datasets"] == 20000 and all(figures[k] > 0 for k in KEYS)
    # the blocked copy holds every trace, in blocks of 1,024
    assert len(list((tmp_path / "blocked").glob("metadata.csv"))) == 1
    assert figures["blocked_vs_h5py"] > 0.3  # the DataModule path is not wildly slower than raw h5py
