"""Label shuffle: the main row's refit permutation null. Leakage (a window seeing its own label, folds that
split overlapping windows) would lift the shuffled AUCs above 0.5."""

from __future__ import annotations

import numpy as np

from seisbind.probe.study.checks import CheckContext, CheckResult


class LabelShuffle:
    name = "label_shuffle"

    def __init__(self, tolerance: float = 0.05) -> None:
        self.tolerance = float(tolerance)
        """A mean shuffled AUC further than this from 0.5 means the pipeline leaks labels (above) or
        cross-validation is pessimistic at this sample size (below)."""

    def run(self, context: CheckContext) -> CheckResult:
        row = context.row
        null = row.null_aucs[np.isfinite(row.null_aucs)]
        numbers = {"auc_mean": float(null.mean()), "auc_sd": float(null.std(ddof=1)), "auc_min": float(null.min()),
                   "auc_max": float(null.max()), "n_shuffles": int(null.size), "observed_auc": row.auc,
                   "p_value_vs_shuffles": row.values["p_value"], "rank": int(1 + np.sum(null > row.auc))}
        leak = numbers["auc_mean"] > 0.5 + self.tolerance
        pessimistic = numbers["auc_mean"] < 0.5 - self.tolerance
        text = (f"refitting on labels shuffled within the matched sets {numbers['n_shuffles']} times gives AUC "
                f"{numbers['auc_mean']:.3f} +- {numbers['auc_sd']:.3f}; the main AUC {row.auc:.3f} ranks "
                f"{numbers['rank']} of {numbers['n_shuffles'] + 1} (p = {numbers['p_value_vs_shuffles']:.3g}): "
                + ("ABOVE 0.5, the pipeline leaks labels" if leak else
                   "below 0.5 by more than the tolerance, cross-validation is pessimistic at this sample size "
                   "(no leakage; read AUCs against the shuffle mean)" if pessimistic else "no label leakage"))
        return CheckResult(self.name, context.horizon.horizon_hours, not leak, text, numbers,
                           judged_by=f"fails when the mean shuffled AUC exceeds 0.5 + {self.tolerance:g} (a tolerance "
                           "on a mean, not a test: not adjusted for multiplicity)")
