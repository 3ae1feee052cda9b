"""User-supplied checkpoints never run code; checkpoints and outputs are never left half-written."""

from __future__ import annotations

import errno
import sys
from pathlib import Path

import lightning
import pandas as pd
import pytest
import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO
from omegaconf import OmegaConf

from seisbind.allowlist import allowed, allowed_reader, check_targets
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


# ----------------------------------------------------------------------------------- hyperparameters that run code
CONFIG_DIR = Path(__file__).resolve().parents[1] / "configs"


def _tiny_model() -> SeisBindModule:
    """The spectrum + metadata model of the repository's configs, small enough to save in a test."""
    modality = {name: OmegaConf.to_container(OmegaConf.load(CONFIG_DIR / "modality" / f"{name}.yaml")[name],
                                             resolve=True) for name in ("spectrum", "metadata")}
    return SeisBindModule(modality, {"spectrum": [3, 12000], "metadata": [8]}, anchor="spectrum", embed_dim=16)


@pytest.fixture
def hostile_hparams(tmp_path: Path) -> tuple[Path, Path]:
    """A checkpoint with real weights whose hyperparameters rebuild the spectrum encoder with
    `torch.load(second_file, weights_only=False)`: building the model would unpickle the second file."""
    marker = tmp_path / "code-ran"
    second = tmp_path / "second.pt"
    torch.save(WritesFileWhenUnpickled(marker), second)
    model = _tiny_model()
    hparams = dict(model.hparams)
    hparams["modality"]["spectrum"]["encoder"] = {"_target_": "torch.load", "f": str(second),
                                                   "weights_only": False}
    path = tmp_path / "hostile.ckpt"
    torch.save({"state_dict": model.state_dict(), "hyper_parameters": hparams,
                "pytorch-lightning_version": lightning.__version__}, path)
    assert not marker.exists()
    return path, marker


REFUSED = r"hyper_parameters\.modality\.spectrum\.encoder\._target_='torch\.load': not a buildable target"


def test_probe_ckpt_refuses_hyperparameters_that_run_code(tmp_path: Path, synthetic_root: Path,
                                                          hostile_hparams: tuple[Path, Path]) -> None:
    path, marker = hostile_hparams
    cfg = compose_config("probe", [f"data.root={synthetic_root}", f"ckpt={path}", f"out={tmp_path / 'out'}",
                                   "probe.n_bootstrap=20", "probe.n_permutations=20", "probe.n_jobs=1"], tmp_path)
    with pytest.raises(SeisbindInputError, match=rf"^ckpt=.*hostile\.ckpt: {REFUSED}"):
        run_study(cfg)
    with pytest.raises(SeisbindInputError, match=REFUSED):
        SeisBindModule.from_checkpoint(path)
    with pytest.raises(SeisbindInputError, match=r"modality\.spectrum\.encoder\._target_='torch\.load'"):
        SeisBindModule.load_from_checkpoint(path, weights_only=True)   # Lightning's own loader builds via __init__
    assert not marker.exists()


@pytest.mark.parametrize("key", ["ckpt_path", "model.init_from"])
def test_training_refuses_hyperparameters_that_run_code(tmp_path: Path, synthetic_root: Path, key: str,
                                                        hostile_hparams: tuple[Path, Path]) -> None:
    path, marker = hostile_hparams
    cfg = compose_config("train", [f"data.root={synthetic_root}", *FAST, f"{key}={path}"], tmp_path)
    with pytest.raises(SeisbindInputError, match=rf"^{key}=.*hostile\.ckpt: {REFUSED}"):
        train(cfg)
    with pytest.raises(SeisbindInputError, match=REFUSED):
        SafeCheckpointIO().load_checkpoint(path)   # Lightning's resume, also reached by ddp_spawn
    assert not marker.exists()


def test_every_configured_target_is_buildable() -> None:
    """A model built from the repository's own configs passes the guard: each modality's input, preprocess and
    encoder, and the optimiser."""
    targets = []
    for path in sorted((CONFIG_DIR / "modality").glob("*.yaml")):
        for name, modality in OmegaConf.to_container(OmegaConf.load(path), resolve=True).items():
            check_targets({k: v for k, v in modality.items() if k in ("input", "preprocess", "encoder")},
                          f"{path.name}:{name}")
            targets += [modality[k]["_target_"] for k in ("input", "preprocess", "encoder") if modality.get(k)]
    check_targets(OmegaConf.to_container(OmegaConf.load(CONFIG_DIR / "model" / "default.yaml"))["optimizer"],
                  "model.optimizer")
    assert len(targets) >= 12 and all(allowed(t) for t in targets)


@pytest.mark.parametrize("target", [
    "torch.load", "numpy.load", "builtins.exec", "os.system", "subprocess.run",
    "seisbind.modalities.gnss.np.load",             # a module's globals reach anything it imported
    "seisbind.modalities.spectrum.torch.load",
    "seisbind.modalities.catalog.pd.read_pickle",
    "seisbind.checkpoints.load_untrusted",          # seisbind's own, but not a buildable part
    "seisbind.data.synthetic.write_synthetic",
    "seisbind.modalities.spectra.seisclip_stft_frames",   # a function, not a class
    "seisbind.modalities.no_such_module.Thing",
    "seisbind.modalitiesX.Thing",
    "torch.optim.AdamW.__init__.__globals__",
])
def test_unlisted_targets_are_refused(target: str) -> None:
    assert not allowed(target)
    with pytest.raises(SeisbindInputError, match=rf"^ckpt\.encoder\._target_='{target.replace('.', '[.]')}': "):
        check_targets({"encoder": {"_target_": target}}, "ckpt")


def test_a_target_whose_module_lacks_a_dependency_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    """An allowed class whose module cannot import what it needs is a broken install, not a refused target."""
    import seisbind.modalities.shaking  # noqa: F401  (loaded, as in a full run: the package holds it as an attribute)

    monkeypatch.delitem(sys.modules, "seisbind.modalities.shaking")
    monkeypatch.delattr(sys.modules["seisbind.modalities"], "shaking")
    monkeypatch.setitem(sys.modules, "seisbind.seismicity.ground_motion", None)
    with pytest.raises(SeisbindInputError, match=r"^ckpt\.f\._target_='seisbind\.modalities\.shaking\.ShakingFamily': "
                       r"cannot be imported: .* needs 'seisbind\.seismicity\.ground_motion', which this environment "
                       r"lacks \(make install"):
        check_targets({"f": {"_target_": "seisbind.modalities.shaking.ShakingFamily"}}, "ckpt")


def test_interpolations_and_odd_values_are_refused() -> None:
    with pytest.raises(SeisbindInputError, match=r"^m\.encoder\.dim='\$\{oc\.env:HOME\}': an interpolation"):
        check_targets({"encoder": {"_target_": "seisbind.modalities.tabular.TabularMLP", "dim": "${oc.env:HOME}"}},
                      "m")
    with pytest.raises(SeisbindInputError, match=r"^m\.x\[1\]\._target_=1:"):
        check_targets({"x": [{"a": 1}, {"_target_": 1}]}, "m")
    assert allowed("seisbind.modalities.spectrum.SpectrumTransformer.from_preset")
    assert allowed("torch.optim.AdamW")


def test_readers_are_only_seisbind_readers(tmp_path: Path) -> None:
    """A source's reader is called with the data root's files: `subprocess.run` there would execute them."""
    from seisbind.data.tables import SideTables

    marker = tmp_path / "code-ran"
    script = tmp_path / "animals" / "tags.csv"
    script.parent.mkdir()
    script.write_text(f"#!/bin/sh\ntouch {marker}\n")
    script.chmod(0o755)
    for reader in ("subprocess.run", "seisbind.data.movebank.subprocess.run", "seisbind.data.tables.get_object",
                   "seisbind.data.synthetic.animals.write_animals", "seisbind.data.movebank.pd.read_pickle"):
        with pytest.raises(SeisbindInputError, match=rf"^source reader '{reader.replace('.', '[.]')}': not a reader"):
            SideTables(tmp_path).load({"reader": reader, "glob": "animals/*.csv"})
    assert not marker.exists()
    for path in sorted((CONFIG_DIR / "modality").glob("*.yaml")):
        for modality in OmegaConf.to_container(OmegaConf.load(path), resolve=True).values():
            if modality.get("source"):
                assert allowed_reader(modality["source"]["reader"]), path


def test_resume_from_another_model_is_one_line(tmp_path: Path, synthetic_root: Path) -> None:
    path = tmp_path / "other.ckpt"
    model = _tiny_model()
    torch.save({"state_dict": model.state_dict(), "hyper_parameters": dict(model.hparams)}, path)
    cfg = compose_config("train", [f"data.root={synthetic_root}", *FAST, "modality=[spectrum,catalog]",
                                   f"ckpt_path={path}"], tmp_path)
    with pytest.raises(SeisbindInputError, match=r"^ckpt_path=.*other\.ckpt: not a checkpoint of this run's model "
                                                 r"\(missing \[.*unexpected \[") as error:
        train(cfg)
    assert "\n" not in str(error.value)


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


def test_checkpoint_naming_former_input_modules_loads(tmp_path: Path) -> None:
    """A checkpoint saved when the inputs lived in seisbind.data.inputs rebuilds its model, with today's names."""
    model = _tiny_model()
    hparams = dict(model.hparams)
    hparams["modality"]["spectrum"]["input"]["_target_"] = "seisbind.data.inputs.WaveformInput"
    hparams["modality"]["metadata"]["input"]["_target_"] = "seisbind.data.inputs.MetadataInput"
    hparams["modality"]["metadata"]["features"] = {"_target_": "seisbind.probe.families.WaveformMetaFamily"}
    path = tmp_path / "former.ckpt"
    torch.save({"state_dict": model.state_dict(), "hyper_parameters": hparams}, path)
    loaded = SeisBindModule.from_checkpoint(path)
    modality = loaded.hparams["modality"]
    assert modality["spectrum"]["input"]["_target_"] == "seisbind.modalities.waveform.WaveformInput"
    assert modality["metadata"]["input"]["_target_"] == "seisbind.modalities.metadata.MetadataInput"
    assert modality["metadata"]["features"]["_target_"] == "seisbind.modalities.metadata.WaveformMetaFamily"
    for name, tensor in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], tensor)
