"""The real FIT recordings of ../shared/data through the service: sessions, minutes and recovery (issue 12).

Each file is imported with POST /imports by a user with resting HR 60 and HRmax 190 (heartbeat-up from
40 % HRR = 112 bpm, still exercising from 30 % HRR = 99 bpm) in UTC, then read back through the API once
the debounced analysis has settled. The expected values were read off the recordings by hand, with plain
numpy in this file (never through the service's analysis):

- Heart rate "at" a moment is the 10-s centred mean of the file's samples (``_smoothed``). The end of
  effort is where that series leaves its last plateau for good; HRR60/HRR120 are its value there minus its
  value 60/120 s later (Cole et al. 1999, from peak exercise). Read off the series printed every 5 s:
  * fenix2 run: 150-153 bpm until 2655 s after the first record (150.0 there; 148.0 at 2660, 140.7 at
    2670), 112.5 at 2715, 104.6 at 2775: HRR60 37.5, HRR120 45.4. A 63 % fall of the way from 150 to
    the ~104 it levels at (121 bpm) is reached at about 2697 s: a time constant near 42 s.
  * edge800 indoor trainer (intervals 165-174, a dip to 135-140, 167-176): 175-176 until 1965 s (174.8;
    172.8 at 1970), 134.8 at 2025, 125.9 at 2085: HRR60 40.0, HRR120 48.9.
  The service's start value is the higher of the 10-s means up to and around the end of effort (about
  1 bpm above the centred one on a plateau's edge), hence the 2.5-bpm tolerance.
- Heartbeat-up minutes of the 1-Hz files: UTC clock minutes holding at least 30 samples of 112 bpm or
  more (one sample a second, ``_up_minutes``).
- Session bounds: the first record's neighbourhood (HR climbs from 69 / 81 / 73 bpm within the first
  seconds: the warm-up is in) to the last record (HR above 99 bpm when each file ends: 104-117 walking,
  a cool-down at 123-129, still running at 148).
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from fastapi.testclient import TestClient

from service.analysis.recovery import NOTE_NO_DATA, NOTE_PENDING
from service.api.sessions import session_public
from service.core.models import WorkoutSession
from tests.service.test_importers_support import reference_samples
from tests.support.settle import wait_for_analysis
from tests.support.users import TestUser, register_device, sign_up


def _import(client: TestClient, shared_data: Path, name: str) -> tuple[TestUser, np.ndarray, np.ndarray]:
    user = sign_up(client, timezone="UTC", resting_hr=60, max_hr=190)
    answer = client.post(
        "/api/v1/imports",
        files={"file": (f"{name}.fit", (shared_data / f"{name}.fit").read_bytes())},
        headers=user.headers,
    )
    assert answer.status_code == 200, answer.text
    wait_for_analysis(client)
    rows = reference_samples(shared_data / f"{name}.csv")
    t_s = np.array([t for t, _ in rows], dtype=float) / 1000
    return user, t_s, np.array([b for _, b in rows], dtype=float)


def _sessions(client: TestClient, user: TestUser, t_s: np.ndarray) -> list[dict[str, Any]]:
    day = dt.datetime.fromtimestamp(t_s[0], dt.UTC).date()
    answer = client.get(
        "/api/v1/sessions",
        params={"from": f"{day}T00:00:00+00:00", "to": f"{day + dt.timedelta(days=1)}T00:00:00+00:00"},
        headers=user.headers,
    )
    assert answer.status_code == 200, answer.text
    return list(answer.json())


def _day(client: TestClient, user: TestUser, t_s: np.ndarray) -> dict[str, Any]:
    day = dt.datetime.fromtimestamp(t_s[0], dt.UTC).date()
    return dict(client.get(f"/api/v1/days/{day}", headers=user.headers).json())


def _s(iso: str) -> float:
    return dt.datetime.fromisoformat(iso).timestamp()


def _smoothed(t_s: np.ndarray, bpm: np.ndarray, at_s: float) -> float:
    return float(bpm[np.abs(t_s - at_s) <= 5.0].mean())


def _up_minutes(t_s: np.ndarray, bpm: np.ndarray, threshold: float = 112.0) -> int:
    minute = np.floor(t_s / 60.0)
    per_minute = np.bincount((minute - minute[0]).astype(int), weights=(bpm >= threshold).astype(float))
    return int(np.count_nonzero(per_minute >= 30))


def _check_span(session: dict[str, Any], t_s: np.ndarray, start_within_s: float) -> None:
    assert 0 <= _s(session["start"]) - t_s[0] <= start_within_s  # back-dated to the rise, never before data
    assert _s(session["end"]) == pytest.approx(t_s[-1], abs=2)
    assert session["heartbeat_up_minutes"] * 60 <= session["duration_s"]
    assert session["in_progress"] is False  # a recording of years ago


def test_fenix2_run_one_session_with_its_recovery_from_the_end_of_effort(
    client: TestClient, shared_data: Path
) -> None:
    user, t_s, bpm = _import(client, shared_data, "fitparse_fenix2_run")
    (session,) = _sessions(client, user, t_s)
    _check_span(session, t_s, start_within_s=10)
    assert session["max_bpm"] == 178
    assert (
        session["heartbeat_up_minutes"]
        == _up_minutes(t_s, bpm)
        == _day(client, user, t_s)["heartbeat_up_minutes"]
    )
    eoe = _s(session["recovery"]["end_of_effort"]) - t_s[0]
    assert eoe == pytest.approx(2655, abs=10)
    at = t_s[0] + 2655
    by_hand = _smoothed(t_s, bpm, at)
    assert (round(by_hand, 1), round(_smoothed(t_s, bpm, at + 60), 1)) == (150.0, 112.5)
    assert session["hrr60_bpm"] == pytest.approx(by_hand - _smoothed(t_s, bpm, at + 60), abs=2.5)
    assert session["hrr120_bpm"] == pytest.approx(by_hand - _smoothed(t_s, bpm, at + 120), abs=2.5)
    assert session["hrr120_bpm"] >= session["hrr60_bpm"]
    assert session["recovery"]["hr_end_of_effort"] <= session["max_bpm"]
    assert 25 <= session["recovery_tau_s"] <= 50  # read by hand: ~42 s to 63 % of the fall
    assert session["recovery_fit_r2"] >= 0.8
    assert session["recovery_note"] is None


def test_edge800_interval_workout_is_one_session_measured_at_the_last_interval(
    client: TestClient, shared_data: Path
) -> None:
    user, t_s, bpm = _import(client, shared_data, "fitparse_edge800_indoor_trainer")
    (session,) = _sessions(client, user, t_s)  # the two intervals and the dip between them: one workout
    _check_span(session, t_s, start_within_s=15)
    assert session["max_bpm"] == 176
    assert (
        session["heartbeat_up_minutes"]
        == _up_minutes(t_s, bpm)
        == _day(client, user, t_s)["heartbeat_up_minutes"]
    )
    eoe = _s(session["recovery"]["end_of_effort"]) - t_s[0]
    assert eoe == pytest.approx(1966, abs=10)
    at = t_s[0] + 1965
    by_hand = _smoothed(t_s, bpm, at)
    assert session["hrr60_bpm"] == pytest.approx(by_hand - _smoothed(t_s, bpm, at + 60), abs=2.5)  # 40.0
    assert session["hrr120_bpm"] == pytest.approx(by_hand - _smoothed(t_s, bpm, at + 120), abs=2.5)  # 48.9
    assert session["recovery_tau_s"] is not None and session["recovery_fit_r2"] >= 0.8


def test_fr110_smart_recording_is_one_session_stopping_while_still_running(
    client: TestClient, shared_data: Path
) -> None:
    user, t_s, _ = _import(client, shared_data, "fitparse_fr110_run_smart_recording")
    (session,) = _sessions(client, user, t_s)  # its 52-s gap is no hole (holes are over 2 minutes)
    _check_span(session, t_s, start_within_s=15)
    assert session["heartbeat_up_minutes"] == _day(client, user, t_s)["heartbeat_up_minutes"]
    assert session["heartbeat_up_minutes"] >= 40  # above 112 bpm from the first minute, one 96-bpm dip
    assert (session["hrr60_bpm"], session["hrr120_bpm"], session["recovery_tau_s"]) == (None, None, None)
    assert session["recovery_note"] == NOTE_NO_DATA  # the file ends at 148 bpm: no fall to measure


def test_a_live_session_is_in_progress_until_the_data_after_its_stop_arrive(client: TestClient) -> None:
    user = sign_up(client, timezone="UTC", resting_hr=60, max_hr=190)
    device = register_device(client, user)["id"]
    stop = float(int(time.time()) - 2)
    rng = np.random.default_rng(12)

    def send(t_s: np.ndarray, hr: np.ndarray) -> None:
        samples = [
            {"t": int(t * 1000), "bpm": int(round(b)), "contact": True} for t, b in zip(t_s, hr, strict=True)
        ]
        answer = client.post(
            f"/api/v1/devices/{device}/samples", json={"samples": samples}, headers=user.headers
        )
        assert answer.status_code == 200 and not answer.json()["rejected"], answer.text
        wait_for_analysis(client)

    work = np.arange(stop - 1500, stop + 1)  # 5 min of rest, then 20 min at 150 up to now
    send(work, np.where(work < stop - 1200, 70.0, 150.0) + rng.normal(0, 1.2, work.size))
    (live,) = _sessions(client, user, work)
    assert live["in_progress"] is True and live["recovery_note"] == NOTE_PENDING
    assert live["hrr60_bpm"] is None and _s(live["end"]) == pytest.approx(stop, abs=2)
    after = np.arange(stop + 1, stop + 260)  # the recovery, up to the service's tolerance for the future
    send(after, 75 + 75 * np.exp(-(after - stop) / 40) + rng.normal(0, 1.2, after.size))
    (done,) = _sessions(client, user, work)
    assert done["in_progress"] is False
    assert _s(done["end"]) < stop + 60
    assert done["hrr60_bpm"] == pytest.approx(75 * (1 - np.exp(-60 / 40)), abs=4)
    assert done["hrr120_bpm"] >= done["hrr60_bpm"]


def test_a_session_left_in_progress_ends_once_no_data_come() -> None:
    # The analysis runs only when samples arrive: if the strap goes quiet, the stored "in progress" expires
    # at read time, two minutes (a hole) after the session's last sample, and its recovery has no data.
    stored = WorkoutSession(
        id=1, user_id=1, start_ms=1_000_000, end_ms=2_000_000, source="detected", heartbeat_up_minutes=10,
        moderate_minutes=10, vigorous_minutes=0, peak_minutes=0, in_progress=True, recovery_note=NOTE_PENDING,
    )  # fmt: skip
    utc = ZoneInfo("UTC")
    fresh = session_public(stored, utc, now_ms=2_000_000 + 60_000)
    assert (fresh.in_progress, fresh.recovery_note) == (True, NOTE_PENDING)
    stale = session_public(stored, utc, now_ms=2_000_000 + 121_000)
    assert (stale.in_progress, stale.recovery_note) == (False, NOTE_NO_DATA)
