"""The study's settings beyond their types: horizons and resample counts in range, the area's period and region
overridable under probe.*, and the region deciding which catalog events the study uses."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from seisbind.errors import SeisbindInputError
from seisbind.probe.study import run_study
from seisbind.probe.study.config import scores_of, settings_of, spec_of
from seisbind.probe.study.design import build_design, load_data

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def study(root: Path | str, *overrides: str):
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        return compose("probe", overrides=[f"data.root={root}", "out=unused", *overrides])


def test_unsorted_horizons_are_sorted_and_said(caplog):
    with caplog.at_level(logging.WARNING, logger="seisbind.probe.study.config"):
        spec = spec_of(study("/d", "probe.horizons_hours=[24,2,12]"))
    assert spec.probe.horizons_hours == [2.0, 12.0, 24.0]
    assert "probe.horizons_hours=[24.0, 2.0, 12.0]: sorted to [2.0, 12.0, 24.0]" in caplog.text


@pytest.mark.parametrize(("override", "message"), [
    ("probe.horizons_hours=[]", "probe.horizons_hours=[]: give one or more different horizons > 0 hours"),
    ("probe.horizons_hours=[6,-2]", "probe.horizons_hours=[6.0, -2.0]: give one or more"),
    ("probe.horizons_hours=[6,6]", "probe.horizons_hours=[6.0, 6.0]: give one or more"),
    ("probe.n_permutations=0", "probe.n_permutations=0: give a number of resamples >= 1"),
    ("probe.n_bootstrap=-1", "probe.n_bootstrap=-1: give a number of resamples >= 1"),
])
def test_out_of_range_settings_name_their_key(override: str, message: str) -> None:
    with pytest.raises(SeisbindInputError) as raised:
        spec_of(study("/d", override))
    assert str(raised.value).startswith(message)


@pytest.mark.parametrize(("override", "message"), [
    ("+probe.feature_sets.x={columns: [n_events], scores: [forest]}",
     "probe.feature_sets.x.scores: unknown score(s) ['forest']"),
    ("probe.checked.feature_set=wikelski2020", "probe.checked.score='logistic' does not score feature set "
                                               "'wikelski2020' (its scores: ['fixed'])"),
])
def test_a_feature_sets_scorers_are_checked_at_start_up(override: str, message: str) -> None:
    spec = spec_of(study("/d", override))
    with pytest.raises(SeisbindInputError) as raised:
        settings_of(spec.probe, spec.seed)
    assert str(raised.value).startswith(message)


def test_a_set_naming_its_scorers_is_scored_by_those_only() -> None:
    probe = spec_of(study("/d")).probe
    assert scores_of(probe, "wikelski2020") == ["fixed"]
    assert scores_of(probe, "catalog") == list(probe.scores) and "fixed" not in probe.scores


def test_period_and_region_are_overridable_under_probe_and_follow_the_area() -> None:
    spec = spec_of(study("/d", "probe.period.start=2016-09-01", "area.region.max_latitude_deg=43.0",
                         "probe.region.min_latitude_deg=42.75"))
    assert spec.probe.period.start == "2016-09-01" and spec.probe.period.end == "2017-01-31T23:59:59.999"
    assert (spec.probe.region.min_latitude_deg, spec.probe.region.max_latitude_deg) == (42.75, 43.0)


def targets(root: Path, *overrides: str) -> set[str]:
    spec = spec_of(study(root, *overrides))
    data = load_data(spec.root, spec.filters, spec.probe.catalog)
    data.catalog = spec.probe.region.events_inside(data.catalog, "probe.region")
    windows = build_design(data, spec.probe, spec.seed).windows
    return set(windows.loc[windows["window_type"] == "pre", "target_event_id"].astype(str))


def test_a_region_override_changes_which_events_the_study_uses(synthetic_root: Path, tmp_path: Path) -> None:
    everywhere, north = targets(synthetic_root), targets(synthetic_root, "area.region.min_latitude_deg=42.75")
    assert north and north < everywhere       # Amatrice (42.70 N) and the targets near it are left out
    with pytest.raises(SeisbindInputError, match=r"^probe\.region: none of the \d+ catalog events lies inside"):
        run_study(study(synthetic_root, f"out={tmp_path}", "probe.region.min_latitude_deg=10",
                        "probe.region.max_latitude_deg=11"))
