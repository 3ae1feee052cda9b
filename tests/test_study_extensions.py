"""A check, a null and a score are each one new module plus a config entry, and the study reports them; a score
the config does not define is an error naming the key."""

from __future__ import annotations

import json

import numpy as np
import pytest

from seisbind.errors import SeisbindInputError
from seisbind.probe.study import run_study
from tests.helpers.study_roots import probe_config


def test_a_toy_check_null_and_score_join_the_study(synthetic_root, tmp_path):
    out = tmp_path / "out"
    metrics = run_study(probe_config(
        synthetic_root, out, "probe.horizons_hours=[24]", "probe.n_permutations=20", "probe.n_jobs=1",
        "probe.nulls.etas.n_sims=0",
        "+probe.checks.finite_auc={_target_: tests.helpers.toy_check.FiniteAuc}",
        "+probe.nulls.poisson={_target_: tests.helpers.toy_null.PoissonTimes, n_sims: 6}",
        "+probe.scorers.first={_target_: tests.helpers.toy_score.FirstFeature, _partial_: true}",
        "probe.scores=[logistic,first]", "probe.checked.feature_set=catalog"))
    verdicts = [v for v in metrics["sanity"]["verdicts"] if v["check"] == "finite_auc"]
    assert len(verdicts) == 1 and verdicts[0]["passed"] is True
    assert metrics["sanity"]["per_horizon"][0]["finite_auc"]["n_windows"] > 10
    rows = {(r["feature_set"], r["score"]): r for r in metrics["results"]}
    assert ("catalog", "first") in rows and np.isfinite(rows[("catalog", "first")]["auc"])
    catalog_row = rows[("catalog", "logistic")]
    assert catalog_row["n_poisson"] >= 2 and 0 < catalog_row["p_value_poisson"] <= 1
    assert rows[("catalog+waveform_meta", "logistic")]["p_value_poisson"] is None   # no simulated counterpart
    assert metrics["nulls"]["poisson"]["n_sims"] == 6
    assert {"poisson", "etas"} == set(metrics["headline"]["nulls"])
    assert "etas null" in {s["what"] for s in metrics["skipped"]}
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["headline"]["nulls"] == metrics["headline"]["nulls"]
    assert (out / "poisson_null.png").is_file()
    assert "finite_auc" in (out / "report.md").read_text()


def test_an_undefined_score_names_the_key(synthetic_root, tmp_path):
    with pytest.raises(SeisbindInputError, match=r"^probe\.scores: unknown score\(s\) \['forest'\]"):
        run_study(probe_config(synthetic_root, tmp_path, "probe.scores=[logistic,forest]"))
