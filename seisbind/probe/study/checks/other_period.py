"""Another period: the pre-event and background windows moved where no target follows them
(seisbind/probe/study/design.py:with_other_period). If the shifted "pre-event" windows still separate from the
shifted background, the separation comes from the calendar (season, network changes), not from the targets."""

from __future__ import annotations

from seisbind.probe.report import fmt_ci
from seisbind.probe.study.checks import CheckContext, CheckResult, against_background, auc_ci


class OtherPeriod:
    name = "other_period"

    def run(self, context: CheckContext) -> CheckResult:
        h, settings = context.horizon.horizon_hours, context.settings
        other = against_background(context, ("other_pre", "other_background"))
        if isinstance(other, str):
            return CheckResult(self.name, h, None, f"not run: {other}", {"skipped": other})
        numbers, scores = other.numbers(), other.window_scores()
        kind = context.windows["window_type"].to_numpy()[other.rows]
        pre, bg = kind == "other_pre", kind == "other_background"
        if min(pre.sum(), bg.sum()) < settings.min_windows_per_class:
            return CheckResult(self.name, h, None, f"not run: too few shifted pre-event or background windows "
                               f"({other.rows.size} in all)", numbers, scores)
        pre_bg = numbers["pre_vs_background"] = auc_ci(pre[pre | bg], other.scores[pre | bg], settings)
        differs = pre_bg["auc_ci_low"] > 0.5
        text = (f"the windows moved to the other period: shifted pre-event vs shifted background AUC "
                f"{fmt_ci(pre_bg)}, all {other.rows.size} vs main background {fmt_ci(other.vs_background)}")
        if not context.checked_significant and differs:
            return CheckResult(self.name, h, None, text + ": not informative, the main score finds no pre-event "
                               "signal at this horizon", numbers, scores)
        text += (": no elevation where no target follows" if not differs else
                 ": ELEVATED where no target follows, the separation is a period or seasonal effect")
        return CheckResult(self.name, h, not differs, text, numbers, scores)
