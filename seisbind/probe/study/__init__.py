"""`python probe.py [ckpt=PATH] data.root=DIR out=OUT`: the pre-event vs background study.

Windows (pre-event per horizon, time-matched quiet background of the same length, post-event, other-period
copies) come from the catalog inside the study period (design.py); every window gets the features of the
configured modalities' families, time of day and, with a checkpoint, embeddings (table.py); each feature set is
scored out-of-fold by each of its scorers (its own `scores`, else probe.scores) and judged by its refit
permutation null (rows.py), family-wise over all rows, and against every clustering null (nulls/); feature sets
are compared pairwise (comparisons.py: the configured pairs and each modality's against the seismic data,
family-wise over all of them) and the checks run at every horizon (horizon.py, checks/); the headline says what
the best testable row may claim (headline.py), and each modality's verdict whether it adds to the seismic data
(verdicts.py).
Data that cannot support a part skips it with the reason written to metrics.json and report.md; data that
cannot support the study at all stops it with one clear message.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
from omegaconf import DictConfig

from seisbind.config_schema import StudyProbe
from seisbind.errors import SeisbindInputError
from seisbind.probe import report
from seisbind.probe.families import (
    EmbeddingFamily,
    TimeOfDayFamily,
    build_families,
    simulated_columns,
    simulated_features,
)
from seisbind.probe.features import near_centres
from seisbind.probe.study import comparisons
from seisbind.probe.study.checks import adjust
from seisbind.probe.study.config import (
    Skipped,
    Spec,
    built,
    checked_feature_set,
    scores_of,
    settings_of,
    spec_of,
    study_period,
    window_rules,
)
from seisbind.probe.study.design import Design, build_design, load_data
from seisbind.probe.study.headline import headline
from seisbind.probe.study.horizon import Inputs, Outcome, evaluate_horizons
from seisbind.probe.study.nulls import Simulation, clustering_ratio, run_nulls
from seisbind.probe.study.outputs import describe_data, write_outputs
from seisbind.probe.study.rows import family_wise, family_wise_tested
from seisbind.probe.study.table import build_table
from seisbind.probe.study.verdicts import modality_verdicts, plans
from seisbind.seismicity.etas.incompleteness import AftershockIncompleteness

log = logging.getLogger(__name__)


def run(cfg: DictConfig) -> dict:
    """CLI entry point (probe.entry); input problems reach `probe.py` as `SeisbindInputError` (seisbind/cli.py)."""
    metrics = run_study(cfg)
    print(report.summary(metrics, Path(cfg.out)))
    return metrics


def run_study(cfg: DictConfig) -> dict:
    """The study; returns the metrics dict also written to OUT/metrics.json. The config is checked against
    seisbind.config_schema.StudyConfig first, so a wrong type or key stops it before any data is read."""
    started = time.perf_counter()
    spec = spec_of(cfg)
    probe, skipped = spec.probe, Skipped()
    settings = settings_of(probe, spec.seed)
    checks, nulls = built(probe.checks, "probe.checks"), built(probe.nulls, "probe.nulls")
    spec.out.mkdir(parents=True, exist_ok=True)

    data = load_data(spec.root, spec.filters, probe.catalog)
    data.catalog = probe.region.events_inside(data.catalog, "probe.region")
    data.radius_km = probe.radius_km
    design = build_design(data, probe, spec.seed)
    embedded = EmbeddingFamily(spec.ckpt, spec.data, probe.embedding)
    families = [*build_families(spec.modality), TimeOfDayFamily(), embedded]
    table = build_table(probe.feature_sets, data, design, families, skipped, incompleteness_of(probe))
    table.embedding = embedded.coverage
    log.info("%d windows, %d features (%.1f s)", len(design.windows), table.features.shape[1],
             time.perf_counter() - started)

    checked_set, checked_note = checked_feature_set(probe, table.columns)
    checked = replace(probe, checked=replace(probe.checked, feature_set=checked_set))
    planned = plans(probe.verdicts, table)
    pairs = [pair for p in planned for pair in p.comparisons]
    pairs += comparisons.configured(probe, table, skipped, pairs)
    outcomes = evaluate_horizons(Inputs(design.windows, table, settings, checked, checks, pairs), probe.n_jobs)
    rows, scored = merge(outcomes, design.windows, skipped)
    compared = [c for o in outcomes for c in o.comparisons]
    comparisons.family_wise(compared)
    check_family = adjust([c for o in outcomes for c in o.checks])
    if not rows:
        reasons = "; ".join(f"{s['what']}: {s['reason']}" for s in skipped)
        raise SeisbindInputError(f"no feature set could be evaluated at any horizon ({reasons})")
    family_wise(rows)
    present = [f for f in families if f.name not in table.absent]   # an absent family has nothing to simulate
    simulated = catalog_only_sets(table, simulated_columns(present, table.features.columns))
    how = Simulation(window_rules(probe, spec.seed), simulated, list(probe.horizons_hours),
                     {name: scores_of(probe, name) for name in simulated}, settings,
                     lambda catalog, windows: simulated_features(present, catalog, windows), table.family_of,
                     design.windows, max((f.lookback_hours for f in present if f.simulated), default=0.0))
    null_info, null_aucs = run_nulls(nulls, near_centres(data.catalog, design.windows, probe.radius_km),
                                     design.completeness["floor"], study_period(probe), how, rows, spec.seed, skipped)
    family_wise_tested(rows, [n.name for n in nulls])
    ratio, source = clustering_ratio(nulls, null_info, design.windows["end_time"])
    design.windows["clustering_intensity_ratio"] = np.nan if ratio is None else ratio
    comparisons.where_clustering_quiet(compared, ratio, source, settings)

    metrics = {
        "headline": headline(rows, design.windows, probe.primary, [n.name for n in nulls], probe.design),
        "modality_verdicts": modality_verdicts(planned, compared, probe.verdicts.alpha),
        "nulls": null_info,
        "results": [r.as_dict() for r in rows],
        "comparisons": [c.as_dict() for c in compared],
        "sanity": {"checked": {"feature_set": checked_set, "score": probe.checked.score, "note": checked_note},
                   "per_horizon": per_horizon(outcomes), "other_period_windows": design.other_period,
                   "multiplicity": check_family,
                   "verdicts": [c.verdict() for o in outcomes for c in o.checks]},
        **table.info,
        "skipped": list(skipped),
        "data": describe_data(spec, data, design, table),
        "settings": settings_record(spec, design, null_info),
    }
    metrics["elapsed_seconds"] = time.perf_counter() - started
    write_outputs(spec.out, design, table, metrics, scored, null_aucs, probe.checked.score, cfg)
    return metrics


def incompleteness_of(probe: StudyProbe) -> AftershockIncompleteness | None:
    """probe.incompleteness as the rule the feature table and the ETAS null apply."""
    return None if probe.incompleteness is None else AftershockIncompleteness(**asdict(probe.incompleteness))


def merge(outcomes: list[Outcome], windows, skipped: Skipped) -> tuple[list, dict]:
    """All horizons' rows and scores in horizon order; skips gathered; the main model's window scores written to
    the windows table (`seismic_score`)."""
    rows, scored = [], {}
    windows["seismic_score"] = float("nan")
    for outcome in outcomes:
        rows += outcome.rows
        skipped += outcome.skipped
        scored |= {(outcome.horizon_hours, name): s for name, s in outcome.scored.items()}
        positions = list(outcome.window_scores)
        windows.loc[windows.index[positions], "seismic_score"] = list(outcome.window_scores.values())
    return rows, scored


def catalog_only_sets(table, simulated: set[str]) -> dict[str, list[str]]:
    """The feature sets whose every column a simulated catalog gives: those a clustering null can test."""
    sets = {name: table.columns(name)[0] for name in table.feature_sets}
    return {name: columns for name, columns in sets.items() if columns and set(columns) <= simulated}


def per_horizon(outcomes: list[Outcome]) -> list[dict]:
    """The checks' numbers, one entry per horizon where they ran."""
    return [{"horizon_hours": o.horizon_hours, "checked_significant": o.checked_significant}
            | {c.check: c.numbers for c in o.checks} for o in outcomes if o.checks]


def settings_record(spec: Spec, design: Design, null_info: dict) -> dict:
    return asdict(spec.probe) | {
        "seed": spec.seed, "ckpt": spec.ckpt, "period": [t.isoformat() for t in study_period(spec.probe)],
        "match_days": spec.probe.background.match_days, "magnitude_floor": design.completeness["floor"],
        "completeness": design.completeness, "nulls": null_info,
        "family_wise_method": "Westfall-Young single-step max-T over all result rows",
        "claim_family_wise_method": "Westfall-Young single-step max-T over the rows every clustering null tested, "
                                    "for the permutations as for each null; a claim needs each below 0.05 "
                                    "(intersection-union test)",
        "comparison_family_wise_method": "Westfall-Young single-step max-T (one-sided) over every comparison "
                                         "with a feature-permutation null, at every horizon"}
