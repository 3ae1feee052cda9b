"""Progress bars for the long loops of a run (the refit permutations of each horizon, the embedding batches), drawn
on stderr with rich for a person watching a terminal.

A bar is noise anywhere else: in a log file, a CI log, a test's output, or from a worker process whose bar would
cut through the others'. So `progress` draws only when stderr is a terminal, outside tests, in the main process;
elsewhere it does nothing, and the loop's one INFO line per stage is what remains. A loop reads the same either way:

    with progress("embedding batches", total=len(loader)) as advance:
        for batch in loader:
            ...
            advance()
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager


def drawing() -> bool:
    """Whether a bar would be seen: stderr is a terminal, no test is running, this is not a worker process."""
    return (sys.stderr.isatty() and "PYTEST_CURRENT_TEST" not in os.environ
            and multiprocessing.parent_process() is None)


@contextmanager
def progress(description: str, total: int | None) -> Iterator[Callable[..., None]]:
    """Yield `advance(steps=1)` for a loop of `total` steps (None: unknown); the bar disappears when the loop ends,
    so the terminal keeps the log lines only."""
    if not drawing():
        yield lambda steps=1: None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(description, total=total)
        yield lambda steps=1: bar.advance(task, steps)
