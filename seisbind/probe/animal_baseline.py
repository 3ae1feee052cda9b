"""The Wikelski et al. (2020, Ethology 126:931) farm-animal analysis, rebuilt as pure functions and turned into a
per-window score (the animal modality's ``wikelski2020`` family, seisbind/modalities/animal.py) that the study
judges as it stands (the ``fixed`` scorer) in the same rows as every other score, plus the random-alarm test that
Zoller et al. (2021) applied to it.

Pipeline (as the authors' Earthquake-Animal-Analysis code runs it), on 15-min bins:
1. ``group_means``: mean ODBA per group (cow, dog, sheep) over the individuals observed in each bin;
2. ``remove_daily_cycle``: least-squares Fourier regression (period 96 bins = 24 h, 16 harmonics) with the
   phase taken from clock time, so gaps do not shift the cycle;
3. ``var_residuals``: VAR(6) on [pga, cow, dog, sheep]; residuals standardised; the "animal" series is
   dog - cow + sheep of the standardised residuals, standardised again so thresholds are in SD units
   (the original summed unstandardised residuals, which weights groups by their ODBA scale);
4. ``detect_episodes``: every earthquake whose PGA, standardised over the period's earthquakes, exceeds
   ``thr_eq`` looks back ``lookback_hours`` for animal bins above ``thr_an``; each (trigger, exceedance) is a
   pair with warning time and hypocentral distance; ``warning_distance_regression`` fits warning time on
   distance (median regression, as published) with a trigger-level permutation p-value;
5. ``wikelski_score``: the maximum of the animal series over the bins that lie wholly inside a window.

Deviations from the published code, each to avoid counting the animals' reaction to shaking as anticipation
or to avoid losing data: look-back bins must end before the bin holding the earthquake (the original also used
the bin that contains it); the VAR is fitted by pooled least squares over all gap-free segments (statsmodels'
``VAR`` needs one contiguous series; on one segment the two agree, see the tests).
The Fourier and VAR fits use the whole record without labels: unsupervised, so no label leakage, but in-sample.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
import statsmodels.api as sm
from numpy.lib.stride_tricks import sliding_window_view

from seisbind.errors import SeisbindInputError
from seisbind.geodesy import epicentral_km
from seisbind.probe.stats import binomial_p_value
from seisbind.times import to_utc_ns

log = logging.getLogger(__name__)

GROUP_TAXA = {
    "cow": ("Bos taurus",),
    "dog": ("Canis lupus familiaris", "Canis familiaris"),
    "sheep": ("Ovis aries",),
}
VAR_COLUMNS = ("pga", "cow", "dog", "sheep")
BIN_MINUTES = 15.0
"""The published bins: the daily cycle's 96 bins per period and the VAR's 6 lags (90 min) are counted in them."""


def _bin_length(index: pd.Index, *, what: str) -> pd.Timedelta:
    """The constant spacing of a regular UTC bin index (bins with no data are rows of NaN, not missing rows)."""
    if not isinstance(index, pd.DatetimeIndex) or index.tz is None:
        raise SeisbindInputError(f"{what}: index must be tz-aware UTC bin start times")
    if len(index) < 2:
        raise SeisbindInputError(f"{what}: needs at least 2 bins, got {len(index)}")
    steps = np.unique(np.diff(to_utc_ns(index)))
    if steps.size != 1 or steps[0] <= 0:
        raise SeisbindInputError(f"{what}: bins must be regular and increasing (found steps {steps[:5]} ns)")
    return pd.Timedelta(int(steps[0]), unit="ns")


def group_means(odba: pd.DataFrame) -> pd.DataFrame:
    """Mean ODBA per group per bin (columns cow, dog, sheep), from the ``odba_bins`` wide table whose
    ``attrs["taxon"]`` maps individual -> taxon. Individuals of other taxa are left out (logged)."""
    _bin_length(odba.index, what="ODBA table")
    taxon = odba.attrs.get("taxon")
    if not taxon:
        raise SeisbindInputError("ODBA table has no attrs['taxon'] mapping individuals to taxa")
    groups = {}
    for group, taxa in GROUP_TAXA.items():
        members = [c for c in odba.columns if taxon.get(c) in taxa]
        if not members:
            raise SeisbindInputError(
                f"no {group} ({' / '.join(taxa)}) among the animals; taxa present: {sorted(set(taxon.values()))}")
        groups[group] = odba[members].mean(axis=1, skipna=True)
    known = {t for taxa in GROUP_TAXA.values() for t in taxa}
    others = [c for c in odba.columns if taxon.get(c) not in known]
    if others:
        log.info("animal baseline: %d individuals of other taxa left out: %s", len(others), others)
    return pd.DataFrame(groups)


def remove_daily_cycle(series: pd.DataFrame, period_bins: int = 96, n_harmonics: int = 16) -> pd.DataFrame:
    """Residuals of a least-squares fit of intercept + ``n_harmonics`` sine/cosine pairs of period
    ``period_bins`` bins, per column, on that column's finite bins (NaN stays NaN)."""
    bin_ns = _bin_length(series.index, what="daily-cycle input").value
    if 2 * n_harmonics >= period_bins:
        raise SeisbindInputError(f"{n_harmonics} harmonics cannot be resolved with {period_bins} bins per period")
    phase = 2 * np.pi * ((to_utc_ns(series.index) // bin_ns) % period_bins) / period_bins
    k = np.arange(1, n_harmonics + 1)
    design = np.column_stack([np.ones(len(series)), np.sin(np.outer(phase, k)), np.cos(np.outer(phase, k))])
    residuals = pd.DataFrame(np.nan, index=series.index, columns=series.columns)
    for column in series.columns:
        values = series[column].to_numpy(np.float64)
        finite = np.isfinite(values)
        if finite.sum() <= design.shape[1]:
            raise SeisbindInputError(
                f"daily cycle of {column!r}: {int(finite.sum())} observed bins for {design.shape[1]} coefficients")
        coef, *_ = np.linalg.lstsq(design[finite], values[finite], rcond=None)
        residuals.loc[finite, column] = values[finite] - design[finite] @ coef
    return residuals


def var_residuals(data: pd.DataFrame, lags: int = 6, min_segment_bins: int | None = None) -> pd.DataFrame:
    """One-step VAR(``lags``) residuals (with intercept), NaN where not computable.

    The coefficients are one least-squares fit over every gap-free segment (rows where all columns are finite)
    of at least ``min_segment_bins`` bins (default ``4 * lags``): each equation regresses a bin on the
    ``lags`` bins before it in the same segment. The first ``lags`` bins of a segment and the bins in gaps get
    no residual. Shorter segments are left out and counted in the log.
    """
    values = data.to_numpy(np.float64)
    n_vars = values.shape[1]
    min_segment_bins = 4 * lags if min_segment_bins is None else min_segment_bins
    covered = np.isfinite(values).all(axis=1)
    edges = np.flatnonzero(np.diff(np.r_[0, covered.astype(np.int8), 0]))
    segments = [(a, b) for a, b in zip(edges[0::2], edges[1::2]) if b - a >= max(min_segment_bins, lags + 1)]
    n_short = edges.size // 2 - len(segments)
    if n_short:
        log.info("VAR: %d gap-free segments shorter than %d bins left out", n_short, min_segment_bins)
    rows, designs, targets = [], [], []
    for a, b in segments:
        windows = sliding_window_view(values[a:b], lags + 1, axis=0)  # (n, vars, lags + 1), oldest first
        designs.append(windows[:, :, -2::-1].transpose(0, 2, 1).reshape(len(windows), lags * n_vars))
        targets.append(windows[:, :, -1])
        rows.append(np.arange(a + lags, b))
    n_coef = 1 + lags * n_vars
    n_rows = sum(len(r) for r in rows)
    if n_rows < 3 * n_coef:
        raise SeisbindInputError(
            f"VAR({lags}): {n_rows} usable bins in gap-free segments for {n_coef} coefficients per equation")
    design = np.column_stack([np.ones(n_rows), np.concatenate(designs)])
    target = np.concatenate(targets)
    coef, *_ = np.linalg.lstsq(design, target, rcond=None)
    residuals = pd.DataFrame(np.nan, index=data.index, columns=data.columns)
    residuals.iloc[np.concatenate(rows)] = target - design @ coef
    return residuals


def _standardise(values: pd.Series | pd.DataFrame):
    return (values - values.mean()) / values.std()


def align_to_bins(series: pd.Series, bins: pd.DatetimeIndex) -> pd.Series:
    """A PGA / seismic-activity series on the bin grid: the maximum over samples in each bin when the series
    is as fine as the bins or finer; when coarser (e.g. hourly), each value is held over the bins of its own
    step. Bins the series does not reach stay NaN (unobserved, not quiet)."""
    bin_length = _bin_length(bins, what="bin grid")
    if not isinstance(series.index, pd.DatetimeIndex) or series.index.tz is None:
        raise SeisbindInputError("PGA / seismic-activity series: index must be tz-aware UTC times")
    series = series.sort_index()
    step = pd.Timedelta(np.median(np.diff(to_utc_ns(series.index))), unit="ns") if len(series) > 1 else bin_length
    if step <= bin_length:
        origin = bins[0]
        binned = series.groupby(origin + ((series.index - origin) // bin_length) * bin_length).max()
        return binned.reindex(bins)
    return series.reindex(bins, method="ffill", tolerance=step - pd.Timedelta(1, unit="ns"))


def pga_per_bin(events: pd.DataFrame, bins: pd.DatetimeIndex, pga_column: str = "pga") -> pd.Series:
    """Largest earthquake PGA in each bin, 0 in bins without an earthquake (as in the original analysis)."""
    bin_length = _bin_length(bins, what="bin grid")
    times = to_utc_ns(events["time"])
    index = (times - bins[0].value) // bin_length.value
    inside = (index >= 0) & (index < len(bins))
    pga = np.zeros(len(bins))
    np.maximum.at(pga, index[inside], events[pga_column].to_numpy(np.float64)[inside])
    return pd.Series(pga, index=bins, name="pga")


def wikelski_residuals(
    odba: pd.DataFrame,
    pga: pd.Series,
    *,
    period_bins: int = 96,
    n_harmonics: int = 16,
    var_lags: int = 6,
) -> pd.DataFrame:
    """Standardised VAR residuals of [pga, cow, dog, sheep] after daily-cycle removal of the animal groups,
    plus ``animal`` = standardised (dog - cow + sheep). Index = the ODBA bins."""
    groups = remove_daily_cycle(group_means(odba), period_bins, n_harmonics)
    data = pd.concat([align_to_bins(pga, odba.index).rename("pga"), groups], axis=1)[list(VAR_COLUMNS)]
    residuals = _standardise(var_residuals(data, lags=var_lags))
    residuals["animal"] = _standardise(residuals["dog"] - residuals["cow"] + residuals["sheep"])
    return residuals


def hypocentral_distance_km(catalog: pd.DataFrame, site_latitude_deg: float, site_longitude_deg: float) -> np.ndarray:
    """Straight-line distance (km) from a surface site to each hypocentre (great-circle epicentral distance on a
    sphere, combined with depth)."""
    epicentral = epicentral_km(site_latitude_deg, site_longitude_deg, catalog["latitude_deg"].to_numpy(np.float64),
                               catalog["longitude_deg"].to_numpy(np.float64))
    return np.hypot(epicentral, catalog["depth_km"].to_numpy(np.float64))


@dataclass(frozen=True)
class Episodes:
    """Detector output. ``triggers``: one row per earthquake above ``thr_eq`` inside the animal record
    (time, pga, pga_z, distance_km, lookback_coverage, n_exceedances, detected, first_warning_hours);
    ``pairs``: one row per (trigger, animal exceedance) with warning_hours and distance_km;
    ``alarm_fraction``: share of the observed time during which a trigger would count as detected;
    ``p_value_random``: binomial p of at least this many detections under random alarms of that share
    (the error-diagram test; aftershock triggers are not independent, so read it as optimistic)."""

    triggers: pd.DataFrame
    pairs: pd.DataFrame
    alarm_fraction: float
    p_value_random: float


def detect_episodes(
    animal: pd.Series,
    events: pd.DataFrame,
    *,
    thr_eq: float = 2.0,
    thr_an: float = 2.0,
    lookback_hours: float = 20.0,
    pga_column: str = "pga",
    min_coverage: float = 0.5,
) -> Episodes:
    """Threshold detector of Wikelski et al.: an earthquake triggers when its PGA, standardised over the
    earthquakes inside the animal record, exceeds ``thr_eq``; it is detected when an animal bin in the
    ``lookback_hours`` before the bin holding it exceeds ``thr_an`` (SD units).

    ``events`` needs columns time and ``pga_column``; distance_km is carried into the pairs when present.
    Triggers whose look-back holds less than ``min_coverage`` observed animal bins are reported but left out of
    the random-alarm test, and so is unobserved time from the alarm fraction.
    """
    bin_length = _bin_length(animal.index, what="animal series")
    n_lookback = int(round(pd.Timedelta(hours=lookback_hours) / bin_length))
    values = animal.to_numpy(np.float64)
    exceed = pd.Series(np.nan_to_num(values, nan=-np.inf) > thr_an, index=animal.index)
    # bins b - n_lookback .. b - 1, i.e. wholly before bin b and within the look-back
    lookback_exceed = exceed.shift(1, fill_value=False).rolling(n_lookback, min_periods=1).sum().to_numpy()
    lookback_coverage = (pd.Series(np.isfinite(values)).shift(1, fill_value=False)
                         .rolling(n_lookback, min_periods=1).sum().to_numpy() / n_lookback)
    observable = lookback_coverage >= min_coverage
    alarm = lookback_exceed > 0

    times = to_utc_ns(events["time"])
    bin_of = (times - animal.index[0].value) // bin_length.value
    inside = (bin_of >= 0) & (bin_of < len(animal))
    if not inside.any():
        raise SeisbindInputError("no earthquake falls inside the animal record")
    inside &= np.isfinite(events[pga_column].to_numpy(np.float64))
    if (n_no_pga := int(np.isnan(events[pga_column].to_numpy(np.float64)).sum())):
        log.info("Wikelski detector: %d earthquakes without %s left out", n_no_pga, pga_column)
    pga = events[pga_column].to_numpy(np.float64)[inside]
    if pga.size < 2 or pga.std() == 0:
        raise SeisbindInputError(f"cannot standardise {pga_column}: {pga.size} earthquakes with distinct values "
                                 "inside the animal record are needed")
    pga_z = (pga - pga.mean()) / pga.std()
    distance = (events["distance_km"].to_numpy(np.float64)[inside] if "distance_km" in events
                else np.full(pga.size, np.nan))
    chosen = pga_z > thr_eq
    trigger_bins = bin_of[inside][chosen]
    triggers = pd.DataFrame({
        "time": pd.to_datetime(times[inside][chosen], utc=True),
        "pga": pga[chosen],
        "pga_z": pga_z[chosen],
        "distance_km": distance[chosen],
        "lookback_coverage": lookback_coverage[trigger_bins],
        "n_exceedances": lookback_exceed[trigger_bins].astype(int),
        "detected": alarm[trigger_bins],
    })
    exceed_bins = np.flatnonzero(exceed.to_numpy())
    pair_rows = []
    for trigger, (time_ns, b) in enumerate(zip(times[inside][chosen], trigger_bins)):
        in_lookback = exceed_bins[(exceed_bins >= b - n_lookback) & (exceed_bins < b)]
        warning_hours = (time_ns - to_utc_ns(animal.index)[in_lookback]) / 3.6e12
        pair_rows += [(trigger, w, triggers["distance_km"].iat[trigger]) for w in warning_hours]
    pairs = pd.DataFrame(pair_rows, columns=["trigger", "warning_hours", "distance_km"])
    triggers["first_warning_hours"] = pairs.groupby("trigger")["warning_hours"].max().reindex(triggers.index)
    counted = observable[trigger_bins]
    alarm_fraction = float(alarm[observable].mean()) if observable.any() else np.nan
    n_counted = int(counted.sum())
    p_random = (binomial_p_value(int(triggers["detected"][counted].sum()), n_counted, alarm_fraction)
                if n_counted else np.nan)
    log.info("Wikelski detector: %d triggers (%d with animal coverage), %d detected, alarm fraction %.3f",
             len(triggers), n_counted, int(triggers["detected"].sum()), alarm_fraction)
    return Episodes(triggers, pairs, alarm_fraction, p_random)


@dataclass(frozen=True)
class WarningDistanceFit:
    """Warning time (h) against hypocentral distance (km) over the detector's pairs. ``slope_median`` /
    ``intercept_median``: median regression, as published; ``slope_ols`` with ``p_value_naive`` (pairs taken as
    independent, as published) and ``p_value_permutation`` (distances shuffled between triggers, keeping each
    trigger's pairs together; two-sided)."""

    slope_median: float
    intercept_median: float
    slope_ols: float
    p_value_naive: float
    p_value_permutation: float
    n_pairs: int
    n_triggers: int


def warning_distance_regression(pairs: pd.DataFrame, n_perm: int = 999, seed: int = 0) -> WarningDistanceFit:
    """Regress warning time on distance over (trigger, exceedance) pairs from ``detect_episodes``."""
    pairs = pairs.dropna(subset=["warning_hours", "distance_km"])
    codes, trigger_ids = pd.factorize(pairs["trigger"])
    if trigger_ids.size < 3:
        raise SeisbindInputError(f"warning-distance regression needs pairs from >= 3 triggers, got {trigger_ids.size}")
    warning = pairs["warning_hours"].to_numpy(np.float64)
    distance = pairs["distance_km"].to_numpy(np.float64)
    design = sm.add_constant(distance)
    median_fit = sm.QuantReg(warning, design).fit(q=0.5)
    ols_fit = sm.OLS(warning, design).fit()
    trigger_distance = pd.Series(distance).groupby(codes).first().to_numpy()
    rng = np.random.default_rng(seed)
    shuffled = rng.permuted(np.tile(trigger_distance, (n_perm, 1)), axis=1)[:, codes]
    centred = shuffled - shuffled.mean(axis=1, keepdims=True)
    null_slopes = (centred @ (warning - warning.mean())) / np.einsum("ij,ij->i", centred, centred)
    slope = float(ols_fit.params[1])
    p_perm = float((1 + np.sum(np.abs(null_slopes) >= abs(slope) - 1e-12)) / (1 + n_perm))
    return WarningDistanceFit(float(median_fit.params[1]), float(median_fit.params[0]), slope,
                              float(ols_fit.pvalues[1]), p_perm, len(pairs), int(trigger_ids.size))


def wikelski_score(windows: pd.DataFrame, animal: pd.Series, *, min_coverage: float = 0.5) -> np.ndarray:
    """Per-window score: the maximum of the animal series over the bins lying wholly inside
    [start_time, end_time) (so a pre-event window never sees the bin holding its earthquake). NaN when fewer
    than ``min_coverage`` of those bins are observed: absent data is not a low score."""
    bin_ns = _bin_length(animal.index, what="animal series").value
    origin = animal.index[0].value
    first = -((origin - to_utc_ns(windows["start_time"])) // bin_ns)  # first bin starting at or after start
    stop = (to_utc_ns(windows["end_time"]) - origin) // bin_ns  # bins before this one end by end_time
    n_bins = np.maximum(stop - first, 0)  # bins wholly inside, whether or not the record reaches them
    values = animal.to_numpy(np.float64)
    scores = np.full(len(windows), np.nan)
    for i, (a, b) in enumerate(zip(np.clip(first, 0, len(values)), np.clip(stop, 0, len(values)))):
        observed = values[a:b][np.isfinite(values[a:b])]
        if n_bins[i] > 0 and observed.size >= min_coverage * n_bins[i]:
            scores[i] = observed.max()
    n_missing = int(np.isnan(scores).sum())
    if n_missing:
        log.info("wikelski_score: %d of %d windows without enough animal coverage (score NaN)",
                 n_missing, len(windows))
    return scores
