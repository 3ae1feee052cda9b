"""The Wikelski et al. (2020) animal score per window (seisbind/probe/animal_baseline.py), judged like every other
row against the same permuted labels, and their threshold detector's summary.

PGA per 15-min bin is the largest trace_pga_cmps2 of the traces seen in the bin (features.trace_times_ns; 0 where
none): the network's view of shaking at the farm.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from seisbind.config_schema import Wikelski
from seisbind.data.movebank import odba_bins
from seisbind.data.tables import TableSource
from seisbind.errors import SeisbindInputError
from seisbind.probe import animal_baseline as wb
from seisbind.probe import evaluate as ev
from seisbind.probe import features
from seisbind.probe.evaluate import Settings
from seisbind.probe.study.config import Skipped
from seisbind.probe.study.design import horizon_of
from seisbind.probe.study.rows import Row, Scored, labels_of, permuted_labels
from seisbind.protocols import StudyData

NAME = "wikelski2020"


def wikelski_rows(w: Wikelski, data: StudyData, windows: pd.DataFrame, horizons: list[float], settings: Settings,
                  skipped: Skipped) -> tuple[list[Row], dict[float, Scored], dict | None]:
    """(rows "animal / wikelski2020" per horizon, their scores for the figures, the detector's summary)."""
    if not w.enabled:
        return [], {}, None
    if w.source is None:
        skipped.add(NAME, "probe.wikelski.source is null: the study's modalities include no animal data (Movebank "
                          "files); add the animal modality or set probe.wikelski.source")
        return [], {}, None
    source = TableSource.of(w.source, "probe.wikelski.source")
    if data.metadata is None or not source.paths(data.root):
        skipped.add(NAME, data.metadata_missing or f"no Movebank file ({source.describe(data.root)})")
        return [], {}, None
    try:
        odba = odba_bins(data.tables.load(source, "the Wikelski baseline"), bin_minutes=w.bin_minutes)
        meta = data.metadata
        events = pd.DataFrame({"time": pd.to_datetime(features.trace_times_ns(meta), utc=True),
                               "pga": meta["trace_pga_cmps2"].astype(np.float64).fillna(0.0)})
        pga = wb.pga_per_bin(events, odba.index)
        animal = wb.wikelski_residuals(odba, pga)["animal"]
    except SeisbindInputError as err:
        skipped.add(NAME, str(err))
        return [], {}, None
    rows, scored = [], {}
    for h in horizons:
        horizon = horizon_of(windows, h)
        s = wb.wikelski_score(windows.iloc[horizon.index], animal, min_coverage=w.min_coverage)
        part = horizon.subset(np.isfinite(s))
        try:
            ev.check_classes(part.y, settings, f"{NAME} at {h:g} h")
        except SeisbindInputError as err:
            skipped.add(f"{NAME} at {h:g} h", str(err))
            continue
        s = s[np.isfinite(s)]
        scored[h] = Scored(part, {NAME: s})
        # A fixed score learns nothing from the labels: its null needs no refit.
        null = ev.fixed_null_aucs(s, labels_of(permuted_labels(windows, horizon, settings), horizon, part))
        values = ev.auc_record(part.y, s)
        rows.append(Row(h, "animal", NAME, 1, values | ev.refit_inference(values["auc"], null), null))
    return rows, scored, detector(animal, pga, skipped)


def detector(animal: pd.Series, pga: pd.Series, skipped: Skipped) -> dict | None:
    bins = pga[pga > 0]
    try:
        found = wb.detect_episodes(animal, pd.DataFrame({"time": bins.index, "pga": bins.to_numpy()}))
    except SeisbindInputError as err:
        skipped.add(f"{NAME} detector", str(err))
        return None
    return {"n_triggers": int(len(found.triggers)), "n_detected": int(found.triggers["detected"].sum()),
            "alarm_fraction": found.alarm_fraction, "p_value_random": found.p_value_random}
