"""The pre-event study on real catalogs as locked packages ship them: every catalog row is tested against
clustering, and the ETAS fit behind it is one a referee would accept."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

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
