"""Another period: the pre-event and background windows moved where no target follows them
(seisbind/probe/study/design.py:with_other_period). If the shifted "pre-event" windows still separate from the
shifted background, the separation comes from the calendar (season, network changes), not from the targets."""

from __future__ import annotations

import numpy as np

from seisbind.probe.report import fmt_ci
from seisbind.probe.study.checks import (
    CheckContext,
    CheckResult,
    auc_ci,
    main_model_scores,
    other_windows,
)


class OtherPeriod:
    name = "other_period"

    def run(self, context: CheckContext) -> CheckResult:
        h, settings = context.horizon.horizon_hours, context.settings
        rows = other_windows(context, ("other_pre", "other_background"))
        if rows.size < settings.min_windows_per_class:
            why = f"{rows.size} other_pre/other_background windows with the features of the main feature set"
            return CheckResult(self.name, h, None, f"not run: {why}", {"skipped": why})
        s_other, background = main_model_scores(context, rows), context.background_scores
        y = np.r_[np.ones(rows.size, bool), np.zeros(background.size, bool)]
        numbers = {"n_windows": int(rows.size), "mean_score": float(s_other.mean()),
                   "mean_background_score": float(background.mean()),
                   "vs_background": auc_ci(y, np.r_[s_other, background], settings)}
        scores = dict(zip(rows.tolist(), s_other.tolist(), strict=True))
        kind = context.windows["window_type"].to_numpy()[rows]
        pre, bg = kind == "other_pre", kind == "other_background"
        if min(pre.sum(), bg.sum()) < settings.min_windows_per_class:
            return CheckResult(self.name, h, None, f"not run: too few shifted pre-event or background windows "
                               f"({rows.size} in all)", numbers, scores)
        pre_bg = numbers["pre_vs_background"] = auc_ci(pre[pre | bg], s_other[pre | bg], settings)
        differs = pre_bg["auc_ci_low"] > 0.5
        text = (f"the windows moved to the other period: shifted pre-event vs shifted background AUC "
                f"{fmt_ci(pre_bg)}, all {rows.size} vs main background {fmt_ci(numbers['vs_background'])}")
        if not context.main_significant and differs:
            return CheckResult(self.name, h, None, text + ": not informative, the main score finds no pre-event "
                               "signal at this horizon", numbers, scores)
        text += (": no elevation where no target follows" if not differs else
                 ": ELEVATED where no target follows, the separation is a period or seasonal effect")
        return CheckResult(self.name, h, not differs, text, numbers, scores)
