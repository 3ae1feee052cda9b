"""The typed config schemas: the default configs compose into them, they mirror their YAML files and the classes
they feed key for key, and a wrong type, an unknown key or a missing required key is an error naming the key."""

from __future__ import annotations

import inspect
from dataclasses import fields
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, OmegaConf

from seisbind.config_schema import (
    MetadataFilters,
    StationsConfig,
    StudyConfig,
    TrainConfig,
    TrainData,
    typed_config,
)
from seisbind.data.datamodule import SeisBindDataModule
from seisbind.data.trace_filter import MetadataFilter
from seisbind.errors import SeisbindInputError

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
STATIONS = ["probe=stations", "data.waveforms=[a/*, b/*]", "data.stations=s.xml", "event.time=2024-01-01T07:10:00",
            "event.latitude=37.5", "event.longitude=137.2"]


def composed(name: str, *overrides: str) -> DictConfig:
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        return compose(name, overrides=list(overrides))


def test_default_configs_compose_into_their_schemas() -> None:
    study = typed_config(composed("probe", "data.root=/d"), StudyConfig)
    assert OmegaConf.get_type(study.probe).__name__ == "StudyProbe"
    assert study.probe.horizons_hours == [2.0, 6.0, 12.0, 24.0] and study.probe.min_magnitude == "auto"
    # interpolated nodes arrive resolved and checked: the area's period, the catalog modality's source
    assert study.probe.period.start == "2016-08-01T00:00:00"
    assert study.probe.catalog.reader == "seisbind.data.catalog.read_catalogs"
    stations = typed_config(composed("probe", *STATIONS), StationsConfig)
    assert stations.event.latitude == 37.5 and list(stations.data.waveforms) == ["a/*", "b/*"]
    train = typed_config(composed("train", "experiment=seisclip"), TrainConfig)
    assert train.data.filters.min_latitude_deg == 42.5 and train.data.split.seed == 0


def test_typed_config_leaves_its_argument_untyped() -> None:
    cfg = composed("probe", "data.root=/d", "probe.n_permutations=12")
    assert typed_config(cfg, StudyConfig).probe.n_permutations == 12
    assert OmegaConf.get_type(cfg.probe) is dict and cfg.probe.n_permutations == 12


@pytest.mark.parametrize(("schema", "yaml_file", "node"), [
    (StudyConfig, "probe/study.yaml", "probe"), (StudyConfig, "probe/study.yaml", "data"),
    (StationsConfig, "probe/stations.yaml", "probe"), (StationsConfig, "probe/stations.yaml", "data"),
    (StationsConfig, "probe/stations.yaml", "event"), (TrainConfig, "data/instance.yaml", None),
])
def test_schemas_declare_exactly_the_keys_of_their_yaml(schema: type, yaml_file: str, node: str | None) -> None:
    loaded = OmegaConf.load(CONFIGS / yaml_file)
    keys = set(loaded[node] if node else loaded)
    (declared,) = [f.default_factory for f in fields(schema) if f.name == (node or "data")]
    assert {f.name for f in fields(declared)} == keys


def test_data_schemas_match_the_classes_they_feed() -> None:
    assert [f.name for f in fields(MetadataFilters)] == [f.name for f in fields(MetadataFilter)]
    parameters = [p for p in inspect.signature(SeisBindDataModule).parameters if p != "inputs"]
    assert sorted(f.name for f in fields(TrainData) if f.name != "_target_") == sorted(parameters)


@pytest.mark.parametrize(("schema", "overrides", "message"), [
    (StudyConfig, ["probe.n_permutations=abc"], "probe.n_permutations: Value 'abc' of type 'str' could not be"),
    (StudyConfig, ["probe.horizons_hours=[6,x]"], "probe.horizons_hours[1]: Value 'x'"),
    (StudyConfig, ["probe.feature_sets.catalog=3"], "probe.feature_sets.catalog: Invalid type assigned: int"),
    (StudyConfig, ["+probe.feature_sets.x={cols: [a]}"], "probe.feature_sets.x.cols: no such setting (known: "
                                                          "columns, scores)"),
    (StudyConfig, ["+probe.feature_sets.x={scores: [fixed]}"], "set probe.feature_sets.x.columns=..."),
    (StudyConfig, ["area.period.start=[1]"], "probe.period.start: Cannot convert"),
    (StudyConfig, ["+probe.n_permutation=5"], "probe.n_permutation: no such setting (known: name, entry,"),
    (StudyConfig, ["probe.min_magnitude=abc"], "probe.min_magnitude='abc': give auto or a number"),
    (StudyConfig, ["probe.other_period.shift_days=true"], "probe.other_period.shift_days=True: give auto or a"),
    (StudyConfig, ["probe.primary={feature_set: catalog, score: logistic}"], "set probe.primary.horizon_hours=..."),
    (StudyConfig, ["data.filters={min_magnitude: low}"], "data.filters.min_magnitude: Value 'low'"),
    (StationsConfig, [], "set data.stations=..., data.waveforms=..., event.latitude=..., event.longitude=..., "
                         "event.time=..."),
    (StationsConfig, ["event.latitude=north"], "event.latitude: Value 'north'"),
    (TrainConfig, ["data.batch_size=1.5"], "data.batch_size: Value '1.5' of type 'float' could not be converted"),
    (TrainConfig, ["+data.rot=/data"], "data.rot: no such setting (known: root, events_csv,"),
    (TrainConfig, ["data.split.gap_hours=long"], "data.split.gap_hours: Value 'long'"),
])
def test_a_bad_setting_is_an_error_naming_the_key(schema: type, overrides: list[str], message: str) -> None:
    base = {StudyConfig: ("probe", "data.root=/d"), TrainConfig: ("train", "data.root=/d"),
            StationsConfig: ("probe", *(STATIONS if overrides else STATIONS[:1]))}[schema]
    with pytest.raises(SeisbindInputError) as raised:
        typed_config(composed(*base, *overrides), schema)
    assert str(raised.value).startswith(message) and "\n" not in str(raised.value)


def test_auto_or_a_number() -> None:
    cfg = typed_config(composed("probe", "data.root=/d", "probe.min_magnitude=2", "probe.other_period.shift_days=-10"),
                       StudyConfig)
    assert cfg.probe.min_magnitude == 2.0 and cfg.probe.other_period.shift_days == -10.0


def test_a_feature_set_is_its_columns_or_a_node_naming_its_scorers() -> None:
    """The plain list is the set's columns, scored by probe.scores; the node form names its own scorers."""
    cfg = typed_config(composed("probe", "data.root=/d", "+probe.feature_sets.x={columns: [a], scores: [fixed]}"),
                       StudyConfig)
    sets = OmegaConf.to_object(cfg.probe).feature_sets
    assert (sets["catalog"].columns[0], sets["catalog"].scores) == ("n_events", None)
    assert (sets["x"].columns, sets["x"].scores) == (["a"], ["fixed"])
    assert (sets["wikelski2020"].columns, sets["wikelski2020"].scores) == (["wikelski2020_score"], ["fixed"])
