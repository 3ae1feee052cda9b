"""python probe.py [ckpt=PATH] data.root=DIR out=DIR2          (pre-event vs background study)
python probe.py probe=stations data.waveforms='DIR/*' data.stations=FILE event.time=ISO ... out=DIR2"""

from pathlib import Path

import hydra
from omegaconf import DictConfig

from seisbind.cli import check_overrides, report_user_errors
from seisbind.probe import run


@hydra.main(version_base="1.3", config_path="configs", config_name="probe")
@report_user_errors
def main(cfg: DictConfig) -> None:
    run(cfg)


if __name__ == "__main__":
    check_overrides(Path(__file__).resolve().parent / "configs", "probe")
    main()
