"""The pre-event study (`python probe.py`) on synthetic data roots whose answer is known: a planted catalog
precursor is found, the null stays at chance, the animal comparison is significant only with a planted animal
precursor, the label shuffle sits at 0.5; outputs carry the promised columns and keys; bad input gives a clear
message."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import lightning
import matplotlib.image
import numpy as np
import pandas as pd
import pytest
import torch
from omegaconf import OmegaConf

from seisbind.errors import SeisbindInputError
from seisbind.modalities.shaking import FLOOR_PGV_CMPS
from seisbind.probe import features
from seisbind.probe import report as report_module
from seisbind.probe.overview import headline_sentence
from seisbind.probe.study import run_study
from tests.helpers.study_roots import probe_config, synthetic

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs"
RESULT_KEYS = {"horizon_hours", "feature_set", "score", "auc", "auc_ci_low", "auc_ci_high", "p_value",
               "precision_at_recall_0.5", "precision_at_recall_0.8", "molchan_skill", "n_pos", "n_neg"}
COMPARISON_KEYS = {"feature_set_a", "feature_set_b", "horizon_hours", "delta_auc", "p_value", "p_value_adjusted",
                   "test", "n_windows"}
VERDICT_KEYS = {"baseline", "horizon_hours", "delta_auc", "p_value_adjusted", "n_pre", "n_background", "verdict"}


@pytest.fixture(scope="session")
def roots(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("probe_roots")
    return {"null": synthetic(base / "null"),
            "catalog": synthetic(base / "catalog", n_traces=160, catalog=0.5, record_precursor_events=True),
            "animal": synthetic(base / "animal", animal=1.0)}


@pytest.fixture(scope="session")
def null_run(roots, tmp_path_factory) -> tuple[dict, Path]:
    out = tmp_path_factory.mktemp("null_run")
    return run_study(probe_config(roots["null"], out, "probe.horizons_hours=[6,24]", "probe.n_permutations=100")), out


@pytest.fixture(scope="session")
def catalog_run(roots, tmp_path_factory) -> tuple[dict, Path]:
    out = tmp_path_factory.mktemp("catalog_run")
    return run_study(probe_config(roots["catalog"], out, "probe.horizons_hours=[24]", "probe.n_permutations=60",
                                  "modality.animal.source.glob=/nonexistent/*.csv")), out


@pytest.fixture(scope="session")
def animal_run(roots, tmp_path_factory) -> tuple[dict, Path]:
    out = tmp_path_factory.mktemp("animal_run")
    return run_study(probe_config(roots["animal"], out, "probe.horizons_hours=[24]", "probe.n_permutations=60")), out


def result(metrics: dict, feature_set: str, score: str, h: float) -> dict:
    (found,) = [r for r in metrics["results"] if (r["feature_set"], r["score"], r["horizon_hours"]) ==
                (feature_set, score, h)]
    return found


def comparison(metrics: dict, a: str, b: str, h: float) -> dict:
    (found,) = [c for c in metrics["comparisons"] if (c["feature_set_a"], c["feature_set_b"], c["horizon_hours"])
                == (a, b, h)]
    return found


# ------------------------------------------------------------------------------------------- known answers
def test_planted_catalog_precursor_is_recovered(catalog_run):
    metrics, _ = catalog_run
    for score in ("logistic", "best_single", "composite_z"):
        r = result(metrics, "catalog", score, 24.0)
        assert r["auc"] >= 0.85 and r["auc_ci_low"] > 0.5 and r["p_value_at_floor"], (score, r)
        assert r["p_value_adjusted"] < 0.05, (score, r)
    assert result(metrics, "catalog", "logistic", 24.0)["n_pos"] >= 20
    head = metrics["headline"]
    assert head["auc"] >= 0.85 and head["p_value_adjusted"] < 0.05 and head["n_targets"] >= 20
    assert set(head) >= {"feature_set", "score", "horizon_hours", "auc", "auc_ci_low", "auc_ci_high", "p_value",
                         "p_value_adjusted", "p_value_etas", "n_targets"}
    assert all({"p_value_adjusted", "p_value_etas"} <= set(r) for r in metrics["results"])


def test_null_is_calibrated(null_run):
    metrics, _ = null_run
    for h in (6.0, 24.0):
        for feature_set in ("catalog", "catalog+waveform_meta"):
            r = result(metrics, feature_set, "logistic", h)
            assert r["auc_ci_low"] <= 0.5 <= r["auc_ci_high"], (feature_set, h, r)
    # two-sided permutation p-values: no more than chance finds "signal" in pure noise
    p = np.array([r["p_value"] for r in metrics["results"]])
    assert np.mean(p < 0.05) <= 0.15, sorted(p)[:5]


def test_label_shuffle_sits_at_one_half(null_run):
    metrics, _ = null_run
    for entry in metrics["sanity"]["per_horizon"]:
        shuffle = entry["label_shuffle"]
        assert shuffle["n_shuffles"] >= 95 and abs(shuffle["auc_mean"] - 0.5) <= 0.05, shuffle
        assert 0.02 < shuffle["auc_sd"] < 0.2


def test_animal_comparison_significant_only_with_planted_animals(null_run, animal_run):
    planted = comparison(animal_run[0], "catalog", "catalog+animal", 24.0)
    assert planted["test"] == "feature_permutation"
    assert planted["delta_auc"] > 0.2 and planted["p_value"] < 0.02, planted
    for h in (6.0, 24.0):
        null = comparison(null_run[0], "catalog", "catalog+animal", h)
        assert null["p_value"] > 0.05, null
    # computed on the windows animal data covers: fewer than the catalog set uses, and said so
    catalog = result(animal_run[0], "catalog", "logistic", 24.0)
    assert planted["n_windows"] == planted["n_pos"] + planted["n_neg"] < catalog["n_pos"] + catalog["n_neg"]
    assert result(animal_run[0], "animal", "logistic", 24.0)["auc"] > 0.8


# ------------------------------------------------------------------------------------------------ outputs
def test_outputs_have_the_promised_columns_and_keys(null_run):
    metrics, out = null_run
    for name in ("windows.csv", "features.csv", "stats.csv", "metrics.json", "roc.png", "molchan.png", "report.md"):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    windows = pd.read_csv(out / "windows.csv")
    phase5 = ["window_id", "start_time", "end_time", "window_type", "horizon_hours", "seismic_score",
              "animal_activity"]
    assert set(phase5 + features.CATALOG_FEATURES + features.WAVEFORM_META_FEATURES) <= set(windows.columns)
    assert {"pre", "background", "post", "other_pre", "other_background"} <= set(windows["window_type"])
    main = windows[windows["window_type"].isin(["pre", "background"]) & windows["horizon_hours"].isin([6, 24])]
    assert main["seismic_score"].notna().all()
    covered = windows["animal_coverage"] >= 0.5
    assert windows.loc[covered, "animal_activity"].notna().all()
    assert windows.loc[windows["animal_coverage"] == 0, "animal_activity"].isna().all()
    assert windows["animal_activity"].isna().any() and windows["animal_activity"].notna().any()

    stats = pd.read_csv(out / "stats.csv")
    assert {"horizon_hours", "feature", "mannwhitney_u", "mannwhitney_p", "welch_t", "welch_p",
            "cohens_d"} <= set(stats.columns)
    assert set(stats["horizon_hours"]) == {6.0, 24.0}

    saved = json.loads((out / "metrics.json").read_text())
    assert {"results", "comparisons", "modality_verdicts", "sanity", "wikelski2020_detector", "skipped"} <= set(saved)
    assert all(VERDICT_KEYS <= set(v) for v in saved["modality_verdicts"].values())
    assert all(RESULT_KEYS <= set(r) for r in saved["results"])
    assert {(r["feature_set"], r["score"]) for r in saved["results"]} >= {
        (s, c) for s in ("catalog", "catalog+waveform_meta", "animal", "catalog+animal")
        for c in ("best_single", "composite_z", "mahalanobis", "logistic")}
    assert saved["comparisons"] and all(COMPARISON_KEYS <= set(c) for c in saved["comparisons"])
    wikelski = [r for r in saved["results"] if r["feature_set"] == "wikelski2020"]
    assert {r["horizon_hours"] for r in wikelski} == {6.0, 24.0}
    assert all(r["score"] == "fixed" and r["n_features"] == 1 and 0 <= r["auc"] <= 1 for r in wikelski)
    assert {"n_triggers", "n_detected", "alarm_fraction", "p_value_random"} <= set(saved["wikelski2020_detector"])
    checks = {v["check"] for v in saved["sanity"]["verdicts"]}
    assert checks == {"label_shuffle", "post_event", "other_period", "time_of_day"}
    sanity = saved["sanity"]["per_horizon"][0]
    assert {"auc", "auc_ci_low", "auc_ci_high"} <= set(sanity["post_event"]["vs_background"])
    assert "pre_vs_background" in sanity["other_period"] and "main_auc" in sanity["time_of_day"]
    assert any("embedding" in s["what"] and "ckpt" in s["reason"] for s in saved["skipped"])

    report = (out / "report.md").read_text()
    assert "## Sanity checks" in report and "label_shuffle at 24 h" in report and "wikelski" in report.lower()
    assert "| 24 | catalog | logistic |" in report
    first_screen = report[:report.index("\n---\n")].splitlines()
    assert len(first_screen) <= 40 and first_screen[2].startswith("Headline")
    assert any(line.startswith("sanity checks: ") for line in first_screen) and "Leading rows" in report
    n_tests = saved["sanity"]["multiplicity"]["n_tests"]
    assert f"Holm over {n_tests} checks" in report and n_tests >= 2
    assert all({"p_value", "p_value_adjusted", "judged_by"} <= set(v) for v in saved["sanity"]["verdicts"])
    printed = report_module.summary(metrics, out).splitlines()
    assert len(printed) <= 30 and printed[:-1] == first_screen[2:len(printed) + 1]   # the same first screen
    assert printed[-1].startswith(f"report: {out / 'report.md'}") and "roc.png" in printed[-1]


def test_report_html_is_one_file_a_headless_browser_draws(null_run, tmp_path):
    """report.html holds every figure inline and fetches nothing; headless Chromium draws it as a page with text and
    figures, not a blank one. CI installs Chromium and sets SEISBIND_REQUIRE_BROWSER=1 (.ci/run), so there a
    missing browser fails the test; elsewhere it skips."""
    _, out = null_run
    page = (out / "report.html").read_text()
    assert page.count('src="data:image/png;base64,') == len(list(out.glob("*.png"))) >= 2
    assert not re.search(r'(src|href)="(?!data:)', page) and "<script" not in page
    chromium = shutil.which("chromium")
    if chromium is None:
        if os.environ.get("SEISBIND_REQUIRE_BROWSER") == "1":
            pytest.fail("chromium is not installed, and SEISBIND_REQUIRE_BROWSER=1 (.ci/run installs it)")
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    shot = tmp_path / "page.png"
    subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--no-first-run",
                    f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={shot}", "--window-size=1200,1600",
                    (out / "report.html").as_uri()], check=True, capture_output=True, timeout=120)
    gray = matplotlib.image.imread(shot)[..., :3].mean(axis=2)
    assert gray.shape == (1600, 1200) and gray.std() > 0.05 and 0.01 < (gray < 0.8).mean() < 0.5


def test_wikelski_rows_are_judged_like_every_row_and_in_the_family_wise_adjustment(null_run):
    """The Wikelski score is a feature set scored by `fixed` only: its rows carry the same refit permutation null
    (n_permutations AUCs) as the others, and their family-wise p is taken over every row of the study."""
    metrics, _ = null_run
    rows = metrics["results"]
    wikelski = [r for r in rows if r["feature_set"] == "wikelski2020"]
    assert len(wikelski) == 2 and {r["score"] for r in rows if r["feature_set"] == "wikelski2020"} == {"fixed"}
    assert not [r for r in rows if r["score"] == "fixed" and r["feature_set"] != "wikelski2020"]
    assert all(r["n_null"] == 100 and r["auc_ci_low"] <= r["auc"] <= r["auc_ci_high"] for r in wikelski)
    assert metrics["headline"]["n_rows"] == len(rows) > 20
    assert all(r["p_value_adjusted"] >= r["p_value"] for r in wikelski)
    assert any(r["p_value_adjusted"] > r["p_value"] for r in wikelski)   # adjusted over a family, not alone


def test_missing_animal_data_skips_its_sets_with_the_reason(catalog_run):
    metrics, out = catalog_run
    assert not [r for r in metrics["results"] if "animal" in r["feature_set"]]
    reasons = {s["what"]: s["reason"] for s in metrics["skipped"]}
    assert "no file for animal features" in reasons["feature family animal"]
    assert "no file for animal features" in reasons["feature set catalog+animal"]
    assert "no file for the Wikelski 2020 score" in reasons["feature family wikelski2020"]
    assert "no file for the Wikelski 2020 score" in reasons["feature set wikelski2020"]
    assert "wikelski2020_detector" not in metrics
    assert "no file for animal sensor positions" in reasons["feature family shaking_animal"]
    assert "no file for animal sensor positions" in reasons["feature set shaking:animal"]
    verdict = metrics["modality_verdicts"]["animal"]
    assert verdict["verdict"].startswith("not testable: its feature set animal cannot be built: no file for animal")
    assert "no file for animal features" in (out / "report.md").read_text()
    assert pd.read_csv(out / "windows.csv")["animal_activity"].isna().all()


def test_shaking_at_the_sensors_has_its_columns_rows_and_baseline(null_run):
    """The sensor modalities' shaking families (seisbind/modalities/shaking.py) add their columns to features.csv,
    their sets are scored, no clustering null simulates them (they count events below the floor), and each
    modality's verdict compares it with a seismic baseline holding the shaking at its own sensors."""
    metrics, out = null_run
    table = pd.read_csv(out / "features.csv")
    shaking = [f"shaking_{m}_log10_{s}_pgv_cmps" for m in ("animal", "gnss") for s in ("peak", "sum")]
    assert set(shaking) <= set(table.columns)
    assert table[shaking].notna().all().all() and (table[shaking] >= np.log10(FLOOR_PGV_CMPS)).all().all()
    assert (table[shaking] > np.log10(FLOOR_PGV_CMPS)).any().all()   # some window was shaken
    sets = {r["feature_set"] for r in metrics["results"]}
    assert {"shaking:animal", "shaking:gnss"} <= sets
    catalog_row = result(metrics, "catalog", "logistic", 24.0)
    shaken_row = result(metrics, "shaking:animal", "logistic", 24.0)
    # Events below the floor shake the sensors but no null simulates them (below_floor: true): no clustering p.
    assert catalog_row["n_etas"] > 0 and shaken_row["p_value_etas"] is None and shaken_row["n_etas"] == 0
    for modality in ("animal", "gnss"):
        baseline = f"catalog+waveform_meta+shaking:{modality}"
        found = comparison(metrics, baseline, f"{baseline}+{modality}", 24.0)
        assert COMPARISON_KEYS <= set(found) and found["test"] == "feature_permutation"
        assert (found["modality"], found["baseline"]) == (modality, "seismic")
        assert found["p_value_adjusted"] >= found["p_value"]


def test_a_catalog_only_study_runs_and_says_what_it_left_out(tmp_path):
    """A root with only the catalog and the study's modalities reduced to it: the catalog rows are there, the sets
    needing waveform metadata and the animal baseline are skipped with their reasons (not evaluated as the catalog
    set under another name), and the checks run on the catalog set in place of the absent checked one."""
    root = tmp_path / "root"
    root.mkdir()
    shutil.copy(synthetic(tmp_path / "full") / "catalog.txt", root / "catalog.txt")
    metrics = run_study(probe_config(root, tmp_path / "out", "modality=[catalog]", "probe.horizons_hours=[6,24]",
                                     "probe.n_permutations=20", "probe.n_jobs=1", "probe.nulls.etas.n_sims=20"))
    assert {r["feature_set"] for r in metrics["results"]} == {"catalog"}
    assert {r["horizon_hours"] for r in metrics["results"]} == {6.0, 24.0}
    reasons = {s["what"]: s["reason"] for s in metrics["skipped"]}
    assert "no feature family of the study makes ['n_stations'" in reasons["feature set catalog+waveform_meta"]
    assert "no feature family of the study makes ['wikelski2020_score']" in reasons["feature set wikelski2020"]
    assert "wikelski2020_detector" not in metrics
    checked = metrics["sanity"]["checked"]
    assert checked["feature_set"] == "catalog"
    assert "probe.checked.feature_set=catalog+waveform_meta cannot be built" in checked["note"]
    assert sum(v["passed"] is not None for v in metrics["sanity"]["verdicts"]) > 0


# ------------------------------------------------------------------------------------------------ features
def test_waveform_features_leave_out_the_targets_own_records():
    """A trace that starts 10 s before its event's origin belongs to that event, not to the window before it."""
    origin = pd.Timestamp("2016-10-30T06:40:18", tz="UTC")
    meta = pd.DataFrame({
        "trace_start_time": [origin - pd.Timedelta(seconds=10), origin - pd.Timedelta(hours=3)],
        "source_origin_time": [origin, origin - pd.Timedelta(hours=3, seconds=-5)],
        "station_network_code": ["IV", "IV"], "station_code": ["NRCA", "MMO1"],
        "trace_pga_cmps2": [500.0, 1.0], **{c: [30.0, 5.0] for c in features.SNR_COLUMNS},
        **{c: [1e6, 10.0] for c in features.RMS_COLUMNS}})
    windows = pd.DataFrame({"start_time": [origin - pd.Timedelta(hours=6)], "end_time": [origin]})
    row = features.waveform_meta_features(meta, windows).iloc[0]
    assert row["n_traces"] == 1 and row["max_pga_cmps2"] == 1.0 and row["mean_snr_db"] == 5.0


def test_window_features_match_a_direct_count():
    rng = np.random.default_rng(3)
    t0 = pd.Timestamp("2016-09-01", tz="UTC")
    starts = t0 + pd.to_timedelta(np.sort(rng.uniform(0, 30 * 24, 500)), unit="h")
    meta = pd.DataFrame({"trace_start_time": starts, "station_network_code": "IV",
                         "station_code": rng.choice(["A", "B", "C", "D"], 500),
                         "trace_pga_cmps2": rng.lognormal(0, 1, 500),
                         **{c: rng.normal(10, 2, 500) for c in features.SNR_COLUMNS},
                         **{c: rng.lognormal(3, 1, 500) for c in features.RMS_COLUMNS}})
    meta.loc[::7, "trace_E_snr_db"] = np.nan
    win_start = t0 + pd.to_timedelta(rng.uniform(0, 29 * 24, 40), unit="h")
    windows = pd.DataFrame({"start_time": win_start, "end_time": win_start + pd.Timedelta(hours=6)})
    got = features.waveform_meta_features(meta, windows)
    for i, w in windows.iterrows():
        inside = meta[(meta["trace_start_time"] >= w["start_time"]) & (meta["trace_start_time"] < w["end_time"])]
        assert got.loc[i, "n_traces"] == len(inside)
        assert got.loc[i, "n_stations"] == inside["station_code"].nunique()
        if len(inside):
            assert np.isclose(got.loc[i, "max_pga_cmps2"], inside["trace_pga_cmps2"].max())
            assert np.isclose(got.loc[i, "mean_snr_db"], inside[features.SNR_COLUMNS].mean(axis=1).mean())
        else:
            assert np.isnan(got.loc[i, "mean_snr_db"])


def test_animal_features_are_nan_without_coverage():
    index = pd.date_range("2016-10-01", periods=96 * 4, freq="15min", tz="UTC", name="bin_start")
    rng = np.random.default_rng(0)
    odba = pd.DataFrame(rng.lognormal(-2, 0.3, (len(index), 2)), index=index, columns=["Cow_1", "Dog_1"])
    odba.iloc[96:192, 0] = np.nan                     # cow off on day 2
    windows = pd.DataFrame({"start_time": [index[10], index[100], pd.Timestamp("2016-11-01", tz="UTC")],
                            "end_time": [index[34], index[124], pd.Timestamp("2016-11-02", tz="UTC")]})
    got = features.animal_features(odba, windows)
    assert np.isfinite(got.loc[0, ["animal_odba_log10", "animal_odba_deviation"]]).all()
    assert np.isclose(got.loc[1, "animal_odba_log10"], np.log10(odba.iloc[100:124, 1]).mean())  # dog only
    assert np.isclose(got.loc[1, "animal_coverage"], 0.5)
    assert got.loc[2, ["animal_odba_log10", "animal_odba_deviation"]].isna().all()


# ------------------------------------------------------------------------------------------------ bad input
def test_no_target_events_is_a_clear_message(roots, tmp_path):
    with pytest.raises(SeisbindInputError, match="no target event.*target_min_magnitude"):
        run_study(probe_config(roots["null"], tmp_path, "probe.target_min_magnitude=7.5"))


def test_too_few_windows_is_a_clear_message(roots, tmp_path):
    with pytest.raises(SeisbindInputError, match="fewer than 5 in a class"):
        run_study(probe_config(roots["null"], tmp_path, "probe.background.match_days=null", "probe.n_background=3",
                               "probe.horizons_hours=[24]"))


def test_cli_reports_bad_input_without_a_traceback(roots, tmp_path):
    done = subprocess.run([sys.executable, str(ROOT / "probe.py"), f"data.root={roots['null']}", f"out={tmp_path}",
                           "probe.target_min_magnitude=7.5"], capture_output=True, text=True, cwd=tmp_path,
                          timeout=120)
    assert done.returncode != 0
    assert "no target event" in done.stderr and "Traceback" not in done.stderr


# ------------------------------------------------------------------------------------------------ checkpoint
def tiny_checkpoint(path: Path, names: tuple[str, ...], shapes: dict[str, list[int]], *overrides: str) -> Path:
    """A SeisBindModule with tiny encoders saved in Lightning's checkpoint format (untrained: the probe's
    plumbing is under test, not the model); `overrides` are dotted `key=value` changes of the modality configs."""
    from seisbind.module import SeisBindModule

    modality = OmegaConf.to_container(OmegaConf.merge(
        *(OmegaConf.load(CONFIGS / "modality" / f"{n}.yaml") for n in names), OmegaConf.from_dotlist(list(overrides))),
        resolve=True)
    module = SeisBindModule(modality, shapes, anchor=names[0], embed_dim=16)
    torch.save({"state_dict": module.state_dict(), "hyper_parameters": dict(module.hparams),
                "pytorch-lightning_version": lightning.__version__}, path)
    return path


@pytest.mark.slow
def test_checkpoint_adds_one_embedding_set_per_encoder(roots, tmp_path):
    ckpt = tiny_checkpoint(tmp_path / "tiny.ckpt", ("spectrum", "metadata", "catalog"),
                           {"spectrum": [3, 12000], "metadata": [8], "catalog": [8]})
    metrics = run_study(probe_config(roots["catalog"], tmp_path / "out", f"ckpt={ckpt}", "probe.horizons_hours=[24]",
                                     "probe.n_permutations=20", "probe.embedding.n_components=3",
                                     "probe.embedding.traces=events"))
    table = pd.read_csv(tmp_path / "out" / "features.csv")
    assert {f"emb_{m}_pc{i}" for m in ("spectrum", "metadata", "catalog") for i in range(3)} <= set(table.columns)
    embedded = table.filter(like="emb_spectrum").notna().all(axis=1)
    assert embedded.sum() >= 20 and not embedded.all()   # only windows holding traces have an embedding
    sets = {r["feature_set"] for r in metrics["results"]}
    assert {"embedding:spectrum", "embedding:metadata", "catalog+embedding:spectrum"} <= sets
    compared = {(c["feature_set_a"], c["feature_set_b"]) for c in metrics["comparisons"]}
    assert ("catalog", "catalog+embedding:spectrum") in compared
    cover = metrics["data"]["embedding"]
    assert cover["traces"] == "events" and cover["anchor"] == "spectrum"
    assert cover["per_window_type"]["pre"]["with_embedding"] == int(embedded[table["window_id"].str.startswith(
        "pre_h24")].sum())
    assert "Windows with a spectrum embedding: " in (tmp_path / "out" / "report.md").read_text()


@pytest.mark.slow
def test_noise_traces_give_windows_embeddings_independent_of_seismicity(synthetic_root, tmp_path):
    """On a root with the noise pair (one noise trace a day), `auto` pools noise traces: windows of both types
    get spectrum embeddings at the rate the noise schedule gives, whatever their seismicity, and the metadata
    encoder (noise traces have no source metadata) gives none."""
    ckpt = tiny_checkpoint(tmp_path / "tiny.ckpt", ("spectrum", "metadata"), {"spectrum": [3, 12000], "metadata": [8]})
    metrics = run_study(probe_config(synthetic_root, tmp_path / "out", f"ckpt={ckpt}", "probe.horizons_hours=[24]",
                                     "probe.n_permutations=20", "probe.embedding.n_components=3",
                                     "probe.nulls.etas.n_sims=0"))
    cover = metrics["data"]["embedding"]
    assert cover["traces"] == "noise" and "noise pair" in cover["note"]
    shares = {kind: c["with_embedding"] / c["windows"] for kind, c in cover["per_window_type"].items()}
    assert shares["pre"] > 0.5 and shares["background"] > 0.5 and abs(shares["pre"] - shares["background"]) < 0.3
    table = pd.read_csv(tmp_path / "out" / "features.csv")
    assert table.filter(like="emb_spectrum").notna().any().all()
    assert not table.filter(like="emb_metadata").notna().any().any()
    reasons = {s["what"]: s["reason"] for s in metrics["skipped"]}
    assert "feature set embedding:metadata" in reasons


def test_checkpoint_needing_absent_data_or_of_another_kind_is_a_clear_message(roots, tmp_path):
    ckpt = tiny_checkpoint(tmp_path / "animal.ckpt", ("metadata", "animal"), {"metadata": [8], "animal": [5, 80]},
                           "animal.source.glob=nonexistent/*.csv")
    with pytest.raises(SeisbindInputError, match="need data that .* does not provide.*nonexistent"):
        run_study(probe_config(roots["null"], tmp_path / "a", f"ckpt={ckpt}", "probe.horizons_hours=[24]"))
    other = tmp_path / "other.ckpt"
    torch.save({"state_dict": {"layer.weight": torch.zeros(2, 2)}, "hyper_parameters": {"width": 3}}, other)
    with pytest.raises(SeisbindInputError, match="not a checkpoint of this seisbind model"):
        run_study(probe_config(roots["null"], tmp_path / "b", f"ckpt={other}", "probe.horizons_hours=[24]"))


@pytest.mark.slow
def test_tables_and_figures_go_to_wandb(null_run, tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    metrics, out = null_run
    cfg = probe_config(Path("unused"), out, "logger=wandb", f"paths.output_dir={tmp_path}", "run_name=probe-test")
    report_module.log_to_loggers(cfg, out, metrics, {"results": report_module.results_table(metrics)})
    (run_dir,) = (tmp_path / "wandb").glob("offline-run-*")
    media = {p.parent.name + "/" + p.name.split("_")[0] for p in (run_dir / "files" / "media").rglob("*.*")}
    assert {"probe/results", "probe/roc", "probe/molchan"} <= media


def test_headline_leads_with_a_row_that_can_be_tested_against_clustering():
    """A trace-metadata row with the smaller family-wise p (what ETAS cascades give) does not lead: the best
    row with an ETAS null does, and the other is named beside it; with no testable row, the best of all leads."""
    from seisbind.probe.study.headline import headline
    from seisbind.probe.study.rows import Row

    times = pd.date_range("2016-09-01", periods=3, freq="10D", tz="UTC")
    windows = pd.DataFrame({"window_type": "pre", "horizon_hours": 24.0, "target_event_id": ["a", "b", "c"],
                            "target_time": times})
    base = {"auc_ci_low": 0.6, "auc_ci_high": 0.9, "p_value": 0.001, "p_value_at_floor": False}
    untested = Row(24.0, "catalog+waveform_meta", "logistic", 11,
                   base | {"auc": 0.75, "p_value_adjusted": 0.01, "p_value_etas": None})
    testable = Row(24.0, "catalog", "logistic", 6, base | {"auc": 0.6, "p_value_adjusted": 0.4, "p_value_etas": 0.3,
                                                                "p_value_etas_adjusted": 0.6,
                                                                "p_value_adjusted_tested": 0.3})
    head = headline([untested, testable], windows, None, ["etas"], "quiet")
    assert (head["feature_set"], head["chosen_among"]) == ("catalog", "testable")
    assert head["best_untested"]["feature_set"] == "catalog+waveform_meta"
    assert head["p_value_etas"] == 0.3 and head["beyond_clustering"] is False
    assert "Best row without a clustering null: catalog+waveform_meta" in headline_sentence(head)
    only = headline([untested], windows, None, ["etas"], "quiet")
    assert (only["feature_set"], only["chosen_among"], only["beyond_clustering"]) == \
        ("catalog+waveform_meta", "all", None)
    assert "not tested against clustering" in headline_sentence(only)


def test_a_claim_says_its_direction_and_each_design_rests_on_its_inference():
    """Quiescence is claimed as such. In either design the permutations and the null must agree on the direction,
    and a null departure alone (windows like background, set apart by the null: a catalog less clustered than its
    model) claims nothing; the targets design lets the nulls pick the row."""
    from seisbind.probe.study.headline import headline
    from seisbind.probe.study.rows import Row

    windows = pd.DataFrame({"window_type": "pre", "horizon_hours": 24.0, "target_event_id": ["a"],
                            "target_time": pd.to_datetime(["2016-09-01"], utc=True)})
    quiet = {"auc": 0.3, "auc_ci_low": 0.2, "auc_ci_high": 0.4, "p_value": 0.004, "direction": "lower",
             "p_value_at_floor": False, "p_value_adjusted": 0.01, "p_value_etas": 0.01,
             "p_value_etas_adjusted": 0.02, "p_value_adjusted_tested": 0.01}
    lower = Row(24.0, "catalog", "logistic", 6, quiet | {"etas_direction": "lower"})
    for design in ("quiet", "targets"):
        claimed = headline([lower], windows, None, ["etas"], design)
        assert claimed["beyond_clustering"] is True and claimed["claim_direction"] == "lower"
        assert ("SIGNAL BEYOND CLUSTERING: pre-event windows score lower than background and than clustering gives"
                in headline_sentence(claimed))
    # below background, but above what clustering gives: no claim in either design
    torn = Row(24.0, "catalog", "logistic", 6, quiet | {"etas_direction": "higher"})
    for design in ("quiet", "targets"):
        head = headline([torn], windows, None, ["etas"], design)
        assert head["beyond_clustering"] is False and "score higher than it gives" in headline_sentence(head)
    # like background (family-wise permutation p 0.97), set apart by the null alone: no claim, and said why
    apart = Row(24.0, "catalog", "mahalanobis", 6, quiet | {"p_value_adjusted": 0.97, "p_value_adjusted_tested": 0.9,
                                                              "etas_direction": "lower"})
    head = headline([apart], windows, None, ["etas"], "targets")
    assert head["beyond_clustering"] is False
    assert "the etas null sets the row apart, but the windows do not differ from background" in \
        headline_sentence(head)
    # the targets design leads with the row the null sets apart most, whatever its permutation p
    plain = Row(6.0, "catalog", "mahalanobis", 6, quiet | {"p_value_adjusted": 0.001, "p_value_etas_adjusted": 0.4,
                                                             "etas_direction": "lower"})
    assert headline([plain, torn], windows, None, ["etas"], "targets")["score"] == "logistic"
    assert headline([plain, torn], windows, None, ["etas"], "quiet")["score"] == "mahalanobis"
    # the claim's permutation p is family-wise over the testable rows, not over every row
    wide = Row(24.0, "catalog", "logistic", 6, quiet | {"p_value_adjusted": 0.069, "etas_direction": "lower"})
    head = headline([wide], windows, None, ["etas"], "targets")
    assert head["beyond_clustering"] is True and head["n_tested"] == 1
    assert "0.01 over the 1 rows with a clustering null, the claim's family" in headline_sentence(head)


def test_claim_family_is_the_testable_rows_and_holds_its_error_rate():
    """`family_wise_tested` is the max-T over the rows every null tested (None for the others), never above the
    max-T over all rows. Against the truth: with 16 testable and 112 other rows whose observed AUCs are draws of
    their own nulls (correlated within a horizon, as rows on the same windows are), some testable row falls below
    0.05 in about 5 % of 400 studies (within its binomial range), where the max-T over all 128 rows gives less."""
    from seisbind.probe.evaluate import max_t_adjusted
    from seisbind.probe.study.rows import Row, family_wise, family_wise_tested

    rng = np.random.default_rng(5)
    hits = {"tested": 0, "all": 0}
    for _ in range(400):
        shared = rng.normal(size=(4, 101))                       # one horizon's windows, shared by its rows
        draws = 0.5 + 0.05 * (0.7 * shared[np.arange(128) % 4] + 0.7 * rng.normal(size=(128, 101)))
        rows = [Row(2.0 * (i % 4 + 1), f"set{i}", "logistic", 1,
                    {"auc": float(d[0]), "p_value_etas": 0.5 if i < 16 else None}, d[1:]) for i, d in enumerate(draws)]
        family_wise(rows)
        family_wise_tested(rows, ["etas"])
        tested = [r.values["p_value_adjusted_tested"] for r in rows[:16]]
        assert all(r.values["p_value_adjusted_tested"] is None for r in rows[16:])
        assert all(t <= r.values["p_value_adjusted"] + 1e-12 for t, r in zip(tested, rows))
        hits["tested"] += min(tested) < 0.05
        hits["all"] += min(r.values["p_value_adjusted"] for r in rows[:16]) < 0.05
    np.testing.assert_allclose(tested, max_t_adjusted([r.auc for r in rows[:16]], [r.null_aucs for r in rows[:16]]))
    assert 8 <= hits["tested"] <= 32 and hits["all"] < hits["tested"]
