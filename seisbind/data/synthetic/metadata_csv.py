"""A full-width INSTANCE event-metadata CSV of any length, for benchmarks of the metadata index at scale.

Only the file's shape and quirks matter here (115 columns in file order, 'None' and empty numeric cells, empty
S picks and location codes, ISO times, a quoted multi-line moment tensor in some rows), not seismological sense:
the synthetic data roots (seisbind/data/synthetic/__init__.py) write meaningful metadata for their traces.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from seisbind.data.instance_schema import EVENT_COLUMNS, TEXT_COLUMNS, TIME_COLUMNS

MOMENT_TENSOR = "[[ 1.2e+15 -3.0e+14  2.1e+14]\n [-3.0e+14  8.0e+14 -1.0e+13]\n [ 2.1e+14 -1.0e+13 -2.0e+15]]"


def write_instance_csv(path: Path, n_rows: int, seed: int = 0, block_rows: int = 10_000) -> None:
    """A 115-column INSTANCE event CSV with the real file's quirks: 'None' and empty numeric cells, empty S picks,
    empty location codes, ISO times, and a quoted multi-line moment tensor in some rows."""
    rng = np.random.default_rng(seed)
    for block in range(-(-n_rows // block_rows)):
        n = min(block_rows, n_rows - block * block_rows)
        source_id = (10_000_000 + block * block_rows + np.arange(n)) // 10
        times = pd.Timestamp("2016-08-01", tz="UTC") + pd.to_timedelta(rng.uniform(0, 3e7, n), unit="s")
        iso = times.strftime("%Y-%m-%dT%H:%M:%S.%fZ").to_numpy(dtype=object)
        columns: dict[str, np.ndarray] = {
            "source_id": source_id.astype(str),
            "station_network_code": rng.choice(["IV", "MN", "GU", "ST", "OX"], n),
            # row number mod 620 (INSTANCE's station count): the 10 traces of an event are at 10 stations, so
            # trace names are unique, as the readers require
            "station_code": np.char.add("S", ((block * block_rows + np.arange(n)) % 620).astype(str)),
            "station_location_code": rng.choice(["", "00", "10"], n),
            "station_channels": rng.choice(["HH", "EH", "HN"], n),
        }
        for column in EVENT_COLUMNS:
            if column in columns:
                continue
            if column in TIME_COLUMNS:
                values = iso.copy()
                if column == "trace_S_arrival_time":
                    values[rng.random(n) < 0.5] = ""
            elif column == "trace_name":
                values = [".".join(parts) for parts in zip(
                    columns["source_id"], columns["station_network_code"], columns["station_code"],
                    columns["station_location_code"], columns["station_channels"])]
            elif column == "source_mechanism_moment_tensor":
                values = np.where(rng.random(n) < 0.02, MOMENT_TENSOR, "")
            elif column in TEXT_COLUMNS:
                values = rng.choice(["manual", "automatic", "ML", ""], n)
            else:
                values = np.round(rng.normal(10, 5, n), 3).astype(str).astype(object)
                draw = rng.random(n)
                values[draw < 0.05] = "None"
                values[(draw >= 0.05) & (draw < 0.1)] = ""
            columns[column] = values
        frame = pd.DataFrame(columns, columns=EVENT_COLUMNS)
        frame.to_csv(path, mode="w" if block == 0 else "a", header=block == 0, index=False)
