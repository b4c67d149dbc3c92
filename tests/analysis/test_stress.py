"""Stress episodes and the interview stress series on constructed days with a known answer."""

from __future__ import annotations

import numpy as np
import pytest

from service.analysis.baseline import TimeOfDayBaseline, baseline_from_windows, time_of_day_baseline
from service.analysis.errors import InvalidSeries
from service.analysis.hrv import WindowStats, window_stats
from service.analysis.stress import StressRules, interview_stress, stress_episodes

DAY_S = 86_400
DAY0 = 20_000
OFFSET_S = 2 * 3600.0  # the user lives at UTC+2


def _beats(segments: list[tuple[float, float, float]], start_s: float, seed: int) -> tuple[np.ndarray, ...]:
    """Beats through (duration_s, hr_bpm, breathing amplitude ms) segments, back to back."""
    rng = np.random.default_rng(seed)
    rr_parts = []
    for duration_s, hr_bpm, amp_ms in segments:
        n = int(duration_s * hr_bpm / 60.0)
        k = np.arange(n)
        rr_parts.append(60_000.0 / hr_bpm + amp_ms * np.sin(2 * np.pi * k / 5.0) + rng.normal(0.0, 2.0, n))
    rr = np.concatenate(rr_parts)
    return start_s + np.cumsum(rr) / 1000.0, rr


def _calm_day(day: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """06:00-18:00 local at rest: 65 bpm with healthy HRV."""
    return _beats([(12 * 3600, 65.0, 30.0)], day * DAY_S + 6 * 3600 - OFFSET_S, seed)


def _baseline() -> TimeOfDayBaseline:
    days = [_calm_day(DAY0 + i, i) for i in range(5)]
    t, rr = (np.concatenate(x) for x in zip(*days, strict=True))
    return time_of_day_baseline(t, rr, utc_offset_s=OFFSET_S)


INTERVIEW_LOCAL_H = 10.0
INTERVIEW_S = (DAY0 + 10) * DAY_S + INTERVIEW_LOCAL_H * 3600 - OFFSET_S


def _interview_day(stressed_s: float, seed: int = 99) -> tuple[np.ndarray, np.ndarray]:
    """Calm from 06:00 local, raised HR and suppressed HRV for ``stressed_s`` from the interview."""
    start = (DAY0 + 10) * DAY_S + 6 * 3600 - OFFSET_S
    calm_before = INTERVIEW_S - start
    return _beats(
        [
            (calm_before, 65.0, 30.0),
            (stressed_s, 82.0, 6.0),
            (12 * 3600 - calm_before - stressed_s, 65.0, 30.0),
        ],
        start,
        seed,
    )


def test_baseline_per_hour_is_learned_from_prior_days() -> None:
    base = _baseline()
    awake = np.arange(6, 18)
    assert np.all(base.n_windows[awake] >= 50) and base.n_windows[2] == 0
    np.testing.assert_allclose(base.hr_bpm, 65.0, atol=0.5)  # hours without data take the pooled value
    assert np.all(np.exp(base.ln_rmssd[awake]) > 20.0)


def test_an_hour_of_stress_after_the_interview_is_one_episode() -> None:
    t, rr = _interview_day(3600.0)
    out = interview_stress(t, rr, interview_t_s=INTERVIEW_S, utc_offset_s=OFFSET_S, baseline=_baseline())
    assert out.start_s.size == 9 * 12  # 5-minute windows from 3 h before to 6 h after
    assert out.start_s[0] == INTERVIEW_S - 3 * 3600
    assert len(out.episodes) == 1
    ep = out.episodes[0]
    assert ep.start_s == pytest.approx(INTERVIEW_S, abs=300)
    assert ep.end_s == pytest.approx(INTERVIEW_S + 3600, abs=300)
    assert ep.hr_excess_bpm == pytest.approx(17.0, abs=2.0)
    assert ep.ln_rmssd_drop > 1.0
    assert out.recovery_s == pytest.approx(3600.0, abs=300)
    assert np.isfinite(out.hr_bpm).all() and np.isfinite(out.rmssd_ms).all()  # 07:00-16:00 all at rest
    np.testing.assert_allclose(out.baseline_hr_bpm, 65.0, atol=0.5)
    assert out.stressed.sum() in (12, 13)
    # the same episode from the general detector
    assert stress_episodes(t, rr, utc_offset_s=OFFSET_S, baseline=_baseline()) == out.episodes


def test_a_calm_interview_needs_no_recovery_and_missing_data_gives_none() -> None:
    base = _baseline()
    t, rr = _calm_day(DAY0 + 10, 5)
    calm = interview_stress(t, rr, interview_t_s=INTERVIEW_S, utc_offset_s=OFFSET_S, baseline=base)
    assert calm.episodes == () and calm.recovery_s == 0.0
    before = t < INTERVIEW_S - 600
    gone = interview_stress(
        t[before], rr[before], interview_t_s=INTERVIEW_S, utc_offset_s=OFFSET_S, baseline=base
    )
    assert gone.recovery_s is None and np.isnan(gone.hr_bpm[gone.start_s >= INTERVIEW_S]).all()


def test_stress_that_outlasts_the_window_has_no_recovery_time() -> None:
    t, rr = _interview_day(7 * 3600.0)
    out = interview_stress(t, rr, interview_t_s=INTERVIEW_S, utc_offset_s=OFFSET_S, baseline=_baseline())
    assert out.recovery_s is None and len(out.episodes) == 1


def test_exercise_is_not_stress() -> None:
    t, rr = _interview_day(3600.0)
    rules = StressRules(exercise_bpm=80.0)  # the raised stretch counts as activity now
    out = interview_stress(
        t, rr, interview_t_s=INTERVIEW_S, utc_offset_s=OFFSET_S, baseline=_baseline(), rules=rules
    )
    assert out.episodes == ()
    assert out.recovery_s == pytest.approx(3600.0, abs=300)  # no judged rest until it ends


def _concat(parts: list[WindowStats]) -> WindowStats:
    """Windows of several days one after the other, as read back from storage."""
    return WindowStats(*(np.concatenate(col) for col in zip(*(vars(p).values() for p in parts), strict=True)))


def test_baseline_from_stored_windows_equals_baseline_from_the_beats() -> None:
    # Six days across a clock change (UTC+1, then UTC+2), an hour of stress each afternoon at 15:00 local,
    # and the windows computed a day at a time, as the ingest stores them.
    offsets = [3600.0] * 3 + [7200.0] * 3
    days = []
    for i, off in enumerate(offsets):
        start = (DAY0 + i) * DAY_S + 6 * 3600 - off
        days.append(_beats([(9 * 3600, 65.0, 30.0), (3600, 82.0, 6.0), (2 * 3600, 62.0, 35.0)], start, i))
    t, rr = (np.concatenate(x) for x in zip(*days, strict=True))
    per_beat = np.concatenate([np.full(d[0].size, off) for d, off in zip(days, offsets, strict=True)])
    stored = [window_stats(bt, brr) for bt, brr in days]
    per_window = np.concatenate(
        [np.full(w.start_s.size, off) for w, off in zip(stored, offsets, strict=True)]
    )
    for rules in (None, StressRules(exercise_bpm=80.0)):
        want = time_of_day_baseline(t, rr, utc_offset_s=per_beat, rules=rules)
        got = baseline_from_windows(_concat(stored), utc_offset_s=per_window, rules=rules)
        for name in ("hr_bpm", "ln_rmssd", "hr_spread_bpm", "ln_rmssd_spread", "n_windows"):
            np.testing.assert_allclose(getattr(got, name), getattr(want, name), rtol=1e-12, err_msg=name)
    assert want.n_windows[15] == 0 and want.n_windows[14] >= 30  # the stress hour is activity by the rules
    plain = baseline_from_windows(_concat(stored), utc_offset_s=per_window)
    assert plain.hr_bpm[15] > plain.hr_bpm[10] + 10.0  # the hour is local: 15:00 on both sides of the change


def test_one_offset_per_window_must_match_the_windows() -> None:
    t, rr = _calm_day(DAY0, 1)
    stats = window_stats(t, rr)
    with pytest.raises(InvalidSeries):
        baseline_from_windows(stats, utc_offset_s=np.zeros(stats.start_s.size - 1))
    scalar = baseline_from_windows(stats, utc_offset_s=OFFSET_S)
    np.testing.assert_array_equal(
        scalar.n_windows, time_of_day_baseline(t, rr, utc_offset_s=OFFSET_S).n_windows
    )


def test_one_raised_window_is_a_moment_not_an_episode() -> None:
    base = _baseline()
    # The raised stretch starts at the interview (a window's edge, within a second of drift).
    t, rr = _interview_day(300.0)
    once = interview_stress(t, rr, interview_t_s=INTERVIEW_S, utc_offset_s=OFFSET_S, baseline=base)
    assert once.episodes == () and not once.stressed.any()
    assert stress_episodes(t, rr, utc_offset_s=OFFSET_S, baseline=base) == ()
    # It was raised, though: judged window by window it would have been one.
    single = StressRules(min_episode_windows=1)
    assert len(stress_episodes(t, rr, utc_offset_s=OFFSET_S, baseline=base, rules=single)) == 1
    assert once.recovery_s == pytest.approx(300.0, abs=1)  # a raised window is not yet back to usual
    t, rr = _interview_day(600.0)
    twice = interview_stress(t, rr, interview_t_s=INTERVIEW_S, utc_offset_s=OFFSET_S, baseline=base)
    [episode] = twice.episodes
    assert (episode.start_s, episode.end_s) == (INTERVIEW_S, INTERVIEW_S + 600)
    assert twice.stressed.sum() == 2


WORKOUT_END_S = INTERVIEW_S - 1800  # a run 08:30-09:30 local, the interview at 10:00


def _day_with_a_workout_before() -> tuple[np.ndarray, np.ndarray, list[tuple[float, float]]]:
    """Calm from 06:00, a run 08:30-09:30, then an hour of recovery (raised HR, low HRV), calm again.

    The recovery looks like stress to HR and HRV alone (82 bpm, a fraction of the usual RMSSD) and is
    below the heartbeat-up threshold, so a rule on each window's HR cannot tell it from stress."""
    start = (DAY0 + 10) * DAY_S + 6 * 3600 - OFFSET_S
    segments = [
        (WORKOUT_END_S - 3600 - start, 65.0, 30.0),
        (3600.0, 150.0, 2.0),
        (3600.0, 82.0, 6.0),
        (6 * 3600.0, 65.0, 30.0),
    ]
    t, rr = _beats(segments, start, 41)
    return t, rr, [(WORKOUT_END_S - 3600, WORKOUT_END_S)]


def test_the_hour_after_a_workout_is_recovery_not_stress() -> None:
    t, rr, workout = _day_with_a_workout_before()
    rules = StressRules(exercise_bpm=112.0)  # 40 % HRR of 60..190 bpm, as the service passes it
    base = _baseline()
    unaware = interview_stress(
        t, rr, interview_t_s=INTERVIEW_S, utc_offset_s=OFFSET_S, baseline=base, rules=rules
    )
    assert len(unaware.episodes) == 1  # what the service used to report: the minutes after the run
    assert unaware.episodes[0].start_s == pytest.approx(WORKOUT_END_S, abs=300)
    out = interview_stress(
        t, rr, interview_t_s=INTERVIEW_S, utc_offset_s=OFFSET_S, baseline=base, rules=rules,
        exercise_s=workout,
    )  # fmt: skip
    assert out.episodes == () and not out.stressed.any()
    at = out.start_s
    np.testing.assert_array_equal(out.exercise, (at >= WORKOUT_END_S - 3600) & (at < WORKOUT_END_S))
    np.testing.assert_array_equal(out.after_exercise, (at >= WORKOUT_END_S) & (at < WORKOUT_END_S + 3600))
    assert np.isnan(out.hr_bpm[out.exercise | out.after_exercise]).all()  # not judged, not shown as rest
    # Back to usual once the hour after the run is over and two calm windows follow: 30 min after.
    assert out.recovery_s == pytest.approx(1800.0, abs=1)
    assert stress_episodes(t, rr, utc_offset_s=OFFSET_S, baseline=base, rules=rules, exercise_s=workout) == ()


def test_stress_after_the_hour_after_a_workout_still_counts() -> None:
    # The same run, but the raised stretch comes 90 minutes after it: the post-exercise hour is over.
    start = (DAY0 + 10) * DAY_S + 6 * 3600 - OFFSET_S
    run_end = INTERVIEW_S - 1800
    segments = [
        (run_end - 3600 - start, 65.0, 30.0),
        (3600.0, 150.0, 2.0),
        (3600.0 + 1800.0, 65.0, 30.0),  # calm through the hour after it and the interview's start
        (3600.0, 82.0, 6.0),
        (4 * 3600.0, 65.0, 30.0),
    ]
    t, rr = _beats(segments, start, 43)
    out = interview_stress(
        t, rr, interview_t_s=INTERVIEW_S, utc_offset_s=OFFSET_S, baseline=_baseline(),
        rules=StressRules(exercise_bpm=112.0), exercise_s=[(run_end - 3600, run_end)],
    )  # fmt: skip
    [episode] = out.episodes
    assert episode.start_s == pytest.approx(INTERVIEW_S + 3600, abs=300)
    assert not (out.stressed & (out.exercise | out.after_exercise)).any()
