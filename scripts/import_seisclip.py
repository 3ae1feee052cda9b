"""Import a released SeisCLIP weight file as a seisbind checkpoint.

python scripts/import_seisclip.py src=SEISCLIP.pt out=checkpoints/seisclip_stead.ckpt [spectrum_frames=120|600]
    [n_samples=12000]

SeisCLIP's files (STEAD-1M, spectra 50 x 120 and 50 x 600) are linked from the README of its GitHub repository
(sixu0/SeisCLIP). The checkpoint written here loads with `SeisBindModule.load_from_checkpoint`, so
`python probe.py ckpt=OUT ...` embeds with it, and it initialises training with
`python train.py experiment=seisclip_pretrained model.init_from=OUT` (overrides printed at the end).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from seisbind.cli import cli_options, report_user_errors
from seisbind.data.instance_schema import TRACE_NPTS
from seisbind.pretrained.seisclip import FRAMES_TO_NPERSEG, SPECTRUM, import_seisclip


@dataclass
class Options:
    src: str = "???"
    out: str = "checkpoints/seisclip_stead.ckpt"
    spectrum_frames: int | None = None   # None = the source file's own (120 or 600)
    n_samples: int = TRACE_NPTS          # trace length of the data (INSTANCE: 12000); the spectrum sees 6000


@report_user_errors
def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    opts = cli_options(Options)
    result = import_seisclip(opts.src, opts.out, spectrum_frames=opts.spectrum_frames, n_samples=opts.n_samples)
    encoder = result.modality[SPECTRUM]["encoder"]
    overrides = []
    if result.spectrum_frames != 120:
        overrides.append(f"modality.{SPECTRUM}.preprocess.nperseg={FRAMES_TO_NPERSEG[result.spectrum_frames]}")
    if tuple(result.stem_kernel) != (3, 5):
        overrides += [f"modality.{SPECTRUM}.encoder.stem_kernel=[{','.join(map(str, encoder['stem_kernel']))}]",
                      f"modality.{SPECTRUM}.encoder.stem_padding=[{','.join(map(str, encoder['stem_padding']))}]"]
    resized = "" if result.source_frames == result.spectrum_frames else \
        f", positional embedding resized from {result.source_frames} frames"
    print(f"{opts.src}: stem {result.stem_kernel[0]}x{result.stem_kernel[1]}, spectra (3, {result.spectrum_frames}, "
          f"50){resized}; dropped {len(result.dropped)} unused classification-head tensors")
    print(f"probe:    python probe.py ckpt={result.checkpoint} data.root=DIR out=DIR2")
    print(f"train:    python train.py experiment=seisclip_pretrained model.init_from={result.checkpoint} "
          + " ".join(overrides))
    print(f"checkpoint: {result.checkpoint}")


if __name__ == "__main__":
    main()
