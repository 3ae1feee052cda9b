"""The GNSS modality end to end: it trains next to the spectrum anchor on any root with `gnss/*.tenv3` or `.pos`
files, a root without them or without a station near any trace is one clear message, and the probe's gnss family
finds a planted slip transient (the comparison catalog vs catalog+gnss) and not an absent one, once the co-seismic
offsets of the catalogued earthquakes are out of the displacements."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from seisbind.data.datamodule import SeisBindDataModule
from seisbind.errors import SeisbindInputError
from seisbind.modalities.gnss import GnssInput
from seisbind.probe.study import run_study
from seisbind.train import train
from tests.conftest import compose_config
from tests.helpers.study_roots import probe_config, synthetic

SOURCE = {"reader": "seisbind.data.gnss.read_gnss", "glob": "gnss/*"}
FAST = ["trainer.max_epochs=1", "data.batch_size=16", "trainer.log_every_n_steps=1", "callbacks.progress_bar=null",
        "logger=none"]


def test_gnss_input_gives_masked_displacements_of_nearby_stations(synthetic_root: Path) -> None:
    gnss = GnssInput(SOURCE, window_days=8, trend_days=30, radius_km=50, max_stations=4)
    dm = SeisBindDataModule(str(synthetic_root), {"gnss": gnss}, batch_size=8,
                            split={"strategy": "time", "val_fraction": 0.25, "seed": 0})
    dm.setup("fit")
    assert dm.input_shapes() == {"gnss": [12, 8]}
    batch = next(iter(dm.train_dataloader()))["gnss"]
    assert batch["x"].shape == (8, 12, 8) and batch["mask"].shape == (8, 12)
    present = gnss.mask.any(axis=1)
    # Stations cover most of the period, so most traces (after the first trend period) see one; none sees more
    # channels than 4 stations give, and an absent channel holds zeros, never data.
    assert 0.5 < present.mean() < 1.0
    assert np.all(gnss.values[~gnss.mask] == 0) and np.isfinite(gnss.values).all()
    assert gnss.context_hours == 8 * 24


def test_training_with_gnss_next_to_the_anchor(tmp_path: Path, synthetic_root: Path) -> None:
    cfg = compose_config("train", [f"data.root={synthetic_root}", "experiment=seisimagebind_gnss", *FAST], tmp_path)
    result = train(cfg)
    metrics = result["metrics"]
    assert np.isfinite(metrics["val/loss/spectrum-gnss"])
    assert "val/recall@1/spectrum-gnss" in metrics and "val/recall@1/metadata-gnss/chance" in metrics
    state = torch.load(result["checkpoint"], map_location="cpu", weights_only=True)
    assert any(k.startswith("encoders.gnss.") for k in state["state_dict"])


def test_a_root_without_gnss_files_names_the_missing_glob(tmp_path: Path, synthetic_root: Path) -> None:
    root = tmp_path / "root"
    shutil.copytree(synthetic_root, root, ignore=shutil.ignore_patterns("gnss"))
    cfg = compose_config("train", [f"data.root={root}", "experiment=seisimagebind_gnss", *FAST], tmp_path)
    with pytest.raises(SeisbindInputError, match=r"gnss input needs files .* no match for .*gnss/\*$"):
        train(cfg)


def test_gnss_files_that_cover_no_trace_stop_training_naming_the_key(tmp_path: Path, synthetic_root: Path) -> None:
    """Files far from every event (or all empty) would train the pair on absent samples only: one line instead."""
    root = tmp_path / "root"
    shutil.copytree(synthetic_root, root, ignore=shutil.ignore_patterns("gnss"))
    (root / "gnss").mkdir()
    header, *lines = next(synthetic_root.glob("gnss/*.tenv3")).read_text().splitlines()
    far = [" ".join(fields[:20] + [f"-{fields[20]}"] + fields[21:]) for fields in map(str.split, lines)]  # south
    (root / "gnss" / "FAR0.tenv3").write_text("\n".join([header, *far]) + "\n")
    cfg = compose_config("train", [f"data.root={root}", "experiment=seisimagebind_gnss", *FAST], tmp_path)
    with pytest.raises(SeisbindInputError, match=r"^modality\.gnss\.input: no trace has a GNSS station within "
                                                 r"radius_km=50 .*1 station\(s\).* in .*gnss/\*") as raised:
        train(cfg)
    assert "\n" not in str(raised.value)
    for path in (root / "gnss").iterdir():
        path.write_text(path.read_text().splitlines()[0] + "\n")     # header only
    with pytest.raises(SeisbindInputError, match=r"no daily position in any of the 1 GNSS file\(s\) .*FAR0"):
        train(cfg)


@pytest.fixture(scope="module")
def gnss_roots(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("gnss_roots")
    return {"null": synthetic(base / "null"), "planted": synthetic(base / "planted", gnss=4.0),
            "weak": synthetic(base / "weak", gnss=2.0)}


def comparison(metrics: dict, with_set: str) -> dict:
    (row,) = [c for c in metrics["comparisons"] if (c["feature_set_a"], c["feature_set_b"]) == ("catalog", with_set)]
    return row


@pytest.mark.slow
def test_probe_gnss_family_finds_a_planted_transient_and_not_an_absent_one(gnss_roots, tmp_path: Path) -> None:
    options = ["probe.horizons_hours=[24]", "probe.n_permutations=60", "probe.nulls.etas.n_sims=0",
               "~probe.feature_sets.wikelski2020", "probe.n_jobs=1"]
    planted = run_study(probe_config(gnss_roots["planted"], tmp_path / "planted", *options))
    null = run_study(probe_config(gnss_roots["null"], tmp_path / "null", *options))
    found, absent = comparison(planted, "catalog+gnss"), comparison(null, "catalog+gnss")
    assert found["test"] == "feature_permutation"
    assert found["delta_auc"] > 0 and found["p_value"] < 0.05, found
    assert absent["p_value"] > 0.05, absent
    assert planted["data"]["windows_with_family"]["gnss"] > 0.8
    gnss_row = next(r for r in planted["results"] if (r["feature_set"], r["score"]) == ("gnss", "logistic"))
    assert gnss_row["auc"] > 0.6, gnss_row


@pytest.mark.slow
def test_probe_gnss_row_finds_a_weak_transient_once_coseismic_offsets_are_removed(gnss_roots, tmp_path: Path) -> None:
    """A transient of 10 mm x exp(-r / 50 km): with the offsets of the M >= 5 earthquakes kept, the background
    windows matched after a mainshock carry its step (tens of mm) and the GNSS row at 24 h is near chance (logistic
    AUC 0.60); removed, as by default, it finds the transient (0.76)."""
    options = ["probe.horizons_hours=[24]", "probe.n_permutations=20", "probe.nulls.etas.n_sims=0", "probe.n_jobs=1",
               "modality=[catalog,gnss]"]
    removed = run_study(probe_config(gnss_roots["weak"], tmp_path / "removed", *options))
    kept = run_study(probe_config(gnss_roots["weak"], tmp_path / "kept", *options,
                                  "modality.gnss.features.displacement.step_min_magnitude=10"))

    def logistic_auc(metrics: dict) -> float:
        return next(r["auc"] for r in metrics["results"] if (r["feature_set"], r["score"]) == ("gnss", "logistic"))

    assert logistic_auc(removed) > 0.7 and logistic_auc(removed) > logistic_auc(kept) + 0.1
