"""Tests for seisbind.probe.animal_baseline on a synthetic farm with (and without) a planted pre-event response."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest
from scipy.signal import lfilter
from statsmodels.tsa.api import VAR

from seisbind.errors import SeisbindInputError
from seisbind.probe import animal_baseline as ab
from seisbind.probe.stats import auc_roc, bootstrap_auc_ci

TAXA = {"cow": "Bos taurus", "sheep": "Ovis aries", "dog": "Canis lupus familiaris"}
N_DAYS, N_TARGETS = 80, 16


def _farm(seed: int, planted: bool):
    """6 cows, 5 sheep, 2 dogs with a daily cycle and AR(1) noise on 15-min bins, one day without tags, 400 small
    earthquakes and 16 large ones. With ``planted``, dogs and sheep get restless (cows calm) for 2 h starting
    2 + 0.5 * distance_km hours before each large earthquake."""
    rng = np.random.default_rng(seed)
    bins = pd.date_range("2016-10-01", periods=N_DAYS * 96, freq="15min", tz="UTC", name="bin_start")
    n = len(bins)
    hour = (bins.hour + bins.minute / 60).to_numpy()
    daily = 1 + 0.6 * np.sin(2 * np.pi * (hour - 8) / 24) + 0.3 * np.cos(4 * np.pi * hour / 24)
    target_bins = n // (N_TARGETS + 1) * np.arange(1, N_TARGETS + 1) + rng.integers(-24, 24, N_TARGETS)
    target_times = bins[target_bins] + pd.to_timedelta(rng.uniform(0, 15, N_TARGETS), unit="min")
    distance_km = rng.uniform(5, 28, N_TARGETS)
    lead_hours = 2 + 0.5 * distance_km
    effect = np.zeros(n)
    if planted:
        for b, lead in zip(target_bins, np.round(lead_hours * 4).astype(int)):
            effect[b - lead: b - lead + 8] = 1.0
    odba, taxon = {}, {}
    for group, count, level, sign in (("cow", 6, 1.0, -1), ("sheep", 5, 0.6, 1), ("dog", 2, 0.4, 1)):
        for i in range(count):
            noise = lfilter([1.0], [1.0, -0.6], rng.normal(0, 0.15, n))
            odba[f"{group}{i}"] = level * (daily + noise + sign * 1.5 * effect)
            taxon[f"{group}{i}"] = TAXA[group]
    odba["goat0"] = 1.0
    taxon["goat0"] = "Capra hircus"
    table = pd.DataFrame(odba, index=bins)
    table.iloc[target_bins[7] + 96: target_bins[7] + 192] = np.nan
    table.attrs["taxon"] = taxon
    small = bins[0] + pd.to_timedelta(rng.uniform(0, N_DAYS * 24, 400), unit="h")
    events = pd.DataFrame({
        "time": np.r_[target_times, small],
        "pga": np.r_[rng.uniform(40, 80, N_TARGETS), rng.exponential(1.0, 400)],
        "distance_km": np.r_[distance_km, rng.uniform(5, 60, 400)],
    }).sort_values("time", ignore_index=True)
    return table, events, pd.Series(target_times), lead_hours


def _windows(target_times: pd.Series, bins: pd.DatetimeIndex, hours: float = 24, n_background: int = 150):
    """Pre-event windows ending at each large earthquake, background windows >= 24 h away from any."""
    rng = np.random.default_rng(0)
    hour = pd.Timedelta(hours=1)
    targets_h = ((target_times - bins[0]) / hour).to_numpy()
    starts_h = rng.uniform(0, (bins[-1] - bins[0]) / hour - hours, 20 * n_background)
    away = ((starts_h[:, None] + hours < targets_h - 24) | (starts_h[:, None] > targets_h + 24)).all(axis=1)
    starts = bins[0] + pd.to_timedelta(starts_h[away][:n_background], unit="h")
    span = pd.Timedelta(hours=hours)
    return pd.DataFrame({
        "start_time": np.r_[target_times - span, starts],
        "end_time": np.r_[target_times, starts + span],
        "y": np.r_[np.ones(len(target_times), int), np.zeros(len(starts), int)],
    })


@pytest.fixture(scope="module", params=[True, False], ids=["planted", "null"])
def farm(request):
    table, events, target_times, lead_hours = _farm(seed=1, planted=request.param)
    residuals = ab.wikelski_residuals(table, ab.pga_per_bin(events, table.index))
    return request.param, table, events, target_times, lead_hours, residuals


def test_detector_fires_at_the_planted_times_and_only_then(farm):
    planted, table, events, target_times, lead_hours, residuals = farm
    episodes = ab.detect_episodes(residuals["animal"], events, thr_eq=2, thr_an=2, lookback_hours=20)
    triggers = episodes.triggers
    # the large earthquakes, and only they, trigger
    assert np.array_equal(triggers["time"].to_numpy(), target_times.sort_values().to_numpy())
    if planted:
        assert triggers["detected"].all()
        for trigger, lead in enumerate(lead_hours):
            warnings = episodes.pairs.loc[episodes.pairs["trigger"] == trigger, "warning_hours"]
            assert np.min(np.abs(warnings - lead)) < 0.5  # an exceedance at the planted onset
        assert episodes.p_value_random < 1e-6
    else:
        # noise alone keeps alarms on most of the time: detections are what random alarms give
        assert episodes.alarm_fraction > 0.5 and episodes.p_value_random > 0.05


def test_warning_time_grows_with_distance_only_when_planted(farm):
    planted, table, events, target_times, lead_hours, residuals = farm
    pairs = ab.detect_episodes(residuals["animal"], events).pairs
    fit = ab.warning_distance_regression(pairs, n_perm=499, seed=0)
    assert fit.n_triggers >= 10
    if planted:
        assert 0.35 < fit.slope_median < 0.65 and fit.p_value_permutation < 0.01
    else:
        assert fit.p_value_permutation > 0.05


def test_wikelski_score_separates_only_with_the_planted_effect(farm):
    planted, table, events, target_times, lead_hours, residuals = farm
    windows = _windows(target_times, table.index)
    score = ab.wikelski_score(windows, residuals["animal"])
    covered = np.isfinite(score)
    assert covered.sum() >= len(windows) - 5  # only windows in the tag gap lack a score
    y = windows["y"].to_numpy()[covered]
    if planted:
        assert auc_roc(y, score[covered]) > 0.9
    else:
        # background windows overlap, so resample them in 2-day blocks (each pre-event window is its own group)
        block = ((windows["start_time"] - table.index[0]) // pd.Timedelta(days=2)).to_numpy()
        groups = np.where(windows["y"] == 1, -1 - np.arange(len(windows)), block)[covered]
        ci = bootstrap_auc_ci(y, score[covered], n_boot=1000, seed=0, groups=groups)
        assert ci.unit == "group" and ci.low < 0.5 < ci.high


def test_other_taxa_are_logged_and_left_out(caplog):
    table, *_ = _farm(seed=2, planted=False)
    with caplog.at_level(logging.INFO, logger="seisbind.probe.animal_baseline"):
        means = ab.group_means(table)
    assert list(means.columns) == ["cow", "dog", "sheep"] and "goat0" in caplog.text
    np.testing.assert_allclose(means["dog"], table[["dog0", "dog1"]].mean(axis=1))
    no_dogs = table.drop(columns=["dog0", "dog1"])
    no_dogs.attrs["taxon"] = table.attrs["taxon"]
    with pytest.raises(SeisbindInputError, match="no dog"):
        ab.group_means(no_dogs)


def test_var_residuals_equal_statsmodels_on_one_segment():
    rng = np.random.default_rng(3)
    bins = pd.date_range("2017-01-01", periods=800, freq="15min", tz="UTC")
    data = pd.DataFrame(lfilter([1.0], [1.0, -0.7], rng.normal(size=(800, 4)), axis=0), index=bins,
                        columns=list(ab.VAR_COLUMNS))
    ours = ab.var_residuals(data, lags=6)
    reference = VAR(data.reset_index(drop=True)).fit(6).resid.to_numpy()
    assert ours.iloc[:6].isna().all().all()
    np.testing.assert_allclose(ours.iloc[6:].to_numpy(), reference, atol=1e-10)


def test_var_pools_segments_across_gaps():
    """A known VAR(1) with a gap: residuals recover the true innovations on both sides; the gap and the first
    bin after it get none."""
    rng = np.random.default_rng(4)
    n = 3000
    coef = np.array([[0.5, 0.2], [-0.3, 0.4]])
    shocks = rng.normal(size=(n, 2))
    x = np.zeros((n, 2))
    for t in range(1, n):
        x[t] = coef @ x[t - 1] + shocks[t]
    data = pd.DataFrame(x, index=pd.date_range("2017-01-01", periods=n, freq="15min", tz="UTC"))
    data.iloc[1000:1100] = np.nan
    residuals = ab.var_residuals(data, lags=1)
    assert residuals.iloc[1000:1101].isna().all().all() and residuals.iloc[1101:].notna().all().all()
    observed = residuals.notna().all(axis=1).to_numpy()
    assert np.corrcoef(residuals.to_numpy()[observed, 0], shocks[observed, 0])[0, 1] > 0.99


def test_daily_cycle_removal_follows_clock_time_through_gaps():
    rng = np.random.default_rng(5)
    bins = pd.date_range("2017-01-01", periods=20 * 96, freq="15min", tz="UTC")
    hour = (bins.hour + bins.minute / 60).to_numpy()
    cycle = 2 * np.sin(2 * np.pi * hour / 24) + np.cos(6 * np.pi * hour / 24)
    noise = rng.normal(0, 0.1, len(bins))
    series = pd.DataFrame({"cow": cycle + noise}, index=bins)
    series.iloc[500:620] = np.nan
    residuals = ab.remove_daily_cycle(series)
    assert residuals["cow"].iloc[500:620].isna().all()
    assert residuals["cow"].std() == pytest.approx(0.1, rel=0.1)
    # dropping the first 37 bins (not a whole day) changes nothing: phase comes from the clock, not the row
    shifted = ab.remove_daily_cycle(series.iloc[37:])
    np.testing.assert_allclose(shifted["cow"].dropna(), residuals["cow"].iloc[37:].dropna(), atol=0.02)


def test_align_pga_series_to_bins():
    bins = pd.date_range("2017-01-01", periods=8, freq="15min", tz="UTC")
    hourly = pd.Series([1.0, 5.0], index=pd.date_range("2017-01-01", periods=2, freq="h", tz="UTC"))
    np.testing.assert_array_equal(ab.align_to_bins(hourly, bins), [1, 1, 1, 1, 5, 5, 5, 5])
    fine = pd.Series(np.arange(12.0), index=pd.date_range("2017-01-01", periods=12, freq="5min", tz="UTC"))
    np.testing.assert_array_equal(ab.align_to_bins(fine, bins)[:5], [2, 5, 8, 11, np.nan])
    events = pd.DataFrame({"time": pd.to_datetime(["2017-01-01 00:20", "2017-01-01 00:25", "2017-01-01 01:59"],
                                                  utc=True), "pga": [3.0, 7.0, 2.0]})
    np.testing.assert_array_equal(ab.pga_per_bin(events, bins), [0, 7, 0, 0, 0, 0, 0, 2])


def test_wikelski_score_ignores_the_event_bin_and_marks_missing_coverage():
    bins = pd.date_range("2017-01-01", periods=12, freq="15min", tz="UTC")
    animal = pd.Series([0, 1, 2, 0, 0, 9, np.nan, np.nan, np.nan, np.nan, 0, 0], index=bins, dtype=float)
    windows = pd.DataFrame({
        # ends inside bin 5 (01:15-01:30): that bin may hold the animals' reaction to the shaking itself
        "start_time": pd.to_datetime(["2017-01-01 00:00", "2017-01-01 01:30", "2017-01-01 01:30"], utc=True),
        "end_time": pd.to_datetime(["2017-01-01 01:20", "2017-01-01 02:30", "2017-01-01 03:00"], utc=True),
    })
    score = ab.wikelski_score(windows, animal)
    assert score[0] == 2.0  # bins 0-4 only: the 9 in bin 5 is not seen
    assert np.isnan(score[1]) and np.isnan(score[2])  # no bin observed; 2 of 6 observed is under 50 %
    assert ab.wikelski_score(windows, animal, min_coverage=0.3)[2] == 0.0
    # bins before the record count as unobserved: 4 of 8 (half) is enough, 4 of 12 is not
    before = pd.DataFrame({"start_time": pd.to_datetime(["2016-12-31 23:00", "2016-12-31 22:00"], utc=True),
                           "end_time": pd.to_datetime(["2017-01-01 01:00", "2017-01-01 01:00"], utc=True)})
    np.testing.assert_array_equal(ab.wikelski_score(before, animal), [2.0, np.nan])


def test_hypocentral_distance():
    catalog = pd.DataFrame({"latitude_deg": [43.0, 43.1], "longitude_deg": [13.0, 13.0], "depth_km": [10.0, 0.0]})
    distance = ab.hypocentral_distance_km(catalog, 43.0, 13.0)
    one_tenth_degree_km = 6371.0 * np.radians(0.1)
    np.testing.assert_allclose(distance, [10.0, one_tenth_degree_km], rtol=1e-9)
