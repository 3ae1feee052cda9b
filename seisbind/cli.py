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

from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

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
