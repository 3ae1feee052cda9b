"""The zero-shot station anomaly analysis of continuous multi-station waveforms (`python probe.py probe=stations`).

continuous.py reads any ObsPy format into per-station records on one sampling grid; features.py turns a record
into per-window features and anomaly scores against the station's own background; placebo.py builds the null
from placebo event times; analysis.py runs it all and writes the report.
"""
