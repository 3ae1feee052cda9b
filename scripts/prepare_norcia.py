"""Phase 0 of the seed plan: the INSTANCE traces of the 2016-2017 Norcia sequence, one row per trace.

python scripts/prepare_norcia.py data.root=DIR out=norcia_events.parquet [region.min_latitude_deg=42.5 ...]
    [period.start=2016-08-01 period.end=2017-01-31] [columns=null]

Reads the events metadata of DIR (any INSTANCE version or sample suffix), keeps traces whose event lies in the
region and period, writes Parquet and prints the count.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from omegaconf import OmegaConf

from seisbind.data.instance import MetadataFilter, find_instance_files, read_instance_metadata


@dataclass
class Region:
    min_latitude_deg: float = 42.5
    max_latitude_deg: float = 43.2
    min_longitude_deg: float = 12.8
    max_longitude_deg: float = 13.5


@dataclass
class Period:
    start: str = "2016-08-01T00:00:00"
    end: str = "2017-01-31T23:59:59.999"


@dataclass
class Data:
    root: str = "data/synthetic"


@dataclass
class Options:
    data: Data = field(default_factory=Data)
    out: str = "norcia_events.parquet"
    region: Region = field(default_factory=Region)
    period: Period = field(default_factory=Period)
    columns: list[str] | None = None   # None = all 115 columns


def main() -> None:
    opts = OmegaConf.merge(OmegaConf.structured(Options), OmegaConf.from_cli())
    files = find_instance_files(opts.data.root)
    filters = MetadataFilter(**OmegaConf.to_container(opts.region), start_time=opts.period.start,
                             end_time=opts.period.end)
    table = read_instance_metadata(files.events_csv, opts.columns, filters=filters)
    out = Path(opts.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    table.to_parquet(out, index=False)
    print(f"{len(table)} traces of {table['source_id'].nunique() if 'source_id' in table else '?'} events "
          f"from {files.events_csv} -> {out}")


if __name__ == "__main__":
    main()
