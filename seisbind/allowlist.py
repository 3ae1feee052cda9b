"""What a configuration may instantiate or call: seisbind's modality parts, its file readers, a few optimisers.

A checkpoint names the classes that rebuild its model (`_target_` entries in its hyperparameters). Reading the
file with `torch.load(weights_only=True)` stops its pickle from running code, but `hydra.utils.instantiate` then
calls whatever a `_target_` names: `torch.load` with `weights_only: false` on a second file, `numpy.load` with
`allow_pickle: true`, or a function reached through some module's globals (`seisbind.modalities.gnss.np.load`).
So every `_target_` of a model's hyperparameters is checked before anything is built, whether they come from a
checkpoint (`ckpt=`, `ckpt_path=`, `model.init_from=`, Lightning's `load_from_checkpoint`) or from a config:

- a class defined in one of `BUILDABLE` (encoders, on-device transforms, heads, modality inputs, feature
  families), or a classmethod of one (`SpectrumTransformer.from_preset`), named by its own module and qualified
  name, so no import elsewhere can be reached through it;
- or one of `OPTIMIZERS`.

A modality's `source.reader` is a function the data layer calls with the files its glob matches
(seisbind/data/tables.py); `subprocess.run` there would execute them. Readers are checked where they are
resolved (`allowed_reader`): a function named `read_*` defined in `READERS`.

A new modality's encoder, input or reader lives in those packages and is allowed without further edits; a class
elsewhere must move there. Interpolations (`${...}`) are refused too: saved hyperparameters are resolved values
(seisbind/config.py:plain), and a resolver could read the environment.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

from hydra.utils import get_object

from seisbind.errors import SeisbindInputError

BUILDABLE = ("seisbind.modalities",)
READERS = ("seisbind.data",)
OPTIMIZERS = frozenset({"torch.optim.AdamW", "torch.optim.Adam", "torch.optim.SGD"})
MOVED = {
    "seisbind.data.inputs.WaveformInput": "seisbind.modalities.waveform.WaveformInput",
    "seisbind.data.inputs.MetadataInput": "seisbind.modalities.metadata.MetadataInput",
    "seisbind.data.inputs.SeisCLIPInfoInput": "seisbind.modalities.metadata.SeisCLIPInfoInput",
    "seisbind.data.inputs.CatalogInput": "seisbind.modalities.catalog.CatalogInput",
    "seisbind.data.inputs.AnimalInput": "seisbind.modalities.animal.AnimalInput",
    "seisbind.probe.families.CatalogFamily": "seisbind.modalities.catalog.CatalogFamily",
    "seisbind.probe.families.WaveformMetaFamily": "seisbind.modalities.metadata.WaveformMetaFamily",
    "seisbind.probe.families.AnimalFamily": "seisbind.modalities.animal.AnimalFamily",
}
"""Former names (seisbind.data.inputs, seisbind.probe.families) of the inputs and families that moved into
seisbind/modalities/ -> their names now, so that checkpoints saved before keep loading (`current_names`)."""


def check_targets(node: Any, key: str) -> None:
    """Raise `SeisbindInputError` naming `key.<path>._target_` and the target for the first entry of `node`
    (nested dicts and lists) that may not be instantiated, or naming `key.<path>` for an interpolation."""
    if isinstance(node, Mapping):
        for name, value in node.items():
            where = f"{key}.{name}"
            if name == "_target_" and not _allowed_at(value, where):
                raise SeisbindInputError(
                    f"{where}={value!r}: not a buildable target; a model is built only from classes defined in "
                    f"{', '.join(p + '/' for p in BUILDABLE)} (seisbind) and from {sorted(OPTIMIZERS)}")
            check_targets(value, where)
    elif isinstance(node, (list, tuple)):
        for i, value in enumerate(node):
            check_targets(value, f"{key}[{i}]")
    elif isinstance(node, str) and "${" in node:
        raise SeisbindInputError(f"{key}={node!r}: an interpolation; a model's settings must be plain values")


def _allowed_at(target: Any, where: str) -> bool:
    """`allowed(target)`, with `where` (the config key) named when the target's module cannot be imported."""
    try:
        return allowed(target)
    except SeisbindInputError as err:
        raise SeisbindInputError(f"{where}={target!r}: {err}") from None


def current_names(node: Any) -> Any:
    """`node` (nested dicts and lists) with every `_target_` of `MOVED` replaced by its current name."""
    if isinstance(node, Mapping):
        return {name: MOVED.get(value, value) if name == "_target_" and isinstance(value, str)
                else current_names(value) for name, value in node.items()}
    if isinstance(node, (list, tuple)):
        return [current_names(value) for value in node]
    return node


def allowed(target: Any) -> bool:
    """Whether `target` (a dotted name) names an optimiser of `OPTIMIZERS` or a class of `BUILDABLE` (or one of
    its classmethods) by its canonical name. Only modules under `BUILDABLE` are imported to find out."""
    if target in OPTIMIZERS:
        return True
    obj = _resolve(target, BUILDABLE)
    owner, suffix = (obj.__self__, f".{obj.__name__}") if inspect.ismethod(obj) else (obj, "")
    return isinstance(owner, type) and _defined_in(owner, BUILDABLE) and _canonical(owner, suffix) == target


def allowed_reader(reader: Any) -> bool:
    """Whether `reader` names, by its canonical name, a function `read_*` defined under `READERS`."""
    obj = _resolve(reader, READERS)
    return (inspect.isfunction(obj) and obj.__name__.startswith("read_") and _defined_in(obj, READERS)
            and _canonical(obj) == reader)


def _resolve(name: Any, packages: tuple[str, ...]) -> Any:
    """The object a dotted name under `packages` names, or None (nothing outside them is imported). A module that
    exists but cannot import a package it needs raises SeisbindInputError naming that package: the name may well
    be allowed, and "not allowed" would send the user after the wrong cause."""
    if not isinstance(name, str) or not any(name.startswith(package + ".") for package in packages):
        return None
    try:
        return get_object(name)
    except Exception as err:  # noqa: BLE001 - a name that does not resolve is simply not allowed
        missing = _missing_dependency(err, name)
        if missing:
            raise SeisbindInputError(f"cannot be imported: the module {name!r} is in needs {missing!r}, which "
                                     "this environment lacks (make install installs requirements.lock)") from None
        return None


def _missing_dependency(err: BaseException, name: str) -> str | None:
    """The module that an import inside `name`'s own module failed to find, from the exception chain; None when
    what is missing is `name` or one of its parents (the name itself does not exist)."""
    while err is not None:
        if isinstance(err, ModuleNotFoundError) and err.name and not (name + ".").startswith(err.name + "."):
            return err.name
        err = err.__cause__ or err.__context__
    return None


def _defined_in(obj: Any, packages: tuple[str, ...]) -> bool:
    module = getattr(obj, "__module__", None) or ""
    return any(module == p or module.startswith(p + ".") for p in packages)


def _canonical(obj: Any, suffix: str = "") -> str:
    return f"{obj.__module__}.{obj.__qualname__}{suffix}"
