"""The study's trace table: the event traces of the 2016-2017 Norcia sequence, one row per trace.

python scripts/prepare_norcia.py data.root=DIR out=norcia_events.parquet [region.min_latitude_deg=42.5 ...]
    [period.start=2016-08-01 period.end=2017-01-31] [columns=null]

Reads the events metadata of DIR (INSTANCE files of any version or sample suffix, or a SeisBench folder, chunked
or not), keeps traces whose event lies in the region and period, writes Parquet and prints the count.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field

import pandas as pd

from seisbind.cli import cli_options, report_user_errors
from seisbind.data.instance_schema import EVENT_COLUMNS
from seisbind.data.trace_filter import MetadataFilter
from seisbind.data.trace_index import Layout, read_metadata
from seisbind.errors import SeisbindInputError
from seisbind.files import atomic_path
from seisbind.study_area import Period, Region, load_area

log = logging.getLogger("prepare_norcia")


NORCIA = load_area("norcia")  # configs/area/norcia.yaml: the box and period the data config and the probe use


@dataclass
class Data:
    root: str = "data/synthetic"


@dataclass
class Options:
    data: Data = field(default_factory=Data)
    out: str = "norcia_events.parquet"
    region: Region = field(default_factory=lambda: NORCIA.region)
    period: Period = field(default_factory=lambda: NORCIA.period)
    columns: list[str] | None = None   # None = all 115 columns


def run(opts: Options) -> None:
    """Write the region/period traces of `opts.data.root` to `opts.out` (written whole or not at all)."""
    for key, value in asdict(opts.period).items():
        try:
            pd.Timestamp(value)
        except ValueError:
            raise SeisbindInputError(f"period.{key}={value!r}: not a time (e.g. 2016-08-01)") from None
    filters = MetadataFilter(**asdict(opts.region), start_time=opts.period.start, end_time=opts.period.end)
    table = read_metadata(Layout.find(opts.data.root).events, opts.columns, filters=filters)
    source = table.attrs["source"]
    if opts.columns is None:
        missing = [name for name in EVENT_COLUMNS if name not in table.columns]
        if missing:
            log.warning("%s: %d of the %d INSTANCE event columns are missing, so %s has %d columns: %s", source,
                        len(missing), len(EVENT_COLUMNS), opts.out, len(table.columns), ", ".join(missing))
    with atomic_path(opts.out) as tmp:
        table.to_parquet(tmp, index=False)
    print(f"{len(table)} traces of {table['source_id'].nunique() if 'source_id' in table else '?'} events "
          f"from {source} -> {opts.out}")


@report_user_errors
def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    run(cli_options(Options))


if __name__ == "__main__":
    main()
