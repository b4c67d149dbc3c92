"""Stress episodes and the interview stress series on constructed days with a known answer."""

from __future__ import annotations

import numpy as np
import pytest

from service.analysis.errors import InvalidSeries
from service.analysis.hrv import WindowStats, window_stats
from service.analysis.stress import (
    StressRules,
    TimeOfDayBaseline,
    baseline_from_windows,
    interview_stress,
    stress_episodes,
    time_of_day_baseline,
)

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
