"""Heartbeat-up minutes: time-weighting, holes, local days (DST, midnight), zones, incremental updates."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.analysis.cleaning import clean_hr
from service.analysis.errors import InvalidSeries
from service.analysis.minutes import MAX_COVER_S, day_totals, merge_minutes, minute_table, week_summary
from service.analysis.profile import HeartProfile

PROFILE = HeartProfile(resting_hr=60.0, max_hr=190.0)  # threshold 112, vigorous 138, peak 170.5 bpm
LONDON = ZoneInfo("Europe/London")
T0 = 1_700_000_040.0  # a whole UTC minute


def _noisy(level_bpm: float, n: int, seed: int = 0) -> np.ndarray:
    """Integer bpm around a level, as a strap sends it (never frozen, never jumping)."""
    return np.rint(level_bpm + np.random.default_rng(seed).normal(0.0, 1.5, n))


def _table(t: np.ndarray, bpm: np.ndarray, **kw: object) -> object:
    return minute_table(t, bpm, clean_hr(t, bpm).valid, profile=PROFILE, **kw)


def _local_midnights(first: str, n_days: int, zone: ZoneInfo = LONDON) -> np.ndarray:
    start = datetime.fromisoformat(first).replace(tzinfo=zone)
    return np.array([(start + timedelta(days=k)).timestamp() for k in range(n_days + 1)])


def test_a_25_minute_block_at_70_percent_hrr_gives_25_minutes() -> None:
    t = T0 + np.arange(25 * 60, dtype=float)
    bpm = _noisy(PROFILE.bpm_at(0.70), t.size)
    table = _table(t, bpm)
    assert int(table.up.sum()) == 25
    totals = day_totals(table, [T0 - 3600, T0 + 86_400])
    assert totals.heartbeat_up_minutes.tolist() == [25]
    assert totals.vigorous_minutes.tolist() == [25]
    assert totals.active_zone_points.tolist() == [50]


def test_a_minute_needs_30_seconds_at_or_above_threshold() -> None:
    t = T0 + np.arange(120, dtype=float)
    bpm = np.where(np.arange(120) % 60 < 30, 120.0, 100.0)  # 30 s above in each minute
    bpm[60:] = np.where(np.arange(60) < 29, 120.0, 100.0)  # 29 s above in the second
    table = minute_table(t, bpm, np.ones(120, bool), profile=PROFILE)
    assert table.up.tolist() == [True, False]
    # Each sample stands for half a second either side: the sample at 60 s (120 bpm) gives 0.5 s to each
    # minute, so the first has 0.5 + 29 + 0.5 s at 120 bpm and the second 0.5 + 28 s.
    assert table.up_s.tolist() == [30.0, 28.5]


def test_a_hole_inside_a_workout_is_not_counted() -> None:
    t = T0 + np.arange(30 * 60, dtype=float)
    keep = (t < T0 + 10 * 60) | (t >= T0 + 20 * 60)  # 10 minutes without samples
    bpm = _noisy(150.0, t.size)
    table = _table(t[keep], bpm[keep])
    assert int(table.up.sum()) == 20
    assert table.valid_s.sum() == 2 * 599.0  # each block of 600 samples spans 599 s; the 601-s hole nothing


def test_lost_contact_and_zeros_are_holes_and_counted_as_lost() -> None:
    t = T0 + np.arange(10 * 60, dtype=float)
    bpm = _noisy(150.0, t.size)
    contact = np.ones(t.size, bool)
    contact[120:300] = False
    bpm[120:300] = 0
    clean = clean_hr(t, bpm, contact=contact)
    table = minute_table(t, bpm, clean.valid, profile=PROFILE, contact=contact)
    assert int(table.up.sum()) == 7
    assert table.lost_contact_s.sum() == pytest.approx(180.0)
    totals = day_totals(table, [T0, T0 + 86_400])
    assert totals.lost_contact_minutes.tolist() == [3]
    assert totals.valid_minutes.tolist() == [7]


def test_irregular_sampling_is_time_weighted_and_bridges_at_most_30_s() -> None:
    # A sample covers half the spacing to each neighbour up to 30 s away (smart recording, DESIGN.md
    # "Sparse recordings"); a longer spacing is a hole. Every 4 s covers a minute fully (the sample at 60 s
    # gives 2 s back to it); every 20 s covers 10 + 20 + 10 = 40 s of the second minute (nothing after its
    # last sample: an 80-s hole follows); every 40 s covers nothing at all.
    dense = T0 + np.arange(0, 60, 4.0)
    sparse = T0 + 60 + np.arange(0, 60, 20.0)
    holes = T0 + 180 + np.arange(0, 120, 40.0)
    t = np.concatenate((dense, sparse, holes))
    table = minute_table(t, np.full(t.size, 150.0), np.ones(t.size, bool), profile=PROFILE)
    assert table.minute_start_s.tolist() == [T0, T0 + 60, T0 + 180, T0 + 240]
    assert table.valid_s.tolist() == [60.0, 40.0, 0.0, 0.0]
    assert table.up.tolist() == [True, True, False, False]


def test_coverage_running_past_a_minute_boundary_moves_to_the_next_minute() -> None:
    t = T0 + np.array([58.5, 59.5, 60.5, 61.5])
    table = minute_table(t, np.full(4, 150.0), np.ones(4, bool), profile=PROFILE)
    assert table.valid_s.tolist() == [1.5, 1.5]  # the sample at 59.5 covers 0.5 s of each minute
    assert table.n_samples.tolist() == [2, 2]


def test_mean_min_max_use_only_valid_samples() -> None:
    t = T0 + np.arange(60, dtype=float)
    bpm = np.full(60, 100.0)
    bpm[:30] = 120.0
    valid = np.ones(60, bool)
    valid[0] = False
    bpm[0] = 250.0
    table = minute_table(t, bpm, valid, profile=PROFILE)
    # time-weighted: samples 1-29 cover 1 s each at 120 bpm, 30-58 1 s at 100, 59 (the last) 0.5 s
    assert table.mean_bpm[0] == pytest.approx((29 * 120 + 29.5 * 100) / 58.5)
    assert (table.min_bpm[0], table.max_bpm[0]) == (100.0, 120.0)
    assert table.first_valid_s[0] == T0 + 1


def test_highest_clean_bpm_needs_a_well_covered_minute() -> None:
    t = T0 + np.concatenate((np.arange(60.0), [120.0, 121.0]))  # a full minute, then 2 lone samples
    bpm = np.concatenate((np.full(60, 150.0), [200.0, 201.0]))
    bpm[10] = 230.0
    valid = np.ones(t.size, bool)
    valid[10] = False  # an artefact the cleaner caught
    table = minute_table(t, bpm, valid, profile=PROFILE)
    assert table.highest_clean_bpm() == 150.0
    assert minute_table(t[-2:], bpm[-2:], valid[-2:], profile=PROFILE).highest_clean_bpm() is None


def test_zone_of_a_minute_is_the_highest_zone_held_for_30_seconds() -> None:
    t = T0 + np.arange(4 * 60, dtype=float)
    bpm = np.concatenate(
        (
            np.full(60, 120.0),
            np.full(60, 150.0),
            np.full(60, 180.0),
            np.r_[np.full(31, 150.0), np.full(29, 180.0)],
        )
    )
    table = minute_table(t, bpm, np.ones(t.size, bool), profile=PROFILE)
    assert table.zone.tolist() == [1, 2, 3, 2]
    totals = day_totals(table, [T0, T0 + 86_400])
    assert (totals.moderate_minutes[0], totals.vigorous_minutes[0], totals.peak_minutes[0]) == (1, 2, 1)
    assert totals.active_zone_points[0] == 1 + 2 * 3


def test_a_25_hour_day_at_the_autumn_clock_change() -> None:
    edges = _local_midnights("2024-10-26", 3)  # 26th (24 h), 27th (25 h: BST ends), 28th (24 h)
    assert np.diff(edges).tolist() == [86_400.0, 90_000.0, 86_400.0]
    # 10 minutes of effort at local 00:30 BST and 10 more at 23:40 GMT on the 27th: both on the 27th.
    starts = [edges[1] + 30 * 60, edges[2] - 20 * 60]
    t = np.concatenate([s + np.arange(600, dtype=float) for s in starts])
    totals = day_totals(_table(t, _noisy(150.0, t.size)), edges)
    assert totals.heartbeat_up_minutes.tolist() == [0, 20, 0]


def test_a_workout_across_local_midnight_splits_its_minutes() -> None:
    edges = _local_midnights("2024-07-01", 2)  # BST, UTC+1
    t = edges[1] - 12 * 60 + np.arange(30 * 60, dtype=float)  # 23:48 to 00:18 local
    totals = day_totals(_table(t, _noisy(150.0, t.size)), edges)
    assert totals.heartbeat_up_minutes.tolist() == [12, 18]


def test_day_edges_must_increase() -> None:
    table = _table(T0 + np.arange(60.0), _noisy(150, 60))
    with pytest.raises(InvalidSeries):
        day_totals(table, [T0 + 10, T0])


def test_week_against_the_who_band() -> None:
    edges = T0 + 86_400.0 * np.arange(8)
    t = np.concatenate([e + np.arange(25 * 60, dtype=float) for e in edges[:7]])
    totals = day_totals(_table(t, _noisy(PROFILE.bpm_at(0.5), t.size)), edges)  # 25 moderate min/day
    week = week_summary(totals)
    assert (week.heartbeat_up_minutes, week.equivalent_minutes, week.status) == (175, 175, "within")
    assert week.minutes_to_band == 0
    short = week_summary(day_totals(_table(t[: 3 * 1500], _noisy(PROFILE.bpm_at(0.5), 4500)), edges))
    assert (short.status, short.minutes_to_band) == ("below", 75)


def test_incremental_update_equals_full_recomputation() -> None:
    t = T0 + np.arange(40 * 60, dtype=float) * 1.3
    bpm = _noisy(130.0, t.size, seed=3)
    valid = clean_hr(t, bpm).valid
    full = minute_table(t, bpm, valid, profile=PROFILE)
    cut = T0 + 20 * 60
    first = minute_table(t[t < cut], bpm[t < cut], valid[t < cut], profile=PROFILE)
    # New samples arrive: recompute from the minute before the cut, with max_cover_s of context.
    redo = cut - 60
    ctx = t >= redo - MAX_COVER_S
    fresh = minute_table(t[ctx], bpm[ctx], valid[ctx], profile=PROFILE, start_s=redo)
    merged = merge_minutes(first, fresh)
    np.testing.assert_array_equal(merged.minute_start_s, full.minute_start_s)
    np.testing.assert_allclose(merged.valid_s, full.valid_s, atol=1e-4)
    np.testing.assert_allclose(merged.up_s, full.up_s, atol=1e-4)
    np.testing.assert_allclose(merged.mean_bpm, full.mean_bpm, rtol=1e-6)


def test_chunked_computation_equals_one_piece() -> None:
    t, bpm = _random_day(7)
    valid = clean_hr(t, bpm).valid
    valid[5000:5400] = False
    contact = np.ones(t.size, bool)
    contact[5000:5200] = False
    whole = minute_table(t, bpm, valid, profile=PROFILE, contact=contact, chunk_samples=10**9)
    pieces = minute_table(t, bpm, valid, profile=PROFILE, contact=contact, chunk_samples=997)
    for name in ("minute_start_s", "n_samples", "min_bpm", "max_bpm", "first_valid_s", "last_valid_s"):
        np.testing.assert_array_equal(getattr(pieces, name), getattr(whole, name))
    for name in ("valid_s", "lost_contact_s", "up_s", "moderate_s", "vigorous_s", "peak_s", "mean_bpm"):
        np.testing.assert_allclose(getattr(pieces, name), getattr(whole, name), rtol=1e-5, atol=1e-3)
    assert whole.lost_contact_s.sum() > 0 and whole.up.sum() > 0


def test_merging_tables_of_different_profiles_is_refused() -> None:
    t = T0 + np.arange(60.0)
    a = minute_table(t, np.full(60, 120.0), np.ones(60, bool), profile=PROFILE)
    b = minute_table(t, np.full(60, 120.0), np.ones(60, bool), profile=HeartProfile(50.0, 180.0))
    with pytest.raises(InvalidSeries):
        merge_minutes(a, b)


def test_unsorted_times_are_refused() -> None:
    with pytest.raises(InvalidSeries):
        minute_table([2.0, 1.0], [100, 100], [True, True], profile=PROFILE)


def _random_day(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    n = 3 * 3600
    t = T0 + np.cumsum(rng.choice([1.0, 1.0, 1.0, 2.0, 4.0], n))
    level = np.repeat(rng.choice([70.0, 115.0, 150.0], n // 300 + 1), 300)[:n]
    return t, np.rint(level + rng.normal(0, 2, n))


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), hole_at=st.floats(0, 1), hole_len=st.floats(MAX_COVER_S, 2000))
def test_adding_a_hole_never_adds_minutes(seed: int, hole_at: float, hole_len: float) -> None:
    # A hole at least MAX_COVER_S long is never bridged, so it only takes cover away, minute by minute.
    # (Removing fewer samples is thinning: tests/analysis/test_sparse.py bounds what that can change.)
    t, bpm = _random_day(seed)
    start = t[0] + hole_at * (t[-1] - t[0])
    keep = (t < start) | (t >= start + hole_len)
    valid = np.ones(t.size, bool)
    before = minute_table(t, bpm, valid, profile=PROFILE)
    after = minute_table(t[keep], bpm[keep], valid[keep], profile=PROFILE)
    assert after.up.sum() <= before.up.sum()
    assert after.valid_s.sum() <= before.valid_s.sum() + 1e-3
    rows = np.searchsorted(before.minute_start_s, after.minute_start_s)
    assert np.all(after.up_s <= before.up_s[rows] + 1e-3)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), days=st.integers(-400, 400))
def test_shifting_all_times_by_whole_days_shifts_the_minutes(seed: int, days: int) -> None:
    t, bpm = _random_day(seed)
    edges = T0 - T0 % 86_400 + 86_400.0 * np.arange(-1, 3)
    valid = clean_hr(t, bpm).valid
    here = day_totals(minute_table(t, bpm, valid, profile=PROFILE), edges)
    moved = day_totals(
        minute_table(t + days * 86_400.0, bpm, valid, profile=PROFILE), edges + days * 86_400.0
    )
    assert moved.heartbeat_up_minutes.tolist() == here.heartbeat_up_minutes.tolist()
    assert moved.active_zone_points.tolist() == here.active_zone_points.tolist()
