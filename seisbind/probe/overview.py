"""The first screen of a study's results: the headline, each modality's verdict, the leading rows, every comparison,
the checks, the data and its coverage.

The same lines end `python probe.py` on the console (`report.summary`) and open report.md, so the two never
disagree; they are plain text that also reads as markdown (list items, no tables). Everything else (every row,
the checks in words, the nulls' fits) is in the report's details.
"""

from __future__ import annotations

import math

LEADING_ROWS = 5
LISTED_CHECKS = 5
"""Failed and not-run checks listed by name on the first screen; the rest are counted, all are in the report."""


def overview(metrics: dict) -> list[str]:
    """The blocks, blank lines between them; a block with nothing to say (no configured comparison ran) is left out."""
    blocks = [[headline_sentence(metrics["headline"])], verdict_lines(metrics), leading_rows(metrics),
              comparison_lines(metrics), check_lines(metrics["sanity"]),
              data_lines(metrics["data"], metrics["skipped"])]
    return [line for block in blocks if block for line in ["", *block]][1:]


def _or(value, default: float) -> float:
    """A JSON number, or `default` where it is null or NaN (sorting and formatting then never meet a NaN)."""
    return default if value is None or not math.isfinite(value) else value


def headline_sentence(head: dict) -> str:
    """The result a report leads with, in the terms a referee asks for."""
    if not head:
        return "Headline: no result row."
    nulls = head.get("nulls") or []
    untested_null = [n for n in nulls if head.get(f"p_value_{n}") is None]
    etas = ("against clustering: no null configured (probe.nulls)" if not nulls else
            "; ".join(f"against the {n} clustering null p = {head[f'p_value_{n}']:.3g}"
                      f"{_direction(head.get(f'{n}_direction'), 'it gives')}, family-wise p = "
                      f"{_or(head.get(f'p_value_{n}_adjusted'), math.nan):.3g}"
                      for n in nulls if n not in untested_null)
            + "".join(f"; against the {n} clustering null: not computed ({head.get('null_reason', 'see skipped')})"
                      for n in untested_null)).lstrip("; ")
    against = "against clustering" if head.get("chosen_by") == "clustering nulls" else "of the permutations"
    chosen = "declared in advance (probe.primary)" if head["declared"] else \
        f"{head.get('design', 'quiet')} design: the smallest family-wise p {against} among the rows with a " \
        f"clustering null, of {head['n_rows']} rows" if head.get("chosen_among") == "testable" else \
        f"the smallest family-wise p of {head['n_rows']} rows"
    warn = (" FEWER THAN 20 INDEPENDENT TARGETS: read the p-values as rough." if head["n_independent"] < 20
            else "")
    floor = " (at the permutation floor: more permutations would tell how far below)" \
        if head.get("p_value_at_floor") else ""
    verdict = " Verdict: " + verdict_words(head)
    other = head.get("best_untested")
    untested = (f" Best row without a clustering null: {other['feature_set']} / {other['score']} at "
                f"{other['horizon_hours']:g} h, AUC {other['auc']:.3f}, family-wise p = "
                f"{other['p_value_adjusted']:.3g} (trace, animal and embedding features have no simulated "
                "counterpart, so it cannot be told from clustering; what a modality adds to the seismic data is its "
                "verdict's question)." if other and not head["declared"]
                and head.get("chosen_among") == "testable" else "")
    return (f"Headline ({chosen}): {head['feature_set']} / {head['score']} at {head['horizon_hours']:g} h: AUC "
            f"{head['auc']:.3f} [{head['auc_ci_low']:.3f}, {head['auc_ci_high']:.3f}]; p = {head['p_value']:.3g}"
            f"{floor}{_direction(head.get('direction'), 'background')}; family-wise p = "
            f"{head['p_value_adjusted']:.3g} (Westfall-Young max-T over all "
            f"{head['n_rows']} rows{_tested(head)}); {etas}; {head['n_targets']} targets, "
            f"{head['n_independent']} independent."
            + warn + verdict + untested)


def verdict_words(head: dict) -> str:
    """What the headline may claim (seisbind/probe/study/headline.py): the windows must differ and every null set
    them apart, in one direction, in either design."""
    claim, targets = head["beyond_clustering"], head.get("design") == "targets"
    if claim:
        return (f"SIGNAL BEYOND CLUSTERING: pre-event windows score {head['claim_direction']} than background and "
                "than clustering gives (family-wise).")
    differ = head["p_value_adjusted" if claim is None else "p_value_adjusted_tested"] < 0.05
    if claim is None:
        if targets:
            return "no verdict: the targets design rests it on a clustering null, and none gave this row a p-value."
        return "the windows differ, but not tested against clustering." if differ else "no signal (family-wise)."
    if differ:
        return "the windows differ, no more than clustering gives."
    apart = [n for n in head.get("nulls") or [] if (head.get(f"p_value_{n}_adjusted") or 1.0) < 0.05]
    return "no signal (family-wise)" + (
        f": the {', '.join(apart)} null sets the row apart, but the windows do not differ from background, so its "
        "model, not the time before earthquakes, is what differs" if apart else "") + "."


def _tested(head: dict) -> str:
    """The permutations' family-wise p over the rows a claim can be made on, where the headline has one."""
    p = head.get("p_value_adjusted_tested")
    return "" if p is None else f"; {p:.3g} over the {head['n_tested']} rows with a clustering null, the claim's family"


def _direction(direction: str | None, than: str) -> str:
    """Which way a two-sided p-value points (seisbind.probe.evaluate.two_sided_p)."""
    return f" (two-sided: pre-event windows score {direction} than {than})" if direction else ""


def leading_rows(metrics: dict) -> list[str]:
    """The LEADING_ROWS rows of smallest family-wise p (then largest AUC), with each clustering null's p."""
    results, nulls = metrics["results"], metrics["headline"].get("nulls") or []
    ranked = sorted(results, key=lambda r: (_or(r.get("p_value_adjusted"), math.inf), -_or(r["auc"], 0.0)))
    lines = [f"Leading rows ({min(LEADING_ROWS, len(ranked))} of {len(ranked)}, by family-wise p):"]
    for r in ranked[:LEADING_ROWS]:
        against = "".join(f", {n} p {r[f'p_value_{n}']:.3g}" for n in nulls if r.get(f"p_value_{n}") is not None)
        lines.append(f"- {r['horizon_hours']:g} h {r['feature_set']} / {r['score']}: AUC {r['auc']:.3f} "
                     f"[{r['auc_ci_low']:.3f}, {r['auc_ci_high']:.3f}], p {r['p_value']:.3g}, family-wise "
                     f"{_or(r.get('p_value_adjusted'), math.nan):.3g}{against}")
    return lines


def verdict_lines(metrics: dict) -> list[str]:
    """One line per modality of probe.verdicts (seisbind/probe/study/verdicts.py): does it add to the seismic data,
    family-wise, and what it adds against the catalog alone (secondary)."""
    verdicts = metrics.get("modality_verdicts") or {}
    if not verdicts:
        return ["Modality verdicts: none configured (probe.verdicts.modalities)."]
    n = sum(c.get("p_value_adjusted") is not None for c in metrics["comparisons"])
    lines = [f"Modality verdicts (does it add to every seismic feature the root has? family-wise p over the {n} "
             "comparisons with a feature-permutation null, every horizon):"]
    for modality, v in verdicts.items():
        left_out = "; ".join(f"{o['feature_set']}: {o['reason']}" for o in v["baseline_left_out"])
        minimum = metrics["settings"]["min_windows_per_class"]
        secondary = v["secondary"]
        lines.append(f"- {modality}" + (f" vs the seismic baseline {v['baseline']}" if v["baseline"] else "")
                     + f": {verdict_words_of(v, minimum)}" + (f"; {v['reading']}" if v["reading"] else "")
                     + (f". Secondary, vs {secondary['baseline']} alone: {verdict_words_of(secondary, minimum)}"
                        if secondary else "")
                     + (f". Left out of the baseline: {left_out}" if left_out else "") + ".")
    return lines


def verdict_words_of(v: dict, min_windows: int) -> str:
    """A verdict (or its secondary comparison) with its numbers."""
    verdict = v["verdict"].upper() if v["verdict"] == "adds" else v["verdict"]
    if v["horizon_hours"] is None:
        return verdict
    counts = f"{v['n_pre']} pre-event / {v['n_background']} background windows"
    if v["p_value_adjusted"] is None:
        short = f", fewer than {min_windows} in a class" if v["verdict"] == "too few windows" else ""
        return f"{verdict} (at best {counts} at {v['horizon_hours']:g} h{short})"
    return (f"{verdict} at {v['horizon_hours']:g} h: delta AUC {v['delta_auc']:+.3f} (AUC {v['auc_a']:.3f} -> "
            f"{v['auc_b']:.3f}), family-wise p {v['p_value_adjusted']:.3g}, {counts}")


def comparison_lines(metrics: dict) -> list[str]:
    """One line per configured comparison (probe.comparisons; the verdicts' own are summed up in their lines):
    delta AUC, p and family-wise p per horizon. None when no such comparison ran."""
    pairs: dict[tuple[str, str], list[dict]] = {}
    for c in metrics["comparisons"]:
        if not c.get("modality"):
            pairs.setdefault((c["feature_set_a"], c["feature_set_b"]), []).append(c)
    if not pairs:
        return []
    lines = ["Other comparisons (delta AUC with - without on the windows both cover; p, and family-wise p over "
             "every comparison with a feature-permutation null at every horizon):"]
    for (a, b), found in pairs.items():
        cells = ", ".join(f"{c['horizon_hours']:g} h " + _comparison_cell(c) for c in found)
        tested = [c for c in found if c["p_value"] is not None]
        gains, losses = (", ".join(f"{c['horizon_hours']:g} h" for c in tested if _p(c) < 0.05
                                   and (c["delta_auc"] > 0) == better) for better in (True, False))
        said = [f"adds signal at {gains}"] * bool(gains) + [f"significantly worse at {losses}"] * bool(losses)
        lines.append(f"- {b} vs {a}: {cells}: {'; '.join(said) or 'no significant difference'}")
    return lines


def _p(c: dict) -> float:
    """A comparison's family-wise p where it has one, else its own."""
    return c["p_value"] if c.get("p_value_adjusted") is None else c["p_value_adjusted"]


def _comparison_cell(c: dict) -> str:
    if c["p_value"] is None:
        return f"not run ({'too few windows' if c.get('too_few') else 'see skipped'}: {c['n_pos']}/{c['n_neg']})"
    adjusted = "" if c.get("p_value_adjusted") is None else f", family-wise {c['p_value_adjusted']:.2g}"
    return f"{c['delta_auc']:+.3f} (p {c['p_value']:.2g}{adjusted})"


def check_lines(sanity: dict) -> list[str]:
    """`sanity checks: P passed, F failed, N not run (how judged)` and the failed and not-run ones by name. When
    no check ran the line says that nothing was checked, so a summary never reads as a clean pass by default."""
    verdicts, family = sanity["verdicts"], sanity["multiplicity"]
    passed = sum(v["passed"] is True for v in verdicts)
    failed = [v for v in verdicts if v["passed"] is False]
    not_run = [v for v in verdicts if v["passed"] is None]
    if not passed and not failed:
        head = (f"sanity checks: NONE RAN ({len(not_run)} not run): nothing was checked" if verdicts else
                "sanity checks: NONE RAN (no check configured or the checked feature set was never evaluated): "
                "nothing was checked")
    else:
        other = ", ".join(family["not_adjusted"])
        head = (f"sanity checks: {passed} passed, {len(failed)} failed, {len(not_run)} not run (Holm over "
                f"{family['n_tests']} checks with a p-value" + (f"; {other} judged otherwise" if other else "") + ")")
    listed = [*failed, *not_run]
    lines = [head] + [f"- {'FAIL' if v['passed'] is False else 'NOT RUN'} {v['check']} at {v['horizon_hours']:g} h"
                      f"{_adjusted(v)}: {v['text']}" for v in listed[:LISTED_CHECKS]]
    if len(listed) > LISTED_CHECKS:
        lines.append(f"- ... {len(listed) - LISTED_CHECKS} more failed or not run: see the sanity checks in report.md")
    return lines


def _adjusted(verdict: dict) -> str:
    if verdict["p_value_adjusted"] is None:
        return ""
    return f" (p {verdict['p_value']:.3g}, Holm-adjusted {verdict['p_value_adjusted']:.3g})"


def data_lines(data: dict, skipped: list[dict]) -> list[str]:
    """Where the data came from, how many targets and windows, and which feature families cover how much."""
    windows = ", ".join(f"{h} h {c['pre']}/{c['background']}" for h, c in data["windows"].items())
    cover = ", ".join(f"{name} {share:.0%}" for name, share in data["windows_with_family"].items())
    return [f"Data: {data['root']}: {data['catalog_events']} catalog events, {data['n_targets']} targets M >= "
            f"{data['target_min_magnitude']}, {data['n_traces']} traces; checkpoint {data['ckpt'] or 'none'}.",
            *design_lines(data["design"]),
            f"Windows per horizon (pre-event/background): {windows}.",
            f"Windows each feature family covers: {cover}.",
            f"Skipped: {len(skipped)} part(s), each with its reason in report.md." if skipped else "Skipped: nothing."]


def design_lines(design: dict) -> list[str]:
    """The design, the inference it supports, and what each design does with the period's largest events."""
    counts = ", ".join(f"{name} {n}" for name, n in design["n_targets"].items())
    largest = "; ".join(f"M{e['magnitude']:.1f} {e['time'][:16]} " + ", ".join(
        f"{name} design {e[name]}" for name in design["n_targets"]) for e in design["largest_events"])
    return [f"Design: {design['design']} ({design['inference']}). Targets per design: {counts}.",
            f"Largest events of the period: {largest}."]
