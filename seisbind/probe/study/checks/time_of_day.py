"""Time of day alone, scored like the main set on the same windows, against its own refit permutation null
(two-sided: an AUC far below the null is a diurnal signal too) and compared with the main score (DeLong).

The null, not 0.5, is the reference: out of fold, features without signal score below 0.5 on average
(cross-validation's anti-learning at a few dozen targets), so a fixed 0.5 would flag noise."""

from __future__ import annotations

import numpy as np

from seisbind.probe import evaluate as ev
from seisbind.probe import features
from seisbind.probe.stats import delong_test
from seisbind.probe.study.checks import CheckContext, CheckResult, PTest
from seisbind.probe.study.rows import evaluate, labels_of


class TimeOfDay:
    name = "time_of_day"

    def __init__(self, features: list[str] = ("time_of_day_sin", "time_of_day_cos")) -> None:
        self.features = list(features)

    def run(self, context: CheckContext) -> CheckResult:
        part, score = context.checked.part, context.score
        columns = features.resolve_feature_set(self.features, context.table.features.columns)
        scored = evaluate(lambda rows: context.table.X(rows, columns), part, [score], context.settings,
                          f"time of day at {part.horizon_hours:g} h", labels_of(context.labels, context.horizon, part))
        s_tod, s_main = scored.scores[score], context.checked.scores[score]
        test = delong_test(part.y, s_main, s_tod)
        auc = float(ev.stats.auc_roc(part.y, s_tod))
        null = scored.null_aucs[score][np.isfinite(scored.null_aucs[score])]
        low, high = np.quantile(null, [0.025, 0.975]) if null.size else (np.nan, np.nan)
        n = ev.refit_inference(auc, null) | {
            "auc": auc, "null_auc_low": float(low), "null_auc_high": float(high),
            "main_auc": test.auc_a, "delta_auc": test.delta_auc, "p_value_delong": test.p_value}
        beaten = n["delta_auc"] > 0 and n["p_value_delong"] < 0.05
        text = (f"time of day alone AUC {auc:.3f} against its refit null {n['null_auc_mean']:.3f} (95 % "
                f"{n['null_auc_low']:.3f}-{n['null_auc_high']:.3f}, two-sided p {n['p_value']:.3g}); "
                f"main {n['main_auc']:.3f} (delta {n['delta_auc']:+.3f}, DeLong p {n['p_value_delong']:.3g})")
        test = PTest(n["p_value"], "two-sided refit permutation p of time of day alone",
                     "time of day carries no signal",
                     "TIME OF DAY SEPARATES the windows (the main score exceeds it)" if beaten else
                     "TIME OF DAY SEPARATES the windows as well as the main score does")
        return CheckResult.tested(self.name, part.horizon_hours, text, test, n)
