"""A check added as one module plus a `probe.checks` entry: the main model's out-of-fold AUC is finite."""

from __future__ import annotations

import numpy as np

from seisbind.probe.study.checks import CheckContext, CheckResult


class FiniteAuc:
    name = "finite_auc"

    def run(self, context: CheckContext) -> CheckResult:
        auc = context.row.auc
        return CheckResult(self.name, context.horizon.horizon_hours, bool(np.isfinite(auc)),
                           f"the main AUC is {auc:.3f}", {"auc": auc, "n_windows": int(context.checked.part.y.size)})
