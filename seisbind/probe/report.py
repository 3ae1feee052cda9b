"""What a reader of the study sees: the ROC and Molchan figures, report.md (the first screen of overview.py, then
the tables and the sanity verdicts in words) with report.html beside it, the console summary, and the same tables
and images in the experiment loggers (W&B) when `logger` is set."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
from omegaconf import DictConfig

from seisbind.files import save_figure, write_text
from seisbind.probe.overview import check_lines, overview
from seisbind.probe.report_html import to_html
from seisbind.probe.stats import molchan, molchan_random_bound

WIKELSKI = "wikelski2020"
"""The feature family and set of the Wikelski et al. (2020) baseline (seisbind/modalities/animal.py), which the
report gives its own section with the family's detector summary (metrics.json `wikelski2020_detector`)."""


def fmt_ci(d: dict) -> str:
    """"AUC [low, high]" of a dict with auc, auc_ci_low, auc_ci_high."""
    return f"{d['auc']:.3f} [{d['auc_ci_low']:.3f}, {d['auc_ci_high']:.3f}]"


# -------------------------------------------------------------------------------------------------- figures
def _curves_by_horizon(oof: dict, score: str) -> dict[float, list[tuple[str, np.ndarray, np.ndarray]]]:
    """{horizon: [(label, y, s)]} for the given score of every feature set, plus single-score baselines; `oof`
    maps (horizon, feature set) to its out-of-fold scores (seisbind/probe/study/rows.py:Scored)."""
    curves: dict[float, list] = {}
    for (h, name), scored in oof.items():
        part, by_score = scored.part, scored.scores
        s = by_score.get(score, next(iter(by_score.values())) if len(by_score) == 1 else None)
        if s is not None:
            only = next(iter(by_score))
            label = name if score in by_score or only == name else f"{name} ({only})"
            curves.setdefault(h, []).append((label, part.y, s))
    return dict(sorted(curves.items()))


def _axes(n: int):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, max(n, 1), figsize=(4.2 * max(n, 1), 4.2), squeeze=False, sharey=True)
    return plt, fig, axes[0]


def plot_roc(oof: dict, score: str, path: Path) -> None:
    """ROC curves (out-of-fold scores) of every feature set, one panel per horizon."""
    from sklearn.metrics import roc_auc_score, roc_curve

    curves = _curves_by_horizon(oof, score)
    plt, fig, axes = _axes(len(curves))
    for ax, (h, items) in zip(axes, curves.items(), strict=False):
        for label, y, s in items:
            fpr, tpr, _ = roc_curve(y, s)
            ax.plot(fpr, tpr, label=f"{label} {roc_auc_score(y, s):.2f}")
        ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls="--")
        ax.set(title=f"{h:g} h before target ({score})", xlabel="false positive rate (background)")
        ax.legend(fontsize=7, loc="lower right")
    axes[0].set_ylabel("true positive rate (pre-event)")
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
    plt.close(fig)


def plot_null(name: str, results: list[dict], nulls: dict[tuple, np.ndarray], path: Path) -> None:
    """Histogram of the AUCs of null `name`'s simulated catalogs for each row that has them (one panel per horizon
    and feature set, the scores overlaid), the observed AUCs as vertical lines."""
    panels: dict[tuple, list[dict]] = {}
    for r in results:
        if (r["horizon_hours"], r["feature_set"], r["score"]) in nulls:
            panels.setdefault((r["horizon_hours"], r["feature_set"]), []).append(r)
    plt, fig, axes = _axes(len(panels))
    bins = np.linspace(0, 1, 41)
    for ax, ((h, feature_set), rows) in zip(axes, sorted(panels.items()), strict=False):
        for k, r in enumerate(rows):
            color = f"C{k}"
            null = nulls[(h, feature_set, r["score"])]
            p = r.get(f"p_value_{name}")
            ax.hist(null[np.isfinite(null)], bins=bins, alpha=0.45, color=color,
                    label=f"{r['score']} p_{name} {p:.3g}" if p is not None else r["score"])
            ax.axvline(r["auc"], color=color, lw=1.5)
        ax.set(title=f"{feature_set}, {h:g} h: {name}-null AUC", xlabel="AUC (lines: observed)")
        ax.legend(fontsize=7, loc="upper left")
    axes[0].set_ylabel("simulated catalogs")
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
    plt.close(fig)


def plot_molchan(oof: dict, score: str, path: Path) -> None:
    """Molchan error diagrams (alarm fraction of background time vs miss rate), the random-alarm diagonal and
    its 95 % bound for the number of targets, one panel per horizon."""
    curves = _curves_by_horizon(oof, score)
    plt, fig, axes = _axes(len(curves))
    for ax, (h, items) in zip(axes, curves.items(), strict=False):
        n_targets = 0
        for label, y, s in items:
            curve = molchan(y, s)
            # one point per threshold; tied scores join their points diagonally (random tie-breaking)
            ax.plot(curve.tau, curve.nu, label=f"{label} skill {curve.area_skill:.2f}")
            n_targets = max(n_targets, int(np.sum(y)))
        tau = np.linspace(0, 1, 201)
        ax.plot(tau, 1 - tau, color="grey", lw=0.8, ls="--", label="random alarms")
        ax.plot(tau, molchan_random_bound(n_targets, tau), color="grey", lw=0.8, ls=":",
                label=f"random, 95 % ({n_targets} targets)")
        ax.set(title=f"{h:g} h ({score})", xlabel="alarm fraction tau (background time)", xlim=(0, 1), ylim=(0, 1))
        ax.legend(fontsize=7, loc="upper right")
    axes[0].set_ylabel("miss rate nu")
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
    plt.close(fig)


# --------------------------------------------------------------------------------------------------- report
def _table(frame: pd.DataFrame, floats: str = "{:.3f}") -> str:
    """A markdown table without extra dependencies (pandas' to_markdown needs tabulate)."""
    def cell(v) -> str:
        if v is None:
            return ""
        if isinstance(v, float):
            return "" if math.isnan(v) else (f"{v:.3g}" if abs(v) < 1e-3 and v != 0 else floats.format(v))
        return str(v)

    if "horizon_hours" in frame:
        frame = frame.assign(horizon_hours=[f"{h:g}" for h in frame["horizon_hours"]])
    lines = ["| " + " | ".join(map(str, frame.columns)) + " |", "|" + "---|" * frame.shape[1]]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(lines)


def results_table(metrics: dict) -> pd.DataFrame:
    """The AUC table: one row per (horizon, feature set, score)."""
    columns = ["horizon_hours", "feature_set", "score", "auc", "auc_ci_low", "auc_ci_high", "p_value",
               "precision_at_recall_0.5", "precision_at_recall_0.8", "molchan_skill", "n_pos", "n_neg"]
    return pd.DataFrame(metrics["results"]).reindex(columns=columns)


def summary(metrics: dict, out: Path) -> str:
    """What `python probe.py` prints last, about 30 lines: report.md's first screen (seisbind/probe/overview.py)
    and where the report and the figures are."""
    figures = ", ".join(sorted(p.name for p in out.glob("*.png")))
    return "\n".join([*overview(metrics), f"report: {out / 'report.md'} (and report.html); figures in {out}: "
                                          f"{figures}"])


def embedding_lines(data: dict) -> list[str]:
    """What the embedding features pool and how many windows of each type have one (seisbind/probe/embedding.py)."""
    cover = data.get("embedding") or {}
    counts = "; ".join(f"{kind} {c['with_embedding']}/{c['windows']} windows (mean {c['mean_traces']:.1f} traces)"
                       for kind, c in (cover.get("per_window_type") or {}).items())
    return [f"Embedding features: mean embedding of the {cover.get('traces', '?')} traces in each window per modality "
            f"of {data['ckpt']}, centred per station and reduced by a PCA fitted without labels on all embedded "
            f"traces, so no label reaches the features. {cover.get('note', '')}".rstrip(),
            f"Windows with a {cover.get('anchor', 'anchor')} embedding: {counts}.", ""]


def radius_words(data: dict) -> str:
    """Where the catalog features count events: near each window's target (probe.radius_km) or everywhere."""
    if data["radius_km"] is None:
        return "counted over the whole study region"
    return (f"counted within {data['radius_km']:g} km of each window's target (a background window's: its matched "
            f"target's, else the target nearest in time; {data['catalog_events_within_radius']} catalog events lie "
            "that near some target, and the clustering nulls fit and simulate those)")


def null_lines(name: str, info: dict) -> str:
    """What a clustering null fitted and simulated (seisbind/probe/study/nulls/), in one paragraph."""
    fit = info.get("fit") or {}
    targets = info["targets"]
    if "max_pool" in info:
        text = (f"{name} null: {info['n_sims']} simulated studies, scored like the real one ({name}_null.png), "
                f"each pooling {targets['catalogs_pooled_mean']:.1f} simulated catalogs on average (at most "
                f"{targets['catalogs_pooled_max']}; {targets['studies_short']} short after {info['max_pool']}) to "
                f"reach the real study's pre-event windows: {targets['simulated_mean']:.1f} targets per study vs "
                f"{targets['real']} real, mean magnitude {_magnitude(targets['simulated_magnitude_mean'])} vs "
                f"{_magnitude(targets['real_magnitude_mean'])}, largest "
                f"{_magnitude(targets['simulated_magnitude_max'])} vs {_magnitude(targets['real_magnitude_max'])}.")
    else:
        text = (f"{name} null: {info['n_sims']} simulated studies, scored like the real one ({name}_null.png), "
                f"each holding the real {targets['real']} targets and their windows, with the events of each window "
                f"simulated given the real catalog before it ({info['spans']} stretches; a target's with its "
                "ancestors drawn given that it occurred).")
    draws = info.get("parameter_draws")
    if draws:
        text += (f" Parameters per simulated study: {draws['method']} ({draws['redrawn_over_cap']} draws expecting "
                 f"more than {draws['cap_events']:.3g} events drawn again, {draws['exploded']} catalogs past "
                 f"{draws['event_limit']} events replaced).")
        if "spans_redrawn" in draws:
            text += (f" {draws['spans_redrawn']} simulated windows held what their real window cannot (an event as "
                     "large as a declustered target before it, a would-be target in background) and were drawn "
                     f"again; {draws['spans_capped']} windows, whose real content the model makes rare, were "
                     "drawn below the magnitude their real window excludes after 100 such draws.")
    below = info.get("fit", {}).get("below_floor")
    if below and below["n_events"]:
        text += (f" The {below['n_events']} recorded events below the floor, down to M{below['min_magnitude']:g}, "
                 f"triggered in the fit and occurred in the simulations ({below['ratio']:.2f} per event above).")
    law = info.get("law")
    if law:
        stated = ", ".join(f"{k} = {v:.3g}" for k, v in law["stated"].items())
        text += f" The ETAS law is stated, not fitted ({stated})"
        unrecorded = law["unrecorded"]
        text += (f"; its events from M{unrecorded['min_magnitude']:g} up trigger, those below the floor "
                 f"M{info['magnitude_floor']:.2f} unrecorded ({unrecorded['ratio']:.2f} per recorded event), drawn "
                 "anew in each simulated study's past and windows." if unrecorded else ".")
    if "params" not in fit:
        return text
    params = ", ".join(f"{k} = {v:.3g} +- {fit['standard_errors'].get(k, float('nan')):.2g}"
                       for k, v in fit["params"].items() if k in fit["standard_errors"])
    given = info.get("given", {}).get("min_magnitude", math.inf)
    drawn = f" from the events below M{given:g}, the magnitudes it draws" if math.isfinite(given) else ""
    return (f"{text} Temporal ETAS fitted to {fit['n_events']} events M >= {info['magnitude_floor']:.2f} ({params}; "
            f"b = {fit['params']['b']:.2f} +- {fit['b_standard_error']:.2g}{drawn}, magnitudes up to "
            f"{fit['params']['max_magnitude']:.1f}); "
            f"infinite-time branching ratio {fit['branching_ratio']:.2f}{period_lines(info)}.")


def _magnitude(value: float | None) -> str:
    return "-" if value is None else f"M{value:.1f}"


def period_lines(info: dict) -> str:
    """The fit's finite-period counts, where the null reports them."""
    if "expected_events" not in info:
        return ""
    text = (f"; run forward over the period it expects {info['expected_events']:.0f} events ({info['observed_events']} "
            f"observed), {info['triggered_share']:.0%} of them triggered")
    if info.get("expected_given_past") is not None:
        text += (f"; given the real catalog before each moment, {info['expected_given_past']:.0f} at most (the "
                 "windows are simulated so, and the caps apply to it)")
    given = info.get("given", {}).get("magnitudes", [])
    if given:
        text += (f", with the {len(given)} shocks M >= {info['given']['min_magnitude']:g} held as given "
                 f"({', '.join(f'M{m:.1f}' for m in given)})")
    ratio = info["expected_events"] / max(info["observed_events"], 1)
    if not 0.5 <= ratio <= 2.0:
        text += (f". Run forward, the fitted law gives {ratio:.1f} times the observed count: it does not reproduce "
                 "this catalog's activity, so read its p-values with care")
    return text


def write_report(metrics: dict, out: Path, figures: list[str]) -> None:
    """OUT/report.md, and the same as one self-contained OUT/report.html (seisbind/probe/report_html.py): the first
    screen (overview.py), then the details: data and method, every row, the nulls, the comparisons, the sanity
    checks in words, the Wikelski baseline, the skipped parts and the `figures` (file names in OUT)."""
    text = "\n".join(["# Pre-event vs background study", "", *overview(metrics), "",
                      f"Figures: {', '.join(figures)} (at the end).", "", "---", "", *details(metrics),
                      "## Figures", "", *(f"![{name}]({name})" + "\n" for name in figures)])
    write_text(out / "report.md", text)
    write_text(out / "report.html", to_html(text, out))


def details(metrics: dict) -> list[str]:
    """Everything below the first screen, in markdown: data and method, every row, nulls, comparisons, checks,
    the Wikelski baseline, what was skipped."""
    data = metrics["data"]
    lines = ["# Details", "", "## Data and method", "",
             f"Data: {data['root']}; catalog {data['catalog_events']} events ({data['catalog_start']} to "
             f"{data['catalog_end']}), {data['n_targets']} targets M >= {data['target_min_magnitude']}"
             f" (declustering: {data['decluster']}), {data['n_traces']} traces. Feature families (share of "
             "windows they cover): " + ", ".join(f"{name} {share:.0%}" for name, share in
                                                 data["windows_with_family"].items())
             + f". Checkpoint: {data['ckpt'] or 'none'}.", "",
             "Windows per horizon (pre-event / background): "
             + ", ".join(f"{h} h: {c['pre']}/{c['background']}" for h, c in data["windows"].items()) + ".", "",
             *(embedding_lines(data) if data["ckpt"] else []),
             f"Study period {data['period'][0]} to {data['period'][1]}; background windows matched to each "
             f"target within {data['match_days']} days; event counts above M {data['magnitude_floor']:.2f} "
             f"({data['magnitude_floor_method']}), {radius_words(data)}.", "",
             "AUC: out-of-fold scores (folds grouped by target event / background week; at most one fold per "
             "target, i.e. leave-one-mainshock-out with few targets). p: two-sided (pre-event windows scoring "
             "lower than background, quiescence, counts as higher does), from labels permuted within the matched "
             "sets with the whole cross-validation refitted each time; interval: AUC +- 1.96 x the "
             "standard deviation of those refitted AUCs; family-wise p: Westfall-Young max-T over every row. "
             "Molchan skill = 1 - area under the error diagram with background time as the alarm-time "
             "reference.", "",
             "## AUC per horizon, feature set and score", "", _table(results_table(metrics)), ""]
    below = [r for r in metrics["results"] if r["auc_ci_high"] < 0.5]
    if below:
        lines += [f"{len(below)} result(s) lie wholly below 0.5 (e.g. {below[0]['feature_set']} / {below[0]['score']} "
                  f"at {below[0]['horizon_hours']:g} h, AUC {fmt_ci(below[0])}). For a scorer that learns its "
                  "direction (best_single, composite_z, logistic) that means no direction learned on some targets "
                  "holds for the others (cross-validation's anti-learning on few, heterogeneous pre-event "
                  "windows); quiescence shows there as an AUC above 0.5 with features lower before targets "
                  "(stats.csv). For an unsigned or fixed score (mahalanobis, fixed) it is pre-event windows "
                  "scoring lower than background, which the two-sided p-values test.", ""]
    for name, info in (metrics.get("nulls") or {}).items():
        lines += [null_lines(name, info), ""]
    design = metrics["data"]["design"]
    lines += [f"Design: {design['design']}: {design['inference']}. Background windows are drawn near their target "
              "in time, so a slow change of rate or completeness over the period cancels within a matched set. "
              "What the permutation null cannot see is clustering: earthquakes trigger earthquakes, so activity "
              "before a target can be elevated without any precursor; the clustering nulls' p-values test against "
              "that.", ""]
    if metrics["comparisons"]:
        lines += comparison_details(metrics["comparisons"])
    lines += sanity_lines(metrics["sanity"])
    other = metrics["sanity"]["other_period_windows"]
    lines += ["", f"Other period: windows shifted by {other['shift_days']:.0f} days; {other['n_kept']} of "
              f"{other['n_copied']} kept ({other['n_outside_data_span']} outside the data span, "
              f"{other['n_near_large_events']} near large events).", ""]
    lines += ["## Wikelski et al. (2020) animal baseline", ""]
    wik = [r for r in metrics["results"] if r["feature_set"] == WIKELSKI]
    if wik:
        lines += [_table(pd.DataFrame(wik).reindex(columns=results_table(metrics).columns)), ""]
    detector = metrics.get(f"{WIKELSKI}_detector")
    if detector:
        lines += [f"Threshold detector: {detector['n_triggers']} triggers, {detector['n_detected']} detected, alarm "
                  f"fraction {detector['alarm_fraction']:.3f}, random-alarm p = {detector['p_value_random']:.3g}.",
                  ""]
    if not wik and not detector:
        lines += ["Not run (see skipped).", ""]
    if metrics["skipped"]:
        lines += ["## Skipped", ""] + [f"- {s['what']}: {s['reason']}" for s in metrics["skipped"]] + [""]
    return lines


def comparison_details(comparisons: list[dict]) -> list[str]:
    """Every comparison as a table and in words, judged by its family-wise p where it has one (the modality
    verdicts' pairs and every other feature-permutation pair), else by its own."""
    columns = ["horizon_hours", "feature_set_a", "feature_set_b", "modality", "baseline", "auc_a", "auc_b",
               "delta_auc", "p_value", "p_value_adjusted", "test", "n_windows", "n_pos", "n_neg"]
    lines = ["## With vs without (delta AUC = AUC(b) - AUC(a) on the windows both cover)", "",
             "p: one-sided for feature_permutation (b's added columns permuted, the cross-validation refitted), "
             "two-sided otherwise; family-wise p: one-sided Westfall-Young max-T over every feature-permutation "
             "comparison at every horizon. where clustering is quiet: the same delta on the windows whose clustering "
             "null's rate at the window's end is raised by earlier events no more than the median background "
             "window's (not adjusted).", "", _table(pd.DataFrame(comparisons).reindex(columns=columns)),
             ""]
    for row in comparisons:
        what = f"- {row['horizon_hours']:g} h, {row['feature_set_b']} vs {row['feature_set_a']}: "
        if row["p_value"] is None:
            lines.append(what + f"not run ({row['n_pos']} pre-event / {row['n_neg']} background windows): "
                         + row.get("reason", ""))
            continue
        adjusted = row.get("p_value_adjusted")
        p = row["p_value"] if adjusted is None else adjusted
        quiet = row.get("where_clustering_quiet") or {}
        lines.append(what + f"delta AUC {row['delta_auc']:+.3f} ({row['test']} p = {row['p_value']:.3g}"
                     f"{', at its floor' if row.get('p_value_at_floor') else ''}"
                     + ("" if adjusted is None else f", family-wise {adjusted:.3g}")
                     + f", {row['n_windows']} windows"
                     + ("" if quiet.get("p_value") is None else
                        f"; where clustering is quiet {quiet['delta_auc']:+.3f}, p {quiet['p_value']:.3g}")
                     + "): " + ("adds significant signal" if p < 0.05 and row["delta_auc"] > 0 else
                                "significantly worse" if p < 0.05 else "no significant difference"))
    return [*lines, ""]


def sanity_lines(sanity: dict) -> list[str]:
    """The checks in words: how each is judged (Holm over the study's p-value checks, or its own rule), then every
    verdict with its raw and adjusted p-value."""
    checked, family = sanity["checked"], sanity["multiplicity"]
    lines = [f"## Sanity checks ({checked['feature_set']} / {checked['score']}; Holm over {family['n_tests']} checks)",
             "", f"{check_lines(sanity)[0]}. A check with a p-value fails when its p-value, adjusted by Holm's "
             f"step-down (Holm 1979) over all {family['n_tests']} such checks at every horizon, is below "
             f"{family['alpha']:g}, so the study fails a check by chance at most that often. How each check is "
             "judged:", ""]
    judged = {v["check"]: v["judged_by"] for v in sanity["verdicts"] if v["judged_by"]}
    lines += [f"- {check}: {how}." for check, how in judged.items()] + [""]
    for v in sanity["verdicts"]:
        mark = {True: "PASS", False: "FAIL", None: "NOT RUN"}[v["passed"]]
        p = "" if v["p_value"] is None else f" (p {v['p_value']:.3g}" + (
            "" if v["p_value_adjusted"] is None else f", Holm-adjusted {v['p_value_adjusted']:.3g}") + ")"
        lines.append(f"- {mark} {v['check']} at {v['horizon_hours']:g} h{p}: {v['text']}.")
    return lines


# --------------------------------------------------------------------------------------------------- loggers
def log_to_loggers(cfg: DictConfig, out: Path, metrics: dict, tables: dict[str, pd.DataFrame]) -> None:
    """Send the AUC table, comparisons, verdicts and figures to the configured Lightning loggers (W&B tables and
    images; other loggers get the scalar metrics). Nothing happens when `logger` is empty."""
    if not cfg.get("logger"):
        return
    from hydra.utils import instantiate

    from seisbind.config import wandb_default_offline

    wandb_default_offline()
    scalars = {f"auc/{r['horizon_hours']:g}h/{r['feature_set']}/{r['score']}": r["auc"] for r in metrics["results"]}
    for lg in (instantiate(c) for c in cfg.logger.values()):
        lg.log_metrics(scalars)
        if hasattr(lg, "log_table"):
            for key, frame in tables.items():
                lg.log_table(key=f"probe/{key}", dataframe=frame.astype(object).where(frame.notna(), None))
        if hasattr(lg, "log_image"):
            for name in ("roc", "molchan"):
                lg.log_image(key=f"probe/{name}", images=[str(out / f"{name}.png")])
        lg.finalize("success")
        experiment = getattr(lg, "experiment", None)
        if experiment is not None and hasattr(experiment, "finish"):
            experiment.finish()
