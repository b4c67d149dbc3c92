"""Rest-time HRV per day and the recovery status against the personal baseline, on constructed data."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.analysis.baseline import (
    RestRules,
    baseline_from_windows,
    daily_rest_hrv,
    exercise_windows,
    recovery_status,
    recovery_statuses,
    time_of_day_baseline,
)
from service.analysis.errors import InvalidSeries
from service.analysis.hrv import time_domain, window_stats

DAY_S = 86_400
DAY0 = 20_000  # 2024-10-04, days since the epoch


def _beats(
    start_s: float, duration_s: float, hr_bpm: float, amp_ms: float, seed: int
) -> tuple[np.ndarray, ...]:
    """Beats at a steady rate with breathing (5-beat cycle) and a little noise."""
    n = int(duration_s * hr_bpm / 60.0)
    k = np.arange(n)
    noise = np.random.default_rng(seed).normal(0.0, 3.0, n)
    rr = 60_000.0 / hr_bpm + amp_ms * np.sin(2 * np.pi * k / 5.0) + noise
    return start_s + np.cumsum(rr) / 1000.0, rr


def _day(day: int, night_amp_ms: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A night of quiet sleep at 55 bpm (00:00-06:00 UTC) and an afternoon sitting at 80 bpm."""
    t1, rr1 = _beats(day * DAY_S, 6 * 3600, 55.0, night_amp_ms, seed)
    t2, rr2 = _beats(day * DAY_S + 12 * 3600, 2 * 3600, 80.0, 10.0, seed + 1)
    return np.concatenate([t1, t2]), np.concatenate([rr1, rr2])


def test_daily_value_is_ln_rmssd_of_the_quiet_night() -> None:
    parts = [_day(DAY0 + i, amp, i) for i, amp in enumerate([30.0, 15.0])]
    t, rr = (np.concatenate(x) for x in zip(*parts, strict=True))
    daily = daily_rest_hrv(t, rr, utc_offset_s=0.0)
    assert daily.day.tolist() == [DAY0, DAY0 + 1]
    assert np.all(daily.n_windows >= 70)  # the 72 windows of the night, less partial ones
    for i, (t_day, rr_day) in enumerate(parts):
        night = rr_day[t_day < (DAY0 + i) * DAY_S + 6 * 3600]
        expected = np.log(time_domain(night, correct_artifacts=False).rmssd_ms)
        assert daily.ln_rmssd[i] == pytest.approx(expected, abs=0.05)
    assert daily.ln_rmssd[0] - daily.ln_rmssd[1] == pytest.approx(np.log(2.0), abs=0.1)


def test_days_follow_the_local_calendar() -> None:
    t, rr = _day(DAY0, 30.0, 7)
    # Ten hours ahead of UTC the night (00:00-06:00 UTC) is 10:00-16:00 local, still the same day;
    # eight hours behind, it is the evening of the day before, and the afternoon sitting (04:00-06:00
    # local) is the quietest time of its own day.
    ahead = daily_rest_hrv(t, rr, utc_offset_s=10 * 3600)
    assert ahead.day.tolist() == [DAY0]
    behind = daily_rest_hrv(t, rr, utc_offset_s=np.full(t.size, -8 * 3600.0))
    assert behind.day.tolist() == [DAY0 - 1, DAY0]
    assert behind.ln_rmssd[0] == pytest.approx(ahead.ln_rmssd[0])


def test_restless_or_artefact_ridden_windows_are_not_quiet() -> None:
    t, rr = _day(DAY0, 30.0, 3)
    restless = rr.copy()
    night = t < DAY0 * DAY_S + 6 * 3600
    # HR swinging by 20 bpm every minute: movement, not rest
    restless[night] = 60_000.0 / (55.0 + 10.0 * np.sign(np.sin(2 * np.pi * t[night] / 120.0)))
    sitting = daily_rest_hrv(t[~night], rr[~night], utc_offset_s=0.0)
    daily = daily_rest_hrv(t, restless, utc_offset_s=0.0)
    assert daily.n_windows.tolist() == sitting.n_windows.tolist() == [24]  # only the afternoon is quiet
    assert daily.ln_rmssd[0] == pytest.approx(sitting.ln_rmssd[0])
    # a night where one beat in ten is missed by the strap is not quiet either
    missed = np.flatnonzero(night)[::10]
    dropped = np.ones(t.size, dtype=bool)
    dropped[missed] = False
    merged = rr.copy()
    merged[missed + 1] += rr[missed]
    daily = daily_rest_hrv(t[dropped], merged[dropped], utc_offset_s=0.0)
    assert daily.n_windows.tolist() == [24]


def _history(values: list[float]) -> tuple[np.ndarray, np.ndarray]:
    day = np.arange(DAY0, DAY0 + len(values))
    return day, np.asarray(values, dtype=float)


BAND = [4.0 + 0.2 * ((i % 4) - 1.5) for i in range(53)]  # mean 4.0, SD 0.2236: band 3.888-4.112


@pytest.mark.parametrize(
    ("last_week", "expected"),
    [([4.0] * 7, "within"), ([3.5] * 7, "below"), ([4.6] * 7, "above"), ([3.9, 4.1] * 3 + [4.0], "within")],
)
def test_recovery_status_against_the_60_day_band(last_week: list[float], expected: str) -> None:
    day, ln = _history(BAND + last_week)
    status = recovery_status(day, ln, on_day=int(day[-1]))
    assert status.status == expected
    assert status.n_acute_days == 7 and status.n_band_days == 60
    assert status.acute_ln_rmssd == pytest.approx(np.mean(last_week))
    assert status.band_low == pytest.approx(ln.mean() - 0.5 * ln.std(ddof=1))
    assert status.band_high == pytest.approx(ln.mean() + 0.5 * ln.std(ddof=1))


def test_recovery_status_needs_history_and_ignores_missing_days() -> None:
    day, ln = _history(BAND[:10] + [4.0] * 2)
    assert recovery_status(day, ln, on_day=int(day[-1])).status is None  # 12 days of history
    day, ln = _history(BAND + [3.5] * 7)
    ln[-3:] = np.nan  # three recent days without a value: four remain
    status = recovery_status(day, ln, on_day=int(day[-1]))
    assert (status.status, status.n_acute_days) == ("below", 4)
    # judging an earlier day only looks at history up to it
    assert recovery_status(day, ln, on_day=int(day[-8])).status == "within"
    with pytest.raises(InvalidSeries):
        recovery_status(day, ln[:-1], on_day=int(day[-1]))


# --- exercise windows and the time-of-day baseline --------------------------------------------------


def _brute_overlaps(start: np.ndarray, window_s: float, spans: list[tuple[float, float]]) -> np.ndarray:
    return np.array([any(a < s + window_s and b > s for a, b in spans if b > a) for s in start], dtype=bool)


def test_exercise_windows_mark_the_workout_and_the_hour_after_it() -> None:
    start = np.arange(0.0, 4 * 3600, 300.0)
    w = exercise_windows(start, window_s=300, exercise_s=[(1000.0, 2500.0)])
    # 1000 s falls in the window from 900 s; the workout ends inside the window from 2400 s.
    assert start[w.exercise].tolist() == [900.0, 1200.0, 1500.0, 1800.0, 2100.0, 2400.0]
    # The hour after it runs to 6100 s: the windows from 2700 s to 6000 s, the one holding 2500 s is exercise.
    assert start[w.after].min() == 2700.0 and start[w.after].max() == 6000.0
    assert not (w.exercise & w.after).any() and w.any.sum() == w.exercise.sum() + w.after.sum()
    none = exercise_windows(start, window_s=300, exercise_s=None)
    assert not none.any.any()
    assert not exercise_windows(start, window_s=300, exercise_s=np.zeros((0, 2))).any.any()


def test_a_span_ending_where_a_window_starts_does_not_touch_it() -> None:
    start = np.array([0.0, 300.0, 600.0])
    w = exercise_windows(start, window_s=300, exercise_s=[(0.0, 300.0)], after_s=300.0)
    assert w.exercise.tolist() == [True, False, False] and w.after.tolist() == [False, True, False]
    empty = exercise_windows(start, window_s=300, exercise_s=[(450.0, 450.0)], after_s=0.0)
    assert not empty.any.any()  # an empty span covers no time


@pytest.mark.parametrize(
    "spans", [[(1.0, 2.0, 3.0)], [(5.0, 4.0)], [(0.0, float("nan"))], np.zeros((2, 2, 2))]
)
def test_exercise_spans_must_be_start_end_pairs(spans: object) -> None:
    with pytest.raises(InvalidSeries):
        exercise_windows(np.zeros(3), window_s=300, exercise_s=spans)  # type: ignore[arg-type]


@settings(max_examples=60, deadline=None)
@given(
    spans=st.lists(
        st.tuples(st.floats(0, 20_000, allow_nan=False), st.floats(0, 5_000, allow_nan=False)), max_size=12
    ),
    window_s=st.sampled_from([30, 300, 600]),
)
def test_overlaps_agree_with_checking_every_span(spans: list[tuple[float, float]], window_s: int) -> None:
    pairs = [(a, a + d) for a, d in spans]  # overlapping, nested, touching, empty: any order
    start = np.arange(-600.0, 26_000.0, window_s)
    w = exercise_windows(start, window_s=window_s, exercise_s=pairs or None, after_s=0.0)
    np.testing.assert_array_equal(w.exercise, _brute_overlaps(start, window_s, pairs))


MORNING_OFFSET_S = 3600.0


def _morning(day: int, workout: bool, seed: int) -> tuple[np.ndarray, np.ndarray, list[tuple[float, float]]]:
    """06:00-12:00 local at rest, 58 bpm; on workout days a run 07:20-08:00 and an hour of recovery after.

    The recovery is what a heart does after a run: still raised (90 falling to 66 bpm), HRV suppressed,
    below the heartbeat-up threshold, so only the session says it is not rest."""
    t0 = day * DAY_S + 6 * 3600 - MORNING_OFFSET_S
    if not workout:
        t, rr = _beats(t0, 6 * 3600, 58.0, 30.0, seed)
        return t, rr, []
    parts = [_beats(t0, 80 * 60, 58.0, 30.0, seed)]
    parts.append(_beats(parts[-1][0][-1], 40 * 60, 150.0, 2.0, seed + 1))
    for i, bpm in enumerate(np.linspace(90.0, 66.0, 12)):
        parts.append(_beats(parts[-1][0][-1], 300, float(bpm), 5.0 + i, seed + 2 + i))
    parts.append(_beats(parts[-1][0][-1], 3 * 3600, 58.0, 30.0, seed + 20))
    t, rr = (np.concatenate(x) for x in zip(*parts, strict=True))
    return t, rr, [(t0 + 80 * 60, t0 + 120 * 60)]


def test_the_usual_at_eight_leaves_out_morning_workouts_and_the_hour_after() -> None:
    days = [_morning(DAY0 + i, workout=i % 3 != 2, seed=10 * i) for i in range(9)]
    t = np.concatenate([d[0] for d in days])
    rr = np.concatenate([d[1] for d in days])
    sessions = [s for d in days for s in d[2]]
    rules = RestRules(exercise_bpm=112.0)  # 40 % HRR of 60..190 bpm
    with_sessions = time_of_day_baseline(
        t, rr, utc_offset_s=MORNING_OFFSET_S, rules=rules, exercise_s=sessions
    )
    without = time_of_day_baseline(t, rr, utc_offset_s=MORNING_OFFSET_S, rules=rules)
    # Without the sessions the recovery hour lifts "your usual" at 08:00 (the jump the issue saw).
    assert without.hr_bpm[8] > without.hr_bpm[7] + 8.0
    # With them, 08:00 is read from the rest days only (3 of 9), at the same 58 bpm as 07:00 and 10:00.
    assert with_sessions.n_windows[8] == 3 * 12
    np.testing.assert_allclose(with_sessions.hr_bpm[[6, 7, 8, 9, 10]], 58.0, atol=1.0)
    assert with_sessions.ln_rmssd[8] == pytest.approx(with_sessions.ln_rmssd[10], abs=0.15)
    # The stored-window form drops the same windows.
    stats = window_stats(t, rr)
    stored = baseline_from_windows(stats, utc_offset_s=MORNING_OFFSET_S, rules=rules, exercise_s=sessions)
    np.testing.assert_array_equal(stored.n_windows, with_sessions.n_windows)
    np.testing.assert_allclose(stored.hr_bpm, with_sessions.hr_bpm)


@settings(max_examples=60, deadline=None)
@given(
    n_days=st.integers(1, 500),
    missed=st.floats(0.0, 0.7),
    level=st.floats(2.0, 5.0),
    trend=st.floats(-0.004, 0.004),
    step=st.floats(-1.5, 1.5),
    noise=st.sampled_from([0.15, 0.003, 1e-7, 0.0]),  # down to a steady, repeated reading
    seed=st.integers(0, 2**32 - 1),
)
def test_recovery_statuses_are_recovery_status_day_by_day(
    n_days: int, missed: float, level: float, trend: float, step: float, noise: float, seed: int
) -> None:
    """Over any history (days missed, a drift over the year, a step half-way, readings from noisy to
    constant, a NaN), on every day from before it to after it, the many-day form answers what the one-day
    form answers: counts and labels exactly, numbers to 1e-12."""
    rng = np.random.default_rng(seed)
    day = DAY0 + np.flatnonzero(rng.random(n_days) >= missed)
    ln = level + trend * (day - DAY0) + step * (day - DAY0 > n_days // 2) + rng.normal(0.0, noise, day.size)
    if day.size > 3:
        ln[day.size // 2] = np.nan  # recovery_status leaves it out; so must the running sums
    on_days = np.arange(DAY0 - 3, DAY0 + n_days + 70)
    many = recovery_statuses(day[::-1], ln[::-1], on_days=on_days)  # any order, as recovery_status takes
    for i, on_day in enumerate(on_days.tolist()):
        got = many[i]
        want = recovery_status(day, ln, on_day=on_day)
        assert (got.n_acute_days, got.n_band_days) == (want.n_acute_days, want.n_band_days)
        for a, b in ((got.acute_ln_rmssd, want.acute_ln_rmssd), (got.band_low, want.band_low),
                     (got.band_high, want.band_high)):  # fmt: skip
            assert (a is None) == (b is None) and (a is None or abs(a - b) <= 1e-12 * max(1.0, abs(b)))
        edge = (
            want.band_low is not None
            and min(abs(want.acute_ln_rmssd - want.band_low), abs(want.acute_ln_rmssd - want.band_high))
            < 1e-12
        )
        assert got.status == want.status or edge, (on_day, got, want)


def test_recovery_statuses_refuse_mismatched_arrays() -> None:
    with pytest.raises(InvalidSeries):
        recovery_statuses([1, 2, 3], [3.5, 3.6], on_days=[3])
