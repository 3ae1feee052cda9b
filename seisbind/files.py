"""Writing output files so that a crash never leaves a partial file under the final name.

Every file seisbind writes (checkpoints, windows.csv, metrics.json, plots, parquet) is written to a temporary name
in the same folder and renamed onto its final name only when complete: `os.replace` is atomic within a file
system, so a reader (or a resumed run) sees the old file or the whole new one, never half of one.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from seisbind.errors import SeisbindOutputError


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to `path` (same suffix, so writers that infer the format from it still work);
    on success it is renamed onto `path`, on any failure removed. An OSError (disk full, read-only folder)
    becomes a `SeisbindOutputError` naming `path`."""
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.tmp{os.getpid()}{path.suffix}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        yield tmp
        os.replace(tmp, path)
    except OSError as error:
        tmp.unlink(missing_ok=True)
        raise SeisbindOutputError(
            f"{path}: could not be written ({error.strerror or error}); no partial file was left under this "
            "name: free disk space or choose another output folder") from error
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def jsonable(value: Any) -> Any:
    """Strict-JSON form of nested results: NaN/inf -> null, numpy scalars and arrays -> Python, keys -> str."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [jsonable(v) for v in value]
    if isinstance(value, (np.integer, np.bool_)):
        return value.item()
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, (datetime, np.datetime64)):
        return pd.Timestamp(value).isoformat()
    return value


def write_json(path: str | os.PathLike, value: Any, indent: int = 1) -> None:
    """`value` as strict JSON (see `jsonable`), written atomically."""
    text = json.dumps(jsonable(value), indent=indent, allow_nan=False)
    with atomic_path(path) as tmp:
        tmp.write_text(text + "\n")


def write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_csv(path: str | os.PathLike, table: pd.DataFrame) -> None:
    """A table as CSV without the index, written atomically."""
    with atomic_path(path) as tmp:
        table.to_csv(tmp, index=False)


def save_figure(fig: Any, path: str | os.PathLike, **kwargs: Any) -> None:
    """A matplotlib figure saved atomically (the temporary name keeps the suffix that picks the format)."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, **kwargs)


LOCK_NAME = ".seisbind.lock"


@contextmanager
def folder_lock(folder: str | os.PathLike, key: str) -> Iterator[Path]:
    """Hold an exclusive lock on an output folder (created if needed) while a run writes into it, so a second run
    with the same folder stops with one line instead of silently replacing the first run's files one by one.

    An advisory `flock` on `LOCK_NAME` inside the folder, released by the kernel when the process ends however it
    ends (no stale lock after a crash); the file holds the holder's pid for the message. `key` is the config key
    that named the folder.
    """
    import fcntl

    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle = open(folder / LOCK_NAME, "a+")  # noqa: SIM115 - held open for the lock's lifetime
    except OSError as error:
        raise SeisbindOutputError(f"{key}={folder}: cannot be written ({error.strerror or error}); choose another "
                                  "folder") from error
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "?"
            raise SeisbindOutputError(f"{key}={folder} is in use by another run (pid {holder}); wait for it or "
                                      f"choose another {key}") from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        yield folder


class _KeepWriteError:
    """A binary file for h5py's file-object driver that keeps the first OSError of a write instead of raising it.

    HDF5 cannot recover from a failed write (h5py 3.16 with HDF5 2.0 raise at close, then crash when the file's id
    is freed at exit), so after a failure the writes are dropped, HDF5 closes the file cleanly, and `atomic_hdf5`
    raises the kept error then."""

    def __init__(self, raw: Any) -> None:
        self.raw, self.error = raw, None

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        size = len(view)
        try:
            while self.error is None and len(view):
                view = view[self.raw.write(view):]
        except OSError as error:
            self.error = error
        return size

    def truncate(self, size: int | None = None) -> int:
        try:
            return self.raw.truncate(size) if self.error is None else 0
        except OSError as error:
            self.error = error
            return 0

    def read(self, size: int = -1) -> bytes:
        return self.raw.read(size)

    def seek(self, offset: int, whence: int = 0) -> int:
        return self.raw.seek(offset, whence)

    def tell(self) -> int:
        return self.raw.tell()

    def flush(self) -> None:
        """Nothing to do: the file is unbuffered."""

    def failed(self) -> bool:
        return self.error is not None


@contextmanager
def atomic_hdf5(path: str | os.PathLike) -> Iterator[tuple[Any, Callable[[], bool]]]:
    """(h5py.File in mode "w", failed) for an HDF5 file written under a temporary name and renamed onto `path` when
    complete and synced, like `atomic_path`. A write that fails (disk full, file too large) is a
    `SeisbindOutputError` naming `path`, raised once HDF5 has closed the file, never an HDF5 crash; `failed()` says
    whether a write has failed already, so a long writer can stop early."""
    import h5py

    with atomic_path(path) as tmp, open(tmp, "w+b", buffering=0) as raw:
        kept = _KeepWriteError(raw)
        try:
            with h5py.File(kept, "w") as h5:
                yield h5, kept.failed
        except (OSError, RuntimeError):
            if not kept.failed():
                raise
        if kept.error is not None:
            raise kept.error
        os.fsync(raw.fileno())
