"""What every entry point (`train.py`, `probe.py`, `scripts/*.py`) does with a user error.

A `SeisbindInputError` (or `SeisbindOutputError`: an output that could not be written) already names the file,
line, trace or config key and what to change; a traceback below it only hides that line. So it is printed alone on
stderr and the process exits with status 2 (the shell convention for bad usage). `HYDRA_FULL_ERROR=1` re-raises
it, traceback included, for debugging.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from hydra import compose, initialize_config_dir
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import ConfigAttributeError, ConfigKeyError, OmegaConfBaseException

from seisbind.errors import SeisbindInputError, SeisbindOutputError

P = ParamSpec("P")
R = TypeVar("R")

USAGE_EXIT_CODE = 2


def one_line(error: BaseException) -> str:
    """The error's message on one line (a multi-line message, e.g. from ObsPy, would read as several errors)."""
    return " ".join(str(error).split())


def report_user_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Wrap an entry point's main function: user errors become `error: MESSAGE` and exit status 2."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except (SeisbindInputError, SeisbindOutputError) as error:
            if os.environ.get("HYDRA_FULL_ERROR") == "1":
                raise
            print(f"error: {one_line(error)}", file=sys.stderr, flush=True)
            sys.exit(USAGE_EXIT_CODE)

    return wrapper


def check_overrides(config_dir: str | os.PathLike, config_name: str, argv: list[str] | None = None) -> None:
    """Compose `config_name` with the command line once before `@hydra.main` does, so that a misspelt key, a
    missing config group option or a bad override ends in one `error: ...` line and exit status 2; Hydra would
    report it on several lines with status 1, before the entry point's `report_user_errors` can see it. Hydra's
    own flags (`--multirun`, `--cfg`, ...) and `HYDRA_FULL_ERROR=1` leave the command line to Hydra."""
    args = sys.argv[1:] if argv is None else argv
    if os.environ.get("HYDRA_FULL_ERROR") == "1" or any(arg.startswith("-") for arg in args):
        return
    try:
        with initialize_config_dir(config_dir=str(config_dir), version_base="1.3"):
            compose(config_name, overrides=args)
    except (HydraException, OmegaConfBaseException) as error:
        print(f"error: {override_message(error)}", file=sys.stderr, flush=True)
        sys.exit(USAGE_EXIT_CODE)


def override_message(error: BaseException) -> str:
    """One line for a composition error: an unknown key is named with the keys its parent has."""
    cause = error.__cause__
    if isinstance(cause, (ConfigAttributeError, ConfigKeyError)) and isinstance(cause.parent_node, DictConfig):
        parent, _, _ = str(cause.full_key).rpartition(".")
        known = ", ".join(str(k) for k in cause.parent_node if not str(k).startswith("_"))
        return (f"unknown config key '{cause.full_key}' (known under '{parent or '<top level>'}': {known}); "
                f"to add a key the config lacks, write +{cause.full_key}=...")
    return one_line(error)


def cli_options(schema: type[Any], argv: list[str] | None = None) -> Any:
    """`key=value` arguments merged into the dataclass `schema` (a script's typed options): an unknown key, a value
    of the wrong type or a required key left at `???` is a user error naming the key."""
    name = os.path.basename(sys.argv[0]) or "script"
    try:
        merged = OmegaConf.merge(OmegaConf.structured(schema),
                                 OmegaConf.from_dotlist(sys.argv[1:] if argv is None else argv))
        missing = sorted(OmegaConf.missing_keys(merged))
        if missing:
            raise SeisbindInputError(f"{name}: set {', '.join(f'{k}=...' for k in missing)}")
        return OmegaConf.to_object(merged)
    except OmegaConfBaseException as error:
        # OmegaConf appends full_key/object_type lines that repeat the key: the first line says it all.
        raise SeisbindInputError(f"{name}: bad argument: {str(error).splitlines()[0]}") from error
