"""The pre-event study on real catalogs as locked packages ship them, and on a synthetic sequence shaped like a real
fit: every catalog row is tested against clustering, and the ETAS fit behind it is one a referee would accept."""

from __future__ import annotations

import runpy
from pathlib import Path

import pandas as pd
import pytest

from seisbind.data.synthetic import SyntheticConfig, write_synthetic
from seisbind.probe.study import run_study
from tests.helpers.real_catalogs import SED_2023, extracted
from tests.helpers.study_roots import probe_config

N_SIMS = 40


@pytest.mark.slow
def test_sed_2023_every_catalog_row_has_its_clustering_p_value(tmp_path: Path) -> None:
    """SED 2023 (1,924 events; Switzerland, targets M >= 2.5). Its fit has p < 1 (infinite-time branching ratio
    infinite), which the null must simulate over the year rather than refuse, with c inside its bounds."""
    root = tmp_path / "root"
    root.mkdir()
    # The SED file's `depth` holds metres: named so, the reader converts it (a bare `depth` in metres is refused).
    pd.read_csv(extracted(SED_2023, tmp_path)).rename(columns={"depth": "depth_m"}).to_csv(root / "catalog.csv",
                                                                                           index=False)
    metrics = run_study(probe_config(
        root, tmp_path / "out", "modality=[catalog]", "area=switzerland", "probe.target_min_magnitude=2.5",
        "probe.quiet_min_magnitude=2.5", f"probe.nulls.etas.n_sims={N_SIMS}", "probe.n_permutations=40",
        "probe.horizons_hours=[2,24]", "probe.n_jobs=1"))
    rows = [r for r in metrics["results"] if r["feature_set"] == "catalog"]
    assert len(rows) == 8
    assert all(r["n_etas"] >= 0.95 * N_SIMS and r["p_value_etas_adjusted"] is not None for r in rows), \
        [(r["horizon_hours"], r["score"], r["n_etas"]) for r in rows]
    head = metrics["headline"]
    assert head["feature_set"] == "catalog" and head["p_value_etas_adjusted"] is not None
    assert head["beyond_clustering"] is not None and head["design"] == "targets"
    etas = metrics["nulls"]["etas"]
    fit = etas["fit"]["params"]
    assert fit["p"] < 1.0 and 1e-6 < fit["c"] < 10.0 and etas["fit"]["converged"]
    # the finite-period counterpart of the infinite branching ratio, and a null that looks like the catalog
    assert 0.2 < etas["triggered_share"] < 0.8
    assert 0.8 < etas["expected_events"] / etas["observed_events"] < 1.25
    targets = etas["targets"]
    assert targets["studies_short"] == 0 and abs(targets["simulated_mean"] - targets["real"]) <= 1
    assert abs(targets["simulated_magnitude_mean"] - targets["real_magnitude_mean"]) < 0.3
    # the report says which targets each design keeps
    design = metrics["data"]["design"]
    assert design["n_targets"]["targets"] == head["n_targets"] >= design["n_targets"]["quiet"]


@pytest.mark.slow
def test_a_sequence_with_three_m6_mainshocks_keeps_them_as_targets_and_tests_every_row(tmp_path: Path) -> None:
    """A synthetic sequence shaped like a real fit (scripts/calibration.py real_like, seed 100: p 1.19,
    infinite-time branching 1.07, alpha 0.66 b ln 10, Mc rising after M >= 5.5), whose Amatrice, Visso and Norcia
    shocks trigger by the same law as every event: the default design keeps the three as targets, the quiet design
    drops those that follow large events, the null holds them as given shocks, and every catalog row has its
    clustering p-value from at least 95 % of the simulations."""
    calibration = runpy.run_path(str(Path(__file__).resolve().parents[1] / "scripts" / "calibration.py"))
    root = tmp_path / "root"
    write_synthetic(root, SyntheticConfig(seed=100, n_events=2000, n_traces=50, **calibration["real_like"](100)))
    metrics = run_study(probe_config(
        root, tmp_path / "out", "modality=[catalog]", f"probe.nulls.etas.n_sims={N_SIMS}", "probe.n_permutations=40",
        "probe.horizons_hours=[2,24]", "probe.n_jobs=1"))
    rows = [r for r in metrics["results"] if r["feature_set"] == "catalog"]
    assert len(rows) == 8
    assert all(r["n_etas"] >= 0.95 * N_SIMS and r["p_value_etas_adjusted"] is not None for r in rows), \
        [(r["horizon_hours"], r["score"], r["n_etas"]) for r in rows]
    assert metrics["headline"]["p_value_etas"] is not None
    etas = metrics["nulls"]["etas"]
    assert etas["given"]["magnitudes"] == [6.0, 5.9, 6.5] and etas["targets"]["studies_short"] == 0
    largest = {e["magnitude"]: e for e in metrics["data"]["design"]["largest_events"]}
    assert all(largest[m]["targets"] == "kept" for m in (6.0, 5.9, 6.5)), largest
