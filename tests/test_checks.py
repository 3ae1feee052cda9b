"""The sanity checks judge what they compute: time of day fails in either direction and passes when it carries
nothing; the label shuffle says where the main AUC ranks. The study re-judges the checks with a p-value on their
Holm-adjusted p-values, and its summary counts passed, failed and not run, never reading as a pass when nothing
ran."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from seisbind.probe.evaluate import Settings
from seisbind.probe.overview import check_lines
from seisbind.probe.scores import Logistic
from seisbind.probe.study.checks import CheckContext, CheckResult, PTest, adjust
from seisbind.probe.study.checks.label_shuffle import LabelShuffle
from seisbind.probe.study.checks.post_event import PostEvent
from seisbind.probe.study.checks.time_of_day import TimeOfDay
from seisbind.probe.study.design import Horizon
from seisbind.probe.study.rows import evaluate, permuted_labels, rows_of
from seisbind.probe.study.table import FeatureTable


class Inverted(Logistic):
    """Logistic regression's score, negated: a scorer that ranks pre-event windows reliably low."""

    def score(self, X: pd.DataFrame) -> np.ndarray:
        return -super().score(X)


def context(pre_hour: float | None, score: str = "logistic", seed: int = 0) -> CheckContext:
    """24 pre-event and 120 background windows (every pre-event window its own group, background windows in
    groups of 6); the main feature is noise; pre-event windows start at `pre_hour` (None: at random hours)."""
    rng = np.random.default_rng(seed)
    n_pre, n_bg = 24, 120
    y = np.r_[np.ones(n_pre, bool), np.zeros(n_bg, bool)]
    hours = rng.uniform(0, 24, y.size)
    if pre_hour is not None:
        hours[:n_pre] = pre_hour + rng.normal(0, 1.0, n_pre)
    windows = pd.DataFrame({"window_type": np.where(y, "pre", "background"), "horizon_hours": 24.0,
                            "group": [f"t{i}" for i in range(n_pre)] + [f"bg{i // 6}" for i in range(n_bg)],
                            "stratum": "all"})
    features = pd.DataFrame({"x": rng.normal(size=y.size), "time_of_day_sin": np.sin(2 * np.pi * hours / 24),
                             "time_of_day_cos": np.cos(2 * np.pi * hours / 24)})
    table = FeatureTable(features, {"main": ["x"]})
    settings = Settings(n_bootstrap=50, n_permutations=60, n_folds=5, seed=seed,
                        scorers={"logistic": Logistic, "inverted": Inverted})
    horizon = Horizon(24.0, np.arange(y.size), y, windows["group"].to_numpy())
    labels = permuted_labels(windows, horizon, settings)
    main = evaluate(lambda rows: table.X(rows, ["x"]), horizon, [score], settings, "main", labels)
    (row,) = rows_of("main", main, 1)
    return CheckContext(horizon, main, row, ["x"], score, windows, table, settings, labels)


def test_time_of_day_check_fails_in_either_direction_and_passes_without_a_diurnal_signal():
    above = TimeOfDay().run(context(pre_hour=3.0))
    assert above.passed is False and above.numbers["auc"] > 0.9 and "TIME OF DAY SEPARATES" in above.sentence
    assert above.test.p_value == above.numbers["p_value"] < 0.05
    below = TimeOfDay().run(context(pre_hour=3.0, score="inverted"))
    assert below.passed is False and below.numbers["auc"] < 0.1
    assert below.numbers["p_value"] < 0.05
    plain = TimeOfDay().run(context(pre_hour=None))
    assert plain.passed is True and plain.numbers["p_value"] >= 0.05
    assert "time of day carries no signal" in plain.sentence


def test_label_shuffle_ranks_the_main_auc_among_the_shuffles():
    result = LabelShuffle().run(context(pre_hour=None))
    n = result.numbers
    assert n["n_shuffles"] == 60 and abs(n["auc_mean"] - 0.5) < 0.1
    assert f"ranks {n['rank']} of 61" in result.text and result.passed is True
    assert LabelShuffle(tolerance=-1.0).run(context(pre_hour=None)).passed is False   # any mean reads as a leak


def p_check(h: float, p: float) -> CheckResult:
    return CheckResult.tested("time_of_day", h, "seen", PTest(p, "p", "carries nothing", "SEPARATES"), {})


def test_holm_rejudges_the_checks_with_a_p_value_and_leaves_the_others():
    """p = 0.01, 0.04, 0.03, 0.005 at four horizons fail alone at 5 %; Holm over the four (hand-worked in
    tests/test_stats.py) gives 0.03, 0.06, 0.06, 0.02: the 0.04 and 0.03 checks now pass."""
    results = [p_check(h, p) for h, p in zip((2, 6, 12, 24), (0.01, 0.04, 0.03, 0.005))]
    assert all(r.passed is False for r in results)
    shuffle = CheckResult("label_shuffle", 24, True, "no label leakage", judged_by="a tolerance")
    not_run = CheckResult("other_period", 24, None, "not run: 3 other_pre windows")
    family = adjust([*results, shuffle, not_run])
    assert family["n_tests"] == 4 and family["not_adjusted"] == ["label_shuffle"]
    assert [r.test.p_value_adjusted for r in results] == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert [r.passed for r in results] == [False, True, True, False]
    assert "SEPARATES" in results[0].sentence and "carries nothing" in results[1].sentence
    verdict = results[1].verdict()
    assert verdict["p_value"] == 0.04 and verdict["p_value_adjusted"] == pytest.approx(0.06)
    assert "Holm" in verdict["judged_by"] and shuffle.verdict()["p_value"] is None
    assert shuffle.passed is True and not_run.passed is None

    sanity = {"verdicts": [r.verdict() for r in [*results, shuffle, not_run]], "multiplicity": family}
    lines = check_lines(sanity)
    assert lines[0] == ("sanity checks: 3 passed, 2 failed, 1 not run (Holm over 4 checks with a p-value; "
                        "label_shuffle judged otherwise)")
    assert lines[1].startswith("- FAIL time_of_day at 2 h (p 0.01, Holm-adjusted 0.03): seen: SEPARATES")
    assert lines[3] == "- NOT RUN other_period at 24 h: not run: 3 other_pre windows"


def test_a_summary_where_no_check_ran_says_nothing_was_checked():
    not_run = [CheckResult("post_event", h, None, "not run: 2 post windows").verdict() for h in (6, 24)]
    (head, *listed) = check_lines({"verdicts": not_run, "multiplicity": adjust([])})
    assert head == "sanity checks: NONE RAN (2 not run): nothing was checked" and len(listed) == 2
    assert "nothing was checked" in check_lines({"verdicts": [], "multiplicity": adjust([])})[0]
    no_p = p_check(24, float("nan"))
    assert no_p.passed is None and no_p.test is None and no_p.text.startswith("not run: no p-value")


def test_post_event_windows_must_be_aftershock_rich_to_test_the_score():
    """The post-event check needs post-event windows holding more events than the pre-event ones; otherwise the
    score has nothing more obvious to respond to and the check says why instead of judging."""
    ctx = context(pre_hour=None)
    n_events = np.r_[np.full(24, 2.0), np.zeros(120), [1.0, 1.0, 3.0]]
    ctx.table.features = pd.concat([ctx.table.features, ctx.table.features.iloc[:3]], ignore_index=True)
    ctx.table.features["n_events"] = n_events
    post_rows = np.arange(144, 147)
    assert "n_events median 1 vs 2" in PostEvent().not_richer(ctx, post_rows)
    ctx.table.features.loc[144:146, "n_events"] = [5.0, 8.0, 3.0]
    assert PostEvent().not_richer(ctx, post_rows) == ""
    assert "no rate column" in PostEvent(seismicity="rate").not_richer(ctx, post_rows)
