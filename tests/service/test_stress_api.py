"""Stress around an interview from uploaded RR data: raised HR and lowered HRV for a known hour, then calm."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, delete, func, select
from sqlalchemy.orm import Session

from service.analysis.baseline import time_of_day_baseline
from service.coaching.stress import (
    AFTER_S,
    BASELINE_DAYS,
    BEFORE_S,
    _baseline,
    _load_beats,
    _rules,
    baseline_spans,
)
from service.core.models import HrvWindow, User
from tests.support.settle import wait_for_analysis
from tests.support.users import TestUser, register_device, sign_up, upload_samples
from tests.support.workouts import beat_samples, beat_times

TZ = "Europe/Berlin"
BERLIN = ZoneInfo(TZ)
CALM = (65.0, 30.0)  # bpm, breathing swing of RR in ms: healthy vagal tone
STRESSED = (82.0, 6.0)  # 17 bpm up, RMSSD well down
STRESS_S = 3600  # the known time back to baseline


def _local(day: dt.date, hh: int, mm: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hh, mm), tzinfo=BERLIN)


def _upload(client: TestClient, user: TestUser, device_id: int, t_s: np.ndarray, rr_ms: np.ndarray) -> None:
    upload_samples(client, user, device_id, beat_samples(t_s, rr_ms))


def _interview(client: TestClient, user: TestUser, at: dt.datetime) -> int:
    body = {"company": "Initech", "role": "Analyst", "at": at.isoformat()}
    answer = client.post("/api/v1/interviews", json=body, headers=user.headers)
    assert answer.status_code == 201, answer.text
    return int(answer.json()["id"])


def _stress(client: TestClient, user: TestUser, interview_id: int) -> dict[str, Any]:
    answer = client.get(f"/api/v1/interviews/{interview_id}/stress", headers=user.headers)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


@dataclass(frozen=True)
class World:
    user: TestUser
    day: dt.date  # the interview's local day
    interview_id: int  # at 11:00 local, with an hour of stress after it
    early_interview_id: int  # on the first day of data: nothing before it to learn a baseline from


@pytest.fixture(scope="module")
def world(client: TestClient) -> World:
    """Two calm mornings (09:00-11:00) before the interview day; then calm, an hour of stress, calm again."""
    user = sign_up(client, timezone=TZ, resting_hr=60, max_hr=190)
    device = register_device(client, user)["id"]
    day = dt.datetime.now(BERLIN).date() - dt.timedelta(days=3)
    for back in (2, 1):
        t, rr = beat_times([(2 * 3600, CALM)], _local(day - dt.timedelta(days=back), 9), seed=back)
        _upload(client, user, device, t, rr)
    t, rr = beat_times([(3600, CALM), (STRESS_S, STRESSED), (3600, CALM)], _local(day, 10), seed=7)
    _upload(client, user, device, t, rr)
    wait_for_analysis(client)
    return World(
        user,
        day,
        _interview(client, user, _local(day, 11)),
        _interview(client, user, _local(day - dt.timedelta(days=2), 10, 30)),
    )


def _window(out: dict[str, Any], at: dt.datetime) -> dict[str, Any]:
    return next(w for w in out["windows"] if dt.datetime.fromisoformat(w["start"]) == at)


def _in_berlin(iso: str) -> bool:
    """An ISO time written with Berlin's offset at that instant (the user's zone at the edge)."""
    when = dt.datetime.fromisoformat(iso)
    return when.utcoffset() == when.astimezone(BERLIN).utcoffset()


def test_an_hour_of_stress_returns_to_baseline_after_an_hour(client: TestClient, world: World) -> None:
    out = _stress(client, world.user, world.interview_id)
    at = _local(world.day, 11)
    assert out["has_data"] and out["window_s"] == 300 and len(out["windows"]) == 9 * 12
    assert dt.datetime.fromisoformat(out["windows"][0]["start"]) == at - dt.timedelta(hours=3)
    times = [
        out["at"],
        out["from"],
        out["to"],
        out["back_to_baseline_at"],
        *(w["start"] for w in out["windows"]),
    ]
    assert all(_in_berlin(t) for t in times) and _in_berlin(out["episodes"][0]["start"])
    assert out["exercise"] == [] and all(w["activity"] is None for w in out["windows"])
    assert out["baseline"]["days"] == BASELINE_DAYS and out["baseline"]["rest_windows"] >= 40
    assert _window(out, _local(world.day, 9))["hr_bpm"] is None  # no strap data yet: null, not zero
    calm = _window(out, _local(world.day, 10, 30))
    assert calm["hr_bpm"] == pytest.approx(65, abs=1) and not calm["stressed"]
    assert calm["baseline_hr_bpm"] == pytest.approx(65, abs=1)
    tense = _window(out, _local(world.day, 11, 30))
    assert tense["hr_bpm"] == pytest.approx(82, abs=1) and tense["stressed"]
    assert tense["rmssd_ms"] < 0.5 * tense["baseline_rmssd_ms"]
    [episode] = out["episodes"]
    assert dt.datetime.fromisoformat(episode["start"]) == pytest.approx(at, abs=dt.timedelta(minutes=5))
    assert episode["duration_s"] == pytest.approx(STRESS_S, abs=600)
    assert episode["hr_excess_bpm"] == pytest.approx(17, abs=2)
    assert out["recovery_s"] == pytest.approx(STRESS_S, abs=300)
    back = dt.datetime.fromisoformat(out["back_to_baseline_at"])
    assert back == pytest.approx(at + dt.timedelta(seconds=STRESS_S), abs=dt.timedelta(minutes=5))
    assert "60 minutes" in out["statement"]


def test_without_earlier_days_the_series_shows_but_nothing_is_judged(
    client: TestClient, world: World
) -> None:
    out = _stress(client, world.user, world.early_interview_id)
    assert out["has_data"] and out["baseline"] is None
    early = world.day - dt.timedelta(days=2)
    assert _window(out, _local(early, 10))["hr_bpm"] == pytest.approx(65, abs=1)
    assert all(w["baseline_hr_bpm"] is None and not w["stressed"] for w in out["windows"])
    assert (out["episodes"], out["recovery_s"]) == ([], None)
    assert "usual level" in out["statement"]


def test_without_strap_data_every_value_is_null(client: TestClient, world: World) -> None:
    iid = _interview(client, world.user, _local(world.day - dt.timedelta(days=10), 15))
    out = _stress(client, world.user, iid)
    assert not out["has_data"] and out["baseline"] is None
    assert all(w["hr_bpm"] is None and w["rmssd_ms"] is None for w in out["windows"])
    assert (out["episodes"], out["recovery_s"], out["back_to_baseline_at"]) == ([], None, None)


def test_episodes_of_a_day_against_the_days_before(client: TestClient, world: World) -> None:
    params = {
        "from": _local(world.day, 0).isoformat(),
        "to": _local(world.day + dt.timedelta(days=1), 0).isoformat(),
    }
    answer = client.get("/api/v1/stress/episodes", params=params, headers=world.user.headers)
    assert answer.status_code == 200, answer.text
    [episode] = answer.json()
    assert dt.datetime.fromisoformat(episode["start"]) == pytest.approx(
        _local(world.day, 11), abs=dt.timedelta(minutes=5)
    )
    bad = [
        {**params, "to": params["from"]},
        {**params, "to": _local(world.day + dt.timedelta(days=9), 0).isoformat()},
    ]
    for query in bad:
        assert (
            client.get("/api/v1/stress/episodes", params=query, headers=world.user.headers).status_code == 422
        )


def test_another_users_interview_is_404(client: TestClient, world: World) -> None:
    stranger = sign_up(client, timezone=TZ)
    answer = client.get(f"/api/v1/interviews/{world.interview_id}/stress", headers=stranger.headers)
    assert answer.status_code == 404 and "Initech" not in answer.text
    assert client.get("/api/v1/interviews/987654321/stress", headers=world.user.headers).status_code == 404
    episodes = client.get(
        "/api/v1/stress/episodes",
        params={"from": _local(world.day, 0).isoformat(), "to": _local(world.day, 23).isoformat()},
        headers=stranger.headers,
    )
    assert episodes.status_code == 200 and episodes.json() == []


def test_baseline_spans_keep_the_local_hours_across_daylight_saving() -> None:
    # Berlin moved its clocks on 2026-03-29; the window is 08:25-17:25 local on 2026-04-02.
    lo = _local(dt.date(2026, 4, 2), 8, 25).timestamp()
    hi = _local(dt.date(2026, 4, 2), 17, 25).timestamp()
    spans = baseline_spans(BERLIN, lo, hi)
    assert len(spans) == BASELINE_DAYS
    starts = [dt.datetime.fromtimestamp(a, BERLIN) for a, _ in spans]
    ends = [dt.datetime.fromtimestamp(b, BERLIN) for _, b in spans]
    assert {s.time() for s in starts} == {dt.time(8)} and {e.time() for e in ends} == {dt.time(18)}
    assert [s.date() for s in starts] == [
        dt.date(2026, 4, 2) - dt.timedelta(days=k) for k in range(14, 0, -1)
    ]
    assert {b - a for a, b in spans} == {10 * 3600.0}  # whole hours, before and after the change


def test_the_stored_windows_give_the_baseline_that_the_raw_beats_give(engine: Engine, world: World) -> None:
    at_s = _local(world.day, 11).timestamp()
    spans = baseline_spans(BERLIN, at_s - BEFORE_S, at_s + AFTER_S)
    with Session(engine) as db:
        user = db.get(User, world.user.id)
        assert user is not None
        stored = _baseline(db, user, spans, _rules(user))
        beats = _load_beats(db, user, spans)  # what the endpoint used to rescan
        raw = time_of_day_baseline(beats.t_s, beats.rr_ms, utc_offset_s=beats.offset_s, rules=_rules(user))
    assert stored is not None and stored.n_windows.sum() >= 40
    for name in ("hr_bpm", "ln_rmssd", "hr_spread_bpm", "ln_rmssd_spread", "n_windows"):
        np.testing.assert_allclose(getattr(stored, name), getattr(raw, name), rtol=1e-9, err_msg=name)


def test_the_baseline_comes_from_the_stored_windows_not_the_samples(
    client: TestClient, engine: Engine
) -> None:
    user = sign_up(client, timezone=TZ, resting_hr=60, max_hr=190)
    device = register_device(client, user)["id"]
    day = dt.datetime.now(BERLIN).date() - dt.timedelta(days=5)
    before = _local(day - dt.timedelta(days=1), 9)
    _upload(client, user, device, *beat_times([(2 * 3600, CALM)], before, seed=11))
    _upload(client, user, device, *beat_times([(2 * 3600, CALM)], _local(day, 9), seed=12))
    iid = _interview(client, user, _local(day, 10))
    wait_for_analysis(client)
    assert _stress(client, user, iid)["baseline"] is not None
    midnight_s = int(_local(day, 0).timestamp())
    with Session(engine) as db:
        prior = (HrvWindow.user_id == user.id) & (HrvWindow.start_s < midnight_s)
        starts = db.scalars(select(HrvWindow.start_s).where(prior)).all()
        # The day's analysis stored its two hours as 5-minute windows, each with beats.
        assert len(starts) in (24, 25) and min(starts) == before.timestamp()
        assert db.scalar(select(func.min(HrvWindow.n_beats)).where(prior)) > 0
        db.execute(delete(HrvWindow).where(prior))
        db.commit()
    out = _stress(client, user, iid)  # the samples are still there, but no longer read for the baseline
    assert out["has_data"] and out["baseline"] is None and not any(w["stressed"] for w in out["windows"])


STRAP_SHIFT_S = 0.3  # two straps on one chest: the same beats, one notified 300 ms after the other
# The shift moves a beat at a window's edge into the next window: one successive difference in or out.
SAME_WITHIN = {"hr_bpm": 0.1, "baseline_hr_bpm": 0.1, "rmssd_ms": 0.2, "baseline_rmssd_ms": 0.2}


def _same_windows(mine: dict[str, Any], theirs: dict[str, Any]) -> None:
    assert (mine["start"], mine["stressed"]) == (theirs["start"], theirs["stressed"])
    for key, tolerance in SAME_WITHIN.items():
        assert (mine[key] is None) == (theirs[key] is None), (key, mine, theirs)
        if mine[key] is not None:
            assert mine[key] == pytest.approx(theirs[key], abs=tolerance), (key, mine, theirs)


def test_the_same_beats_from_two_straps_give_the_answer_of_one(client: TestClient, engine: Engine) -> None:
    day = dt.datetime.now(BERLIN).date() - dt.timedelta(days=4)
    recordings = [
        beat_times([(2 * 3600, CALM)], _local(day - dt.timedelta(days=k), 9), seed=20 + k) for k in (2, 1)
    ]
    # Started mid-window, so the steps to and from stress do not fall on a window's edge, where the shift
    # would move the one large successive difference from one window to the next.
    start = _local(day, 10, 2) + dt.timedelta(seconds=30)
    recordings.append(beat_times([(3600, CALM), (STRESS_S, STRESSED), (3600, CALM)], start, seed=23))
    one, two = (sign_up(client, timezone=TZ, resting_hr=60, max_hr=190) for _ in range(2))
    solo = register_device(client, one)["id"]
    left, right = (register_device(client, two, name=name)["id"] for name in ("Left strap", "Right strap"))
    for t, rr in recordings:
        _upload(client, one, solo, t, rr)
        _upload(client, two, left, t, rr)
        _upload(client, two, right, t + STRAP_SHIFT_S, rr)
    at = _local(day, 11)
    interviews = (_interview(client, one, at), _interview(client, two, at))
    wait_for_analysis(client)
    single, double = _stress(client, one, interviews[0]), _stress(client, two, interviews[1])
    assert single["has_data"] and single["baseline"] is not None and len(single["episodes"]) == 1
    assert double["baseline"] == single["baseline"]
    for mine, theirs in zip(double["windows"], single["windows"], strict=True):
        _same_windows(mine, theirs)
    assert [e["duration_s"] for e in double["episodes"]] == [e["duration_s"] for e in single["episodes"]]
    assert double["recovery_s"] == pytest.approx(single["recovery_s"], abs=1)
    span = [(at.timestamp() - BEFORE_S, at.timestamp() + AFTER_S)]
    with Session(engine) as db:
        counts = [_load_beats(db, db.get(User, u.id), span).t_s.size for u in (one, two)]  # type: ignore[arg-type]
    assert counts[1] == pytest.approx(counts[0], abs=3)  # each beat once, not twice


RUN = (150.0, 2.0)  # well above the heartbeat-up threshold (112 bpm for 60..190): a workout session
# A heart after a run: still raised, HRV suppressed, below the threshold (what looked like stress).
AFTER_RUN = [(300.0, (float(bpm), 6.0)) for bpm in np.linspace(88.0, 64.0, 12)]


def _morning_with_a_run(day: dt.date, seed: int, until: int) -> tuple[np.ndarray, ...]:
    """07:00-07:30 calm at 58 bpm, a run 07:30-08:10, its hour of recovery to 09:10, calm to ``until``:00."""
    calm = (58.0, 30.0)
    rest = (until - 9) * 3600 - 600
    return beat_times([(1800, calm), (2400, RUN), *AFTER_RUN, (rest, calm)], _local(day, 7), seed)


def test_morning_runs_stay_out_of_the_usual_and_the_hour_after_one_is_no_episode(client: TestClient) -> None:
    user = sign_up(client, timezone=TZ, resting_hr=60, max_hr=190)
    device = register_device(client, user)["id"]
    day = dt.datetime.now(BERLIN).date() - dt.timedelta(days=7)
    for back in (2, 1):
        _upload(
            client, user, device, *_morning_with_a_run(day - dt.timedelta(days=back), 30 + back, until=10)
        )
    _upload(client, user, device, *_morning_with_a_run(day, 33, until=12))
    iid = _interview(client, user, _local(day, 10))
    wait_for_analysis(client)
    sessions = client.get(
        "/api/v1/sessions",
        params={"from": _local(day - dt.timedelta(days=3), 0).isoformat(), "to": _local(day, 23).isoformat()},
        headers=user.headers,
    ).json()
    assert len(sessions) == 3  # one run a morning, found by the service itself
    out = _stress(client, user, iid)
    assert out["has_data"] and out["baseline"] is not None
    # "Your usual" at 08:00-09:00 comes from rest only: the runs' hour is left out of it on both days,
    # so the hour takes the value pooled over the rest windows, 58 bpm, not the 75 of a heart recovering.
    usual = [
        _window(out, _local(day, h, m))["baseline_hr_bpm"] for h, m in ((7, 0), (8, 0), (8, 30), (9, 30))
    ]
    assert usual == pytest.approx([58, 58, 58, 58], abs=1.5)
    # Today's run and the hour after it are marked, not judged, and hold no episode.
    [run] = out["exercise"]
    assert dt.datetime.fromisoformat(run["start"]) == pytest.approx(
        _local(day, 7, 30), abs=dt.timedelta(minutes=3)
    )
    run_end = dt.datetime.fromisoformat(run["end"])
    assert run_end == pytest.approx(_local(day, 8, 10), abs=dt.timedelta(minutes=3))
    assert dt.datetime.fromisoformat(run["excluded_until"]) == run_end + dt.timedelta(hours=1)
    assert _window(out, _local(day, 7, 45))["activity"] == "exercise"
    after = [_window(out, _local(day, 8, 15) + dt.timedelta(minutes=5 * k)) for k in range(11)]
    assert all(w["activity"] == "after_exercise" and w["hr_bpm"] is None and not w["stressed"] for w in after)
    assert _window(out, _local(day, 9, 30))["activity"] is None
    assert _window(out, _local(day, 9, 30))["hr_bpm"] == pytest.approx(58, abs=1)
    assert out["episodes"] == [] and not any(w["stressed"] for w in out["windows"])
    assert out["recovery_s"] == 0.0 and "workout and the hour after it are left out" in out["statement"]
    episodes = client.get(
        "/api/v1/stress/episodes",
        params={"from": _local(day, 0).isoformat(), "to": _local(day, 23).isoformat()},
        headers=user.headers,
    )
    assert episodes.status_code == 200 and episodes.json() == []
