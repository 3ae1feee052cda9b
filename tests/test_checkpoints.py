"""User-supplied checkpoints never run code; checkpoints and outputs are never left half-written."""

from __future__ import annotations

import errno
from pathlib import Path

import pandas as pd
import pytest
import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO

from seisbind.checkpoints import SafeCheckpointIO
from seisbind.errors import SeisbindInputError, SeisbindOutputError
from seisbind.files import write_csv
from seisbind.module import SeisBindModule
from seisbind.pretrained.seisclip import import_seisclip
from seisbind.probe.study import run_study
from seisbind.train import train
from tests.conftest import compose_config

FAST = ["experiment=seisclip", "trainer.max_epochs=1", "data.batch_size=16", "callbacks.progress_bar=null",
        "logger=none"]


class WritesFileWhenUnpickled:
    """A pickle payload: unpickling calls open(marker, "w"), i.e. runs code chosen by the file's author."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


@pytest.fixture
def malicious(tmp_path: Path) -> tuple[Path, Path]:
    marker = tmp_path / "code-ran"
    path = tmp_path / "malicious.ckpt"
    torch.save({"state_dict": {}, "hyper_parameters": {}, "payload": WritesFileWhenUnpickled(marker)}, path)
    assert not marker.exists()
    return path, marker


def test_probe_ckpt_refuses_code(tmp_path: Path, synthetic_root: Path, malicious: tuple[Path, Path]) -> None:
    path, marker = malicious
    cfg = compose_config("probe", [f"data.root={synthetic_root}", f"ckpt={path}", f"out={tmp_path / 'out'}",
                                   "probe.n_bootstrap=20", "probe.n_permutations=20",
                                   "probe.n_jobs=1"], tmp_path)
    with pytest.raises(SeisbindInputError, match=r"ckpt=.*malicious\.ckpt: refused: loading it would run code"):
        run_study(cfg)
    assert not marker.exists()


def test_resume_ckpt_path_refuses_code(tmp_path: Path, synthetic_root: Path, malicious: tuple[Path, Path]) -> None:
    path, marker = malicious
    cfg = compose_config("train", [f"data.root={synthetic_root}", *FAST, f"ckpt_path={path}"], tmp_path)
    with pytest.raises(SeisbindInputError, match=r"ckpt_path=.*malicious\.ckpt: refused"):
        train(cfg)
    assert not marker.exists()
    # Lightning's own resume goes through the same guard (the check above runs before it, so call it directly).
    with pytest.raises(SeisbindInputError, match="refused"):
        SafeCheckpointIO().load_checkpoint(path)
    assert not marker.exists()


def test_init_from_refuses_code(tmp_path: Path, synthetic_root: Path, malicious: tuple[Path, Path]) -> None:
    path, marker = malicious
    cfg = compose_config("train", [f"data.root={synthetic_root}", *FAST, f"model.init_from={path}"], tmp_path)
    with pytest.raises(SeisbindInputError, match=r"model\.init_from=.*malicious\.ckpt: refused"):
        train(cfg)
    assert not marker.exists()


def test_seisclip_importer_refuses_code(tmp_path: Path, malicious: tuple[Path, Path]) -> None:
    path, marker = malicious
    with pytest.raises(SeisbindInputError, match=r"src=.*malicious\.ckpt: refused"):
        import_seisclip(path, tmp_path / "out.ckpt")
    assert not marker.exists() and not (tmp_path / "out.ckpt").exists()


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04 truncated zip", b"\x80\x02}q\x00(X\x01"],
                         ids=["empty", "truncated-zip", "truncated-pickle"])
def test_corrupt_checkpoint_is_named(tmp_path: Path, synthetic_root: Path, content: bytes) -> None:
    path = tmp_path / "bad.ckpt"
    path.write_bytes(content)
    with pytest.raises(SeisbindInputError, match=r"ckpt=.*bad\.ckpt: ") as probe_error:
        SeisBindModule.from_checkpoint(path)
    assert "\n" not in str(probe_error.value)
    cfg = compose_config("train", [f"data.root={synthetic_root}", *FAST, f"ckpt_path={path}"], tmp_path)
    with pytest.raises(SeisbindInputError, match=r"ckpt_path=.*bad\.ckpt: "):
        train(cfg)


def test_missing_checkpoint_is_named(tmp_path: Path) -> None:
    with pytest.raises(SeisbindInputError, match=r"ckpt=.*nowhere\.ckpt: no such file"):
        SeisBindModule.from_checkpoint(tmp_path / "nowhere.ckpt")


def _disk_full_after(n_bytes: int):
    """A writer that puts `n_bytes` into the file it was given and then fails as a full disk does."""

    def write(path: str | Path) -> None:
        Path(path).write_bytes(b"x" * n_bytes)
        raise OSError(errno.ENOSPC, "No space left on device")

    return write


def test_full_disk_leaves_no_partial_checkpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    final = tmp_path / "best-000.ckpt"
    monkeypatch.setattr(TorchCheckpointIO, "save_checkpoint",
                        lambda self, checkpoint, path, storage_options=None: _disk_full_after(1000)(path))
    with pytest.raises(SeisbindOutputError, match=r"best-000\.ckpt: could not be written \(No space left"):
        SafeCheckpointIO().save_checkpoint({"state_dict": {}}, final)
    assert list(tmp_path.iterdir()) == []


def test_full_disk_keeps_the_previous_file_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    final = tmp_path / "windows.csv"
    write_csv(final, pd.DataFrame({"window_id": [1, 2]}))
    before = final.read_bytes()
    monkeypatch.setattr(pd.DataFrame, "to_csv", lambda self, path, **kw: _disk_full_after(7)(path))
    with pytest.raises(SeisbindOutputError, match=r"windows\.csv: could not be written"):
        write_csv(final, pd.DataFrame({"window_id": range(1000)}))
    assert final.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["windows.csv"]
