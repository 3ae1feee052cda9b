"""Post-event windows: scored by the main model, they should rank above background, since aftershock-rich
windows are what any seismicity score must find. A score that does not respond to obvious seismicity measures
something else.

The premise needs aftershock-rich windows: where the post-event windows hold no more events above the floor than
the pre-event ones (a catalog whose M4-5 targets have few catalogued aftershocks in their first hours, or a planted
precursor as busy as them), the score has nothing more obvious to respond to, and the check says so instead of
failing."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from seisbind.probe import evaluate as ev
from seisbind.probe.report import fmt_ci
from seisbind.probe.scores import Mahalanobis
from seisbind.probe.study.checks import CheckContext, CheckResult, against_background, auc_ci

JUDGED_BY = ("passes when the 95 % bootstrap interval of the post-event vs background AUC lies above 0.5; it fails "
             "when a test does not reject, so an adjustment for multiplicity would only make failing easier: not "
             "adjusted")


class PostEvent:
    """`seismicity`: the features.csv column that counts a window's events (catalog family: n_events)."""

    name = "post_event"

    def __init__(self, seismicity: str = "n_events") -> None:
        self.seismicity = seismicity

    def run(self, context: CheckContext) -> CheckResult:
        h, settings = context.horizon.horizon_hours, context.settings
        post = against_background(context, ("post",))
        if isinstance(post, str):
            return CheckResult(self.name, h, None, f"not run: {post}", {"skipped": post})
        # Label-free view: are the post-event windows far from background in these features at all?
        part, plain = context.checked.part, replace(settings, scorers={"distance": Mahalanobis})
        distance = ev.fit_and_score(context.X_fit, part.y, context.table.X(post.rows, context.columns), "distance",
                                    plain)
        distance_bg = ev.oof_scores(context.X_fit, part.y, part.groups, ["distance"], plain)["distance"]
        far = auc_ci(post.y, np.r_[distance, distance_bg[~part.y]], settings)
        vs, numbers = post.vs_background, post.numbers() | {"mahalanobis_vs_background": far}
        text = (f"post-event windows vs background AUC {fmt_ci(vs)} over {post.rows.size} windows (Mahalanobis "
                f"distance from background: {fmt_ci(far)})")
        poor = self.not_richer(context, post.rows)
        if poor:
            return CheckResult(self.name, h, None, f"{text}: not informative, {poor}", numbers, post.window_scores())
        if not context.checked_significant:
            return CheckResult(self.name, h, None, text + ": not informative, the main score finds no pre-event "
                               "signal at this horizon, so the direction it learned is arbitrary", numbers,
                               post.window_scores())
        ok = vs["auc_ci_low"] > 0.5
        text += (": they score high, as aftershock-rich windows should" if ok else
                 ": they do not score above background: the score does not respond to obvious seismicity")
        return CheckResult(self.name, h, ok, text, numbers, post.window_scores(), JUDGED_BY)

    def not_richer(self, context: CheckContext, post_rows: np.ndarray) -> str:
        """Why the post-event windows cannot test the score's response to seismicity, or "" when they can: their
        median event count must exceed the pre-event windows'."""
        if self.seismicity not in context.table.features:
            return f"no {self.seismicity} column to tell whether the post-event windows are aftershock-rich"
        counts = context.table.features[self.seismicity].to_numpy(np.float64)
        horizon = context.horizon
        post, pre = np.nanmedian(counts[post_rows]), np.nanmedian(counts[horizon.index[horizon.y]])
        if post > pre:
            return ""
        return (f"the post-event windows hold no more events than the pre-event ones ({self.seismicity} median "
                f"{post:g} vs {pre:g}): too few catalogued aftershocks after the targets to test whether the score "
                "responds to seismicity")
