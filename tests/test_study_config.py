"""The study's settings beyond their types: horizons and resample counts in range, the area's period and region
overridable under probe.*, and the region deciding which catalog events the study uses."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
import pytest
from hydra import compose, initialize_config_dir

from seisbind.errors import SeisbindInputError
from seisbind.probe.study import incompleteness_of, run_study
from seisbind.probe.study.config import built, scores_of, settings_of, spec_of
from seisbind.probe.study.design import build_design, load_data
from seisbind.probe.study.table import recorded
from seisbind.seismicity.etas.incompleteness import AftershockIncompleteness

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
    ("probe.design=quiet_ish", "probe.design='quiet_ish': choose one of ['targets', 'quiet']"),
    ("probe.radius_km=0", "probe.radius_km=0.0: give a distance > 0 km, or null for the whole study region"),
    ("probe.radius_km=-50", "probe.radius_km=-50.0: give a distance > 0 km"),
    ("probe.verdicts.modalities.animal.feature_set=animals",
     "probe.verdicts.modalities.animal.feature_set='animals': not among probe.feature_sets ['catalog', "),
    ("probe.comparisons=[[catalog,cataloge]]", "probe.comparisons[0]='cataloge': not among probe.feature_sets"),
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


def test_the_targets_design_keeps_the_norcia_mainshocks_and_the_quiet_design_says_why_it_drops_them():
    """Amatrice (M6.0), then an M5.4 and Visso (M5.9) 2 h later, two of Visso's M4.1 aftershocks, then Norcia
    (M6.5) 4 days after Visso, in a Poisson background of small events: the quiet rule drops Visso and Norcia,
    the targets design keeps all three, and the record says so per event."""
    import numpy as np
    import pandas as pd

    from seisbind.probe.study.design import main_windows, targets_by_design

    rng = np.random.default_rng(0)
    start = pd.Timestamp("2016-08-01", tz="UTC")
    times = start + pd.to_timedelta(np.sort(rng.uniform(0, 183, 3000)), unit="D")
    catalog = pd.DataFrame({"event_id": [f"e{i}" for i in range(times.size)], "time": times,
                            "latitude_deg": 42.8, "longitude_deg": 13.2, "depth_km": 8.0,
                            "magnitude": np.round(1.5 + rng.exponential(0.43, times.size).clip(max=2.3), 1)})
    large = pd.DataFrame({"event_id": ["amatrice", "m54", "visso", "a1", "a2", "norcia"],
                          "time": pd.to_datetime(["2016-08-24T01:36", "2016-10-26T17:10", "2016-10-26T19:18",
                                                  "2016-10-27T03:50", "2016-10-29T16:24", "2016-10-30T06:40"],
                                                 utc=True),
                          "latitude_deg": [42.70, 42.88, 42.91, 42.90, 42.86, 42.83],
                          "longitude_deg": [13.23, 13.13, 13.13, 13.12, 13.12, 13.11],
                          "depth_km": 8.0, "magnitude": [6.0, 5.4, 5.9, 4.1, 4.1, 6.5]})
    catalog = pd.concat([catalog, large]).sort_values("time", ignore_index=True)
    kept = {}
    for design in ("targets", "quiet"):
        probe = spec_of(study("/d", f"probe.design={design}")).probe
        windows = main_windows(catalog, probe, seed=0)
        kept[design] = set(windows.loc[windows["window_type"] == "pre", "target_event_id"])
        record = targets_by_design(catalog, probe, 0, windows)
    assert {"amatrice", "visso", "norcia"} <= kept["targets"]
    assert "amatrice" in kept["quiet"] and not {"visso", "norcia"} & kept["quiet"]
    fates = {e["event_id"]: e for e in record["largest_events"]}
    assert fates["norcia"]["targets"] == "kept" and fates["norcia"]["quiet"] == "dropped (quiet rule)"
    assert fates["visso"]["quiet"] == "dropped (quiet rule)" and fates["amatrice"]["quiet"] == "kept"
    assert record["design"] == "quiet" and record["n_targets"] == {name: len(ids) for name, ids in kept.items()}


def test_catalog_features_and_the_etas_null_see_one_aftershock_incompleteness(tmp_path):
    """probe.incompleteness is the rule of both sides: the feature table counts the events a network with it
    records (after an M6.5 at 0.01 d only M >= 3.5, at 0.1 d M >= 2.75; Helmstetter et al. 2006), and the ETAS
    null fits and thins its simulated catalogs with the same rule; null switches both off."""
    t0 = pd.Timestamp("2016-10-30T06:40:18", tz="UTC")
    days = [0.0, 0.01, 0.01, 0.1, 0.1, 0.3]
    catalog = pd.DataFrame({"event_id": list("abcdef"), "time": t0 + pd.to_timedelta(days, unit="D"),
                            "magnitude": [6.5, 3.0, 4.0, 3.0, 2.6, 2.5]})
    rule = AftershockIncompleteness()
    assert list(recorded(catalog, 2.5, rule)["event_id"]) == ["a", "c", "d", "f"]
    assert list(recorded(catalog, 2.55, None)["event_id"]) == ["a", "b", "c", "d", "e"]
    probe = spec_of(study(tmp_path)).probe
    etas = built(probe.nulls, "probe.nulls")[0]
    assert incompleteness_of(probe) == rule == etas.incompleteness
    off = spec_of(study(tmp_path, "probe.incompleteness=null")).probe
    assert incompleteness_of(off) is None and built(off.nulls, "probe.nulls")[0].incompleteness is None
