"""Typed schemas of the configs the entry points read, and `typed_config`, which applies one to a composed config.

`StudyConfig` (configs/probe/study.yaml), `StationsConfig` (configs/probe/stations.yaml) and `TrainData`
(configs/data/instance.yaml) mirror their YAML files key for key: each top-level field of a schema is one node of
the composed config (`probe`, `data`, `event`). The entry point calls `typed_config(cfg, Schema)` before it reads
any data, so a wrong type or an unknown key stops the run naming the key, and the code downstream reads values of
the declared types instead of casting them.

Why the schemas are applied after composition rather than listed in the YAML defaults (Hydra's ConfigStore
"schema" pattern): Hydra reports its own compose-time errors itself, on several lines and with exit status 1,
before `seisbind.cli.report_user_errors` can turn them into one `error: ...` line with status 2 (the entry points
compose once more before Hydra does only to word those, seisbind.cli.check_overrides); a node-valued
interpolation (`x: ${area.period}`) cannot be merged into a dataclass-typed field at compose time, only its
resolved value can; and the station tests and callers compose stations.yaml with plain `OmegaConf.load`,
which ignores a defaults list. Why one module: the schemas change with the YAML files, not with their consumers,
and share the one function that applies them; it imports no numpy, torch or ObsPy.

Settings that may be `auto` or a number (OmegaConf 2.3 has no `str | float`) are `Any` here and normalised by
`typed_config` (a schema's `auto_or_number`): `auto` stays, anything else becomes a float or is an error naming the key.
A mapping whose entries may be a node or, for the usual case, a plain list (a feature set: `{columns: [...],
scores: [...]}` or `[...]`) is listed in a schema's `shorthand`; `typed_config` reads a list as the node with that
field before checking, so both forms meet one schema.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

from omegaconf import MISSING, DictConfig, OmegaConf, open_dict
from omegaconf.errors import ConfigKeyError, OmegaConfBaseException

from seisbind.errors import SeisbindInputError
from seisbind.study_area import Period, Region


# --------------------------------------------------------------------------------------------- shared
@dataclass
class MetadataFilters:
    """seisbind.data.trace_filter.MetadataFilter's fields (times as ISO strings), for `data.filters`."""

    min_latitude_deg: float | None = None
    max_latitude_deg: float | None = None
    min_longitude_deg: float | None = None
    max_longitude_deg: float | None = None
    start_time: str | None = None
    end_time: str | None = None
    min_magnitude: float | None = None
    max_magnitude: float | None = None
    channels: list[str] | None = None
    stations: list[str] | None = None


@dataclass
class Source:
    """A table a modality names (seisbind.data.tables.TableSource): a reader and a glob or list of globs."""

    reader: str = MISSING
    glob: Any = MISSING


# ---------------------------------------------------------------------------------------- study probe
@dataclass
class Background:
    match_days: float | None = 30.0
    per_target: int = 8


@dataclass
class Embedding:
    traces: str = "auto"
    center_per_station: bool = True
    n_components: int = 8
    batch_size: int = 64
    num_workers: int = 0
    device: str = "cpu"


@dataclass
class Row:
    """A feature set and score: `probe.checked`."""

    feature_set: str = MISSING
    score: str = MISSING


@dataclass
class Primary(Row):
    """The row a report leads with, declared before looking: `probe.primary`."""

    horizon_hours: float = MISSING


@dataclass
class OtherPeriod:
    shift_days: Any = "auto"  # auto | days (StudyConfig.auto_or_number)
    start: str | None = None


@dataclass
class FeatureSet:
    """A feature set: `columns`, names or shell patterns of features.csv columns, and the scorers that score it
    (`scores`, names in `probe.scorers`; null = those of `probe.scores`). The YAML may give a set as its plain
    list of columns (`StudyConfig.shorthand`)."""

    columns: list[str] = MISSING
    scores: list[str] | None = None


@dataclass
class ModalityVerdict:
    """A modality judged by `probe.verdicts`: the feature set of its own features, and the seismic sets measured
    at its sensors (the shaking its tags or stations felt), which its baseline holds besides `Verdicts.seismic`."""

    feature_set: str = MISSING
    seismic: list[str] = field(default_factory=list)


@dataclass
class Verdicts:
    """`probe.verdicts`: the seismic feature sets every modality's baseline holds (those the root gives), the
    secondary baseline (null = none), the family-wise level of "adds", and the modalities judged."""

    seismic: list[str] = field(default_factory=list)
    secondary: str | None = None
    alpha: float = 0.05
    modalities: dict[str, ModalityVerdict] = field(default_factory=dict)


@dataclass
class Incompleteness:
    """seisbind.seismicity.etas.incompleteness.AftershockIncompleteness: Mc(t) = M - offset - slope log10(t days)
    after each event; blind intervals shorter than min_days (days) ignored."""

    offset: float = 4.5
    slope: float = 0.75
    min_days: float = 1e-3


@dataclass
class StudyProbe:
    name: str = "study"
    entry: str = "seisbind.probe.study.run"
    horizons_hours: list[float] = field(default_factory=lambda: [2.0, 6.0, 12.0, 24.0])
    target_min_magnitude: float = 4.0
    decluster: Any = "preceding"  # a method name or a bool (seisbind.probe.windows.select_targets checks it)
    decluster_hours: float = 72.0
    decluster_km: float = 30.0
    period: Period = MISSING
    region: Region = MISSING
    radius_km: float | None = None
    background: Background = field(default_factory=Background)
    n_background: int = 200
    design: str = "targets"  # targets | quiet (seisbind.probe.study.config.DESIGNS)
    quiet_min_magnitude: float = 4.0
    quiet_hours: float = 48.0
    min_magnitude: Any = "auto"  # auto | magnitude (StudyConfig.auto_or_number)
    incompleteness: Incompleteness | None = field(default_factory=lambda: Incompleteness())
    post_start_hours: float = 1.0
    catalog: Source = field(default_factory=Source)
    min_count_b: int = 50
    embedding: Embedding = field(default_factory=Embedding)
    n_bootstrap: int = 1000
    n_permutations: int = 200
    n_folds: int = 5
    min_windows_per_class: int = 5
    n_jobs: int = -1
    scorers: dict[str, Any] = field(default_factory=dict)   # name -> `_target_` (seisbind/probe/scores.py)
    scores: list[str] = field(default_factory=list)
    feature_sets: dict[str, FeatureSet] = field(default_factory=dict)
    nulls: dict[str, Any] = field(default_factory=dict)     # name -> `_target_` (seisbind/probe/study/nulls/)
    checks: dict[str, Any] = field(default_factory=dict)    # name -> `_target_` (seisbind/probe/study/checks/)
    primary: Primary | None = None
    checked: Row = field(default_factory=Row)
    comparisons: list[list[str]] = field(default_factory=list)
    comparison_score: str = "logistic"
    comparison_test: str = "auto"
    n_comparison_permutations: int = 100
    verdicts: Verdicts = field(default_factory=Verdicts)
    other_period: OtherPeriod = field(default_factory=OtherPeriod)


@dataclass
class StudyDataConfig:
    root: str = MISSING
    filters: MetadataFilters | None = None


@dataclass
class StudyConfig:
    probe: StudyProbe = field(default_factory=StudyProbe)
    data: StudyDataConfig = field(default_factory=StudyDataConfig)
    auto_or_number: ClassVar[tuple[str, ...]] = ("probe.min_magnitude", "probe.other_period.shift_days")
    shorthand: ClassVar[dict[str, str]] = {"probe.feature_sets": "columns"}


# ------------------------------------------------------------------------------------- stations probe
@dataclass
class StationsProbe:
    name: str = "stations"
    entry: str = "seisbind.probe.stations.analysis.run"
    window_seconds: float | None = None
    step_seconds: float | None = None
    target_pre_event_windows: int = 32
    background_fraction: float = 0.5
    post_seconds: float | None = None
    lookback_seconds: float | None = None
    n_placebo: int = 100
    min_background_windows: int = 8
    min_pre_windows: int = 3
    max_gap_fraction: float = 0.0
    n_bands: int = 6
    sta_seconds: float = 1.0
    lta_seconds: float = 10.0
    score: str = "mahalanobis"
    quiescence_alpha: float = 0.05
    n_permutations: int = 10000
    n_bootstrap: int = 1000
    batch_size: int = 64
    seed: int = 0


@dataclass
class StationsData:
    waveforms: Any = MISSING  # a glob or a list of globs
    stations: str = MISSING
    format: str | None = None
    sampling_rate_hz: float = 100.0
    channel_priority: list[str] | None = None
    max_interpolated_gap_seconds: float = 1.0
    on_bad_file: str = "skip"


@dataclass
class StationsEvent:
    time: str = MISSING
    latitude: float = MISSING
    longitude: float = MISSING


@dataclass
class StationsConfig:
    probe: StationsProbe = field(default_factory=StationsProbe)
    data: StationsData = field(default_factory=StationsData)
    event: StationsEvent = field(default_factory=StationsEvent)


# ------------------------------------------------------------------------------------------- training
@dataclass
class Split:
    strategy: str = "time"
    val_fraction: float = 0.2
    gap_hours: float | None = None
    seed: int = 0


@dataclass
class TrainData:
    """The keyword arguments of seisbind.data.datamodule.SeisBindDataModule but `inputs`."""

    _target_: str = "seisbind.data.datamodule.SeisBindDataModule"
    root: str = MISSING
    events_csv: str | None = None
    events_hdf5: str | None = None
    include_noise: bool = False
    filters: MetadataFilters | None = None
    split: Split = field(default_factory=Split)
    on_bad_trace: str = "skip"
    batch_size: int = 32
    num_workers: int = 0
    pin_memory: bool = False
    persistent_workers: bool = False


@dataclass
class TrainConfig:
    data: TrainData = field(default_factory=TrainData)


def typed_config(cfg: DictConfig, schema: type) -> DictConfig:
    """A copy of `cfg` whose nodes named by `schema`'s fields are resolved and merged into their schemas.

    Interpolations are resolved against `cfg` first (so `${area.period}` is checked as the period it names); a
    wrong type, an unknown key or a required key left at `???` is a `SeisbindInputError` naming the key."""
    typed, missing = copy.deepcopy(cfg), []
    for node in fields(schema):
        try:
            values = OmegaConf.to_container(cfg[node.name], resolve=True) if node.name in cfg else {}
            _expand_shorthand(values, node.name, getattr(schema, "shorthand", {}))
            merged = OmegaConf.merge(OmegaConf.structured(node.default_factory), values)
        except OmegaConfBaseException as error:
            raise SeisbindInputError(_message(node.name, error)) from None
        missing += [f"{node.name}.{key}=..." for key in sorted(OmegaConf.missing_keys(merged))]
        with open_dict(typed):
            typed[node.name] = merged
    if missing:
        raise SeisbindInputError(f"set {', '.join(missing)}")
    for key in getattr(schema, "auto_or_number", ()):
        _auto_or_number(typed, key)
    return typed


def _expand_shorthand(values: dict, name: str, shorthand: dict[str, str]) -> None:
    """In place: each entry of a `shorthand` mapping given as a plain list becomes {<its field>: list} (a feature
    set's list of columns -> {columns: list}), so that both forms are checked against one schema."""
    for key, list_field in shorthand.items():
        node, _, child = key.partition(".")
        entries = values.get(child) if node == name and isinstance(values, dict) else None
        if isinstance(entries, dict):
            values[child] = {k: {list_field: v} if isinstance(v, list) else v for k, v in entries.items()}


def _message(name: str, error: OmegaConfBaseException) -> str:
    """`NAME.KEY: what is wrong` on one line (OmegaConf's further lines repeat the key and the schema class)."""
    key = f"{name}.{error.full_key}" if error.full_key else name
    if isinstance(error, ConfigKeyError) and isinstance(error.parent_node, DictConfig):
        known = ", ".join(str(k) for k in error.parent_node if not str(k).startswith("_"))
        return f"{key}: no such setting (known: {known})"
    return f"{key}: {str(error).splitlines()[0]}"


def _auto_or_number(cfg: DictConfig, key: str) -> None:
    parent, _, leaf = key.rpartition(".")
    node = OmegaConf.select(cfg, parent)
    if node is None or leaf not in node or node[leaf] == "auto":
        return
    value = node[leaf]
    try:
        if isinstance(value, bool):
            raise ValueError
        node[leaf] = float(value)
    except (TypeError, ValueError):
        raise SeisbindInputError(f"{key}={value!r}: give auto or a number") from None
