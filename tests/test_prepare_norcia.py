"""Phase 0 as a command: the Norcia traces of an INSTANCE root written to Parquet."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd

from seisbind.data.instance_schema import EVENT_COLUMNS

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "prepare_norcia.py"


def test_prepare_norcia_keeps_the_region_and_period(tmp_path: Path, synthetic_root: Path) -> None:
    out = tmp_path / "norcia.parquet"
    done = subprocess.run([sys.executable, str(SCRIPT), f"data.root={synthetic_root}", f"out={out}",
                           "period.start=2016-10-01", "period.end=2016-11-30T23:59:59"],
                          capture_output=True, text=True, timeout=300)
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
