"""End-to-end training on the synthetic data root: checkpoints, W&B offline run, resume, sweeps, bad configs."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import h5py
import pandas as pd
import pytest
import torch
from lightning.pytorch.callbacks import Callback

from seisbind.errors import SeisbindInputError
from seisbind.module import SeisBindModule
from seisbind.train import train
from tests.conftest import compose_config

ROOT = Path(__file__).resolve().parents[1]
FAST = ["trainer.max_epochs=1", "data.batch_size=16", "trainer.log_every_n_steps=1", "callbacks.progress_bar=null"]


def run_train(tmp_path: Path, root: Path, *overrides: str) -> dict:
    cfg = compose_config("train", [f"data.root={root}", "experiment=seisclip", *FAST, *overrides], tmp_path)
    return train(cfg)


def test_train_writes_checkpoint_that_loads_alone(tmp_path: Path, synthetic_root: Path) -> None:
    result = run_train(tmp_path, synthetic_root, "logger=csv")
    last = Path(result["checkpoint"])
    assert last.is_file() and last.parent.parent.name == "seisclip"
    assert Path(result["best"]).is_file()
    model = SeisBindModule.load_from_checkpoint(last, map_location="cpu")
    batch = {"spectrum": {"x": torch.randn(4, 3, 12000)},
             "metadata": {"x": torch.rand(4, 8), "mask": torch.ones(4, 8)}}
    with torch.no_grad():
        emb = model.embed(batch)
    assert set(emb) == {"spectrum", "metadata"}
    assert torch.allclose(emb["spectrum"].norm(dim=-1), torch.ones(4), atol=1e-5)
    metrics = result["metrics"]
    key = "val/recall@1/spectrum-metadata"
    assert key + "/chance" in metrics
    assert 0 <= metrics[key + "/ci_low"] <= metrics[key] <= metrics[key + "/ci_high"] <= 1
    # experiment=seisclip trains on the noise traces too, which only the anchor's segment pair can use
    assert metrics["val/loss/spectrum-segments"] > 0 and metrics["val/present/metadata"] < 0.9
    assert torch.isfinite(torch.tensor(metrics["val/loss"]))


def wandb_history_keys(path: Path) -> set[str]:
    """Metric names logged in an offline `run-*.wandb` file: a 7-byte W&B header, then a LevelDB-style log of
    32 KiB blocks whose records (crc32, length, type; 1 full, 2 first, 3 middle, 4 last) carry protobuf Records."""
    from wandb.proto import wandb_internal_pb2

    data, keys, pos, pending = path.read_bytes(), set(), 7, b""
    while pos + 7 <= len(data):
        if 32768 - pos % 32768 < 7:
            pos += 32768 - pos % 32768
            continue
        length, kind = int.from_bytes(data[pos + 4: pos + 6], "little"), data[pos + 6]
        pending += data[pos + 7: pos + 7 + length]
        pos += 7 + length
        if kind in (1, 4):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            pending = b""
            if record.WhichOneof("record_type") == "history":
                keys |= {item.key or "/".join(item.nested_key) for item in record.history.item}
        elif kind == 0:
            break
    return keys


def test_wandb_offline_run_holds_the_losses(tmp_path: Path, synthetic_root: Path) -> None:
    run_train(tmp_path, synthetic_root, "logger=wandb")
    runs = list(tmp_path.glob("wandb/offline-run-*/run-*.wandb"))
    assert runs, f"no offline W&B run under {tmp_path}"
    for _ in range(60):  # wandb's service process may still be writing the file after finish() returns
        keys = wandb_history_keys(runs[0])
        if "val/loss" in keys:
            break
        time.sleep(0.5)
    assert {"train/loss/spectrum-metadata", "val/loss", "val/recall@1/spectrum-metadata"} <= keys, sorted(keys)
    assert "WANDB_API_KEY" not in runs[0].read_bytes().decode("latin-1")


class Crash(RuntimeError):
    pass


class CrashInSecondEpoch(Callback):
    """Kills the run at the first batch of epoch 1, after epoch 0's checkpoint was written."""

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if trainer.current_epoch == 1:
            raise Crash("simulated failure")


class RecordFinalState(Callback):
    """The truth a checkpoint is compared with: the weights and step the trainer holds when fitting ends."""

    final: dict = {}

    def on_fit_end(self, trainer, pl_module) -> None:
        RecordFinalState.final = {"global_step": trainer.global_step,
                                  "state_dict": {k: v.detach().clone() for k, v in pl_module.state_dict().items()}}


RECORD = "+callbacks.record._target_=tests.test_train.RecordFinalState"


def assert_same_weights(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-5, atol=1e-6)


def test_last_checkpoint_is_the_final_state_when_validation_loss_rises(tmp_path: Path, synthetic_root: Path) -> None:
    # mode=max makes the first epoch the best one from then on, as a validation loss that rises after it would:
    # Lightning's save_last then refreshed last.ckpt with the top-k save only, leaving epoch 0 in it.
    result = run_train(tmp_path, synthetic_root, "logger=none", "trainer.max_epochs=3", RECORD,
                       "callbacks.model_checkpoint.mode=max")
    last = torch.load(result["checkpoint"], map_location="cpu", weights_only=True)
    truth = RecordFinalState.final
    assert last["epoch"] == 2 and last["global_step"] == truth["global_step"] > 0
    assert_same_weights(last["state_dict"], truth["state_dict"])
    best = torch.load(result["best"], map_location="cpu", weights_only=True)
    assert best["global_step"] < last["global_step"]


def test_resume_ends_with_the_same_weights(tmp_path: Path, synthetic_root: Path) -> None:
    common = ["logger=none", "trainer.max_epochs=2", "seed=3"]
    run_train(tmp_path / "a", synthetic_root, *common, RECORD)
    truth = RecordFinalState.final
    with pytest.raises(Crash):
        run_train(tmp_path / "b", synthetic_root, *common,
                  "+callbacks.crash._target_=tests.test_train.CrashInSecondEpoch")
    (interrupted,) = (tmp_path / "b" / "checkpoints" / "seisclip").glob("*/last.ckpt")
    assert torch.load(interrupted, map_location="cpu", weights_only=True)["epoch"] == 0
    RecordFinalState.final = {}
    resumed = run_train(tmp_path / "c", synthetic_root, *common, f"ckpt_path={interrupted}", RECORD)
    assert RecordFinalState.final["global_step"] == truth["global_step"]
    # Against the uninterrupted run's in-memory weights, not against another checkpoint file.
    assert_same_weights(torch.load(resumed["checkpoint"], map_location="cpu", weights_only=True)["state_dict"],
                        truth["state_dict"])


@pytest.mark.parametrize("flag", ["trainer.max_steps=3", "trainer.limit_train_batches=2",
                                  "trainer.fast_dev_run=true"])
def test_smoke_flags_end_with_a_current_checkpoint(tmp_path: Path, synthetic_root: Path, flag: str) -> None:
    result = run_train(tmp_path, synthetic_root, "logger=none", "trainer.max_epochs=2",
                       flag, RECORD)
    last = torch.load(result["checkpoint"], map_location="cpu", weights_only=True)
    assert last["global_step"] == RecordFinalState.final["global_step"] == {
        "trainer.max_steps=3": 3, "trainer.limit_train_batches=2": 4, "trainer.fast_dev_run=true": 1}[flag]


@pytest.mark.parametrize(("override", "message"), [
    ("data.batch_size=0", r"data\.batch_size=0: must be a whole number >= 1"),
    ("data.batch_size=5000", r"data\.batch_size=5000 is larger than the \d+ training traces"),
    ("+data.rot=/data", r"data\.rot: no such setting \(known: root, "),
])
def test_bad_data_settings_fail_at_start(tmp_path: Path, synthetic_root: Path, override: str, message: str) -> None:
    with pytest.raises(SeisbindInputError, match=message):
        run_train(tmp_path, synthetic_root, "logger=none", override)


def test_skipped_traces_are_totalled_per_epoch_and_for_the_run(tmp_path: Path, synthetic_root: Path,
                                                               capsys: pytest.CaptureFixture) -> None:
    root = tmp_path / "root"
    shutil.copytree(synthetic_root, root)
    names = pd.read_csv(next(root.glob("metadata_Instance_events*.csv")), usecols=["trace_name"])["trace_name"]
    bad = list(names[::6])
    with h5py.File(next(root.glob("Instance_events_counts*.hdf5")), "a") as f:
        for name in bad:
            del f["data"][name]
    run_train(tmp_path / "run", root, "logger=csv", "trainer.max_epochs=2", "trainer.log_every_n_steps=50")
    (metrics_csv,) = (tmp_path / "run").rglob("metrics.csv")
    logged = pd.read_csv(metrics_csv)
    per_epoch = logged.dropna(subset=["train/bad_traces"])
    val = logged.dropna(subset=["val/bad_traces"])["val/bad_traces"]
    # One total per epoch (not per logged step); shuffling with drop_last leaves different traces unseen.
    assert len(per_epoch) == 2 and (per_epoch["train/bad_traces"] > 0).all() and len(val) == 2
    printed = capsys.readouterr().out
    count = int(printed.split("skipped ")[1].split()[0])
    assert per_epoch["train/bad_traces"].max() + val.iloc[0] <= count <= len(bad)
    assert "no dataset data/<trace>" in printed


@pytest.mark.parametrize(("override", "message"), [
    ("anchor=catalog", "anchor='catalog' is not among"),
    ("+pairs.animal=1.0", "pairs.animal names a modality that is not configured"),
    ("modality=[spectrum]", "at least one other modality"),
])
def test_bad_config_fails_at_start(tmp_path: Path, synthetic_root: Path, override: str, message: str) -> None:
    with pytest.raises(SeisbindInputError, match=message.replace("(", r"\(")):
        run_train(tmp_path, synthetic_root, "logger=none", override)


def test_indivisible_spectrum_fails_before_training(tmp_path: Path, synthetic_root: Path) -> None:
    with pytest.raises(SeisbindInputError, match="modality.spectrum.encoder: .*cannot be divided"):
        run_train(tmp_path, synthetic_root, "logger=none", "+modality.spectrum.encoder.patch=[512,16]")


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = os.environ | {"WANDB_MODE": "offline", "SEISBIND_ROOT": str(cwd)}
    return subprocess.run([sys.executable, str(ROOT / "train.py"), *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=900)


@pytest.mark.slow
def test_cli_prints_checkpoint_and_multirun_sweeps(tmp_path: Path, synthetic_root: Path) -> None:
    common = [f"data.root={synthetic_root}", "logger=csv", *FAST]
    single = _cli("experiment=seisclip", *common, cwd=tmp_path)
    assert single.returncode == 0, single.stderr[-3000:]
    last_line = single.stdout.strip().splitlines()[-1]
    assert last_line.startswith("checkpoint: ") and Path(last_line.removeprefix("checkpoint: ")).is_file()

    sweep = _cli("-m", "experiment=seisclip", "seed=1,2", *common, cwd=tmp_path)
    assert sweep.returncode == 0, sweep.stderr[-3000:]
    runs = sorted((tmp_path / "checkpoints" / "seisclip").glob("*_job*"))
    assert len(runs) == 2 and all((r / "last.ckpt").is_file() for r in runs)

    optuna = _cli("-m", "hparams_search=optuna", "experiment=seisclip", "hydra.sweeper.n_trials=2",
                  "hydra.sweeper.sampler.n_startup_trials=1", *common, cwd=tmp_path)
    assert optuna.returncode == 0, optuna.stderr[-3000:]
    assert "Best value:" in optuna.stdout + optuna.stderr and optuna.stdout.count("checkpoint: ") == 2

    unknown = _cli("experiment=seisclip", "modality=[spectrum,gps]", *common, cwd=tmp_path)
    assert unknown.returncode != 0 and "gps" in unknown.stderr


@pytest.mark.slow
def test_two_process_ddp_on_cpu(tmp_path: Path, synthetic_root: Path) -> None:
    result = run_train(tmp_path, synthetic_root, "logger=csv", "trainer=ddp_sim")
    assert Path(result["checkpoint"]).is_file()


def test_seisimagebind_trains_all_pairs_and_reports_emergent_alignment(tmp_path: Path, synthetic_root: Path) -> None:
    cfg = compose_config("train", [f"data.root={synthetic_root}", "experiment=seisimagebind", *FAST, "logger=none"],
                         tmp_path)
    metrics = train(cfg)["metrics"]
    for pair in ("spectrum-metadata", "spectrum-catalog", "spectrum-animal"):
        assert f"val/loss/{pair}" in metrics
    # catalog<->animal is never trained: its recall is measured next to its chance level.
    assert "val/recall@1/catalog-animal" in metrics and "val/recall@1/catalog-animal/chance" in metrics
    assert "val/loss/catalog-animal" not in metrics


@pytest.mark.slow
def test_multirun_through_submitit_local_launcher(tmp_path: Path, synthetic_root: Path) -> None:
    sweep = _cli("-m", "hydra/launcher=local", "experiment=seisclip", "seed=1,2", f"data.root={synthetic_root}",
                 "logger=csv", *FAST, cwd=tmp_path)
    assert sweep.returncode == 0, sweep.stderr[-3000:]
    # submitit ran each job in its own process and kept its logs and pickled results.
    results = sorted(tmp_path.glob("runs/**/.submitit/*/*_result.pkl"))
    assert len(results) == 2, sorted(str(p) for p in tmp_path.rglob(".submitit/*/*"))[:20]
    runs = sorted((tmp_path / "checkpoints" / "seisclip").glob("*_job*"))
    assert len(runs) == 2 and all((r / "last.ckpt").is_file() for r in runs)


def test_slurm_trainer_config_builds_a_requeueing_slurm_environment(tmp_path: Path, synthetic_root: Path) -> None:
    from hydra.utils import instantiate
    from lightning.pytorch.plugins.environments import SLURMEnvironment

    cfg = compose_config("train", [f"data.root={synthetic_root}", "experiment=seisclip", "trainer=slurm"], tmp_path)
    plugins = [instantiate(p) for p in cfg.trainer.plugins]
    (slurm,) = [p for p in plugins if isinstance(p, SLURMEnvironment)]
    assert slurm.auto_requeue and int(slurm.requeue_signal) == 12
    assert cfg.trainer.strategy == "ddp" and cfg.trainer.accelerator == "gpu"


def test_run_name_is_stable_under_slurm(monkeypatch: pytest.MonkeyPatch) -> None:
    from seisbind.config import run_name

    monkeypatch.setenv("SLURM_ARRAY_JOB_ID", "4242")
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "3")
    assert run_name() == run_name() == "slurm4242_3"


@pytest.mark.slow
def test_ddp_recall_is_computed_over_all_ranks(tmp_path: Path, synthetic_root: Path) -> None:
    """Recall@k from 2 gloo processes equals one process's recall on the whole validation set, same weights."""
    from seisbind.train import build_datamodule

    common = ["logger=none", "data.batch_size=8"]
    result = run_train(tmp_path / "ddp", synthetic_root, *common, "trainer=ddp_sim")
    key = "val/recall@5/spectrum-metadata"
    model = SeisBindModule.from_checkpoint(result["checkpoint"])
    cfg = compose_config("train", [f"data.root={synthetic_root}", "experiment=seisclip", *FAST, *common], tmp_path)
    import lightning as L

    single = L.Trainer(accelerator="cpu", devices=1, logger=False, enable_progress_bar=False,
                       enable_checkpointing=False).validate(model, datamodule=build_datamodule(cfg), verbose=False)
    assert result["metrics"][key] == pytest.approx(single[0][key], abs=1e-6)
    assert result["metrics"][key + "/chance"] == pytest.approx(single[0][key + "/chance"], abs=1e-9)
