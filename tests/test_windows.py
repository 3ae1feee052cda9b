"""Pre-event, background and post-event windows: targets, the quiet rule, non-overlap, determinism."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from seisbind.errors import SeisbindInputError
from seisbind.geodesy import epicentral_km
from seisbind.probe.windows import WINDOW_COLUMNS, make_windows, select_targets
from seisbind.seismicity.window_features import window_catalog_features

T0 = pd.Timestamp("2016-08-01", tz="UTC")
HOUR = pd.Timedelta(hours=1)


@pytest.fixture
def catalog():
    """120 days of M1-3.5 background seismicity plus planted larger events.

    A: M5.0 on day 30 with an M4.2 aftershock 12 h later 3 km away; B: M4.5 on day 80, 200 km away;
    C: M4.1 at 06:00 on the first day, far away, too close to the catalog start for a 24 h pre window.
    """
    rng = np.random.default_rng(0)
    n = 2000
    times = list(T0 + pd.to_timedelta(np.r_[0.0, rng.uniform(0, 120, n - 1)], unit="D"))  # span starts at T0
    mags = list(np.round(rng.uniform(1.0, 3.5, n), 1))
    lats, lons = list(rng.uniform(42.5, 43.2, n)), list(rng.uniform(12.8, 13.5, n))
    planted = [("A", 30.0, 5.0, 42.80, 13.10), ("A_after", 30.5, 4.2, 42.82, 13.12),
               ("B", 80.0, 4.5, 44.60, 13.10), ("C", 0.25, 4.1, 44.00, 11.50)]
    ids = [f"bg{i}" for i in range(n)]
    for name, day, mag, lat, lon in planted:
        ids.append(name)
        times.append(T0 + pd.Timedelta(days=day))
        mags.append(mag)
        lats.append(lat)
        lons.append(lon)
    frame = pd.DataFrame({"event_id": ids, "time": pd.DatetimeIndex(times).as_unit("ns"), "latitude_deg": lats,
                          "longitude_deg": lons, "depth_km": 10.0, "magnitude": mags, "magnitude_type": "ML",
                          "event_type": "earthquake"})
    return frame.sort_values("time").reset_index(drop=True)


def test_select_targets_declusters(catalog):
    assert list(select_targets(catalog)["event_id"]) == ["C", "A", "B"]
    assert list(select_targets(catalog, decluster=False)["event_id"]) == ["C", "A", "A_after", "B"]
    assert list(select_targets(catalog, min_magnitude=4.6)["event_id"]) == ["A"]


def test_pre_and_post_windows(catalog, caplog):
    with caplog.at_level(logging.DEBUG):
        w = make_windows(catalog, n_background=0)
    assert list(w.columns) == WINDOW_COLUMNS
    assert "dropped target windows" in caplog.text  # C's 12 h and 24 h pre windows start before the catalog
    pre = w[w["window_type"] == "pre"]
    a_time = T0 + pd.Timedelta(days=30)
    a_pre = pre[pre["target_event_id"] == "A"].set_index("horizon_hours")
    assert sorted(a_pre.index) == [2.0, 6.0, 12.0, 24.0]
    for h in (2, 6, 12, 24):
        assert a_pre.loc[h, "end_time"] == a_time and a_pre.loc[h, "start_time"] == a_time - h * HOUR
    assert set(pre.loc[pre["target_event_id"] == "C", "horizon_hours"]) == {2.0, 6.0}
    # post windows as long as each kept pre window, from 1 h after the target; one per (target, horizon)
    post = w[w["window_type"] == "post"]
    a_post = post[post["target_event_id"] == "A"].set_index("horizon_hours")
    for h in (2, 6, 12, 24):
        assert a_post.loc[h, "start_time"] == a_time + HOUR and a_post.loc[h, "end_time"] == a_time + (1 + h) * HOUR
    assert (a_post["group"] == "A").all()
    assert set(post.loc[post["target_event_id"] == "C", "horizon_hours"]) == {2.0, 6.0}
    assert (w["target_magnitude"].dropna() >= 4.0).all() and "A_after" not in set(w["target_event_id"])
    # half-open windows: a pre window never contains its own target
    features = window_catalog_features(catalog, pre["start_time"], pre["end_time"], min_count_b=10)
    assert (features["max_magnitude"].fillna(0).to_numpy() < pre["target_magnitude"].to_numpy()).all()
    assert str(w["start_time"].dtype) == "datetime64[ns, UTC]"


def test_background_quiet_rule_and_no_overlap(catalog):
    w = make_windows(catalog, n_background=40, seed=7)
    background = w[w["window_type"] == "background"]
    assert w.attrs["n_background_placed"] == {2.0: 40, 6.0: 40, 12.0: 40, 24.0: 40}
    assert len(background) == 160 and background["target_event_id"].isna().all()
    assert w["window_id"].is_unique
    big = catalog.loc[catalog["magnitude"] >= 4.0, "time"].to_numpy()
    span = catalog["time"].min(), catalog["time"].max()
    others = w[w["window_type"] != "background"]
    other_starts, other_ends = others["start_time"].to_numpy(), others["end_time"].to_numpy()
    for h, group in background.groupby("horizon_hours"):
        assert ((group["end_time"] - group["start_time"]) == h * HOUR).all()
        starts, ends = group["start_time"].to_numpy(), group["end_time"].to_numpy()
        order = np.argsort(starts)
        assert (starts[order][1:] >= ends[order][:-1]).all()  # no overlap within a length
        for s, e in zip(starts, ends):
            near = (big >= s - np.timedelta64(48, "h")) & (big <= e + np.timedelta64(48, "h"))
            assert not near.any()  # no M>=4 within +-48 h of any point of the window
            assert not ((other_starts < e) & (other_ends > s)).any()  # overlaps no pre/post window
        assert group["start_time"].min() >= span[0] + 48 * HOUR and group["end_time"].max() <= span[1] - 48 * HOUR
    assert background["group"].str.match(r"bg_2016-W\d\d$").all()
    assert (background["start_time"].astype("int64") % 1_000_000_000 == 0).all()  # whole seconds


def test_background_is_deterministic_per_seed(catalog):
    first = make_windows(catalog, n_background=20, seed=3)
    again = make_windows(catalog, n_background=20, seed=3)
    other = make_windows(catalog, n_background=20, seed=4)
    pd.testing.assert_frame_equal(first, again)
    assert not first["start_time"].equals(other["start_time"])


def test_shortfall_returns_what_fits(catalog, caplog):
    with caplog.at_level(logging.WARNING):
        w = make_windows(catalog, n_background=500, horizons_hours=(24,), seed=0)
    placed = w.attrs["n_background_placed"][24.0]
    # 120 days minus the quiet zones (~4 x 4-5 days) and span edges hold < 110 disjoint 24 h windows
    assert 40 < placed < 110 and (w["window_type"] == "background").sum() == placed
    assert f"placed {placed} of 500" in caplog.text


def test_period_and_background_hours(catalog):
    period = (T0 + pd.Timedelta(days=40), T0 + pd.Timedelta(days=70))
    w = make_windows(catalog, n_background=10, background_hours=3, period=period, seed=1)
    background = w[w["window_type"] == "background"]
    assert set(background["horizon_hours"]) == {3.0} and len(background) == 10
    assert (background["start_time"] >= period[0]).all() and (background["end_time"] <= period[1]).all()
    assert (w["window_type"] == "pre").sum() == 0  # A (day 30) and B (day 80) lie outside the period
    with pytest.raises(SeisbindInputError, match="does not overlap"):
        make_windows(catalog, period=("2020-01-01", "2020-02-01"))
    with pytest.raises(SeisbindInputError, match="positive horizons"):
        make_windows(catalog, horizons_hours=(0, 2))


def _events(rows: list[tuple[str, float, float, float, float]]) -> pd.DataFrame:
    """(event_id, hours after 2016-10-01, latitude, longitude, magnitude) -> a catalog frame."""
    t0 = pd.Timestamp("2016-10-01", tz="UTC")
    return pd.DataFrame({"event_id": [r[0] for r in rows],
                         "time": [t0 + pd.Timedelta(hours=r[1]) for r in rows],
                         "latitude_deg": [r[2] for r in rows], "longitude_deg": [r[3] for r in rows],
                         "depth_km": 10.0, "magnitude": [r[4] for r in rows]})


def test_preceding_declustering_keeps_separate_mainshocks_of_one_sequence():
    """Amatrice/Visso/Norcia-like: three large shocks weeks apart, each with an M4 aftershock a day later, and a
    distant M4 the same day. GK (two-sided, ~60 km / ~2 years for M6.5) keeps only the largest; 'preceding' keeps
    the three mainshocks and the distant event and drops the aftershocks."""
    catalog = _events([
        ("amatrice", 0, 42.70, 13.23, 6.0), ("a1", 20, 42.72, 13.25, 4.2),
        ("visso", 24 * 63, 42.91, 13.13, 5.9), ("v1", 24 * 63 + 30, 42.90, 13.12, 4.1),
        ("norcia", 24 * 67, 42.83, 13.11, 6.5), ("n1", 24 * 67 + 10, 42.84, 13.10, 4.8),
        ("far", 24 * 67 + 12, 44.50, 11.00, 4.0),
    ])
    gk = set(select_targets(catalog, 4.0, "gardner_knopoff").event_id)
    assert "norcia" in gk and not gk & {"amatrice", "visso"}
    assert set(select_targets(catalog, 4.0, "preceding").event_id) == {"amatrice", "visso", "norcia", "far"}
    assert len(select_targets(catalog, 4.0, "none")) == 7
    with pytest.raises(SeisbindInputError, match="decluster='reasenberg'"):
        select_targets(catalog, 4.0, "reasenberg")


def test_quiet_rule_is_the_same_for_pre_event_windows(catalog):
    # A target M4.3 20 h after an M4.6 (80 km away, so it is not declustered away): its 24 h pre window holds
    # the M4.6, which background windows may never hold, so the pre window is dropped; its 2 h window is kept
    # only if the M4.6 is more than quiet_hours before it (it is not: 18 h).
    extra = pd.DataFrame({"event_id": ["D0", "D"], "time": [T0 + pd.Timedelta(days=60), T0 + pd.Timedelta(days=60,
                                                                                               hours=20)],
                          "latitude_deg": [43.0, 42.6], "longitude_deg": [12.9, 13.9], "depth_km": [8.0, 8.0],
                          "magnitude": [4.6, 4.3]})
    both = pd.concat([catalog, extra], ignore_index=True)
    w = make_windows(both, decluster="preceding", horizons_hours=(2, 24), n_background=10, seed=0)
    assert not ((w["target_event_id"] == "D") & (w["window_type"] == "pre")).any()
    assert w.attrs["n_pre_dropped_not_quiet"] >= 2
    loud = both.loc[both["magnitude"] >= 4.0, "time"]
    for row in w[w["window_type"] == "pre"].itertuples():
        inside = loud[(loud >= row.start_time - 48 * HOUR) & (loud < row.end_time)]
        assert inside.empty, row


def test_matched_background_lies_near_its_target_in_its_stratum(catalog):
    w = make_windows(catalog, horizons_hours=(6,), match_days=10, background_per_target=4, seed=2)
    pre = w[w["window_type"] == "pre"].set_index("target_event_id")
    background = w[w["window_type"] == "background"]
    assert len(background) == 4 * len(pre) and set(background["stratum"]) == set(pre.index)
    for row in background.itertuples():
        assert abs(row.start_time - pre.loc[row.stratum, "target_time"]) <= pd.Timedelta(days=10)
    assert (w.loc[w["window_type"] == "pre", "stratum"] == w.loc[w["window_type"] == "pre", "target_event_id"]).all()
    unmatched = make_windows(catalog, horizons_hours=(6,), n_background=20, seed=2)
    assert set(unmatched["stratum"]) == {"all"}


def test_preceding_declustering_matches_the_pairwise_rule_without_the_pairwise_matrix():
    """select_targets(decluster="preceding") against the rule written out over every pair (no event at least as
    large within 30 km in the 72 h before; same-time events do not block), on 400 candidates with repeated times
    and magnitudes."""
    rng = np.random.default_rng(4)
    n = 400
    t0 = pd.Timestamp("2016-08-24", tz="UTC")
    candidates = pd.DataFrame({
        "time": t0 + pd.to_timedelta(np.round(rng.uniform(0, 60, n), 1), unit="D"),
        "magnitude": np.round(rng.uniform(4.0, 5.0, n), 1),
        "latitude_deg": rng.uniform(42.6, 43.1, n), "longitude_deg": rng.uniform(12.9, 13.4, n),
        "depth_km": 10.0, "event_id": [f"e{i}" for i in range(n)]})
    t = candidates["time"].to_numpy().astype("datetime64[ns]").astype(np.int64)
    m = candidates["magnitude"].to_numpy()
    lat, lon = candidates["latitude_deg"].to_numpy(), candidates["longitude_deg"].to_numpy()
    lag = t[:, None] - t[None, :]
    km = epicentral_km(lat[:, None], lon[:, None], lat[None, :], lon[None, :])
    blocked = ((lag > 0) & (lag <= 72 * 3600 * 10**9) & (km <= 30.0) & (m[None, :] >= m[:, None])).any(axis=1)
    kept = select_targets(candidates, 4.0, "preceding", decluster_hours=72.0, decluster_km=30.0)
    assert 0 < len(kept) < n and set(kept["event_id"]) == set(candidates["event_id"][~blocked])
