"""SeisBench folders written by SeisBench's own WaveformDataWriter: the interoperability oracle of the readers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import seisbench.data as sbd


def trace_metadata(i: int) -> dict:
    return {
        "trace_name": f"{1000 + i}.IV.ST{i:02d}..HH", "source_id": 1000 + i, "source_magnitude": 2.0 + i / 2,
        "source_latitude_deg": 42.5 + i / 20, "source_longitude_deg": 13.0, "station_network_code": "IV",
        "station_code": f"ST{i:02d}", "station_location_code": "", "trace_channel": "HH",
        "trace_p_arrival_sample": 1000 + i, "trace_s_arrival_sample": np.nan if i % 2 else 2000 + i,
        "trace_sampling_rate_hz": 100.0, "path_back_azimuth_deg": 10.0 * i,
        "source_origin_time": f"2016-10-30T06:40:{i:02d}.000000Z", "trace_start_time": f"2016-10-30T06:40:{i:02d}Z",
        "trace_pga_mps2": 0.01 * (i + 1),
    }


def write_seisbench(folder: Path, traces: list[np.ndarray], *, chunk: str = "", dimension_order: str = "CW",
                    component_order: str = "ZNE", bucket_size: int = 4, first: int = 0,
                    metadata: list[dict] | None = None) -> Path:
    """Write ENZ `traces` with SeisBench's writer in `component_order` and `dimension_order`, bucketed, with
    `metadata` rows (default: trace_metadata(first + i))."""
    permutation = ["ENZ".index(c) for c in component_order]
    writer = sbd.WaveformDataWriter(folder / f"metadata{chunk}.csv", folder / f"waveforms{chunk}.hdf5")
    with writer:
        writer.data_format = {"dimension_order": dimension_order, "component_order": component_order,
                              "sampling_rate": 100, "measurement": "velocity", "unit": "counts"}
        writer.bucket_size = bucket_size
        writer.bucketer = sbd.GeometricBucketer(axis=dimension_order.index("W"))
        for i, trace in enumerate(traces):
            stored = trace[permutation]
            row = trace_metadata(first + i) if metadata is None else metadata[i]
            writer.add_trace(row, stored if dimension_order == "CW" else stored.T)
    return folder
