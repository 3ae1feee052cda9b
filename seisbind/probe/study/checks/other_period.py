"""Another period: the pre-event and background windows moved where no target follows them
(seisbind/probe/study/design.py:with_other_period). If the shifted "pre-event" windows still separate from the
shifted background, the separation comes from the calendar (season, network changes), not from the targets.

Judged by a p-value: the shifted windows' AUC among the AUCs of their labels permuted within the matched sets,
their scores fixed (the main model never saw them), as for the Wikelski baseline (seisbind/probe/study/wikelski.py);
the matched sets keep slow changes over the period out of it, as for the main rows. Where the main score finds no
pre-event signal, a separation of the shifted windows (p < ALPHA before adjustment) is reported as not informative
and stays out of the adjusted family.
"""

from __future__ import annotations

from seisbind.probe import evaluate as ev
from seisbind.probe.report import fmt_ci
from seisbind.probe.study.checks import ALPHA, CheckContext, CheckResult, PTest, against_background, auc_ci
from seisbind.probe.study.design import Horizon
from seisbind.probe.study.rows import permuted_labels


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
        both = pre | bg
        rows = other.rows[both]
        shifted = Horizon(h, rows, pre[both], context.windows["group"].astype(str).to_numpy()[rows])
        pre_bg = numbers["pre_vs_background"] = auc_ci(shifted.y, other.scores[both], settings)
        null = ev.fixed_null_aucs(other.scores[both], permuted_labels(context.windows, shifted, settings))
        p = numbers["p_value"] = ev.refit_inference(pre_bg["auc"], null)["p_value"]
        text = (f"the windows moved to the other period: shifted pre-event vs shifted background AUC "
                f"{fmt_ci(pre_bg)} (p {p:.3g} from labels permuted within the matched sets), all "
                f"{other.rows.size} vs main background {fmt_ci(other.vs_background)}")
        if not context.checked_significant and p < ALPHA:
            return CheckResult(self.name, h, None, text + ": not informative, the main score finds no pre-event "
                               "signal at this horizon", numbers, scores)
        test = PTest(p, "two-sided permutation p of the shifted windows", "no separation where no target follows",
                     "SEPARATED where no target follows, the separation is a period or seasonal effect")
        return CheckResult.tested(self.name, h, text, test, numbers, scores)
