"""Power of the embedding path: is a planted spectrum precursor found, and is its absence?

python scripts/power.py out=runs/power strengths=[0,0.5,1,2] seeds=5 [first_seed=500] [n_permutations=100]
    [train=[trainer.max_epochs=4]] [keep_roots=false]

For every (strength, seed) a synthetic root at the demo size (seisbind.data.synthetic defaults: 1,000 event
traces, the INSTANCE noise pair every 6 h) carries the spectrum precursor at that strength and nothing else
(precursor.spectrum=S; S = 0 is the null). `train.py experiment=seisclip` trains on it at the CPU demo budget and
`probe.py ckpt=...` probes it (defaults: the embedding pools noise traces when the root has them). A family is
detected in a run when its best row (over scores and horizons) has a family-wise adjusted p < 0.05:
`embedding` = the anchor's feature set `embedding:spectrum`, `waveform_meta` = `catalog+waveform_meta`,
`catalog` = `catalog`. Printed: the detection rate per family and strength (strength 0 = the false-positive rate),
the training time, and the last line `strength=S embedding=... waveform_meta=... catalog=...` per strength;
OUT/power.csv holds one row per run and OUT/power.png the power curves.
"""

from __future__ import annotations

import logging
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from hydra import compose, initialize_config_dir  # noqa: E402
from hydra.core.hydra_config import HydraConfig  # noqa: E402
from omegaconf import open_dict  # noqa: E402

from seisbind.cli import cli_options, report_user_errors  # noqa: E402
from seisbind.data.synthetic import SyntheticConfig, write_synthetic  # noqa: E402
from seisbind.files import save_figure, write_csv  # noqa: E402
from seisbind.probe.study import run_study  # noqa: E402
from seisbind.train import train  # noqa: E402

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
FAMILIES = {"embedding": "embedding:spectrum", "waveform_meta": "catalog+waveform_meta", "catalog": "catalog"}
"""Family -> the feature set whose rows count for it (the anchor's embedding set for `embedding`)."""


@dataclass
class Options:
    out: str = "runs/power"
    strengths: list[float] = field(default_factory=lambda: [0.0, 0.5, 1.0, 2.0])
    seeds: int = 5
    first_seed: int = 500
    n_permutations: int = 100
    train: list[str] = field(default_factory=list)
    keep_roots: bool = False
    """Each root is ~0.25 GB: by default a root is deleted once its run is probed."""


def compose_with_hydra(name: str, overrides: list[str]):
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        cfg = compose(name, overrides=overrides, return_hydra_config=True)
    HydraConfig.instance().set_config(cfg)
    with open_dict(cfg):
        del cfg["hydra"]
    return cfg


def detected(results: list[dict], feature_set: str) -> tuple[bool, float]:
    """(best adjusted p < 0.05, that p) over the rows of a feature set."""
    rows = [r for r in results if r["feature_set"] == feature_set]
    if not rows:
        return False, float("nan")
    best = min(r["p_value_adjusted"] for r in rows)
    return bool(best < 0.05), float(best)


def one_run(opts: Options, strength: float, seed: int) -> dict:
    name = f"s{strength:g}_seed{seed}"
    root, out = Path(opts.out) / "roots" / name, Path(opts.out) / "runs" / name
    config = SyntheticConfig(seed=seed)
    config.precursor.spectrum = strength
    write_synthetic(root, config)
    started = time.perf_counter()
    trained = train(compose_with_hydra("train", [
        "experiment=seisclip", f"data.root={root}", "logger=none", f"paths.root_dir={out}",
        f"paths.output_dir={out}/train", f"seed={seed}", "callbacks.progress_bar=null", *opts.train]))
    train_seconds = time.perf_counter() - started
    metrics = run_study(compose_with_hydra("probe", [
        f"ckpt={trained['checkpoint']}", f"data.root={root}", f"out={out}/probe", f"paths.root_dir={out}",
        f"probe.n_permutations={opts.n_permutations}", "probe.nulls.etas.n_sims=0", "~probe.feature_sets.wikelski2020",
        "probe.n_jobs=1", f"seed={seed}"]))
    if not opts.keep_roots:
        shutil.rmtree(root)
    record = {"strength": strength, "seed": seed, "train_seconds": train_seconds,
              "val_loss": float(trained["metrics"].get("val/loss", float("nan"))),
              "embedding_traces": (metrics["data"].get("embedding") or {}).get("traces")}
    record |= {key.removeprefix("val/"): value for key, value in trained["metrics"].items()
               if key.startswith(("val/recall@", "val/loss/"))}
    for family, feature_set in FAMILIES.items():
        record[f"{family}_detected"], record[f"{family}_p_adjusted"] = detected(metrics["results"], feature_set)
    return record


def plot(table: pd.DataFrame, path: Path) -> None:
    rates = table.groupby("strength")[[f"{f}_detected" for f in FAMILIES]].mean()
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for family in FAMILIES:
        ax.plot(rates.index, rates[f"{family}_detected"], marker="o", label=family)
    ax.axhline(0.05, color="grey", lw=0.8, ls=":")
    ax.set(xlabel="planted spectrum precursor strength", ylabel="detection rate (family-wise p < 0.05)",
           ylim=(-0.02, 1.02))
    ax.legend()
    save_figure(fig, path)
    plt.close(fig)


@report_user_errors
def main(argv: list[str] | None = None) -> pd.DataFrame:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    opts: Options = cli_options(Options, argv)
    records = []
    for strength in opts.strengths:
        for seed in range(opts.first_seed, opts.first_seed + opts.seeds):
            records.append(one_run(opts, float(strength), seed))
            write_csv(Path(opts.out) / "power.csv", pd.DataFrame(records))
            r = records[-1]
            print(f"strength={strength:g} seed={seed} " + " ".join(
                f"{f}_p={r[f'{f}_p_adjusted']:.4f}" for f in FAMILIES) + f" train_s={r['train_seconds']:.0f}",
                flush=True)
    table = pd.DataFrame(records)
    plot(table, Path(opts.out) / "power.png")
    for strength, runs in table.groupby("strength"):
        print(f"strength={strength:g} runs={len(runs)} " + " ".join(
            f"{f}={runs[f'{f}_detected'].mean():.2f}" for f in FAMILIES)
            + f" train_seconds={runs['train_seconds'].mean():.0f}")
    return table


if __name__ == "__main__":
    main()
