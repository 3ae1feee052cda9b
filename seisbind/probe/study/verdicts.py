"""One verdict per modality: does it add to the seismic data before earthquakes?

A modality of `probe.verdicts.modalities` is judged by two comparisons at every horizon
(seisbind/probe/study/comparisons.py), both tested by permuting the modality's columns and refitting the whole
cross-validation (seisbind.probe.evaluate.compare, feature_permutation):
- `seismic`, the verdict's: the baseline is every seismic feature the root gives (the sets of
  `probe.verdicts.seismic`: catalog, waveform metadata, a checkpoint's anchor embeddings; and the modality's own
  `seismic` sets: the shaking at its sensors), against the baseline plus the modality. A set the root cannot give
  is left out of the baseline and said so. Why: animals that feel foreshocks, or stations that move with the
  shaking, add to the catalog without adding to what the seismic network already records (Zöller et al. 2021,
  Woith et al. 2018; REFERENCE.md section 11);
- `secondary`: the catalog alone against the catalog plus the modality, reported beside it and labelled so.
Their p-values are family-wise over every comparison and horizon (comparisons.family_wise); the verdict is read
at the horizon of the smallest family-wise p: "adds" below `probe.verdicts.alpha` with a positive delta AUC, else
"no evidence"; "too few windows" when no horizon had probe.min_windows_per_class windows in each class, and
"not testable: why" when the root cannot give the modality's features, any seismic baseline, or the folds.
Its `reading` says what clustering leaves of an "adds": whether the modality adds also where the clustering
null's fitted model expects no raised activity (comparisons.where_clustering_quiet), or is not shown to there,
where it cannot be told from a response to what clustering raises (foreshocks and earlier events' aftershocks
before a target); and when it adds to the catalog alone only, whether the seismic baseline left it room to add
(when 1 - its AUC is below the gain over the catalog, nothing can be read).
"""

from __future__ import annotations

from dataclasses import dataclass

from seisbind.config_schema import Verdicts
from seisbind.probe.study.comparisons import Compared, Comparison
from seisbind.probe.study.table import FeatureTable

FEATURE_PERMUTATION = "feature_permutation"
"""The verdicts' test whatever probe.comparison_test says: their pairs are nested by construction, and the
family-wise adjustment needs its refitted null."""


@dataclass(frozen=True)
class Plan:
    """How one modality is judged: its comparisons (seismic baseline, then the secondary one), the sets its
    seismic baseline holds, those the root could not give (set, why), or why it cannot be judged at all."""

    modality: str
    feature_set: str
    baseline_sets: tuple[str, ...] = ()
    left_out: tuple[tuple[str, str], ...] = ()
    comparisons: tuple[Comparison, ...] = ()
    why_not: str = ""

    @property
    def baseline(self) -> str:
        """The baseline's name: its sets' parts once each (catalog and catalog+waveform_meta make
        catalog+waveform_meta)."""
        return "+".join(dict.fromkeys(part for s in self.baseline_sets for part in s.split("+")))


def plans(verdicts: Verdicts, table: FeatureTable) -> list[Plan]:
    """Each configured modality's comparisons from the columns the root gives."""
    return [plan(modality, spec.feature_set, [*verdicts.seismic, *spec.seismic], verdicts.secondary, table)
            for modality, spec in verdicts.modalities.items()]


def plan(modality: str, feature_set: str, seismic: list[str], secondary: str | None, table: FeatureTable) -> Plan:
    """The baseline is the columns, in order, of the `seismic` sets the root gives, less the modality's own (so
    the pair is nested); the secondary pair is left out where it would repeat that one."""
    own, why = table.columns(feature_set)
    if not own:
        return Plan(modality, feature_set, why_not=f"its feature set {feature_set} cannot be built: {why}")
    sets, baseline, left_out = [], [], []
    for name in seismic:
        columns, why = table.columns(name)
        if columns:
            sets.append(name)
            baseline += [c for c in columns if c not in baseline and c not in own]
        else:
            left_out.append((name, why))
    if not baseline:
        return Plan(modality, feature_set, left_out=tuple(left_out),
                    why_not="no seismic feature set can be built (" + "; ".join(f"{n}: {w}" for n, w in left_out)
                    + ")")
    name = Plan(modality, feature_set, tuple(sets)).baseline
    pairs = [Comparison(name, f"{name}+{feature_set}", tuple(baseline), tuple(baseline + own), FEATURE_PERMUTATION,
                        modality, "seismic")]
    catalog = [c for c in table.columns(secondary)[0] if c not in own] if secondary else []
    if catalog and set(catalog) != set(baseline):
        pairs.append(Comparison(secondary, f"{secondary}+{feature_set}", tuple(catalog), tuple(catalog + own),
                                FEATURE_PERMUTATION, modality, "secondary"))
    return Plan(modality, feature_set, tuple(sets), tuple(left_out), tuple(pairs))


def modality_verdicts(planned: list[Plan], compared: list[Compared], alpha: float) -> dict[str, dict]:
    """metrics.json `modality_verdicts`: per modality its verdict on the seismic baseline (baseline, horizon_hours,
    delta_auc, p_value_adjusted, n_pre, n_background, verdict), the baseline's sets and those left out, and the
    same numbers against the secondary baseline (`secondary`, None without one)."""
    out = {}
    for p in planned:
        found = {role: judged([c for c in compared if c.comparison == pair], alpha)
                 for role, pair in zip(("seismic", "secondary"), p.comparisons)}
        head = found.get("seismic") or blank(f"not testable: {p.why_not}")
        out[p.modality] = head | {
            "baseline": p.baseline or None, "reading": reading(head, found.get("secondary"), alpha),
            "feature_set": p.feature_set, "baseline_sets": list(p.baseline_sets),
            "baseline_left_out": [{"feature_set": n, "reason": why} for n, why in p.left_out],
            "secondary": found.get("secondary")}
    return out


def judged(found: list[Compared], alpha: float) -> dict:
    """One comparison's verdict over the horizons: at the smallest family-wise p (then the largest delta), or
    where a class fell short with the most pre-event windows, or the first reason it could not run."""
    if not found:
        return blank("not testable: no horizon had windows of both classes (see skipped)")
    tested = [c for c in found if c.values.get("p_value_adjusted") is not None]
    if tested:
        best = min(tested, key=lambda c: (c.values["p_value_adjusted"], -c.values["delta_auc"]))
        adds = best.values["p_value_adjusted"] < alpha and best.values["delta_auc"] > 0
        return record(best, "adds" if adds else "no evidence")
    short = [c for c in found if c.values.get("too_few")]
    if len(short) == len(found):
        return record(max(short, key=lambda c: (c.values["n_pos"], c.values["n_neg"])), "too few windows")
    failed = next(c for c in found if not c.values.get("too_few"))
    return record(failed, f"not testable: {failed.values.get('reason') or 'no family-wise p-value'}")


def record(c: Compared, verdict: str) -> dict:
    v = c.values
    return {"baseline": c.comparison.a, "horizon_hours": c.horizon_hours, "delta_auc": v.get("delta_auc"),
            "p_value_adjusted": v.get("p_value_adjusted"), "n_pre": v["n_pos"], "n_background": v["n_neg"],
            "verdict": verdict, "comparison": f"{c.comparison.b} vs {c.comparison.a}", "auc_a": v.get("auc_a"),
            "auc_b": v.get("auc_b"), "p_value": v.get("p_value"),
            "where_clustering_quiet": v.get("where_clustering_quiet")}


def blank(verdict: str) -> dict:
    """A verdict with no comparison behind it: its numbers None, in `record`'s order."""
    return dict.fromkeys(("baseline", "horizon_hours", "delta_auc", "p_value_adjusted", "n_pre", "n_background")) \
        | {"verdict": verdict} | dict.fromkeys(("comparison", "auc_a", "auc_b", "p_value", "where_clustering_quiet"))


def reading(seismic: dict, secondary: dict | None, alpha: float) -> str:
    """The verdict against clustering, in words: whether the modality adds also where the clustering null's model
    expects no raised activity (comparisons.where_clustering_quiet), or is not shown to there, which leaves it
    indistinguishable from a response to clustering (foreshocks, earlier events' aftershocks, the shaking they
    cause at its sensors); or adds to the catalog alone only. Empty when there is nothing to qualify."""
    if seismic["verdict"] == "adds":
        quiet = seismic["where_clustering_quiet"] or {}
        if "reason" in quiet:
            return f"adds; whether beyond clustering cannot be read: {quiet['reason']}"
        where = (f"where the {quiet.get('null')} model's rate at the window's end is raised at most "
                 f"{quiet.get('max_intensity_ratio', float('nan')):.3g}x by earlier events (the median background "
                 "window's)")
        if quiet.get("p_value") is None:
            return (f"adds; too few windows {where} ({quiet.get('n_pos')} pre-event / {quiet.get('n_neg')} "
                    "background) to tell whether it adds beyond clustering")
        if quiet["p_value"] < alpha and quiet["delta_auc"] > 0:
            return (f"adds also {where}: delta AUC {quiet['delta_auc']:+.3f}, p {quiet['p_value']:.3g}; more than "
                    "a response to earthquakes triggering earthquakes")
        return (f"adds, but not shown {where} (delta AUC {quiet['delta_auc']:+.3f}, p {quiet['p_value']:.3g}, "
                f"{quiet['n_pos']} pre-event / {quiet['n_neg']} background windows): these windows cannot tell it "
                "from a response to clustering (foreshocks, earlier events' aftershocks, the shaking they cause at "
                "its sensors)")
    if seismic["verdict"] == "no evidence" and secondary and secondary["verdict"] == "adds":
        room = 1.0 - (seismic["auc_a"] or 0.0)
        if room < secondary["delta_auc"]:
            return (f"adds to the catalog alone (delta AUC {secondary['delta_auc']:+.3f}); the seismic baseline "
                    f"scores AUC {seismic['auc_a']:.3f} at {seismic['horizon_hours']:g} h, leaving less room than "
                    "that to add, so this cannot tell whether it holds anything the seismic data lack")
        return ("adds to the catalog alone, not to the seismic data: what it adds the seismic baseline (the shaking "
                "at its sensors, the waveforms) already holds")
    return ""
