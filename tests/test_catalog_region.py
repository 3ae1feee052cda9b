"""Catalog events outside the study region (probe.region): a Norcia study whose catalog also lists M5 events near
Etna picks the same targets as without them, and says how many it left out."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
import pytest

from seisbind.probe.study import run_study
from seisbind.probe.study.config import spec_of
from seisbind.probe.study.design import build_design, load_data
from tests.helpers.study_roots import probe_config

ETNA_EVENTS = 30
SMALL_RUN = ("probe.horizons_hours=[24]", "probe.n_permutations=20", "probe.n_bootstrap=20",
             "probe.n_comparison_permutations=20", "probe.n_jobs=1", "probe.nulls={}")


def with_etna_events(root: Path, out: Path) -> Path:
    """`root` with 30 M5.0 events near Etna (37.75 N, 15.0 E, 500 km from Norcia) added to its catalog.txt, one
    every 5 days through the study period; the other files are links to root's."""
    out.mkdir()
    for path in root.iterdir():
        if path.name != "catalog.txt":
            (out / path.name).symlink_to(path)
    times = pd.date_range("2016-08-05T12:00:00", periods=ETNA_EVENTS, freq="5D")
    etna = [f"etna{k}|{t.isoformat()}|{37.75 + 0.01 * k:.4f}|15.0000|10.0|SURVEY-INGV||||Mw|5.0|--|Etna|earthquake"
            for k, t in enumerate(times)]
    (out / "catalog.txt").write_text((root / "catalog.txt").read_text() + "\n".join(etna) + "\n")
    return out


def design_targets(root: Path, out: Path, *overrides: str) -> pd.Series:
    """The pre-event windows' target ids of the study design on the whole catalog (no region cut)."""
    spec = spec_of(probe_config(root, out, *overrides))
    windows = build_design(load_data(spec.root, spec.filters, spec.probe.catalog), spec.probe, spec.seed).windows
    return windows.loc[windows["window_type"] == "pre", "target_event_id"].astype(str)


def test_events_outside_the_region_change_no_target_and_are_counted(synthetic_root, tmp_path, caplog):
    etna_root = with_etna_events(synthetic_root, tmp_path / "etna")
    with caplog.at_level(logging.INFO, logger="seisbind.study_area"):
        metrics = run_study(probe_config(etna_root, tmp_path / "out", *SMALL_RUN))
    windows = pd.read_csv(tmp_path / "out" / "windows.csv", dtype={"target_event_id": str})
    with_etna = windows.loc[windows["window_type"] == "pre", "target_event_id"]
    without = design_targets(synthetic_root, tmp_path / "unused", *SMALL_RUN)
    assert sorted(with_etna) == sorted(without) and len(without) > 0  # same targets, same number of windows
    assert metrics["data"]["n_targets"] == without.nunique()
    n_norcia = metrics["data"]["catalog_events"]
    assert (f"probe.region: {ETNA_EVENTS} of {n_norcia + ETNA_EVENTS} catalog events lie outside Region("
            in caplog.text)
    # without the cut the Etna events would be targets: the comparison above could fail
    assert any(t.startswith("etna") for t in design_targets(etna_root, tmp_path / "unused", *SMALL_RUN))


@pytest.mark.parametrize("n_outside", [0, 2])
def test_region_cut_logs_how_many_events_it_leaves_out(n_outside, caplog):
    from seisbind.study_area import load_area

    events = pd.DataFrame({"latitude_deg": [42.8] * 3 + [37.75] * n_outside,
                           "longitude_deg": [13.1] * 3 + [15.0] * n_outside})
    with caplog.at_level(logging.INFO, logger="seisbind.study_area"):
        inside = load_area("norcia").region.events_inside(events, "probe.region")
    assert len(inside) == 3
    assert f"probe.region: {n_outside} of {3 + n_outside} catalog events lie outside Region(" in caplog.text
