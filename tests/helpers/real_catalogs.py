"""Real catalogs inside the locked wheels of tests/data/wheels.lock, which `make test` downloads to .cache/wheels/."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

WHEELS = Path(__file__).resolve().parents[2] / ".cache" / "wheels"
SED_2023 = ("seismostats-1.0.1-py3-none-any.whl", "seismostats/analysis/tests/data/catalog_sed.csv")
"""The Swiss Seismological Service's 2023 catalog as seismostats 1.0.1 ships it."""
RIDGECREST = ("pycsep-0.8.0-py3-none-any.whl", "csep/artifacts/ObservedCatalogs/sample_comcat_catalog.csv")
"""ComCat's week after the 2019 Ridgecrest M7.1 as pyCSEP 0.8.0 ships it (pyCSEP's CSV layout)."""


def extracted(member: tuple[str, str], folder: Path) -> Path:
    """The file `member` (wheel, path inside it) written to `folder` under its own name."""
    wheel = WHEELS / member[0]
    if not wheel.is_file():
        pytest.fail(f"{wheel} is missing: `make test` downloads the wheels of tests/data/wheels.lock")
    path = folder / Path(member[1]).name
    with zipfile.ZipFile(wheel) as archive:
        path.write_bytes(archive.read(member[1]))
    return path
