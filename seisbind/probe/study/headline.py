"""The row a report leads with, and what it may claim.

`probe.primary` (feature_set, score, horizon_hours) when declared before looking; else the row with the smallest
family-wise p among the rows that can be tested against clustering (every configured null gave them a p-value),
falling back to all rows when none can.

Why only those: in a clustered catalog pre-event windows really do hold more activity, and rows built on trace
metadata (which traces exist tracks seismicity, below the magnitude floor too) see it; their "the windows differ"
cannot be told from clustering, so it cannot lead. Measured on ETAS-cascade nulls (20 seeds): the best row of any
kind had a family-wise p < 0.05 in 2, the best testable row in 0. The best untestable row is still reported
(`best_untested`), and whether a modality adds to the catalog is the comparisons' question. The nulls' p-values
play no part in the choice, only whether a row has them. Ties (permutation p-values share a floor) go to the
larger AUC, then the fewer columns.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from seisbind.config_schema import Primary
from seisbind.errors import SeisbindInputError
from seisbind.probe.study.rows import Row
from seisbind.times import to_utc_ns


def headline(rows: list[Row], windows: pd.DataFrame, primary: Primary | None, nulls: list[str]) -> dict:
    """The lead row's numbers, `p_value_<null>` for each configured null, and `beyond_clustering`: True when the
    windows differ family-wise and by more than every null gives, None when a null gave the row no p-value."""
    tested = [r for r in rows if testable(r, nulls)]
    row = declared(rows, primary) if primary else min(tested or rows, key=_order)
    head = {"feature_set": row.feature_set, "score": row.score, "horizon_hours": row.horizon_hours} | {
        key: row.values.get(key) for key in ("auc", "auc_ci_low", "auc_ci_high", "p_value", "p_value_adjusted",
                                             "p_value_at_floor")}
    null_p = {n: row.values.get(f"p_value_{n}") for n in nulls}
    head |= {f"p_value_{n}": p for n, p in null_p.items()}
    # A claim needs both: the windows differ (family-wise) and by more than clustering gives (every null).
    significant = head["p_value_adjusted"] < 0.05
    head["beyond_clustering"] = None if not nulls or None in null_p.values() else \
        bool(significant and max(null_p.values()) < 0.05)
    untested = [r for r in rows if not testable(r, nulls)]
    best_untested = min(untested, key=_order) if untested else None
    pre = windows[(windows["window_type"] == "pre") & np.isclose(windows["horizon_hours"], row.horizon_hours)]
    return head | {"nulls": list(nulls), "n_targets": int(pre["target_event_id"].nunique()),
                   "n_independent": independent_targets(to_utc_ns(pre["target_time"]), row.horizon_hours),
                   "declared": bool(primary), "n_rows": len(rows),
                   "chosen_among": "declared" if primary else "testable" if testable(row, nulls) else "all",
                   "best_untested": None if best_untested is None else {
                       key: best_untested.as_dict()[key] for key in ("feature_set", "score", "horizon_hours", "auc",
                                                                     "p_value_adjusted")},
                   "null_reason": "only rows made of catalog features have a clustering null; see skipped"}


def testable(row: Row, nulls: list[str]) -> bool:
    return bool(nulls) and all(row.values.get(f"p_value_{n}") is not None for n in nulls)


def declared(rows: list[Row], primary: Primary) -> Row:
    key = (primary.horizon_hours, primary.feature_set, primary.score)
    chosen = [r for r in rows if r.key == key]
    if not chosen:
        raise SeisbindInputError(
            f"probe.primary={dict(feature_set=primary.feature_set, score=primary.score, horizon_hours=key[0])} is "
            f"not among the result rows (feature sets {sorted({r.feature_set for r in rows})}, scores "
            f"{sorted({r.score for r in rows})}, horizons {sorted({r.horizon_hours for r in rows})})")
    return chosen[0]


def independent_targets(times_ns: np.ndarray, horizon_hours: float) -> int:
    """Targets whose pre-event windows overlap no earlier kept one (greedy in time): windows that overlap share
    their events, so they are not independent evidence."""
    kept, last = 0, None
    for t in np.sort(times_ns):
        if last is None or t - last >= horizon_hours * 3.6e12:
            kept, last = kept + 1, t
    return kept


def _order(row: Row) -> tuple:
    return row.values["p_value_adjusted"], -row.auc, row.n_features
