"""Workout sessions: 5 up minutes start one, back-dated to the rise; hysteresis on 30 % HRR carries it
through active recoveries; rests over 5 minutes and holes end it; in progress; corrections; TRIMP."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.analysis.cleaning import clean_hr
from service.analysis.errors import InvalidProfile
from service.analysis.minutes import MINUTE_S, minute_table
from service.analysis.profile import HeartProfile
from service.analysis.recovery import NOTE_NO_DATA, NOTE_PENDING
from service.analysis.sessions import (
    MAX_HOLE_S,
    STILL_EXERCISING_HRR,
    Session,
    detect_sessions,
    session_rows,
    summarise_session,
    without_corrected,
)
from service.analysis.trimp import TRIMP_K_FEMALE, banister_trimp

PROFILE = HeartProfile(resting_hr=60.0, max_hr=190.0)  # threshold 112 bpm, still exercising from 99 bpm
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


def _intervals(rest_s: int, rest_bpm: float = 95.0) -> tuple[np.ndarray, np.ndarray]:
    """Three 7-minute efforts at 150 with rests at ``rest_bpm`` (95 = 27 % HRR: below still exercising)."""
    blocks: list[tuple[int, float]] = [(600, 70.0)]
    for _ in range(3):
        blocks += [(420, 150.0), (rest_s, rest_bpm)]
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


def test_a_first_effort_shorter_than_5_minutes_belongs_to_the_session() -> None:
    # 3 minutes up, 2 below, then 10 up: one workout from the first effort. (This test used to expect the
    # start at the 10 sustained minutes; issue 12: the first effort and the warm-up were lost that way.)
    t, bpm = _stream((600, 70.0), (180, 150.0), (120, 95.0), (600, 150.0), (900, 70.0))
    (session,) = _detect(t, bpm)
    assert session.start_s == pytest.approx(T0 + 600, abs=15)
    assert session.heartbeat_up_minutes == pytest.approx(13, abs=1)


def test_the_start_is_back_dated_to_the_warm_up_and_the_end_follows_a_cool_down() -> None:
    # Rest 70, a 5-min warm-up at 90 (below the threshold), 20 min at 150, a 6-min cool-down at 105
    # (light, above the still-exercising level), rest: the session runs from the warm-up to the cool-down.
    t, bpm = _stream((600, 70.0), (300, 90.0), (1200, 150.0), (360, 105.0), (900, 70.0))
    (session,) = _detect(t, bpm)
    assert session.start_s == pytest.approx(T0 + 600, abs=15)
    assert session.end_s == pytest.approx(T0 + 600 + 300 + 1200 + 360, abs=30)
    assert session.heartbeat_up_minutes == pytest.approx(20, abs=1)
    assert session.end_of_effort_s == pytest.approx(T0 + 2100, abs=15)  # the stop, not the cool-down's end


def test_an_interval_workout_with_active_recoveries_is_one_session() -> None:
    # Rowing as in issue 12 (28.5 min): a warm-up, a first effort of 2.5 minutes, a recovery wandering
    # 94-106 bpm for 6.7 minutes, efforts to 170-176 with recoveries at about 100, a cool-down. The old rule
    # (more than 5 minutes below 40 % HRR split it) started it at the second effort and lost the first and
    # the warm-up; so does a still-exercising level at 40 % HRR instead of 30 % (the recovery must be longer
    # than the 5 minutes of rest that never split, or this test could not tell the two rules apart).
    efforts = [(150, 168.0), (400, 100.0), (360, 170.0), (180, 100.0), (300, 176.0)]
    t, bpm = _stream((600, 70.0), (180, 95.0), *efforts, (240, 90.0), (900, 70.0))
    recovering = (bpm > 93) & (bpm < 108) & (t > T0 + 780)
    bpm = np.where(recovering, bpm + np.rint(6 * np.sin((t - T0) / 40)), bpm)
    (session,) = _detect(t, bpm)
    assert session.start_s == pytest.approx(T0 + 600, abs=15)  # the warm-up at 95 is in
    assert session.end_s == pytest.approx(T0 + 780 + 1390, abs=60)  # the stop (the cool-down at 90 is out)
    assert session.heartbeat_up_minutes == pytest.approx(2.5 + 6 + 5, abs=2)
    assert session.end_of_effort_s == pytest.approx(T0 + 780 + 1390, abs=15)
    assert session.hrr60_bpm == pytest.approx(176 - 90, abs=8)


def test_a_hole_before_the_rise_bounds_the_back_dating() -> None:
    t, bpm = _stream((600, 70.0), (300, 90.0), (1200, 150.0), (900, 70.0))
    hole = (t >= T0 + 700) & (t < T0 + 700 + 180)  # 3 min missing during the warm-up
    (session,) = _detect(t[~hole], bpm[~hole])
    # After the hole, 20 s more of the warm-up, then the climb: the start lies there, never in the hole.
    assert T0 + 880 <= session.start_s <= T0 + 900 + 15


def test_a_session_reaching_live_data_is_in_progress_with_its_recovery_pending() -> None:
    t, bpm = _stream((600, 70.0), (1200, 150.0))
    (live,) = _detect(t, bpm, data_end_s=t[-1] + 5)
    assert live.in_progress and live.end_s == pytest.approx(t[-1], abs=1)
    assert (live.hrr60_bpm, live.recovery_note) == (None, NOTE_PENDING)
    (done,) = _detect(t, bpm, data_end_s=t[-1] + MAX_HOLE_S + 1)  # the strap went quiet: it ended there
    assert not done.in_progress and done.recovery_note == NOTE_NO_DATA
    (file,) = _detect(t, bpm)  # a recording, complete
    assert not file.in_progress


def test_a_live_session_stays_in_progress_until_the_recovery_window_has_arrived() -> None:
    stop = 600 + 1200
    t, bpm = _stream((600, 70.0), (1200, 150.0), (600, 70.0))
    for seconds_after, going in ((90, True), (170, True), (300, False)):
        keep = t < T0 + stop + seconds_after
        (s,) = _detect(t[keep], bpm[keep], data_end_s=float(t[keep][-1]) + 1)
        assert s.in_progress is going, seconds_after
    assert s.hrr60_bpm is not None and s.end_s < T0 + stop + 60


def test_a_hole_longer_than_2_minutes_ends_a_session_and_is_never_counted() -> None:
    t, bpm = _stream((600, 70.0), (1800, 150.0), (900, 70.0))
    hole = (t >= T0 + 1200) & (t < T0 + 1200 + 150)  # 2.5 min without data mid-workout
    sessions = _detect(t[~hole], bpm[~hole])
    assert len(sessions) == 2
    assert sessions[0].end_s <= T0 + 1200  # the last sample before a hole covers none of it
    assert (sessions[0].hrr60_bpm, sessions[0].recovery_note) == (None, NOTE_NO_DATA)  # no data after it
    assert sessions[1].start_s >= T0 + 1350  # back-dating never reaches into the hole
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


def test_intervals_with_6_minute_rests_above_the_still_exercising_level_are_one_session() -> None:
    t, bpm = _intervals(rest_s=360, rest_bpm=105.0)  # 35 % HRR: light work, an active recovery
    (session,) = _detect(t, bpm)
    assert session.heartbeat_up_minutes == pytest.approx(21, abs=1)


def test_session_rows_on_a_minute_table() -> None:
    t, bpm = _intervals(rest_s=360)
    table = minute_table(t, bpm, clean_hr(t, bpm).valid, profile=PROFILE)
    rows = session_rows(table)
    assert len(rows) == 3
    # Rows run between still-exercising minutes (the 20-s ramps put an edge minute above 99 bpm).
    still = PROFILE.bpm_at(STILL_EXERCISING_HRR)
    assert all(table.mean_bpm[first] >= still and table.mean_bpm[last] >= still for first, last in rows)


def test_heartbeat_up_minutes_never_exceed_the_duration_at_the_edges_of_the_data() -> None:
    # The data begin and end half-way through a clock minute while HR is up: 40 minutes of data touch 41
    # clock minutes with 30 s each at the edges (the "40 min, 41 heartbeat-up min" of issue 12).
    t = T0 + 30 + np.arange(40 * 60 + 1, dtype=float)
    (session,) = _detect(t, 150.0 + np.random.default_rng(3).integers(-2, 3, t.size))
    assert session.heartbeat_up_minutes * MINUTE_S <= session.duration_s
    assert session.heartbeat_up_minutes == 40


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
    gappy = np.concatenate((t[:900], t[900:] + 3600))  # an hour-long gap is a hole: it adds no load
    assert banister_trimp(gappy, bpm, profile=PROFILE) == pytest.approx(expected * 1798 / 1799, rel=1e-6)


def test_inconsistent_profile_is_refused() -> None:
    with pytest.raises(InvalidProfile):
        detect_sessions([0.0, 1.0], [100, 100], resting_hr=190, max_hr=60)


# Properties over random workouts: blocks of levels with ramps and noise, random holes, and sampling from
# every second to every 20 s ("smart recording").
_blocks = st.lists(st.tuples(st.integers(60, 900), st.sampled_from([65.0, 90.0, 100.0, 130.0, 160.0, 182.0])),
                   min_size=1, max_size=8)  # fmt: skip
_holes = st.lists(st.tuples(st.floats(0.0, 1.0), st.integers(20, 400)), max_size=4)


def _random_recording(blocks: list, holes: list, step_s: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    t, bpm = _stream(*blocks, seed=seed)
    keep = np.zeros(t.size, dtype=bool)
    keep[::step_s] = True
    for where, length in holes:
        start = T0 + where * (t[-1] - T0)
        keep &= ~((t >= start) & (t < start + length))
    return t[keep], bpm[keep]


@settings(max_examples=60, deadline=None)
@given(_blocks, _holes, st.sampled_from([1, 1, 3, 8, 20]), st.integers(0, 5))
def test_property_sessions_respect_holes_minutes_and_their_own_peak(
    blocks: list, holes: list, step_s: int, seed: int
) -> None:
    t, bpm = _random_recording(blocks, holes, step_s, seed)
    if t.size < 2:
        return
    valid = clean_hr(t, bpm).valid
    tv = t[valid]
    for s in _detect(t, bpm, data_end_s=float(t[-1]) + 1):
        # Back-dating never moves a start into a hole: it is a valid sample, and no hole lies inside.
        assert s.start_s in tv
        inside = tv[(tv >= s.start_s) & (tv <= s.end_s)]
        assert not np.any(np.diff(inside) > MAX_HOLE_S)
        assert s.heartbeat_up_minutes * MINUTE_S <= s.duration_s + 1e-6
        assert s.moderate_minutes + s.vigorous_minutes + s.peak_minutes == s.heartbeat_up_minutes
        if s.end_of_effort_bpm is not None:
            assert s.end_of_effort_bpm <= s.max_bpm
            assert s.start_s <= s.end_of_effort_s <= s.end_s
        if s.hrr60_bpm is not None and s.hrr120_bpm is not None:
            assert s.hrr120_bpm >= s.hrr60_bpm
        assert not (s.in_progress and s.hrr60_bpm is not None)
