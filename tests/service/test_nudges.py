"""Nudges toward the hour: the pure pace rule, then the loop on real ingest with a clock the test controls."""

from __future__ import annotations

import asyncio
import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from service.coaching.nudges import (
    BEHIND,
    MET,
    Nudger,
    Pace,
    due_nudge,
    nudge_message,
    pace_at,
    parse_nudge_time,
)
from service.core.db import make_session_factory
from service.pipeline.live import LiveHub
from tests.support.settle import wait_for_analysis
from tests.support.users import TestUser, register_device, sign_up
from tests.support.workouts import workout_samples

BERLIN = ZoneInfo("Europe/Berlin")
SIX_PM = dt.time(18, 0)


def at(day: dt.date, hh: int, mm: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hh, mm), tzinfo=BERLIN)


# --- the pure rule ---------------------------------------------------------------------------------


def test_morning_with_nothing_done_is_not_behind() -> None:
    pace = pace_at(at(dt.date(2025, 3, 3), 9), minutes=0, target_minutes=60, deadline=SIX_PM)
    assert pace.minutes_left_until_deadline == 9 * 60 and not pace.behind and not pace.met
    assert due_nudge(pace, set()) is None


def test_behind_once_the_minutes_needed_take_two_thirds_of_the_time_left() -> None:
    day = dt.date(2025, 3, 3)
    assert not pace_at(at(day, 16, 29), minutes=0, target_minutes=60, deadline=SIX_PM).behind
    assert pace_at(at(day, 16, 31), minutes=0, target_minutes=60, deadline=SIX_PM).behind
    assert not pace_at(at(day, 17, 40), minutes=50, target_minutes=60, deadline=SIX_PM).behind
    assert pace_at(at(day, 17, 46), minutes=50, target_minutes=60, deadline=SIX_PM).behind


def test_at_and_after_the_deadline_anything_short_is_behind() -> None:
    day = dt.date(2025, 3, 3)
    for hour in (18, 21):
        pace = pace_at(at(day, hour), minutes=59, target_minutes=60, deadline=SIX_PM)
        assert pace.behind and pace.minutes_left_until_deadline == 0
    assert "1 heartbeat-up minutes to go" in nudge_message(BEHIND, pace, SIX_PM)


def test_each_kind_once_and_nothing_after_met() -> None:
    behind = Pace(minutes=10, target_minutes=60, minutes_left_until_deadline=0)
    met = Pace(minutes=61, target_minutes=60, minutes_left_until_deadline=300)
    assert due_nudge(behind, set()) == BEHIND
    assert due_nudge(behind, {BEHIND}) is None
    assert due_nudge(met, {BEHIND}) == MET
    assert due_nudge(met, set()) == MET
    assert due_nudge(met, {MET}) is None
    assert (
        due_nudge(behind, {MET}) is None
    )  # a day already met is never nudged (a lowered count changes nothing)


def test_nudge_time_parsing_falls_back_to_six_pm() -> None:
    assert parse_nudge_time("07:30") == dt.time(7, 30)
    assert parse_nudge_time("nonsense") == SIX_PM
    assert parse_nudge_time(None) == SIX_PM


# --- the loop on real ingest ---------------------------------------------------------------------


def upload_workout(client: TestClient, user: TestUser, device_id: int, start: dt.datetime, minutes: int) -> None:
    """Upload `minutes` clock minutes at 140-162 bpm (well above 40 % HRR for rest 60 / max 190), one sample a
    second, nothing before or after, and wait for the analysis."""
    samples = workout_samples(start, minutes, 140, before_s=0, after_s=0, noise_sd=0, contact=None,
                              effort_wobble=[(i * 7) % 23 for i in range(23)])  # fmt: skip
    for i in range(0, len(samples), 5000):
        answer = client.post(
            f"/api/v1/devices/{device_id}/samples",
            json={"samples": samples[i : i + 5000]},
            headers=user.headers,
        )
        assert answer.status_code == 200 and answer.json()["accepted"] == len(samples[i : i + 5000]), (
            answer.text
        )
    wait_for_analysis(client)


class Clock:
    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now.astimezone(dt.UTC)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_behind_at_six_once_then_met_once_and_nothing_on_a_day_already_met(
    client: TestClient, engine: Engine
) -> None:
    user = sign_up(client, timezone="Europe/Berlin", resting_hr=60, max_hr=190)
    quiet = sign_up(client, timezone="Europe/Berlin", resting_hr=60, max_hr=190)
    assert client.patch("/api/v1/me", json={"nudges_enabled": True}, headers=user.headers).status_code == 200
    device_id = register_device(client, user)["id"]
    quiet_device = register_device(client, quiet)["id"]
    today = dt.datetime.now(BERLIN).date()
    behind_day, met_day = today - dt.timedelta(days=3), today - dt.timedelta(days=2)

    live = LiveHub()
    live.bind(asyncio.get_running_loop())
    events = live.subscribe(user.id)
    clock = Clock(at(behind_day, 12))
    nudger = Nudger(make_session_factory(engine), live, clock=clock)

    upload_workout(client, user, device_id, at(behind_day, 7), 20)
    upload_workout(client, quiet, quiet_device, at(behind_day, 7), 5)  # nudges off: never nudged
    assert await asyncio.to_thread(nudger.check_all) == []  # noon: 40 to go is no hurry yet
    clock.now = at(behind_day, 18)
    said = await asyncio.to_thread(nudger.check_all)
    assert [(n.user_id, n.kind, n.day, n.minutes) for n in said] == [(user.id, BEHIND, behind_day, 20)]
    for minute in (1, 5, 30):
        clock.now = at(behind_day, 18, minute)
        assert await asyncio.to_thread(nudger.check_all) == []  # once that day
    event = events.get_nowait()
    assert (
        event["type"] == "nudge" and event["kind"] == BEHIND and "40 heartbeat-up minutes" in event["message"]
    )

    upload_workout(client, user, device_id, at(behind_day, 18, 40), 45)  # an evening run meets the target
    clock.now = at(behind_day, 19, 30)
    said = await asyncio.to_thread(nudger.check_all)
    assert [(n.kind, n.minutes) for n in said] == [(MET, 65)]
    clock.now = at(behind_day, 20)
    assert await asyncio.to_thread(nudger.check_all) == []
    assert events.get_nowait()["kind"] == MET and events.empty()

    # A morning that met the target: one message, and no nudge at six.
    upload_workout(client, user, device_id, at(met_day, 7), 70)
    clock.now = at(met_day, 9)
    assert [n.kind for n in await asyncio.to_thread(nudger.check_all)] == [MET]
    for hour in (17, 18, 22):
        clock.now = at(met_day, hour)
        assert await asyncio.to_thread(nudger.check_all) == []


def test_todays_nudges_after_a_reload(client: TestClient, engine: Engine) -> None:
    user = sign_up(client, timezone="UTC")
    client.patch("/api/v1/me", json={"nudges_enabled": True, "nudge_time": "00:00"}, headers=user.headers)
    assert client.get("/api/v1/nudges/today", headers=user.headers).json() == []
    nudger = Nudger(make_session_factory(engine), LiveHub())  # the real clock: past 00:00, nothing done
    assert [n.kind for n in nudger.check_all() if n.user_id == user.id] == [BEHIND]
    today = client.get("/api/v1/nudges/today", headers=user.headers).json()
    assert [(n["kind"], n["minutes"], n["target_minutes"]) for n in today] == [(BEHIND, 0, 60)]
    assert client.get("/api/v1/nudges/today").status_code == 401
