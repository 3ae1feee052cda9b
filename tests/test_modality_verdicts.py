"""The modality verdicts (seisbind/probe/study/verdicts.py) on synthetic roots whose answer is known: a planted
animal precursor adds to every seismic feature the root has, no precursor does not, a modality covering too few
targets gets "too few windows" and no p-value; and the family-wise adjustment over comparisons against a hand
count."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from seisbind.probe.evaluate import PairedScores, Settings
from seisbind.probe.study import run_study
from seisbind.probe.study.comparisons import Compared, Comparison, family_wise, where_clustering_quiet
from seisbind.probe.study.verdicts import FEATURE_PERMUTATION, Plan, modality_verdicts, reading
from tests.helpers.study_roots import probe_config, synthetic

FAST = ("probe.horizons_hours=[24]", "probe.n_permutations=20", "probe.n_comparison_permutations=30",
        "probe.n_bootstrap=50", "probe.nulls.etas.n_sims=0", "probe.n_jobs=1", "probe.scores=[logistic]",
        "~probe.feature_sets.wikelski2020", "probe.comparisons=[]")
"""One horizon, one scorer, few resamples: ~20 s a study on one core. 30 feature permutations put the floor of a
comparison's p at 1/31 < 0.05."""
INTERFACE = {"baseline", "horizon_hours", "delta_auc", "p_value_adjusted", "n_pre", "n_background", "verdict"}
SEISMIC = "catalog+waveform_meta+shaking:animal"


@pytest.fixture(scope="module")
def roots(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("verdict_roots")
    return {"null": synthetic(base / "null"), "planted": synthetic(base / "planted", animal=1.0)}


def study(root: Path, out: Path, *overrides: str) -> dict:
    return run_study(probe_config(root, out, *FAST, *overrides))


def test_a_planted_animal_precursor_adds_to_the_seismic_data(roots, tmp_path):
    metrics = study(roots["planted"], tmp_path, "probe.nulls.etas.n_sims=2")   # its fit gives the reading
    verdict = metrics["modality_verdicts"]["animal"]
    assert INTERFACE <= set(verdict)
    assert verdict["verdict"] == "adds" and verdict["delta_auc"] > 0.2 and verdict["p_value_adjusted"] < 0.05
    assert verdict["baseline"] == SEISMIC
    assert verdict["baseline_sets"] == ["catalog", "catalog+waveform_meta", "shaking:animal"]
    (left_out,) = verdict["baseline_left_out"]   # the anchor's embeddings need ckpt=
    assert left_out["feature_set"] == "embedding:spectrum" and "no checkpoint" in left_out["reason"]
    assert verdict["n_pre"] >= 5 and verdict["n_background"] >= 5
    # The planted ODBA rise does not depend on the seismicity: it adds where clustering raises nothing too.
    assert verdict["reading"].startswith("adds also where the etas model's rate at the window's end"), verdict
    secondary = verdict["secondary"]
    assert secondary["baseline"] == "catalog" and secondary["verdict"] == "adds"
    # Every comparison is in one family: none of its adjusted p-values is below its own.
    tested = [c for c in metrics["comparisons"] if c["p_value"] is not None]
    assert {(c["modality"], c["baseline"]) for c in tested} == {("animal", "seismic"), ("animal", "secondary"),
                                                                ("gnss", "seismic"), ("gnss", "secondary")}
    assert all(c["p_value_adjusted"] >= c["p_value"] - 1e-12 for c in tested)
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["modality_verdicts"]["animal"]["verdict"] == "adds"
    opening = (tmp_path / "report.md").read_text().split("\n---\n")[0]
    assert f"- animal vs the seismic baseline {SEISMIC}: ADDS at 24 h: delta AUC" in opening
    assert "Secondary, vs catalog alone: ADDS at 24 h" in opening


def test_without_a_precursor_no_modality_adds(roots, tmp_path):
    metrics = study(roots["null"], tmp_path)
    verdicts = metrics["modality_verdicts"]
    assert set(verdicts) == {"animal", "gnss"}
    for modality, verdict in verdicts.items():
        assert verdict["verdict"] == "no evidence", (modality, verdict)
        assert verdict["p_value_adjusted"] >= 0.05 and verdict["reading"] == ""
        assert verdict["baseline"] == f"catalog+waveform_meta+shaking:{modality}"


def test_a_modality_covering_too_few_targets_gets_no_p_value(roots, tmp_path):
    """Animal data over the last two weeks only: fewer pre-event windows than probe.min_windows_per_class have
    animals, so the animal comparisons run nowhere and say so; the GNSS verdict is unaffected."""
    root = tmp_path / "root"
    root.mkdir()
    for path in roots["null"].iterdir():
        if path.name != "animals":
            (root / path.name).symlink_to(path)
    (root / "animals").mkdir()
    header, *lines = (roots["null"] / "animals" / "pieve_torina.csv").read_text().splitlines()
    late = [line for line in lines if line.split(",", 2)[1] >= "2017-01-18"]
    assert 0 < len(late) < len(lines) / 5
    (root / "animals" / "pieve_torina.csv").write_text("\n".join([header, *late]) + "\n")

    metrics = study(root, tmp_path / "out")
    verdict = metrics["modality_verdicts"]["animal"]
    assert verdict["verdict"] == "too few windows", verdict
    assert verdict["p_value_adjusted"] is None and verdict["delta_auc"] is None
    assert verdict["n_pre"] < metrics["settings"]["min_windows_per_class"] and verdict["baseline"] == SEISMIC
    animal = [c for c in metrics["comparisons"] if c["modality"] == "animal"]
    assert len(animal) == 2 and all(c["p_value"] is None and c["too_few"] for c in animal)
    assert metrics["modality_verdicts"]["gnss"]["p_value_adjusted"] is not None
    opening = (tmp_path / "out" / "report.md").read_text().split("\n---\n")[0]
    assert "- animal vs the seismic baseline" in opening and ": too few windows (at best" in opening


def pair(a: str, modality: str | None = "m", baseline: str | None = "seismic") -> Comparison:
    return Comparison(a, f"{a}+m", ("x",), ("x", "y"), FEATURE_PERMUTATION, modality, baseline)


def test_comparisons_are_adjusted_together_by_one_sided_max_t():
    """Three comparisons with 5 permutations each (two horizons), a delta and a null each, and two without a
    refitted null (too few windows; DeLong). Each is measured from the median of its null and observed delta
    together, in semi-deviations (seisbind.probe.evaluate.null_distance), all in units of 0.01:
        A: reference -2 -1 0 1 1.5 2, median 0.5, above sqrt(2 x 3.5 / 6) = 1.080, below sqrt(2 x 8.75 / 6) = 1.708
        B: reference -4 -2 0 2 4 5, median 1, above sqrt(2 x 26 / 6) = 2.944, below sqrt(2 x 35 / 6) = 3.416
        C: reference -2 -1 0 1 1 2, median 0.5, above sqrt(2 x 2.75 / 6) = 0.957, below 1.708
    so observed z_A = 1.0 / 1.080 = 0.926, z_B = 4 / 2.944 = 1.359, z_C = 0.5 / 0.957 = 0.522; the permutations' z:
        A: -1.464 -0.878 -0.293  0.463  1.389
        B: -0.293  0.340 -0.878  1.019 -1.464
        C:  0.522 -0.878  1.567 -1.464 -0.293
      max:  0.522  0.340  1.567  1.019  1.389
    so p_A = (1 + 3) / 6, p_B = (1 + 2) / 6, p_C = (1 + 4) / 6 (one-sided: B's -1.464 never counts)."""
    found = [Compared(pair("A"), 6.0, {"p_value": 2 / 6, "delta_auc": 0.015}, np.array([-2, -1, 0, 1, 2]) / 100),
             Compared(pair("B"), 6.0, {"p_value": 1 / 6, "delta_auc": 0.05}, np.array([0, 2, -2, 4, -4]) / 100),
             Compared(pair("C"), 24.0, {"p_value": 3 / 6, "delta_auc": 0.01}, np.array([1, -1, 2, -2, 0]) / 100),
             Compared(pair("D"), 24.0, {"p_value": None, "too_few": True, "n_pos": 3, "n_neg": 40}),
             Compared(pair("E", None, None), 24.0, {"p_value": 0.001, "delta_auc": 0.3, "test": "delong"})]
    family_wise(found)
    adjusted = [c.values["p_value_adjusted"] for c in found]
    assert adjusted[:3] == pytest.approx([4 / 6, 3 / 6, 5 / 6], abs=1e-12)
    assert adjusted[3:] == [None, None]


def test_a_verdict_reads_the_smallest_family_wise_p_and_too_few_windows_gives_none():
    seismic, secondary = pair("s"), pair("c", baseline="secondary")
    found = [Compared(seismic, 6.0, {"p_value": None, "too_few": True, "n_pos": 4, "n_neg": 50}),
             Compared(seismic, 24.0, {"p_value": None, "too_few": True, "n_pos": 2, "n_neg": 60}),
             Compared(secondary, 6.0, {"p_value": 0.01, "p_value_adjusted": 0.2, "delta_auc": 0.1, "n_pos": 9,
                                       "n_neg": 80}),
             Compared(secondary, 24.0, {"p_value": 0.01, "p_value_adjusted": 0.03, "delta_auc": 0.2, "n_pos": 9,
                                        "n_neg": 70, "where_clustering_quiet": {"n_pos": 2, "n_neg": 40,
                                                                                "delta_auc": None, "p_value": None}})]
    planned = [Plan("m", "m", ("s",), (("e", "no checkpoint"),), (seismic, secondary)),
               Plan("other", "o", why_not="its feature set o cannot be built: no file")]
    verdicts = modality_verdicts(planned, found, alpha=0.05)
    m = verdicts["m"]
    assert (m["verdict"], m["horizon_hours"], m["n_pre"], m["n_background"]) == ("too few windows", 6.0, 4, 50)
    assert m["p_value_adjusted"] is None and m["baseline"] == "s"
    assert m["baseline_left_out"] == [{"feature_set": "e", "reason": "no checkpoint"}]
    assert (m["secondary"]["verdict"], m["secondary"]["horizon_hours"]) == ("adds", 24.0)
    assert m["reading"] == ""   # too few windows against the seismic data: nothing to read off the secondary
    other = verdicts["other"]
    assert other["verdict"] == "not testable: its feature set o cannot be built: no file"
    assert other["baseline"] is None and other["secondary"] is None


def test_the_reading_of_a_catalog_only_gain_says_whether_the_seismic_baseline_left_room():
    """No evidence beyond the seismic data but a gain over the catalog alone: "already holds" only where the seismic
    baseline had room for that gain; a baseline near its ceiling (AUC 0.956 against a catalog gain of +0.104, as on
    the demo's GNSS with the anchor's embeddings) cannot tell."""
    secondary = {"verdict": "adds", "delta_auc": 0.104}
    near_ceiling = {"verdict": "no evidence", "auc_a": 0.956, "horizon_hours": 6.0}
    with_room = {"verdict": "no evidence", "auc_a": 0.75, "horizon_hours": 6.0}
    assert "AUC 0.956 at 6 h" in reading(near_ceiling, secondary, 0.05)
    assert "cannot tell" in reading(near_ceiling, secondary, 0.05)
    assert "already holds" in reading(with_room, secondary, 0.05)
    assert reading(with_room, {"verdict": "no evidence", "delta_auc": 0.0}, 0.05) == ""


def clustering_reading(gain_where: np.ndarray, y: np.ndarray, ratio: np.ndarray | None,
                       rng: np.random.Generator) -> str:
    """The reading of an "adds" whose modality raises the pre-event scores of the windows `gain_where` by 3 SD over
    a baseline that sees nothing, its null 99 refits with the modality's columns permuted (noise)."""
    baseline = rng.normal(size=y.size)
    paired = PairedScores({}, y.astype(int), baseline, baseline + 3.0 * (y & gain_where),
                          baseline + rng.normal(scale=0.3, size=(99, y.size)))
    found = [Compared(pair("s"), 24.0, {"p_value": 0.01}, np.zeros(99), paired, np.arange(y.size))]
    where_clustering_quiet(found, ratio, "etas" if ratio is not None else "no clustering null was fitted",
                           Settings(min_windows_per_class=5))
    return reading({"verdict": "adds", "where_clustering_quiet": found[0].values["where_clustering_quiet"]}, None,
                   0.05)


def test_the_reading_tells_a_response_to_clustering_from_a_signal_of_its_own():
    """40 pre-event and 160 background windows, half of each where the clustering model's rate is raised (ratio
    3-30) and half where it is not (1-1.5): a modality whose gain lies only where clustering raises the rate
    (animals that feel foreshocks) is "not shown" to add where it is not raised; one whose gain lies everywhere
    "adds also" there; without a fitted null the reading says it cannot tell."""
    rng = np.random.default_rng(0)
    y = np.r_[np.ones(40, bool), np.zeros(160, bool)]
    raised = np.r_[np.arange(40) % 2 == 0, np.arange(160) % 2 == 0]
    ratio = np.where(raised, rng.uniform(3.0, 30.0, y.size), rng.uniform(1.0, 1.5, y.size))
    responds = clustering_reading(raised, y, ratio, rng)
    assert responds.startswith("adds, but not shown where the etas model's rate"), responds
    assert "cannot tell it from a response to clustering" in responds
    own = clustering_reading(np.ones(y.size, bool), y, ratio, rng)
    assert own.startswith("adds also where the etas model's rate at the window's end is raised at most"), own
    assert "more than a response to earthquakes triggering earthquakes" in own
    blind = clustering_reading(raised, y, None, rng)
    assert blind == "adds; whether beyond clustering cannot be read: no clustering null was fitted"
