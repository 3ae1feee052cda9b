"""The sanity checks judge what they compute: time of day fails in either direction and passes when it carries
nothing; the label shuffle says where the main AUC ranks."""

from __future__ import annotations

import numpy as np
import pandas as pd

from seisbind.probe.evaluate import Settings
from seisbind.probe.scores import Logistic
from seisbind.probe.study.checks import CheckContext
from seisbind.probe.study.checks.label_shuffle import LabelShuffle
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
    assert above.passed is False and above.numbers["auc"] > 0.9 and "TIME OF DAY SEPARATES" in above.text
    below = TimeOfDay().run(context(pre_hour=3.0, score="inverted"))
    assert below.passed is False and below.numbers["auc"] < 0.1
    assert below.numbers["p_value_two_sided"] < 0.05
    plain = TimeOfDay().run(context(pre_hour=None))
    assert plain.passed is True and plain.numbers["p_value_two_sided"] >= 0.05
    assert "time of day carries no signal" in plain.text


def test_label_shuffle_ranks_the_main_auc_among_the_shuffles():
    result = LabelShuffle().run(context(pre_hour=None))
    n = result.numbers
    assert n["n_shuffles"] == 60 and abs(n["auc_mean"] - 0.5) < 0.1
    assert f"ranks {n['rank']} of 61" in result.text and result.passed is True
    assert LabelShuffle(tolerance=-1.0).run(context(pre_hour=None)).passed is False   # any mean reads as a leak
