"""python train.py experiment=seisclip [data.root=DIR] [trainer=gpu|ddp|ddp_sim] [logger=wandb|csv|none]
[ckpt_path=PATH] [trainer.max_steps=N]"""

from pathlib import Path

import hydra
from omegaconf import DictConfig

from seisbind.cli import check_overrides, report_user_errors
from seisbind.train import train


@hydra.main(version_base="1.3", config_path="configs", config_name="train")
@report_user_errors
def main(cfg: DictConfig) -> float | None:
    result = train(cfg)
    print(f"checkpoint: {result['checkpoint']}", flush=True)
    metric = result["metrics"].get(cfg.get("optimized_metric"))
    return metric


if __name__ == "__main__":
    check_overrides(Path(__file__).resolve().parent / "configs", "train")
    main()
