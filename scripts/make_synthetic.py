"""Write the synthetic seisbind data root (INSTANCE, FDSN text catalog, Movebank CSV, truth.json).

Usage (Hydra-style key=value overrides of seisbind.data.synthetic.SyntheticConfig):
    python scripts/make_synthetic.py out=data/synthetic seed=0 n_traces=1000
    python scripts/make_synthetic.py out=data/planted precursor.catalog=1 precursor.animal=0.5
    python scripts/make_synthetic.py out=data/null_etas clustering=etas lead_in_days=61
    python scripts/make_synthetic.py out=data/null_mc completeness_changes=[2016-11-15:1.2]
    python scripts/make_synthetic.py out=data/null_rise mc_after_mainshock_rise=1.2 mc_after_mainshock_days=1.5
    python scripts/make_synthetic.py --help      # prints every key with its default
The confounder keys (lead_in_*, completeness_changes, mc_after_mainshock_*, clustering, etas_*) are described in
the SyntheticConfig docstring; all are off by default.
An existing folder written with the same config is kept as it is.
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from seisbind.cli import report_user_errors
from seisbind.data.synthetic import FILE_NAMES, SyntheticConfig, write_synthetic
from seisbind.errors import SeisbindInputError


def parse_args(argv: list[str]) -> tuple[Path, SyntheticConfig]:
    """Split `out=DIR` from the config overrides; unknown keys or bad values raise SeisbindInputError."""
    try:
        overrides = OmegaConf.from_dotlist(argv)
        out = Path(str(overrides.pop("out", "data/synthetic")))
        merged = OmegaConf.merge(OmegaConf.structured(SyntheticConfig), overrides)
    except OmegaConfBaseException as error:
        raise SeisbindInputError(f"make_synthetic.py: bad argument: {error}") from error
    return out, OmegaConf.to_object(merged)


@report_user_errors
def main(argv: list[str] | None = None) -> dict:
    argv = sys.argv[1:] if argv is None else argv
    if any(a in ("-h", "--help") for a in argv):
        print(__doc__)
        print(OmegaConf.to_yaml(OmegaConf.structured(SyntheticConfig)))
        return {}
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    out, config = parse_args(argv)
    started = time.perf_counter()
    truth = write_synthetic(out, config)
    seconds = time.perf_counter() - started
    total_mb = sum((out / name).stat().st_size for name in FILE_NAMES.values()) / 1e6
    print(f"synthetic data root: {out} ({total_mb:.0f} MB, {seconds:.1f} s)")
    print(f"targets={len(truth['targets'])} catalog_events={truth['n_catalog_events']} "
          f"event_traces={truth['n_event_traces']} noise_traces={truth['n_noise_traces']}")
    return truth


if __name__ == "__main__":
    main()
