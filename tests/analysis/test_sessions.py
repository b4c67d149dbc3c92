"""Workout sessions: start after 5 up minutes, rests of up to 5 minutes, holes, corrections, TRIMP."""

from __future__ import annotations

import numpy as np
import pytest

from service.analysis.cleaning import clean_hr
from service.analysis.errors import InvalidProfile
from service.analysis.minutes import minute_table
from service.analysis.profile import HeartProfile
from service.analysis.sessions import (
    Session,
    detect_sessions,
    session_rows,
    summarise_session,
    without_corrected,
)
from service.analysis.trimp import TRIMP_K_FEMALE, banister_trimp

PROFILE = HeartProfile(resting_hr=60.0, max_hr=190.0)  # threshold 112 bpm
T0 = 1_700_000_040.0  # a whole UTC minute


def _stream(*blocks: tuple[int, float], seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """1 Hz integer bpm through (seconds, level) blocks, with 20-s ramps between levels and noise."""
    levels = np.concatenate([np.full(seconds, level) for seconds, level in blocks])
    kernel = np.ones(21) / 21
    padded = np.concatenate((np.full(10, levels[0]), levels, np.full(10, levels[-1])))
    smooth = np.convolve(padded, kernel, mode="valid")
    noise = np.random.default_rng(seed).normal(0.0, 1.5, smooth.size)
    return T0 + np.arange(smooth.size, dtype=float), np.rint(smooth + noise)


def _detect(t: np.ndarray, bpm: np.ndarray, **kw: object) -> list[Session]:
    return detect_sessions(t, bpm, resting_hr=PROFILE.resting_hr, max_hr=PROFILE.max_hr, **kw)


def _intervals(rest_s: int) -> tuple[np.ndarray, np.ndarray]:
    blocks: list[tuple[int, float]] = [(600, 70.0)]
    for _ in range(3):
        blocks += [(420, 150.0), (rest_s, 95.0)]
    return _stream(*blocks, (900, 70.0))


def test_a_steady_workout_is_one_session_with_its_statistics() -> None:
    t, bpm = _stream((600, 70.0), (25 * 60, 150.0), (900, 70.0))
    (session,) = _detect(t, bpm)
    assert session.start_s == pytest.approx(T0 + 600, abs=15)
    assert session.end_s == pytest.approx(T0 + 600 + 1500, abs=15)
    assert session.heartbeat_up_minutes in (25, 26)
    assert session.avg_bpm == pytest.approx(149, abs=2)
    assert 150 < session.max_bpm < 160
    assert session.vigorous_minutes == session.heartbeat_up_minutes
    assert session.hrr60_bpm == pytest.approx(150 - 70, abs=6)  # the ramp ends within 20 s
    assert session.duration_s == session.end_s - session.start_s


def test_intervals_with_4_minute_rests_are_one_session() -> None:
    t, bpm = _intervals(rest_s=240)
    (session,) = _detect(t, bpm)
    assert session.heartbeat_up_minutes == pytest.approx(21, abs=1)
    assert session.end_s - session.start_s == pytest.approx(3 * 420 + 2 * 240, abs=30)


def test_intervals_with_6_minute_rests_are_separate_sessions() -> None:
    t, bpm = _intervals(rest_s=360)
    sessions = _detect(t, bpm)
    assert len(sessions) == 3
    assert [s.heartbeat_up_minutes for s in sessions] == pytest.approx([7, 7, 7], abs=1)


def test_a_rest_of_exactly_5_minutes_does_not_split() -> None:
    t, bpm = _stream((600, 70.0), (600, 150.0), (300, 95.0), (600, 150.0), (900, 70.0))
    assert len(_detect(t, bpm)) == 1


def test_less_than_5_minutes_above_threshold_is_no_session() -> None:
    t, bpm = _stream((600, 70.0), (4 * 60, 150.0), (600, 70.0), (4 * 60, 150.0), (600, 70.0))
    assert _detect(t, bpm) == []


def test_a_session_starts_at_the_first_of_five_sustained_minutes() -> None:
    # 3 minutes up, 2 below, then 10 up: the session starts with the 10, not the 3.
    t, bpm = _stream((600, 70.0), (180, 150.0), (120, 95.0), (600, 150.0), (900, 70.0))
    (session,) = _detect(t, bpm)
    assert session.start_s == pytest.approx(T0 + 600 + 300, abs=15)


def test_a_hole_longer_than_2_minutes_ends_a_session_and_is_never_counted() -> None:
    t, bpm = _stream((600, 70.0), (1800, 150.0), (900, 70.0))
    hole = (t >= T0 + 1200) & (t < T0 + 1200 + 150)  # 2.5 min without data mid-workout
    sessions = _detect(t[~hole], bpm[~hole])
    assert len(sessions) == 2
    assert sessions[0].end_s <= T0 + 1200 + 5  # the last sample stands for at most 5 s
    assert sessions[0].hrr60_bpm is None  # no data after it
    assert sessions[1].start_s >= T0 + 1350
    assert sum(s.heartbeat_up_minutes for s in sessions) == pytest.approx(30 - 2.5, abs=1.5)


def test_a_short_hole_does_not_split_and_is_not_counted() -> None:
    t, bpm = _stream((600, 70.0), (1800, 150.0), (900, 70.0))
    hole = (t >= T0 + 1200) & (t < T0 + 1290)  # 90 s
    (session,) = _detect(t[~hole], bpm[~hole])
    assert session.heartbeat_up_minutes == pytest.approx(29, abs=1)


def test_lost_contact_is_a_hole() -> None:
    t, bpm = _stream((600, 70.0), (1800, 150.0), (900, 70.0))
    contact = ~((t >= T0 + 1200) & (t < T0 + 1500))
    assert len(_detect(t, bpm, contact=contact)) == 2
    assert len(_detect(t, bpm)) == 1


def test_session_rows_on_a_minute_table() -> None:
    t, bpm = _intervals(rest_s=360)
    table = minute_table(t, bpm, clean_hr(t, bpm).valid, profile=PROFILE)
    rows = session_rows(table)
    assert len(rows) == 3
    assert all(table.up[first] and table.up[last] for first, last in rows)


def test_summarise_session_for_a_merged_span_matches_detection_of_one() -> None:
    t, bpm = _intervals(rest_s=360)
    first, *_, last = _detect(t, bpm)
    merged = summarise_session(t, bpm, first.start_s, last.end_s, profile=PROFILE)
    assert merged.heartbeat_up_minutes == pytest.approx(21, abs=1)
    assert merged.hrr60_bpm == pytest.approx(last.hrr60_bpm, abs=0.5)
    (as_one,) = _detect(*_intervals(rest_s=240))
    assert merged.max_bpm == pytest.approx(as_one.max_bpm, abs=5)


def test_a_manual_session_without_data_is_empty() -> None:
    t, bpm = _stream((600, 70.0))
    manual = summarise_session(t, bpm, T0 + 10_000, T0 + 11_000, profile=PROFILE)
    assert manual.heartbeat_up_minutes == 0
    assert np.isnan(manual.avg_bpm)
    assert manual.hrr60_bpm is None


def test_corrections_survive_recomputation() -> None:
    t, bpm = _intervals(rest_s=360)
    detected = _detect(t, bpm)
    user_span = (detected[0].start_s, detected[1].end_s)  # the user merged the first two
    kept = without_corrected(detected, [user_span])
    assert kept == [detected[2]]
    assert without_corrected(detected, []) == detected


def test_trimp_follows_banister() -> None:
    t = T0 + np.arange(1800, dtype=float)
    bpm = np.full(t.size, PROFILE.bpm_at(0.7))
    # Banister 1991: 30 min at HRr 0.7 (1800 samples cover 1799 s: the last one covers nothing)
    expected = 30 * 0.7 * 0.64 * np.exp(1.92 * 0.7) * 1799 / 1800
    assert banister_trimp(t, bpm, profile=PROFILE) == pytest.approx(expected, rel=1e-6)
    female = 30 * 0.7 * 0.64 * np.exp(1.67 * 0.7) * 1799 / 1800
    assert banister_trimp(t, bpm, profile=PROFILE, k=TRIMP_K_FEMALE) == pytest.approx(female, rel=1e-6)
    gappy = np.concatenate((t[:900], t[900:] + 3600))  # an hour-long gap adds only the 5 s a sample covers
    assert banister_trimp(gappy, bpm, profile=PROFILE) == pytest.approx(expected * 1803 / 1799, rel=1e-6)


def test_inconsistent_profile_is_refused() -> None:
    with pytest.raises(InvalidProfile):
        detect_sessions([0.0, 1.0], [100, 100], resting_hr=190, max_hr=60)
