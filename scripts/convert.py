"""Rewrite an INSTANCE root as a SeisBench-format folder with trace blocks (seisbind/data/convert.py says why).

python scripts/convert.py src=INSTANCE_DIR out=DIR [block_size=1024] [compression=null|gzip|lzf] [kind=events|noise]

Streaming (one block in memory), resumable (rerun the same command after an interrupt, `kill -9` included), with a
progress bar; the result is a data root for `train.py`/`probe.py` (data.root=DIR) and a
`seisbench.data.WaveformDataset`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from seisbind.cli import cli_options, report_user_errors
from seisbind.data.convert import convert_instance


@dataclass
class Options:
    src: str = "???"
    out: str = "???"
    block_size: int = 1024
    compression: str | None = None
    kind: str = "events"
    sampling_rate_hz: float = 100.0


@report_user_errors
def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    opts: Options = cli_options(Options, argv)
    result = convert_instance(opts.src, opts.out, block_size=opts.block_size, compression=opts.compression,
                              kind=opts.kind, sampling_rate_hz=opts.sampling_rate_hz)
    reasons = f", with their reasons in {result.out / 'skipped.csv'}" if result.n_skipped else ""
    print(f"{result.n_traces} traces in {result.n_blocks} blocks ({result.n_skipped} skipped{reasons}) -> {result.out}")


if __name__ == "__main__":
    main()
