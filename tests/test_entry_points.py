"""Every entry point answers a user error with one line naming what to fix, exit status 2, no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from seisbind.errors import SeisbindInputError
from seisbind.files import folder_lock
from seisbind.probe.study import run_study
from seisbind.train import train
from tests.conftest import compose_config

ROOT = Path(__file__).resolve().parents[1]


def run(script: str, *args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"} | {"WANDB_MODE": "offline"} | env
    return subprocess.run([sys.executable, str(ROOT / script), *args], cwd=cwd, env=environ, capture_output=True,
                          text=True, timeout=300)


def assert_user_error(done: subprocess.CompletedProcess, *needles: str) -> None:
    assert done.returncode == 2, done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, done.stderr[-2000:]
    for needle in needles:
        assert needle in errors[0], errors[0]


@pytest.mark.parametrize(("script", "args", "needles"), [
    ("train.py", ["experiment=seisclip", "data.root=NOWHERE", "logger=none"], ["NOWHERE", "not a folder"]),
    ("probe.py", ["data.root=NOWHERE"], ["data.root=NOWHERE", "not a folder"]),
    # Typed configs (seisbind/config_schema.py) are checked before the data root is looked at.
    ("probe.py", ["data.root=NOWHERE", "probe.n_permutations=abc"], ["probe.n_permutations", "'abc'", "Integer"]),
    ("probe.py", ["data.root=NOWHERE", "+probe.n_permutation=5"], ["probe.n_permutation:", "no such setting"]),
    ("probe.py", ["probe=stations", "data.stations=s.xml"], ["set data.waveforms=...", "event.time=..."]),
    ("train.py", ["experiment=seisclip", "data.root=NOWHERE", "logger=none", "data.batch_size=1.5"],
     ["data.batch_size", "'1.5'", "Integer"]),
    ("train.py", ["experiment=seisclip", "data.root=NOWHERE", "logger=none", "+data.rot=x"],
     ["data.rot:", "no such setting"]),
    # Composition errors: Hydra would report them on several lines with status 1 (seisbind.cli.check_overrides).
    ("train.py", ["experiment=seisclip", "data.root=NOWHERE", "trainer.max_stepz=3"],
     ["unknown config key 'trainer.max_stepz'", "max_steps", "+trainer.max_stepz=..."]),
    ("train.py", ["experiment=seisclip", "modality=[spectrum,gnsss]"], ["modality/gnsss"]),
    ("scripts/make_synthetic.py", ["out=x", "n_trace=5"], ["n_trace"]),
    ("scripts/import_seisclip.py", ["src=missing.pt"], ["src=missing.pt", "no such file"]),
    ("scripts/import_seisclip.py", [], ["src=..."]),
], ids=["train-root", "probe-root", "probe-type", "probe-key", "stations-required", "train-type", "train-key",
        "train-unknown-key",
        "train-unknown-option", "synthetic-key", "seisclip-src", "seisclip-required"])
def test_user_errors_are_one_line(tmp_path: Path, script: str, args: list[str], needles: list[str]) -> None:
    assert_user_error(run(script, *args, cwd=tmp_path), *needles)


@pytest.mark.parametrize(("config", "args", "needles"), [
    ("probe", ["probe.horizons_hours=[]"], ["probe.horizons_hours=[]", "> 0 hours"]),
    ("probe", ["probe.n_permutations=0"], ["probe.n_permutations=0", ">= 1"]),
    ("train", ["experiment=seisclip", "logger=none", "data.split.val_fraction=1.5"],
     ["data.split.val_fraction=1.5", "(0, 1)"]),
    ("train", ["experiment=seisclip", "logger=none", "trainer.max_steps=-5"],
     ["trainer.max_steps=-5", "-1 (no limit)"]),
], ids=["probe-no-horizon", "probe-no-permutation", "train-val-fraction", "train-max-steps"])
def test_settings_out_of_range_are_refused_before_any_data_is_read(tmp_path: Path, config: str, args: list[str],
                                                                    needles: list[str]) -> None:
    """The checks of the start-up (the one-line path through the scripts is the test above); in-process, since a
    subprocess per setting costs ~8 s of imports."""
    entry = run_study if config == "probe" else train
    with pytest.raises(SeisbindInputError) as refused:
        entry(compose_config(config, ["data.root=NOWHERE", *args], tmp_path))
    for needle in needles:
        assert needle in str(refused.value)


def test_a_key_the_config_lacks_is_one_line(tmp_path: Path) -> None:
    done = run("probe.py", "data.root=NOWHERE", "probe.n_permutation=5", cwd=tmp_path)
    assert_user_error(done, "unknown config key 'probe.n_permutation'")


def test_a_second_probe_run_on_the_same_out_is_one_line_and_leaves_the_first_alone(tmp_path: Path) -> None:
    """While one run holds out= (seisbind.files.folder_lock), another with the same out= stops before writing."""
    out = tmp_path / "out"
    with folder_lock(out, "out"):
        (out / "metrics.json").write_text("the first run's")
        done = run("probe.py", "data.root=NOWHERE", f"out={out}", cwd=tmp_path)
        assert_user_error(done, f"out={out} is in use by another run (pid {os.getpid()})")
        assert (out / "metrics.json").read_text() == "the first run's"
    done = run("probe.py", "data.root=NOWHERE", f"out={out}", cwd=tmp_path)
    assert done.returncode == 2 and "in use" not in done.stderr   # released: the run goes on to the data


def test_corrupt_probe_checkpoint_is_one_line(tmp_path: Path, synthetic_root: Path) -> None:
    (tmp_path / "x.ckpt").write_bytes(b"PK\x03\x04 not a whole file")
    done = run("probe.py", f"data.root={synthetic_root}", "ckpt=x.ckpt", "out=out", "probe.n_bootstrap=20",
               "probe.n_permutations=20", cwd=tmp_path)
    assert_user_error(done, "ckpt=x.ckpt", "corrupt or truncated")


def test_hydra_full_error_shows_the_traceback(tmp_path: Path) -> None:
    done = run("probe.py", "data.root=NOWHERE", cwd=tmp_path, HYDRA_FULL_ERROR="1")
    assert done.returncode != 0 and "Traceback" in done.stderr and "SeisbindInputError" in done.stderr
