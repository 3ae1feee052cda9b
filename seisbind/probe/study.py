"""`python probe.py [ckpt=PATH] data.root=DIR out=OUT`: the pre-event vs background study.

Windows (pre-event per horizon, time-matched quiet background of the same length, post-event) come from the
catalog inside the study period; every window gets catalog, waveform-metadata, time-of-day, animal and (with a
checkpoint) embedding features; each feature set is scored out-of-fold by four scorers and evaluated with AUC
(refit permutation p and interval, family-wise p, ETAS-clustering p), precision at fixed recall and Molchan skill;
feature sets are compared pairwise on the windows both cover; the sanity checks (label shuffle, post-event
windows, another period, time of day) run every time. Data that cannot support a part (no animal coverage, too
few windows at a horizon, no checkpoint) skips that part with the reason written to metrics.json and report.md;
data that cannot support the study at all (no targets, no catalog) stops it with one clear message.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import sklearn
from omegaconf import DictConfig, OmegaConf

from seisbind.config_schema import StudyConfig, typed_config
from seisbind.data.catalog import mc_max_curvature, to_utc_ns
from seisbind.data.movebank import odba_bins
from seisbind.data.tables import SideTables, TableSource
from seisbind.errors import SeisbindInputError
from seisbind.files import write_csv, write_json
from seisbind.probe import embedding, etas_null, evaluate, features, report
from seisbind.probe.evaluate import Settings
from seisbind.probe.families import (
    FamilyUnavailable,
    FeatureFamily,
    StudyData,
    build_families,
    family_of,
    simulated_columns,
    simulated_features,
)
from seisbind.probe.stats import auc_roc, bootstrap_auc_ci, delong_test, feature_tests
from seisbind.probe.windows import make_windows
from seisbind.study_area import Period

log = logging.getLogger(__name__)

MAIN_TYPES = ("pre", "background")
OTHER_TYPES = {"pre": "other_pre", "background": "other_background"}


@dataclass
class Sources:
    """What the data root provides: the study catalog (required), the trace metadata (`metadata_missing` says
    why there is none) and the side tables the feature families read (seisbind/data/tables.py)."""

    catalog: pd.DataFrame
    tables: SideTables
    metadata: pd.DataFrame | None = None
    metadata_missing: str = ""


@dataclass
class Study:
    """Windows and features (same index), and what was skipped, with reasons."""

    windows: pd.DataFrame
    features: pd.DataFrame
    families: list[FeatureFamily] = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)
    embedding: dict | None = None
    """Which traces the embedding features pool and how many windows have one (seisbind/probe/embedding.py)."""
    completeness: dict = field(default_factory=lambda: {"floor": float("nan")})

    def family_of(self, column: str) -> str:
        return family_of(column, self.families)

    def skip(self, what: str, reason: str) -> None:
        log.warning("skipped %s: %s", what, reason)
        self.skipped.append({"what": what, "reason": reason})


def run(cfg: DictConfig) -> dict:
    """CLI entry point (probe.entry); input problems reach `probe.py` as `SeisbindInputError` (seisbind/cli.py)."""
    metrics = run_study(cfg)
    print(report.summary(metrics, cfg.probe.main.score))
    print(f"report: {Path(cfg.out) / 'report.md'}")
    return metrics


def settings_of(cfg: DictConfig) -> Settings:
    p = cfg.probe
    return Settings(n_bootstrap=p.n_bootstrap, n_permutations=p.n_permutations, n_folds=p.n_folds,
                    logistic_C=p.logistic_C, min_windows_per_class=p.min_windows_per_class, seed=int(cfg.seed))


# ------------------------------------------------------------------------------------------------ sources
def load_sources(cfg: DictConfig) -> Sources:
    """The study catalog (`probe.catalog`, required) and the trace metadata (optional: absence is recorded)."""
    root = Path(cfg.data.root)
    if not root.is_dir():
        raise SeisbindInputError(f"data.root={root}: not a folder")
    tables = SideTables(root)
    catalog = tables.load(TableSource.of(cfg.probe.catalog, "probe.catalog"), "the study (probe.catalog)")
    if catalog.empty:
        raise SeisbindInputError(f"{catalog.attrs.get('source', 'probe.catalog')}: no earthquake in the catalog")
    sources = Sources(catalog=catalog, tables=tables)
    try:
        filters = OmegaConf.to_container(cfg.data.filters) if cfg.data.get("filters") else None
        sources.metadata = features.read_trace_metadata(root, filters)
    except SeisbindInputError as err:
        sources.metadata_missing = f"no trace metadata: {err}"
    return sources


def data_span_ns(sources: Sources) -> tuple[int, int]:
    """The time range the scored sources cover: the catalog span, cut to the trace metadata span when present."""
    times = to_utc_ns(sources.catalog["time"])
    lo, hi = int(times.min()), int(times.max())
    if sources.metadata is not None and len(sources.metadata):
        trace_times = to_utc_ns(sources.metadata["trace_start_time"])
        lo, hi = max(lo, int(trace_times.min())), min(hi, int(trace_times.max()))
    return lo, hi


# ------------------------------------------------------------------------------------------------ windows
def study_windows(cfg: DictConfig, sources: Sources) -> tuple[pd.DataFrame, dict]:
    """Main windows (make_windows) plus the other-period copies of the pre-event and background windows.

    Other period: every pre/background window moved by `other_period.shift_days` (or so that the earliest
    starts at `other_period.start`); copies outside the data span, or within quiet_hours of any target or
    M >= quiet_min_magnitude event, are dropped (counted), so the copies hold no real pre-event time.
    """
    p = cfg.probe
    start, end = study_period(cfg)
    windows = make_windows(sources.catalog, **window_options(cfg))
    n_pre = int((windows["window_type"] == "pre").sum())
    if n_pre == 0:
        magnitudes = sources.catalog["magnitude"]
        raise SeisbindInputError(
            f"no target event: the catalog ({len(sources.catalog)} events, M {magnitudes.min():.1f}-"
            f"{magnitudes.max():.1f}) has no event M >= {p.target_min_magnitude} (declustering: {p.decluster}) "
            f"with a full pre-event window inside probe.period that is quiet and matched "
            f"({windows.attrs['n_pre_dropped_not_quiet']} pre-event windows broke the quiet rule, "
            f"{windows.attrs['n_pre_dropped_unmatched']} found no background window); lower "
            "probe.target_min_magnitude, change probe.decluster or widen probe.background.match_days")
    post = matched_post_windows(windows, p.post_start_hours, sources.catalog)
    windows = pd.concat([windows[windows["window_type"] != "post"], post], ignore_index=True)
    windows["period"] = "main"

    main = windows[windows["window_type"].isin(MAIN_TYPES)]
    shift = other_period_shift(cfg, main, data_span_ns(sources), (start, end))
    other = main.copy()
    other["start_time"] += shift
    other["end_time"] += shift
    other["window_id"] = "other_" + other["window_id"]
    other["window_type"] = other["window_type"].map(OTHER_TYPES)
    other["period"] = "other"
    span_lo, span_hi = data_span_ns(sources)
    start_ns, end_ns = to_utc_ns(other["start_time"]), to_utc_ns(other["end_time"])
    inside = (start_ns >= span_lo) & (end_ns <= span_hi)
    catalog = sources.catalog
    loud = np.sort(np.r_[to_utc_ns(catalog.loc[catalog["magnitude"] >= p.quiet_min_magnitude, "time"]),
                         to_utc_ns(windows.loc[windows["window_type"] == "pre", "target_time"])])
    quiet_ns = int(p.quiet_hours * 3.6e12)
    near = np.searchsorted(loud, start_ns - quiet_ns, side="left") < np.searchsorted(loud, end_ns + quiet_ns,
                                                                                       side="right")
    info = {"shift_days": shift / pd.Timedelta(days=1), "n_copied": int(len(other)),
            "n_outside_data_span": int((~inside).sum()), "n_near_large_events": int((inside & near).sum())}
    other = other[inside & ~near]
    info["n_kept"] = int(len(other))
    windows = pd.concat([windows, other], ignore_index=True)
    return windows, info


def window_options(cfg: DictConfig) -> dict:
    """The `make_windows` settings of the study, also used on every ETAS-simulated catalog."""
    p = cfg.probe
    return dict(target_min_magnitude=p.target_min_magnitude, decluster=p.decluster,
                decluster_hours=p.decluster_hours, decluster_km=p.decluster_km,
                horizons_hours=list(p.horizons_hours), n_background=p.n_background,
                quiet_min_magnitude=p.quiet_min_magnitude, quiet_hours=p.quiet_hours,
                post_hours=(p.post_start_hours, p.post_start_hours + max(p.horizons_hours)),
                period=study_period(cfg), match_days=p.background.match_days,
                background_per_target=p.background.per_target, seed=int(cfg.seed))


def study_period(cfg: DictConfig) -> tuple[pd.Timestamp, pd.Timestamp]:
    """probe.period as UTC timestamps (configs/area/*.yaml by default)."""
    period = cfg.probe.period
    return Period(period.start, period.end).timestamps("probe.period")


def other_period_shift(cfg: DictConfig, main: pd.DataFrame, span_ns: tuple[int, int],
                       period: tuple[pd.Timestamp, pd.Timestamp]) -> pd.Timedelta:
    """How far the other-period copies move. `start`: so that the first window begins there; a number of days;
    or `auto`: back by the period's length when the data reach that far before it (the copies then lie wholly
    outside the study period), else -30 days, which keeps most copies inside a short data span."""
    other = cfg.probe.other_period
    if other.start:
        return pd.Timestamp(other.start, tz="UTC") - main["start_time"].min()
    if other.shift_days != "auto":
        return pd.Timedelta(days=other.shift_days)
    length = period[1] - period[0]
    if span_ns[0] <= (period[0] - length).value:
        return -length
    return pd.Timedelta(days=-30)


def completeness(cfg: DictConfig, catalog: pd.DataFrame, after_days: float = 2.0) -> dict:
    """Completeness magnitude over the study period, and the floor of the event-count features.

    Mc by maximum curvature + 0.2 (seisbind.data.catalog.mc_max_curvature) per calendar month with at least
    probe.min_count_b events, and in the `after_days` after each M >= 5, when aftershocks mask small events.
    `probe.min_magnitude: auto` takes the largest monthly Mc as the floor: counts above it do not change when a
    network densifies within the period. The post-M5 values are reported, not used: background windows keep
    quiet_hours from such events, and the floor they would set hides most of the catalog.
    """
    start, end = study_period(cfg)
    times = pd.to_datetime(catalog["time"], utc=True)
    inside = catalog[(times >= start) & (times <= end)]
    months = pd.to_datetime(inside["time"], utc=True).dt.strftime("%Y-%m")
    need = cfg.probe.min_count_b
    monthly = {month: mc_max_curvature(group["magnitude"]) for month, group in inside.groupby(months)
               if group["magnitude"].notna().sum() >= need}
    after = {}
    inside_ns = to_utc_ns(inside["time"])
    for t, m in zip(inside_ns[inside["magnitude"].to_numpy() >= 5.0], inside["magnitude"][inside["magnitude"] >= 5.0]):
        window = inside["magnitude"].to_numpy()[(inside_ns > t) & (inside_ns <= t + int(after_days * 86400e9))]
        if np.isfinite(window).sum() >= need:
            after[f"{pd.Timestamp(t, tz='UTC').isoformat()} M{m:.1f}"] = mc_max_curvature(window)
    if cfg.probe.min_magnitude == "auto":
        floor = max(monthly.values()) if monthly else float("nan")
        how = (f"largest monthly Mc of {len(monthly)} months" if monthly else
               f"no month with {need} events: no floor")
    else:
        floor, how = cfg.probe.min_magnitude, "probe.min_magnitude"
    return {"floor": floor, "method": how, "monthly_mc": monthly, f"mc_{after_days:g}_days_after_m5": after}


def matched_post_windows(windows: pd.DataFrame, post_start_hours: float, catalog: pd.DataFrame) -> pd.DataFrame:
    """Post-event windows as long as each horizon, starting `post_start_hours` after the target.

    The post-event sanity check scores them with the model of that horizon and compares them with the background
    windows of that horizon, so they must have the same length: a 1 h window (make_windows' default) holds fewer
    events than a 24 h background window even after a mainshock. Windows reaching past the catalog are dropped.
    """
    pre = windows[windows["window_type"] == "pre"]
    post = pre.copy()
    post["start_time"] = pre["target_time"] + pd.Timedelta(hours=post_start_hours)
    post["end_time"] = post["start_time"] + pd.to_timedelta(pre["horizon_hours"], unit="h")
    post["window_type"] = "post"
    post["window_id"] = "post" + pre["window_id"].str.removeprefix("pre")
    return post[post["end_time"] <= catalog["time"].max()]


# ----------------------------------------------------------------------------------------------- features
def window_features(cfg: DictConfig, sources: Sources, windows: pd.DataFrame, study: Study) -> pd.DataFrame:
    """Every feature family of the configured modalities for every window, the time-of-day control and (with a
    checkpoint) the embeddings; absent families are recorded in `study.skipped`. The catalog the families see
    holds the events at or above the completeness floor (`completeness`)."""
    floor = study.completeness["floor"]
    counted = sources.catalog[sources.catalog["magnitude"] >= floor] if np.isfinite(floor) else sources.catalog
    data = StudyData(root=Path(cfg.data.root), tables=sources.tables, catalog=counted, metadata=sources.metadata,
                     metadata_missing=sources.metadata_missing)
    parts = []
    for family in study.families:
        try:
            parts.append(family.compute(data, windows))
        except FamilyUnavailable as why:
            study.skip(f"feature family {family.name}", str(why))
    parts.append(features.time_of_day_features(windows))
    if cfg.get("ckpt"):
        e = cfg.probe.embedding
        data = OmegaConf.to_container(cfg.data, resolve=True)
        table, study.embedding = embedding.embedding_features(
            cfg.ckpt, data, windows, traces=e.traces, n_components=e.n_components,
            center_per_station=e.center_per_station, batch_size=e.batch_size, num_workers=e.num_workers,
            device=e.device)
        parts.append(table)
    else:
        study.skip("feature family embedding", "no checkpoint given (ckpt=PATH adds the embedding feature sets)")
    return pd.concat(parts, axis=1)


# ----------------------------------------------------------------------------------------------- evaluation
@dataclass
class HorizonData:
    """One horizon's main windows: labels and groups aligned with `index` (positions in the study table)."""

    horizon_hours: float
    index: np.ndarray
    y: np.ndarray
    groups: np.ndarray


def horizon_data(windows: pd.DataFrame, h: float, types: tuple[str, str] = MAIN_TYPES) -> HorizonData:
    chosen = windows["window_type"].isin(types).to_numpy() & np.isclose(windows["horizon_hours"].to_numpy(), h)
    index = np.flatnonzero(chosen)
    return HorizonData(h, index, (windows["window_type"].to_numpy()[index] == types[0]),
                       windows["group"].astype(str).to_numpy()[index])


def subset(data: HorizonData, keep: np.ndarray) -> HorizonData:
    return HorizonData(data.horizon_hours, data.index[keep], data.y[keep], data.groups[keep])


def feature_columns(cfg: DictConfig, study: Study, name: str) -> tuple[list[str], str]:
    """Columns of a configured feature set, or ([], why) when a family it needs is absent or nothing matches."""
    patterns = list(cfg.probe.feature_sets[name])
    columns = features.resolve_feature_set(patterns, study.features.columns)
    wanted = {"embedding" if "*" in p else study.family_of(p) for p in patterns}
    absent = [s["reason"] for s in study.skipped if s["what"].removeprefix("feature family ") in wanted]
    if absent:
        return [], "; ".join(absent)
    return columns, "" if columns else f"no features.csv column matches {patterns}"


def evaluate_horizon(cfg: DictConfig, study: Study, data: HorizonData, settings: Settings,
                     oof: dict) -> list[dict]:
    """Results of every feature set x score at one horizon; out-of-fold scores kept in `oof[(h, set)]`."""
    records = []
    scores = list(cfg.probe.scores)
    for name in cfg.probe.feature_sets:
        what = f"feature set {name} at {data.horizon_hours:g} h"
        columns, why = feature_columns(cfg, study, name)
        if not columns:
            if data.horizon_hours == cfg.probe.horizons_hours[0]:
                study.skip(f"feature set {name}", why)
            continue
        part = subset(data, features.usable_windows(study.features.iloc[data.index], columns, study.family_of))
        try:
            evaluate.check_classes(part.y, settings, what)
            X = study.features.iloc[part.index][columns]
            by_score = evaluate.oof_scores(X, part.y, part.groups, scores, settings)
        except SeisbindInputError as err:
            study.skip(what, str(err))
            continue
        oof[(data.horizon_hours, name)] = (part, by_score)
        labels = horizon_labels(study, data, settings)[:, np.searchsorted(data.index, part.index)]
        nulls = evaluate.refit_null_aucs(X, labels, part.groups, scores, settings)
        for score, s in by_score.items():
            record = {"horizon_hours": data.horizon_hours, "feature_set": name, "score": score}
            record |= evaluate.auc_record(part.y, s)
            record |= evaluate.refit_inference(record["auc"], nulls[score])
            records.append(record | {"n_features": len(columns), "null_aucs": nulls[score]})
    return records


def horizon_labels(study: Study, data: HorizonData, settings: Settings) -> np.ndarray:
    """The permuted label vectors of one horizon's windows (within the matched strata), the same for every row of
    the horizon, so that the family-wise maximum is taken over rows scored on the same permutation."""
    strata = study.windows["stratum"].astype(str).to_numpy()[data.index]
    return evaluate.permuted_labels(data.y, strata, settings.n_permutations,
                                    seed=[settings.seed, int(round(data.horizon_hours * 1000))])


def comparisons(cfg: DictConfig, study: Study, data: HorizonData, settings: Settings) -> list[dict]:
    """Each configured [without, with] pair on the windows where both feature sets are defined."""
    out = []
    for a, b in cfg.probe.comparisons:
        what = f"comparison {a} vs {b} at {data.horizon_hours:g} h"
        (cols_a, why_a), (cols_b, why_b) = feature_columns(cfg, study, a), feature_columns(cfg, study, b)
        if not cols_a or not cols_b:
            if data.horizon_hours == cfg.probe.horizons_hours[0]:
                study.skip(f"comparison {a} vs {b}", why_a or why_b)
            continue
        table = study.features.iloc[data.index]
        part = subset(data, (features.usable_windows(table, cols_a, study.family_of)
                              & features.usable_windows(table, cols_b, study.family_of)))
        try:
            evaluate.check_classes(part.y, settings, what)
            X = study.features.iloc[part.index]
            result = evaluate.compare(X[cols_a], X[cols_b], part.y, part.groups, cfg.probe.comparison_score,
                                      settings, test=cfg.probe.comparison_test,
                                      n_permutations=cfg.probe.n_comparison_permutations)
        except SeisbindInputError as err:
            study.skip(what, str(err))
            continue
        out.append({"feature_set_a": a, "feature_set_b": b, "horizon_hours": data.horizon_hours,
                    "score": cfg.probe.comparison_score} | result)
    return out


def _auc_ci(y: np.ndarray, s: np.ndarray, settings: Settings) -> dict:
    ci = bootstrap_auc_ci(y, s, n_boot=settings.n_bootstrap, seed=settings.seed)
    return {"auc": ci.auc, "auc_ci_low": ci.low, "auc_ci_high": ci.high}


def sanity_checks(cfg: DictConfig, study: Study, data: HorizonData, settings: Settings, main_oof,
                  main_record: dict, window_scores: dict) -> dict:
    """The sanity checks at one horizon, for the main feature set and score: label shuffle, post-event windows, the
    other period, time of day alone. The main model's scores of the post-event and other-period windows go to
    `window_scores` (row position -> score)."""
    name, score = cfg.probe.main.feature_set, cfg.probe.main.score
    columns, _ = feature_columns(cfg, study, name)
    part, by_score = main_oof
    s_main = by_score[score]
    X_fit = study.features.iloc[part.index][columns]
    background = s_main[~part.y]
    out: dict = {"horizon_hours": data.horizon_hours, "main_significant": bool(main_record["p_value"] < 0.05)}
    null = main_record["null_aucs"][np.isfinite(main_record["null_aucs"])]
    # The label shuffle is the main row's refit permutation null: leakage would lift it above 0.5.
    out["label_shuffle"] = {"auc_mean": float(null.mean()), "auc_sd": float(null.std(ddof=1)),
                            "auc_min": float(null.min()), "auc_max": float(null.max()), "n_shuffles": int(null.size),
                            "observed_auc": main_record["auc"], "p_value_vs_shuffles": main_record["p_value"],
                            "rank": int(1 + np.sum(null > main_record["auc"]))}

    windows, table = study.windows, study.features
    for key, types in (("post_event", ("post",)), ("other_period", ("other_pre", "other_background"))):
        rows = horizon_data(windows, data.horizon_hours, types=types).index
        rows = rows[features.usable_windows(table.iloc[rows], columns, study.family_of)]
        kind = windows["window_type"].to_numpy()[rows]
        if rows.size < settings.min_windows_per_class:
            out[key] = {"skipped": f"{rows.size} {'/'.join(types)} windows with the features of {name}"}
            continue
        s_other = evaluate.fit_and_score(X_fit, part.y, table.iloc[rows][columns], score, settings)
        window_scores.update(zip(rows.tolist(), s_other.tolist(), strict=True))
        y = np.r_[np.ones(rows.size, bool), np.zeros(background.size, bool)]
        vs_background = _auc_ci(y, np.r_[s_other, background], settings)
        out[key] = {"n_windows": int(rows.size), "mean_score": float(s_other.mean()),
                    "mean_background_score": float(background.mean()), "vs_background": vs_background}
        if key == "post_event":
            # label-free view: are the post-event windows far from background in these features at all?
            distance = evaluate.fit_and_score(X_fit, part.y, table.iloc[rows][columns], "mahalanobis", settings)
            distance_bg = evaluate.oof_scores(X_fit, part.y, part.groups, ["mahalanobis"], settings)["mahalanobis"]
            out[key]["mahalanobis_vs_background"] = _auc_ci(y, np.r_[distance, distance_bg[~part.y]], settings)
        if key == "other_period":
            pre, bg = kind == "other_pre", kind == "other_background"
            if min(pre.sum(), bg.sum()) >= settings.min_windows_per_class:
                out[key]["pre_vs_background"] = _auc_ci(pre[pre | bg], s_other[pre | bg], settings)
    out["time_of_day"] = time_of_day_check(cfg, study, data, part, s_main, score, settings)
    return out


def time_of_day_check(cfg: DictConfig, study: Study, data: HorizonData, part: HorizonData, s_main: np.ndarray,
                      score: str, settings: Settings) -> dict:
    """Time of day alone, scored like the main set on the same windows, against its own refit permutation null
    (two-sided: an AUC far below the null is a diurnal signal too) and compared with the main score (DeLong).

    The null, not 0.5, is the reference: out of fold, features without signal score below 0.5 on average
    (cross-validation's anti-learning at a few dozen targets), so a fixed 0.5 would flag noise."""
    columns = features.resolve_feature_set(list(cfg.probe.time_of_day_features), study.features.columns)
    X = study.features.iloc[part.index][columns]
    s_tod = evaluate.oof_scores(X, part.y, part.groups, [score], settings)[score]
    test = delong_test(part.y, s_main, s_tod)
    auc = float(auc_roc(part.y, s_tod))
    labels = horizon_labels(study, data, settings)[:, np.searchsorted(data.index, part.index)]
    null = evaluate.refit_null_aucs(X, labels, part.groups, [score], settings)[score]
    null = null[np.isfinite(null)]
    tail = min(np.sum(null >= auc - 1e-12), np.sum(null <= auc + 1e-12))
    low, high = np.quantile(null, [0.025, 0.975]) if null.size else (np.nan, np.nan)
    return evaluate.refit_inference(auc, null) | {
        "auc": auc, "p_value_two_sided": float(min(1.0, 2 * (1 + tail) / (1 + null.size))),
        "null_auc_low": float(low), "null_auc_high": float(high),
        "main_auc": test.auc_a, "delta_auc": test.delta_auc, "p_value_delong": test.p_value}


@dataclass
class HorizonOutcome:
    """Everything one horizon contributes; computed in a worker process, merged by `run_study`."""

    results: list[dict]
    comparisons: list[dict]
    sanity: dict | None
    oof: dict
    skipped: list[dict]
    window_scores: dict[int, float]


def study_horizon(cfg: DictConfig, study: Study, h: float, settings: Settings) -> HorizonOutcome:
    """Results, comparisons and sanity checks at one horizon. Pure: skips and window scores are returned, so
    horizons can run in parallel processes.

    The ~1,000 small scikit-learn fits of the resampling checks run without its input validation
    (assume_finite, skip_parameter_validation): the feature tables were validated once, and the imputers
    handle NaN themselves, so the numbers are the same and the fits ~15 % faster.
    """
    with sklearn.config_context(assume_finite=True, skip_parameter_validation=True):
        return _study_horizon(cfg, study, h, settings)


def _study_horizon(cfg: DictConfig, study: Study, h: float, settings: Settings) -> HorizonOutcome:
    local = Study(study.windows, study.features, study.families, list(study.skipped))
    data = horizon_data(study.windows, h)
    outcome = HorizonOutcome([], [], None, {}, [], {})
    try:
        evaluate.check_classes(data.y, settings, f"horizon {h:g} h")
    except SeisbindInputError as err:
        local.skip(f"horizon {h:g} h", str(err))
    else:
        outcome.results = evaluate_horizon(cfg, local, data, settings, outcome.oof)
        outcome.comparisons = comparisons(cfg, local, data, settings)
        name, score = cfg.probe.main.feature_set, cfg.probe.main.score
        main = outcome.oof.get((h, name))
        if main is None:
            local.skip(f"sanity checks at {h:g} h", f"the main feature set {name} could not be evaluated")
        else:
            part, by_score = main
            outcome.window_scores.update(zip(part.index.tolist(), by_score[score].tolist(), strict=True))
            (main_record,) = [r for r in outcome.results if (r["feature_set"], r["score"]) == (name, score)]
            outcome.sanity = sanity_checks(cfg, local, data, settings, main, main_record, outcome.window_scores)
    outcome.skipped = local.skipped[len(study.skipped):]
    return outcome


def evaluate_horizons(cfg: DictConfig, study: Study, settings: Settings) -> list[HorizonOutcome]:
    """`study_horizon` for every horizon, in `probe.n_jobs` processes (joblib; 1 = in this process)."""
    horizons = list(cfg.probe.horizons_hours)
    n_jobs = cfg.probe.n_jobs
    if n_jobs == 1 or len(horizons) == 1:
        return [study_horizon(cfg, study, h, settings) for h in horizons]
    from joblib import Parallel, delayed

    return Parallel(n_jobs=min(n_jobs if n_jobs > 0 else len(horizons), len(horizons)))(
        delayed(study_horizon)(cfg, study, h, settings) for h in horizons)


def run_study(cfg: DictConfig) -> dict:
    """The study; returns the metrics dict also written to OUT/metrics.json. `probe` and `data` are checked
    against seisbind.config_schema.StudyConfig first, so a wrong type or key stops it before any data is read."""
    started = time.perf_counter()
    cfg = typed_config(cfg, StudyConfig)
    settings = settings_of(cfg)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    for name in list(cfg.probe.scores) + [cfg.probe.main.score, cfg.probe.comparison_score]:
        evaluate.method_of(name)
    if cfg.probe.main.feature_set not in cfg.probe.feature_sets:
        raise SeisbindInputError(f"probe.main.feature_set={cfg.probe.main.feature_set!r} is not among "
                                 f"probe.feature_sets {list(cfg.probe.feature_sets)}")

    sources = load_sources(cfg)
    windows, other_info = study_windows(cfg, sources)
    study = Study(windows=windows, features=pd.DataFrame(index=windows.index),
                  families=build_families(cfg.get("modality") or {}),
                  completeness=completeness(cfg, sources.catalog))
    study.features = window_features(cfg, sources, windows, study)
    log.info("%d windows, %d features (%.1f s)", len(windows), study.features.shape[1],
             time.perf_counter() - started)

    outcomes = evaluate_horizons(cfg, study, settings)
    results, compared, sanity, oof = [], [], [], {}
    study.windows["seismic_score"] = np.nan
    for outcome in outcomes:
        results += outcome.results
        compared += outcome.comparisons
        sanity += [outcome.sanity] if outcome.sanity else []
        oof |= outcome.oof
        study.skipped += outcome.skipped
        rows = np.fromiter(outcome.window_scores, dtype=np.int64, count=len(outcome.window_scores))
        study.windows.loc[study.windows.index[rows], "seismic_score"] = list(outcome.window_scores.values())
    if not results:
        reasons = "; ".join(f"{s['what']}: {s['reason']}" for s in study.skipped)
        raise SeisbindInputError(f"no feature set could be evaluated at any horizon ({reasons})")
    wikelski, detector = wikelski_results(cfg, sources, study, settings, oof)
    results += wikelski
    adjusted = evaluate.max_t_adjusted([r["auc"] for r in results], [r.pop("null_aucs") for r in results])
    for record, p in zip(results, adjusted):
        record["p_value_adjusted"] = float(p)
    etas_info = clustering_null(cfg, sources, study, results, settings, out)

    metrics = {
        "headline": headline(cfg, study, results),
        "etas": etas_info,
        "results": results,
        "comparisons": compared,
        "sanity": {"main": dict(cfg.probe.main), "per_horizon": sanity, "other_period_windows": other_info,
                   "verdicts": report.verdicts(sanity)},
        "wikelski2020": wikelski,
        "wikelski2020_detector": detector,
        "skipped": study.skipped,
        "data": describe_data(cfg, sources, study),
        "settings": OmegaConf.to_container(cfg.probe, resolve=True) | {
            "seed": int(cfg.seed), "ckpt": cfg.get("ckpt"),
            "period": [t.isoformat() for t in study_period(cfg)], "match_days": cfg.probe.background.match_days,
            "magnitude_floor": study.completeness["floor"], "completeness": study.completeness,
            "etas": etas_info, "family_wise_method": "Westfall-Young single-step max-T over all result rows"},
    }
    metrics["elapsed_seconds"] = time.perf_counter() - started
    write_outputs(out, study, metrics, oof, cfg)
    return metrics


def clustering_null(cfg: DictConfig, sources: Sources, study: Study, results: list[dict], settings: Settings,
                    out: Path) -> dict | None:
    """`p_value_etas` and the ETAS-null AUC range on every catalog-only row (seisbind/probe/etas_null.py), the
    histogram etas_null.png; None with the reason in `skipped` where the null cannot be run."""
    e = cfg.probe.etas
    sets = {name: feature_columns(cfg, study, name)[0] for name in cfg.probe.feature_sets}
    sets = etas_null.catalog_only(sets, simulated_columns(study.families))
    nulls, info = {}, None
    if e.n_sims <= 0:
        study.skip("ETAS null", "probe.etas.n_sims=0")
    elif not sets:
        study.skip("ETAS null", "no feature set is made of catalog features only")
    else:
        started = time.perf_counter()
        try:
            nulls, info = etas_null.etas_null(
                sources.catalog, study.completeness["floor"], study_period(cfg), window_options(cfg), sets,
                list(cfg.probe.horizons_hours), list(cfg.probe.scores), settings,
                features_of=lambda catalog, windows: simulated_features(study.families, catalog, windows),
                family_of=study.family_of, n_sims=e.n_sims, seed=int(cfg.seed))
            info["seconds"] = time.perf_counter() - started
        except SeisbindInputError as err:
            study.skip("ETAS null", str(err))
    for record in results:
        key = (record["horizon_hours"], record["feature_set"], record["score"])
        record |= etas_null.etas_record(record["auc"], nulls.get(key) if record["feature_set"] in sets else None)
    short = [r for r in results if r["feature_set"] in sets and r["p_value_etas"] is None]
    if info is not None and short:
        # Simulated catalogs with fewer targets than the study needs per class cannot be scored: say so, since
        # those rows then cannot lead the report, and a missing p_value_etas must not read as a pass.
        worst = min(r["n_etas"] for r in short)
        study.skip("ETAS null", f"{len(short)} catalog rows have fewer than 2 scorable simulated catalogs (as few "
                                f"as {worst} of {int(e.n_sims)}): the fitted ETAS model rarely simulates enough "
                                f"targets M >= {cfg.probe.target_min_magnitude:g} in the period (as when the "
                                "catalog holds more large events than its Gutenberg-Richter law gives)")
    if nulls:
        report.plot_etas_null(results, nulls, out / "etas_null.png")
    return info


def independent_targets(times_ns: np.ndarray, horizon_hours: float) -> int:
    """Targets whose pre-event windows overlap no earlier kept one (greedy in time): windows that overlap share
    their events, so they are not independent evidence."""
    kept, last = 0, None
    for t in np.sort(times_ns):
        if last is None or t - last >= horizon_hours * 3.6e12:
            kept, last = kept + 1, t
    return kept


def headline(cfg: DictConfig, study: Study, results: list[dict]) -> dict:
    """The row a report leads with: `probe.primary` (feature_set, score, horizon_hours) when declared before
    looking, else the row with the smallest family-wise p among the rows that can be tested against clustering
    (they have an ETAS null), falling back to all rows when none can.

    Why only those: in a clustered catalog pre-event windows really do hold more activity, and rows built on
    trace metadata (which traces exist tracks seismicity, below the magnitude floor too) see it; their "the
    windows differ" cannot be told from clustering, so it cannot lead. Measured on ETAS-cascade nulls (20 seeds):
    the best row of any kind had a family-wise p < 0.05 in 2, the best testable row in 0. The best untestable row
    is still reported (`best_untested`), and whether a modality adds to the catalog is the comparisons' question.
    The ETAS p-value itself plays no part in the choice, only whether a row has one. Ties (permutation p-values
    share a floor) go to the larger AUC, then the fewer columns."""
    primary = cfg.probe.primary
    if primary:
        chosen = [r for r in results if (r["feature_set"], r["score"], r["horizon_hours"]) ==
                  (primary.feature_set, primary.score, primary.horizon_hours)]
        if not chosen:
            raise SeisbindInputError(
                f"probe.primary={dict(primary)} is not among the result rows (feature sets "
                f"{sorted({r['feature_set'] for r in results})}, scores {sorted({r['score'] for r in results})}, "
                f"horizons {list(cfg.probe.horizons_hours)})")
        row = chosen[0]
    else:
        row = min([r for r in results if r["p_value_etas"] is not None] or results, key=_headline_order)
    windows = study.windows
    pre = windows[(windows["window_type"] == "pre") & np.isclose(windows["horizon_hours"], row["horizon_hours"])]
    head = {key: row.get(key) for key in ("feature_set", "score", "horizon_hours", "auc", "auc_ci_low",
                                          "auc_ci_high", "p_value", "p_value_adjusted", "p_value_etas",
                                          "p_value_at_floor")}
    significant = head["p_value_adjusted"] < 0.05
    etas = head["p_value_etas"]
    # A claim needs both: the windows differ (family-wise) and by more than clustering gives (ETAS).
    head["beyond_clustering"] = None if etas is None else bool(significant and etas < 0.05)
    untested = [r for r in results if r["p_value_etas"] is None]
    best_untested = min(untested, key=_headline_order) if untested else None
    return head | {"n_targets": int(pre["target_event_id"].nunique()),
                   "n_independent": independent_targets(to_utc_ns(pre["target_time"]), row["horizon_hours"]),
                   "declared": bool(primary), "n_rows": len(results),
                   "chosen_among": "declared" if primary else "testable" if row["p_value_etas"] is not None
                   else "all",
                   "best_untested": None if best_untested is None else {
                       key: best_untested[key] for key in ("feature_set", "score", "horizon_hours", "auc",
                                                           "p_value_adjusted")},
                   "etas_reason": "only rows made of catalog features have an ETAS null; see skipped"}


def _headline_order(row: dict) -> tuple:
    return row["p_value_adjusted"], -row["auc"], row["n_features"]


# ------------------------------------------------------------------------------------------------ baseline
def wikelski_results(cfg: DictConfig, sources: Sources, study: Study, settings: Settings, oof: dict) -> tuple[
        list[dict], dict | None]:
    """The Wikelski et al. (2020) animal score per window (seisbind.probe.animal_baseline), judged like every
    other score, and their threshold detector's summary. PGA per 15-min bin is the largest trace_pga_cmps2 of
    the traces seen in the bin (features.trace_times_ns; 0 where none), the network's view of shaking at the
    farm."""
    from seisbind.probe import animal_baseline as wb

    w = cfg.probe.wikelski
    if not w.enabled:
        return [], None
    source = TableSource.of(w.source, "probe.wikelski.source")
    if sources.metadata is None or not source.paths(cfg.data.root):
        study.skip("wikelski2020", sources.metadata_missing or f"no Movebank file ({source.describe(cfg.data.root)})")
        return [], None
    try:
        odba = odba_bins(sources.tables.load(source, "the Wikelski baseline"), bin_minutes=w.bin_minutes)
        meta = sources.metadata
        events = pd.DataFrame({"time": pd.to_datetime(features.trace_times_ns(meta), utc=True),
                               "pga": meta["trace_pga_cmps2"].astype(np.float64).fillna(0.0)})
        pga = wb.pga_per_bin(events, odba.index)
        animal = wb.wikelski_residuals(odba, pga)["animal"]
    except SeisbindInputError as err:
        study.skip("wikelski2020", str(err))
        return [], None
    records = []
    for h in cfg.probe.horizons_hours:
        data = horizon_data(study.windows, h)
        s = wb.wikelski_score(study.windows.iloc[data.index], animal, min_coverage=w.min_coverage)
        part = subset(data, np.isfinite(s))
        what = f"wikelski2020 at {h:g} h"
        try:
            evaluate.check_classes(part.y, settings, what)
        except SeisbindInputError as err:
            study.skip(what, str(err))
            continue
        s = s[np.isfinite(s)]
        oof[(h, "wikelski2020")] = (part, {"wikelski2020": s})
        labels = horizon_labels(study, data, settings)[:, np.searchsorted(data.index, part.index)]
        record = evaluate.auc_record(part.y, s)
        null = evaluate.fixed_null_aucs(s, labels)
        records.append({"horizon_hours": h, "feature_set": "animal", "score": "wikelski2020"} | record
                       | evaluate.refit_inference(record["auc"], null) | {"n_features": 1, "null_aucs": null})
    bins = pga[pga > 0]
    detector = None
    try:
        found = wb.detect_episodes(animal, pd.DataFrame({"time": bins.index, "pga": bins.to_numpy()}))
        detector = {"n_triggers": int(len(found.triggers)), "n_detected": int(found.triggers["detected"].sum()),
                    "alarm_fraction": found.alarm_fraction, "p_value_random": found.p_value_random}
    except SeisbindInputError as err:
        study.skip("wikelski2020 detector", str(err))
    return records, detector


# ------------------------------------------------------------------------------------------------- outputs
def describe_data(cfg: DictConfig, sources: Sources, study: Study) -> dict:
    catalog, windows = sources.catalog, study.windows
    main = windows[windows["period"] == "main"]
    counts = {f"{h:g}": {t: int(((main["window_type"] == t) & np.isclose(main["horizon_hours"], h)).sum())
                         for t in MAIN_TYPES} for h in cfg.probe.horizons_hours}
    present = [f for f in study.families if set(f.columns) & set(study.features.columns)]
    coverage = {f.name: float(study.features[list(set(f.columns) & set(study.features.columns))].notna()
                              .any(axis=1).mean()) for f in present}
    return {"root": cfg.data.root, "ckpt": cfg.get("ckpt"), "catalog_events": int(len(catalog)),
            "period": [t.isoformat() for t in study_period(cfg)], "match_days": cfg.probe.background.match_days,
            "magnitude_floor": study.completeness["floor"], "magnitude_floor_method": study.completeness["method"],
            "catalog_start": str(catalog["time"].min()), "catalog_end": str(catalog["time"].max()),
            "target_min_magnitude": cfg.probe.target_min_magnitude, "decluster": cfg.probe.decluster,
            "n_targets": int(main.loc[main["window_type"] == "pre", "target_event_id"].nunique()),
            "n_traces": int(len(sources.metadata)) if sources.metadata is not None else 0,
            "families": [f.name for f in present], "embedding": study.embedding,
            "windows_with_family": coverage,
            "n_post_windows": int((windows["window_type"] == "post").sum()),
            "windows": counts}


def write_outputs(out: Path, study: Study, metrics: dict, oof: dict, cfg: DictConfig) -> None:
    """windows.csv, features.csv, stats.csv, metrics.json, roc.png, molchan.png, report.md (+ loggers)."""
    feats = study.features
    windows = study.windows.drop(columns=["target_time"], errors="ignore")
    activity = feats.get("animal_odba_deviation", np.nan)
    table = pd.concat([windows, feats.drop(columns=["b_value_reason"], errors="ignore")], axis=1)
    table["animal_activity"] = activity
    write_csv(out / "windows.csv", table)
    write_csv(out / "features.csv", pd.concat([windows[["window_id"]], feats], axis=1))

    numeric = feats.select_dtypes("number")
    tests = []
    for h in cfg.probe.horizons_hours:
        data = horizon_data(study.windows, h)
        if min(data.y.sum(), (~data.y).sum()) < 2:
            continue
        table_h = feature_tests(numeric.iloc[data.index], data.y)
        tests.append(table_h.reset_index().assign(horizon_hours=h))
    stats_table = pd.concat(tests, ignore_index=True) if tests else pd.DataFrame()
    if len(stats_table):
        stats_table = stats_table[["horizon_hours"] + [c for c in stats_table.columns if c != "horizon_hours"]]
    write_csv(out / "stats.csv", stats_table)

    write_json(out / "metrics.json", metrics)
    report.plot_roc(oof, cfg.probe.main.score, out / "roc.png")
    report.plot_molchan(oof, cfg.probe.main.score, out / "molchan.png")
    report.write_report(metrics, out / "report.md")
    report.log_to_loggers(cfg, out, metrics, {
        "results": report.results_table(metrics), "comparisons": pd.DataFrame(metrics["comparisons"]),
        "verdicts": pd.DataFrame(metrics["sanity"]["verdicts"]), "stats": stats_table})
    log.info("probe study written to %s", out)
