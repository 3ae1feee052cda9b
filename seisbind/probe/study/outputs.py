"""What the study writes to OUT: windows.csv, features.csv, stats.csv, metrics.json, the figures, report.md and
report.html (and the configured loggers). seisbind/probe/report.py renders; this module decides what goes where."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
from omegaconf import DictConfig

from seisbind.files import write_csv, write_json
from seisbind.probe import report
from seisbind.probe.families import columns_of
from seisbind.probe.features import near_centres
from seisbind.probe.stats import feature_tests
from seisbind.probe.study.config import MAIN_TYPES, Spec, study_period
from seisbind.probe.study.design import Design, horizon_of
from seisbind.probe.study.rows import Scored
from seisbind.probe.study.table import FeatureTable
from seisbind.protocols import StudyData

log = logging.getLogger(__name__)


def describe_data(spec: Spec, data: StudyData, design: Design, table: FeatureTable) -> dict:
    catalog, windows, probe = data.catalog, design.windows, spec.probe
    main = windows[windows["period"] == "main"]
    counts = {f"{h:g}": {t: int(((main["window_type"] == t) & np.isclose(main["horizon_hours"], h)).sum())
                         for t in MAIN_TYPES} for h in probe.horizons_hours}
    made = {f.name: columns_of(f, table.features.columns) for f in table.families}
    present = [name for name, columns in made.items() if columns]
    coverage = {name: float(table.features[made[name]].notna().any(axis=1).mean()) for name in present}
    return {"root": str(spec.root), "ckpt": spec.ckpt, "catalog_events": int(len(catalog)),
            "period": [t.isoformat() for t in study_period(probe)], "match_days": probe.background.match_days,
            "radius_km": probe.radius_km,
            "catalog_events_within_radius": int(len(near_centres(catalog, windows, probe.radius_km))),
            "magnitude_floor": design.completeness["floor"], "magnitude_floor_method": design.completeness["method"],
            "catalog_start": str(catalog["time"].min()), "catalog_end": str(catalog["time"].max()),
            "target_min_magnitude": probe.target_min_magnitude, "decluster": probe.decluster,
            "n_targets": int(main.loc[main["window_type"] == "pre", "target_event_id"].nunique()),
            "n_traces": int(len(data.metadata)) if data.metadata is not None else 0,
            "families": present, "embedding": table.embedding,
            "windows_with_family": coverage,
            "n_post_windows": int((windows["window_type"] == "post").sum()), "design": design.targets,
            "windows": counts}


def feature_statistics(table: FeatureTable, windows: pd.DataFrame, horizons: list[float]) -> pd.DataFrame:
    """stats.csv: per horizon and feature, the univariate tests of pre-event against background windows."""
    numeric = table.features.select_dtypes("number")
    tests = []
    for h in horizons:
        horizon = horizon_of(windows, h)
        if min(horizon.y.sum(), (~horizon.y).sum()) < 2:
            continue
        tests.append(feature_tests(numeric.iloc[horizon.index], horizon.y).reset_index().assign(horizon_hours=h))
    stats = pd.concat(tests, ignore_index=True) if tests else pd.DataFrame()
    return stats[["horizon_hours"] + [c for c in stats.columns if c != "horizon_hours"]] if len(stats) else stats


def write_outputs(out: Path, design: Design, table: FeatureTable, metrics: dict, scored: dict[tuple, Scored],
                  nulls: dict[str, dict[tuple, np.ndarray]], main_score: str, cfg: DictConfig) -> None:
    feats = table.features
    windows = design.windows.drop(columns=["target_time"], errors="ignore")
    joined = pd.concat([windows, feats.drop(columns=["b_value_reason"], errors="ignore")], axis=1)
    joined["animal_activity"] = feats.get("animal_odba_deviation", np.nan)
    write_csv(out / "windows.csv", joined)
    write_csv(out / "features.csv", pd.concat([windows[["window_id"]], feats], axis=1))
    stats = feature_statistics(table, design.windows, list(metrics["settings"]["horizons_hours"]))
    write_csv(out / "stats.csv", stats)
    write_json(out / "metrics.json", metrics)
    report.plot_roc(scored, main_score, out / "roc.png")
    report.plot_molchan(scored, main_score, out / "molchan.png")
    figures = ["roc.png", "molchan.png"]
    for name, aucs in nulls.items():
        if aucs:
            report.plot_null(name, metrics["results"], aucs, out / f"{name}_null.png")
            figures.append(f"{name}_null.png")
    report.write_report(metrics, out, figures)
    report.log_to_loggers(cfg, out, metrics, {
        "results": report.results_table(metrics), "comparisons": pd.json_normalize(metrics["comparisons"]),
        "verdicts": pd.DataFrame(metrics["sanity"]["verdicts"]), "stats": stats})
    log.info("probe study written to %s", out)
