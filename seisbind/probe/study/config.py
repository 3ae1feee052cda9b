"""The study's configuration as typed objects, and the record of what it skipped.

`run_study` checks the composed config against seisbind.config_schema.StudyConfig and turns it into a `Spec` once;
every part then receives the typed piece it needs (`StudyProbe` fields, `Settings`, the window rules), never the
whole config. The extension points are built here from their config entries: `probe.scorers` (name -> a
seisbind.probe.scores.Scorer class), `probe.checks` (name -> a Check, seisbind/probe/study/checks/) and
`probe.nulls` (name -> a CatalogNull, seisbind/probe/study/nulls/), so adding one is a module plus an entry.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from omegaconf import DictConfig, OmegaConf

from seisbind.config import build
from seisbind.config_schema import StudyConfig, StudyProbe, typed_config
from seisbind.errors import SeisbindInputError
from seisbind.probe.evaluate import Settings
from seisbind.study_area import Period

log = logging.getLogger(__name__)

MAIN_TYPES = ("pre", "background")
"""The window types a row separates: pre-event (label 1) against background (label 0)."""

DESIGNS = {
    "targets": "every declustered target is kept, so a pre-event window may sit in an earlier event's "
               "aftershocks and the labels are not exchangeable: the clustering nulls, which simulate that activity "
               "and apply the same rules, pick the row and must set it apart; a claim also needs the windows to "
               "differ from background",
    "quiet": "no window of either class has another M >= probe.quiet_min_magnitude event within probe.quiet_hours "
             "before or inside it, so the labels are exchangeable within matched sets and the permutation "
             "p-values hold on their own; targets that follow large events are lost",
}
"""probe.design -> the inference it supports (written to metrics.json and report.md)."""


@dataclass(frozen=True)
class Spec:
    """The study's settings (`probe`), where its data are, the checkpoint, the output folder and the seed; the
    modality configs whose `features` are the study's feature families."""

    probe: StudyProbe
    root: Path
    filters: dict | None
    ckpt: str | None
    out: Path
    seed: int
    modality: dict = field(default_factory=dict)
    data: dict = field(default_factory=dict)
    """The resolved `data` node, for the checkpoint's own data module (seisbind/probe/embedding.py)."""


def spec_of(cfg: DictConfig) -> Spec:
    """The typed study config; a wrong type or unknown key stops here, naming it."""
    cfg = typed_config(cfg, StudyConfig)
    probe: StudyProbe = checked(OmegaConf.to_object(cfg.probe))
    data = OmegaConf.to_container(cfg.data, resolve=True)
    return Spec(probe=probe, root=Path(cfg.data.root), filters=data.get("filters"), ckpt=cfg.get("ckpt"),
                out=Path(cfg.out), seed=int(cfg.seed), data=data,
                modality=OmegaConf.to_container(cfg.modality, resolve=True) if cfg.get("modality") else {})


def checked(probe: StudyProbe) -> StudyProbe:
    """The ranges a schema cannot state: at least one positive horizon, in increasing order (every part walks
    the horizons in the order given, so an unsorted list is sorted here and said), a positive radius and
    resampling counts >= 1."""
    horizons = list(probe.horizons_hours)
    if not horizons or min(horizons) <= 0 or len(set(horizons)) < len(horizons):
        raise SeisbindInputError(f"probe.horizons_hours={horizons}: give one or more different horizons > 0 hours, "
                                 "e.g. [2,6,12,24]")
    if horizons != sorted(horizons):
        log.warning("probe.horizons_hours=%s: sorted to %s", horizons, sorted(horizons))
        probe.horizons_hours = sorted(horizons)
    if probe.design not in DESIGNS:
        raise SeisbindInputError(f"probe.design={probe.design!r}: choose one of {list(DESIGNS)}")
    if probe.radius_km is not None and not probe.radius_km > 0:
        raise SeisbindInputError(f"probe.radius_km={probe.radius_km}: give a distance > 0 km, or null for the "
                                 "whole study region")
    for key in ("n_permutations", "n_bootstrap", "n_comparison_permutations"):
        if getattr(probe, key) < 1:
            raise SeisbindInputError(f"probe.{key}={getattr(probe, key)}: give a number of resamples >= 1")
    unknown = [f"{key}={name!r}" for key, name in set_references(probe) if name not in probe.feature_sets]
    if unknown:
        raise SeisbindInputError(f"{', '.join(unknown)}: not among probe.feature_sets {list(probe.feature_sets)}")
    return probe


def set_references(probe: StudyProbe) -> list[tuple[str, str]]:
    """(key, feature set name) of every comparison and verdict setting that names a feature set."""
    v = probe.verdicts
    refs = [(f"probe.comparisons[{i}]", name) for i, pair in enumerate(probe.comparisons) for name in pair]
    refs += [("probe.verdicts.seismic", name) for name in v.seismic]
    refs += [("probe.verdicts.secondary", v.secondary)] if v.secondary else []
    for modality, m in v.modalities.items():
        key = f"probe.verdicts.modalities.{modality}"
        refs += [(f"{key}.feature_set", m.feature_set), *((f"{key}.seismic", name) for name in m.seismic)]
    return refs


def settings_of(probe: StudyProbe, seed: int) -> Settings:
    """Resampling settings and the scorers of `probe.scorers`, checked against every score name the study uses."""
    scorers = {name: build(node, f"probe.scorers.{name}") for name, node in probe.scorers.items()}
    used = {"probe.scores": list(probe.scores), "probe.checked.score": [probe.checked.score],
            "probe.comparison_score": [probe.comparison_score]}
    used |= {f"probe.feature_sets.{name}.scores": s.scores for name, s in probe.feature_sets.items() if s.scores}
    for key, names in used.items():
        unknown = [n for n in names if n not in scorers]
        if unknown:
            raise SeisbindInputError(f"{key}: unknown score(s) {unknown}; probe.scorers defines {list(scorers)}")
    checked = probe.checked
    if checked.feature_set not in probe.feature_sets:
        raise SeisbindInputError(f"probe.checked.feature_set={checked.feature_set!r} is not among "
                                 f"probe.feature_sets {list(probe.feature_sets)}")
    if checked.score not in scores_of(probe, checked.feature_set):
        raise SeisbindInputError(f"probe.checked.score={checked.score!r} does not score feature set "
                                 f"{checked.feature_set!r} (its scores: {scores_of(probe, checked.feature_set)})")
    return Settings(n_bootstrap=probe.n_bootstrap, n_permutations=probe.n_permutations, n_folds=probe.n_folds,
                    min_windows_per_class=probe.min_windows_per_class, seed=seed, scorers=scorers)


def scores_of(probe: StudyProbe, name: str) -> list[str]:
    """The scorers of feature set `name`: its own `scores` when it names them, else `probe.scores`."""
    own = probe.feature_sets[name].scores
    return list(probe.scores if own is None else own)


def checked_feature_set(probe: StudyProbe, columns: Callable[[str], tuple[list[str], str]]) -> tuple[str, str]:
    """The feature set the sanity checks run on, and why it is not `probe.checked.feature_set` ("" when it is).

    When the data or the configured modalities cannot give the configured one (the default needs waveform metadata),
    the checks run on the first configured feature set that can be built and is scored by `probe.checked.score`
    instead of not running at all; the log and metrics.json say which. `columns` is the feature table's
    (seisbind/probe/study/table.py).
    """
    configured = probe.checked.feature_set
    built_columns, why = columns(configured)
    if built_columns:
        return configured, ""
    instead = next((name for name in probe.feature_sets
                    if probe.checked.score in scores_of(probe, name) and columns(name)[0]), None)
    if instead is None:
        return configured, ""
    note = f"probe.checked.feature_set={configured} cannot be built ({why}): the checks run on {instead}"
    log.warning("sanity checks: %s", note)
    return instead, note


def built(nodes: dict[str, Any], key: str) -> list[Any]:
    """The objects of a name -> `_target_` mapping (`probe.checks`, `probe.nulls`), each told its name."""
    out = []
    for name, node in nodes.items():
        part = build(node, f"{key}.{name}")
        part.name = name
        out.append(part)
    return out


def study_period(probe: StudyProbe) -> tuple[pd.Timestamp, pd.Timestamp]:
    """probe.period as UTC timestamps (configs/area/*.yaml by default)."""
    return Period(probe.period.start, probe.period.end).timestamps("probe.period")


def quiet_magnitude(probe: StudyProbe) -> float:
    """The magnitude from which an event keeps windows away (seisbind.probe.windows.make_windows): in the quiet
    design probe.quiet_min_magnitude; in the targets design none does (inf), only the targets themselves keep
    background windows quiet_hours away, where they would be pre-event windows."""
    return probe.quiet_min_magnitude if probe.design == "quiet" else math.inf


def window_rules(probe: StudyProbe, seed: int) -> dict:
    """The `make_windows` settings of the study (seisbind/probe/windows.py), also used on every simulated
    catalog of a null."""
    return dict(target_min_magnitude=probe.target_min_magnitude, decluster=probe.decluster,
                decluster_hours=probe.decluster_hours, decluster_km=probe.decluster_km,
                horizons_hours=list(probe.horizons_hours), n_background=probe.n_background,
                quiet_min_magnitude=quiet_magnitude(probe), quiet_hours=probe.quiet_hours,
                post_start_hours=probe.post_start_hours,
                period=study_period(probe), match_days=probe.background.match_days,
                background_per_target=probe.background.per_target, seed=seed)


class Skipped(list):
    """What the study could not run, with the reason: {"what", "reason"} entries, logged as they come and written
    to metrics.json and report.md."""

    def add(self, what: str, reason: str) -> None:
        log.warning("skipped %s: %s", what, reason)
        self.append({"what": what, "reason": reason})
