"""Calibration of the pre-event study on synthetic nulls that hold the field's confounders, and its power.

python scripts/calibration.py out=runs/calibration seeds=20 traps=[plain,lead_in,mc_change,etas] planted=10
    [planted_trap=plain] [planted_precursor=catalog] [planted_strength=1] [design=targets|quiet]
    [n_permutations=200] [n_comparison_permutations=100] [n_etas_sims=200] [horizons_hours=[2,6,12,24]]
    [etas_law=fit|truth] [keep_roots=false]

For each trap and seed a null data root (no precursor of any kind) is written with seisbind.data.synthetic and
the study (seisbind.probe.study.run_study, default configs) runs on it; `planted` more seeds carry the catalog
precursor at `planted_strength` (precursor.catalog; 1 by default). The traps:
- plain: the synthetic null as it was (Poisson background, Omori aftershocks of the mainshocks);
- lead_in: the catalog also reaches back 60 days before the study period with sparse coverage (a real download);
- mc_change: the completeness magnitude falls by 0.6 mid-period and rises for days after each M >= 5;
- etas: the whole catalog is an ETAS cascade (foreshocks, clustering) instead of Poisson + Omori;
- real_like: an ETAS cascade shaped like real fits, drawn per seed (`real_like` below): p 0.8-1.2, branching
  0.9-1.3, the Norcia M6 mainshocks triggering by the same law, Mc rising after them;
- felt_animals: the animals respond to the shaking of every earthquake at the farm (animal.shaking_response), with
  small foreshocks before each target: the modality verdicts' null (`adds_animal` must stay near 0); with
  planted_precursor=animal the power case of an animal precursor on top;
- felt_gnss: the GNSS stations move with the shaking of every earthquake (gnss.shaking_response_mm), with the same
  small foreshocks: `adds_gnss` must stay near 0; planted_precursor=gnss is its power case.
Printed per trap (and written to OUT/calibration.csv, one row per run): the share of runs whose headline has a
family-wise p < 0.05 (target <= 1 in 20 in the quiet design except under clustering, which exchangeable labels
cannot see; in the targets design the permutations see clustering by construction), of claims (the headline's
`beyond_clustering`, seisbind/probe/study/headline.py; target <= 1 in 20 on every trap), of runs with
p_value_etas < 0.05 and with its family-wise value < 0.05 where computed, and of all result rows whose interval
excludes 0.5 (target <= 7 %); for `planted`, the shares detected (family-wise p < 0.05) and claimed. A seed
whose drawn law the synthetic writer refuses (a cascade past its event limit) is no run: its row holds the reason
(`refused`), the rates leave it out and count it (`refused=`).
Last line: `trap=... headline_fwer=... rows_ci_excluding=... ...` per trap.
"""

from __future__ import annotations

import logging
import math
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from hydra import compose, initialize_config_dir

from seisbind.cli import cli_options, report_user_errors
from seisbind.data.synthetic import SyntheticConfig, write_synthetic
from seisbind.data.synthetic.config import AnimalConfig, GnssConfig, PrecursorConfig
from seisbind.errors import SeisbindInputError
from seisbind.files import write_csv
from seisbind.probe.study import run_study

CONFIGS = Path(__file__).resolve().parents[1] / "configs"

PERIOD_DAYS = 184.0
"""Length of the synthetic study period (SyntheticConfig start..end, days): the reach of a drawn branching
ratio when p <= 1."""


def real_like(seed: int) -> dict:
    """ETAS parameters shaped like fits of real sequences, drawn per seed (Norcia 2016: p 1.15, alpha 2.37 with
    b ~1, infinite-time branching 1.06; SED 2023: p 0.84, alpha 1.04 with b 0.84; tests/test_real_catalog_study.py):
    p ~ U(0.8, 1.2); branching ratio ~ U(0.9, 1.3), over unlimited time when p > 1 and over the study period when
    p <= 1 (where the infinite-time one diverges); b ~ U(0.9, 1.1); alpha/beta ~ U(0.6, 1.0); c log-uniform in
    0.002-0.03 d. The three Norcia M6 mainshocks trigger by the same law as every event, magnitudes reach M6.8
    from the Gutenberg-Richter tail, and Mc rises by 1.0 after every M >= 5.5, decaying over 0.1 d (a form other
    than the null's Helmstetter law, so the null does not meet its own assumption). Mc 2.5 keeps a catalog at
    ~5,000-12,000 events, as the Norcia sequence's ~9,000 above 2.1."""
    rng = np.random.default_rng([seed, 2016])
    p, b = rng.uniform(0.8, 1.2), rng.uniform(0.9, 1.1)
    return {"clustering": "etas", "etas_mainshock_productivity": "law", "etas_p": p,
            "etas_branching_ratio": rng.uniform(0.9, 1.3), "etas_branching_days": 0.0 if p > 1 else PERIOD_DAYS,
            "b_value": b, "etas_alpha": rng.uniform(0.6, 1.0) * b * math.log(10.0),
            "etas_c_days": 10.0 ** rng.uniform(math.log10(0.002), math.log10(0.03)), "etas_max_magnitude": 6.8,
            "completeness_magnitude": 2.5, "n_extra_mainshocks": 0, "mc_after_mainshock_rise": 1.0,
            "mc_after_mainshock_days": 0.1, "mc_after_mainshock_min_magnitude": 5.5}


TRAPS: dict[str, Callable[[int], dict]] = {
    "plain": lambda seed: {},
    "lead_in": lambda seed: {"lead_in_days": 60.0, "lead_in_events": 30},
    "mc_change": lambda seed: {"completeness_changes": ["2016-11-01:0.9"], "mc_after_mainshock_rise": 1.0,
                               "mc_after_mainshock_days": 2.0},
    "etas": lambda seed: {"clustering": "etas"},
    "real_like": real_like,
    # Animals that feel every earthquake and nothing else, with small foreshocks before each target to feel (the
    # catalog precursor at the demo's 0.1): their verdict beyond seismic data must stay "no evidence".
    "felt_animals": lambda seed: {"animal": AnimalConfig(shaking_response=1.0),
                                  "precursor": PrecursorConfig(catalog=0.1)},
    # GNSS stations that move with every felt earthquake (2 mm per unit of log10(1 + PGV / 0.1 cm/s)) and nothing
    # else, with the same foreshocks: their verdict beyond seismic data must stay "no evidence" too.
    "felt_gnss": lambda seed: {"gnss": GnssConfig(shaking_response_mm=2.0),
                               "precursor": PrecursorConfig(catalog=0.1)},
}
"""SyntheticConfig overrides of each null trap for a seed (seisbind/data/synthetic/config.py)."""

PRECURSORS = ("catalog", "spectrum", "animal", "gnss")
"""The planted precursors' strengths (seisbind.data.synthetic.config.PrecursorConfig)."""


@dataclass
class Options:
    out: str = "runs/calibration"
    seeds: int = 20
    first_seed: int = 100
    traps: list[str] = field(default_factory=lambda: list(TRAPS))
    planted: int = 10
    planted_trap: str = "plain"
    """The trap the planted runs' roots are written with."""
    planted_precursor: str = "catalog"
    """The precursor the planted runs carry (a PrecursorConfig strength: catalog, spectrum, animal, gnss)."""
    planted_strength: float = 1.0
    """Its strength in the planted runs."""
    n_events: int = 2000
    n_traces: int = 200
    n_permutations: int = 200
    n_comparison_permutations: int = 100
    """Feature permutations of each comparison (the modality verdicts' null)."""
    n_etas_sims: int = 200
    design: str = "targets"
    """probe.design of every run (seisbind.probe.study.config.DESIGNS)."""
    horizons_hours: list[float] = field(default_factory=lambda: [2.0, 6.0, 12.0, 24.0])
    etas_law: str = "fit"
    """What the ETAS null simulates: `fit` (the study's own fit, as a user runs it) or `truth`, the law each root
    was drawn from, its events down to the writer's detection floor triggering unrecorded below the study's
    (probe.nulls.etas.law; `law` roots only, as real_like): the null's own calibration, apart from the fit's."""
    keep_roots: bool = False
    """Each root is ~0.3 GB and a full sweep writes 90: by default a root is deleted once its run is scored."""


def truth_law(truth: dict, config: SyntheticConfig) -> dict:
    """The ETAS law a root's catalog was drawn from (seisbind/data/synthetic/etas.py), in the terms of
    seisbind.seismicity.etas.model.EtasParameters: events from the writer's detection floor m0 up, mu the
    background rate above m0 per day, K the Omori rate constant of an event at m0."""
    model = truth["catalog_model"]
    if model.get("mainshock_productivity") != "law":
        raise SeisbindInputError("etas_law=truth needs roots whose mainshocks trigger by the law "
                                 "(etas_mainshock_productivity: law, as real_like)")
    m0 = model["detection_floor_magnitude"]
    return {"mu": model["background_rate_per_day"],
            "K": model["K"] * math.exp(config.etas_alpha * (m0 - config.completeness_magnitude)),
            "alpha": config.etas_alpha, "c": config.etas_c_days, "p": config.etas_p, "b": config.b_value, "mc": m0,
            "max_magnitude": config.etas_max_magnitude}


def study_config(root: Path, out: Path, opts: Options, law: dict | None = None):
    extra = [] if law is None else ["probe.nulls.etas.law={" + ",".join(f"{k}:{v!r}" for k, v in law.items()) + "}"]
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        return compose("probe", overrides=[*extra,
            f"data.root={root}", f"out={out}", f"paths.root_dir={out}", f"probe.n_permutations={opts.n_permutations}",
            f"probe.n_comparison_permutations={opts.n_comparison_permutations}",
            f"probe.nulls.etas.n_sims={opts.n_etas_sims}", f"probe.design={opts.design}",
            f"probe.horizons_hours=[{','.join(f'{h:g}' for h in opts.horizons_hours)}]",
            "~probe.feature_sets.wikelski2020", "probe.n_jobs=1"])


def one_run(opts: Options, trap: str, seed: int, strength: float) -> dict:
    """Write one root, run the study on it, and return the figures the rates are made of, with each modality's
    verdict (seisbind/probe/study/verdicts.py) as `verdict_<modality>`; or, where the generator refuses the
    trap's law for this seed, the trap, seed and `refused` (its reason)."""
    name = f"{trap}_s{seed}" + ("_planted" if strength else "")
    root, out = Path(opts.out) / "roots" / name, Path(opts.out) / "runs" / name
    config = SyntheticConfig(seed=seed, n_events=opts.n_events, n_traces=opts.n_traces, **TRAPS[trap](seed))
    setattr(config.precursor, opts.planted_precursor, strength)
    try:
        truth = write_synthetic(root, config)
    except SeisbindInputError as refusal:
        # A drawn law the generator refuses (real_like seed 138: a cascade past 2,000,000 events) is no run; the
        # sweep counts it and goes on rather than losing the runs after it.
        shutil.rmtree(root, ignore_errors=True)
        return {"trap": trap, "seed": seed, "planted": strength, "refused": str(refusal)}
    started = time.perf_counter()
    law = truth_law(truth, config) if opts.etas_law == "truth" else None
    metrics = run_study(study_config(root, out, opts, law))
    if not opts.keep_roots:
        shutil.rmtree(root)
    rows = pd.DataFrame(metrics["results"])
    head = metrics["headline"]
    excluding = (rows["auc_ci_low"] > 0.5) | (rows["auc_ci_high"] < 0.5)
    verdicts = {f"verdict_{m}": v["verdict"] for m, v in metrics.get("modality_verdicts", {}).items()}
    return verdicts | {"trap": trap, "seed": seed, "planted": strength, "headline": f"{head['feature_set']}/"
            f"{head['score']}@{head['horizon_hours']:g}h", "headline_auc": head["auc"],
            "headline_p_adjusted": head["p_value_adjusted"],
            "headline_p_adjusted_tested": head["p_value_adjusted_tested"], "headline_p_etas": head["p_value_etas"],
            "headline_p_etas_adjusted": head["p_value_etas_adjusted"], "design": head["design"],
            "claim": head["beyond_clustering"] is True, "claim_direction": head["claim_direction"],
            "rows": len(rows), "rows_ci_excluding_half": float(excluding.mean()),
            "rows_p_below_005": float((rows["p_value"] < 0.05).mean()),
            "rows_p_etas_below_005": float((rows["p_value_etas"].astype(float) < 0.05).mean()),
            "n_targets": head["n_targets"], "seconds": time.perf_counter() - started}


def rates(table: pd.DataFrame) -> str:
    """One `name=value` line per trap (and for the planted runs)."""
    lines = []
    refused = table["refused"].notna() if "refused" in table else pd.Series(False, index=table.index)
    for (trap, planted), runs in table.groupby(["trap", "planted"], sort=False):
        label = f"{trap}+planted" if planted else trap
        n_refused = int(refused[runs.index].sum())
        runs = runs[~refused[runs.index]]
        if runs.empty:
            lines.append(f"trap={label} runs=0 refused={n_refused}")
            continue
        etas = runs["headline_p_etas"].astype(float)
        etas_fw = runs["headline_p_etas_adjusted"].astype(float)
        lines.append(f"trap={label} runs={len(runs)} "
                     f"{'detected' if planted else 'headline_fwer'}={(runs['headline_p_adjusted'] < 0.05).mean():.3f} "
                     f"{'claimed' if planted else 'false_claims'}={runs['claim'].mean():.3f} "
                     f"etas_below_005={(etas < 0.05).mean() if etas.notna().any() else float('nan'):.3f} "
                     f"etas_fw_below_005={(etas_fw < 0.05).mean() if etas_fw.notna().any() else float('nan'):.3f} "
                     f"rows_ci_excluding={runs['rows_ci_excluding_half'].mean():.3f} "
                     f"rows_p_below_005={runs['rows_p_below_005'].mean():.3f} "
                     + "".join(f"{c.replace('verdict_', 'adds_')}={(runs[c] == 'adds').mean():.3f} "
                               for c in runs.columns if c.startswith("verdict_"))
                     + f"refused={n_refused} seconds_per_run={runs['seconds'].mean():.0f}")
    return "\n".join(lines)


@report_user_errors
def main(argv: list[str] | None = None) -> pd.DataFrame:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    opts: Options = cli_options(Options, argv)
    unknown = [t for t in [*opts.traps, opts.planted_trap] if t not in TRAPS]
    if unknown:
        raise SeisbindInputError(f"traps: unknown {unknown}; choose from {list(TRAPS)}")
    if opts.etas_law not in ("fit", "truth"):
        raise SeisbindInputError(f"etas_law={opts.etas_law!r}: choose fit or truth")
    if opts.planted_precursor not in PRECURSORS:
        raise SeisbindInputError(f"planted_precursor={opts.planted_precursor!r}: choose from {list(PRECURSORS)}")
    runs = [(trap, seed, 0.0) for trap in opts.traps for seed in range(opts.first_seed, opts.first_seed + opts.seeds)]
    planted = range(opts.first_seed, opts.first_seed + opts.planted)
    runs += [(opts.planted_trap, seed, opts.planted_strength) for seed in planted]
    records = []
    for k, (trap, seed, strength) in enumerate(runs):
        records.append(one_run(opts, trap, seed, strength))
        # Rewritten after every run, so that a long sweep can be read (and its rates trusted) while it goes on.
        write_csv(Path(opts.out) / "calibration.csv", pd.DataFrame(records))
        r = records[-1]
        if "refused" in r:
            print(f"run {k + 1}/{len(runs)} {trap} seed={seed} planted={strength:g} refused: {r['refused']}",
                  flush=True)
            continue
        print(f"run {k + 1}/{len(runs)} {trap} seed={seed} planted={strength:g} headline={r['headline']} "
              f"p_adjusted={r['headline_p_adjusted']:.4f} p_tested={r['headline_p_adjusted_tested']} "
              f"p_etas={r['headline_p_etas']} "
              f"p_etas_adjusted={r['headline_p_etas_adjusted']} claim={r['claim']} "
              + "".join(f"{key}={value} " for key, value in r.items() if key.startswith("verdict_"))
              + f"seconds={r['seconds']:.0f}", flush=True)
    table = pd.DataFrame(records)
    print(rates(table))
    return table


if __name__ == "__main__":
    main()
