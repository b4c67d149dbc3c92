"""Sessions, minutes and recovery on real FIT-derived workouts (../shared/data/fitparse_*.csv).

Expected values were read off the recordings' 10-second means (see each test) with the profile
resting 60 / max 190 bpm (threshold 112 bpm, still exercising from 30 % HRR = 99 bpm):
- fenix2 run: 69 bpm for the first 4 s, then a climb through 111, 170-176 for most of the run, a dip to
  138 around 41 min, a last push to 157, a plateau around 153 until 44:10, a steep fall to 105 and a walk
  at 104-117 (above 99) to the end: one session from the first seconds to the end, recovery measurable.
- edge800 trainer: from 81 bpm, a warm-up 94-131 for 6 min, a dip to 97 in minute 6 (under a minute),
  intervals at 165-176, a plateau at 175 to 32:45, a fall to about 126 and a cool-down above threshold
  until the file ends: one session from the warm-up's start (within 15 s of the file's), recovery
  measured from 32:45 although the session runs to the end of the file.
- fr110 smart recording: from 73 bpm at the start, above threshold from the first minute to the end (a
  96-bpm dip in minute 21 shorter than 5 minutes); the file stops while still running at 148: one
  session, no recovery ("not enough data after the stop").

Issue 12 changed the starts: they used to be the first of five sustained heartbeat-up minutes (18 s,
401 s and 47 s); sessions are now back-dated to where the rise began, warm-up included.
"""

from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from service.analysis.cleaning import Reason, clean_hr
from service.analysis.minutes import MAX_COVER_S, minute_table
from service.analysis.profile import HeartProfile
from service.analysis.sessions import detect_sessions

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
PROFILE = HeartProfile(resting_hr=60.0, max_hr=190.0)


def _load(name: str) -> tuple[np.ndarray, np.ndarray]:
    path = DATA / name
    if not path.exists():
        pytest.skip(f"{name} is not in ../shared/data")
    with path.open() as handle:
        rows = list(csv.DictReader(handle))
    t = np.array(
        [datetime.fromisoformat(r["timestamp_utc"].replace("Z", "+00:00")).timestamp() for r in rows]
    )
    bpm = np.array([float(r["heart_rate_bpm"]) if r["heart_rate_bpm"] else np.nan for r in rows])
    return t, bpm


def _sessions(t: np.ndarray, bpm: np.ndarray) -> list:
    return detect_sessions(t, bpm, resting_hr=PROFILE.resting_hr, max_hr=PROFILE.max_hr)


def test_fenix2_run_is_one_session_with_a_measured_recovery() -> None:
    t, bpm = _load("fitparse_fenix2_run.csv")
    clean = clean_hr(t, bpm)
    assert clean.count(Reason.OUT_OF_RANGE) == 1  # the one row without HR
    assert int((~clean.valid).sum()) == 1
    (s,) = _sessions(t, bpm)
    assert s.start_s - t[0] == pytest.approx(4, abs=5)  # the climb from 69 begins at 4 s
    assert s.end_s == pytest.approx(t[-1], abs=5)  # walking at 104-117 (above 99) to the end of the file
    assert s.heartbeat_up_minutes == 46
    assert s.heartbeat_up_minutes * 60 <= s.duration_s  # it used to be 46 minutes in a 45.6-minute session
    assert s.max_bpm == 178
    assert s.avg_bpm == pytest.approx(154.0, abs=1)  # the walk after the run is in now
    assert s.end_of_effort_s - t[0] == pytest.approx(2653, abs=15)  # 44:10, the start of the steep fall
    assert s.hrr60_bpm == pytest.approx(38, abs=3)
    assert s.hrr120_bpm == pytest.approx(46, abs=3)
    assert s.recovery_tau_s == pytest.approx(36, abs=8)
    assert s.recovery_fit_r2 > 0.85
    assert (s.moderate_minutes, s.vigorous_minutes, s.peak_minutes) == (7, 27, 12)
    assert s.trimp == pytest.approx(95, abs=3)
    assert s.recovery_note is None and not s.in_progress


def test_edge800_intervals_recovery_measured_before_a_cool_down_above_threshold() -> None:
    t, bpm = _load("fitparse_edge800_indoor_trainer.csv")
    (s,) = _sessions(t, bpm)
    assert s.start_s - t[0] == pytest.approx(0, abs=15)  # the warm-up from 81 bpm is in
    assert s.end_s == pytest.approx(t[-1], abs=5)  # still above threshold when the file ends
    assert s.heartbeat_up_minutes == 35  # the warm-up's minutes at 113-131 bpm count for it now
    assert s.max_bpm == 176
    assert s.end_of_effort_s - t[0] == pytest.approx(1965, abs=15)
    assert s.hrr60_bpm == pytest.approx(40, abs=3)
    assert s.hrr120_bpm == pytest.approx(49, abs=3)
    assert s.recovery_tau_s == pytest.approx(42, abs=8)


def test_fr110_smart_recording_one_session_no_recovery_and_no_bridged_gaps() -> None:
    t, bpm = _load("fitparse_fr110_run_smart_recording.csv")
    (s,) = _sessions(t, bpm)
    assert s.start_s - t[0] == pytest.approx(0, abs=15)  # the climb from 73 bpm at the start
    assert s.end_s == pytest.approx(t[-1], abs=5)
    # Every heartbeat-up minute of the file is in the session (how many depends on how far sparse samples
    # are bridged: 40 when a sample stood for 5 s, 42 with 30-s spacings bridged).
    up = minute_table(t, bpm, clean_hr(t, bpm).valid, profile=PROFILE).up
    assert s.heartbeat_up_minutes == int(up.sum())
    assert (s.hrr60_bpm, s.hrr120_bpm, s.recovery_tau_s, s.end_of_effort_s) == (None, None, None, None)
    assert s.recovery_note == "not enough data after the stop"
    table = minute_table(t, bpm, clean_hr(t, bpm).valid, profile=PROFILE)
    assert table.valid_s.max() <= 60.0
    gaps = np.diff(t)
    assert gaps.max() == 52
    # Time-weighted, bridging only spacings of at most MAX_COVER_S (the minute table's rule since issue 12):
    # the 52-s gap stays a hole, the smart recording's shorter spacings are covered.
    covered = gaps[gaps <= MAX_COVER_S].sum()
    assert table.valid_s.sum() == pytest.approx(covered, abs=1e-3)
    assert covered <= (t[-1] - t[0]) - 52  # the hole is never bridged
