"""A modality's side data as configuration: a reader applied to the files a glob matches under the data root.

Waveforms and their metadata are the root's backbone (seisbind/data/trace_index.py); every other modality brings
its own files (an event catalog, Movebank tag CSVs, GNSS daily positions) and says in its config where they are
and what reads them:

    source:
      reader: seisbind.data.movebank.read_movebank   # callable(list[Path]) -> table
      glob: animals/*.csv                            # relative to data.root, or absolute; a list = alternatives

The DataModule and the probe load whatever the configured modalities name, once per (reader, glob), and never
name a modality themselves. A new modality with its own files therefore needs a reader function and a glob in its
YAML file, nothing in the data layer.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hydra.utils import get_object

from seisbind.allowlist import READERS, allowed_reader
from seisbind.errors import SeisbindInputError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TableSource:
    """Where one modality's files are and which function reads them.

    `glob` holds alternatives tried in order (e.g. catalog.txt, then catalog.xml): the first pattern that matches
    any file is read, all its matches together, sorted by name. Patterns are relative to the data root unless
    absolute."""

    reader: str
    glob: tuple[str, ...]

    @classmethod
    def of(cls, spec: TableSource | Mapping[str, Any], key: str = "source") -> TableSource:
        """From a config mapping {reader, glob} (or a typed config of those two fields); `key` names the config
        entry in error messages."""
        if isinstance(spec, TableSource):
            return spec
        if dataclasses.is_dataclass(spec):
            spec = dataclasses.asdict(spec)
        if not isinstance(spec, Mapping) or set(spec) != {"reader", "glob"}:
            raise SeisbindInputError(f"{key}: expected {{reader: dotted.function, glob: PATTERN or [PATTERNS]}}, "
                                     f"got {dict(spec) if isinstance(spec, Mapping) else spec!r}")
        patterns = spec["glob"]
        patterns = (patterns,) if isinstance(patterns, str) else tuple(str(p) for p in patterns)
        if not patterns:
            raise SeisbindInputError(f"{key}.glob: no pattern given")
        return cls(reader=str(spec["reader"]), glob=patterns)

    def paths(self, root: str | Path) -> list[Path]:
        """The files of the first pattern that matches under `root` (empty when none does)."""
        root = Path(root)
        for pattern in self.glob:
            base = Path(pattern)
            if base.is_absolute():
                found = sorted(Path(base.anchor).glob(str(base.relative_to(base.anchor))))
            else:
                found = sorted(root.glob(pattern))
            found = [p for p in found if p.is_file()]
            if found:
                return found
        return []

    def read_function(self) -> Callable[[list[Path]], Any]:
        if not allowed_reader(self.reader):   # called with the data root's files: never an arbitrary function
            raise SeisbindInputError(f"source reader {self.reader!r}: not a reader; name a function read_* defined "
                                     f"in {', '.join(p + '/' for p in READERS)} (seisbind/allowlist.py)")
        return get_object(self.reader)

    def describe(self, root: str | Path) -> str:
        return " or ".join(str(Path(root) / p) for p in self.glob)


class SideTables:
    """The side tables of one data root, each read once however many inputs or feature families ask for it."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self._cache: dict[TableSource, Any] = {}

    def load(self, source: TableSource | Mapping[str, Any], what: str = "a configured modality") -> Any:
        """The reader's output for the source's files; SeisbindInputError naming the patterns when none match."""
        source = TableSource.of(source)
        if source not in self._cache:
            paths = source.paths(self.root)
            if not paths:
                raise SeisbindInputError(f"{what} needs files the data root does not have: no match for "
                                         f"{source.describe(self.root)}")
            log.info("%s: reading %d file(s) with %s", what, len(paths), source.reader)
            self._cache[source] = source.read_function()(paths)
        return self._cache[source]

