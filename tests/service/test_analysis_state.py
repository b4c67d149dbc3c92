"""What a day answer says about its own analysis: pending while counting, one "target met", and a
poisoned user's failure that stops nobody else (the service with its production settings)."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, insert

from service.core.models import Sample
from tests.support.settle import wait_for_analysis
from tests.support.users import TestUser, register_device, sign_up
from tests.support.workouts import workout_samples

# Ten minutes of rest at 70-72, the effort at bpm - 4 .. bpm + 4, fifteen minutes of rest again: no noise.
WORKOUT: dict[str, Any] = {"tau_s": None, "noise_sd": 0, "wobble": (0, 1, 2),
                           "effort_wobble": (-4, 3, 1, -1, -3, 4, 2, 0, -2)}  # fmt: skip


def at_7(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(7), dt.UTC)


def _upload(client: TestClient, user: TestUser, device: int, samples: list[dict[str, Any]]) -> None:
    for i in range(0, len(samples), 1000):
        answer = client.post(
            f"/api/v1/devices/{device}/samples", json={"samples": samples[i : i + 1000]}, headers=user.headers
        )
        assert answer.status_code == 200 and answer.json()["accepted"] == len(samples[i : i + 1000])


def _day(client: TestClient, user: TestUser, day: dt.date) -> dict[str, Any]:
    return client.get(f"/api/v1/days/{day}", headers=user.headers).json()


def test_a_day_being_counted_says_so_and_then_what_it_counted(client: TestClient) -> None:
    user = sign_up(client, timezone="UTC", resting_hr=60, max_hr=190)
    device = register_device(client, user)["id"]
    day = dt.date.today() - dt.timedelta(days=3)
    _upload(client, user, device, workout_samples(at_7(day), 25, **WORKOUT))
    early = _day(client, user, day)
    listed = client.get(f"/api/v1/days?from={day}&to={day}", headers=user.headers).json()[0]
    # The answer right after the upload: not a silent 0, but "still counting" (the list says the same).
    assert early["analysis_pending"] is True and listed["analysis_pending"] is True
    wait_for_analysis(client)
    settled = _day(client, user, day)
    assert settled["analysis_pending"] is False and settled["heartbeat_up_minutes"] == 25
    last_sample = dt.datetime.combine(day, dt.time(7), dt.UTC) + dt.timedelta(minutes=25 + 15)
    assert dt.datetime.fromisoformat(settled["counted_until"]) == last_sample.replace(second=0)


def test_lowering_the_target_recomputes_everything_that_depends_on_it(client: TestClient) -> None:
    """60 -> 20 on a 25-minute day: the day, the moment it was met, the streak and the plan all agree."""
    user = sign_up(client, timezone="UTC", resting_hr=60, max_hr=190)
    device = register_device(client, user)["id"]
    yesterday = dt.date.today() - dt.timedelta(days=1)
    interview = client.post(
        "/api/v1/interviews",
        json={"company": "Acme", "role": "SRE", "at": f"{yesterday - dt.timedelta(days=1)}T10:00:00+00:00"},
        headers=user.headers,
    ).json()
    _upload(client, user, device, workout_samples(at_7(yesterday), 25, **WORKOUT))
    wait_for_analysis(client)
    before = _day(client, user, yesterday)
    assert (before["target_met"], before["target_met_at"], before["streak_days"]) == (False, None, 0)
    assert (
        client.patch("/api/v1/me", json={"daily_target_minutes": 20}, headers=user.headers).status_code == 200
    )
    wait_for_analysis(client)
    after = _day(client, user, yesterday)
    assert after["target_met"] is True and after["streak_days"] == 1 and not after["analysis_pending"]
    assert after["target_met_at"] == f"{yesterday}T07:20:00+00:00"  # the end of the 20th minute
    plan = client.get(f"/api/v1/interviews/{interview['id']}/recovery-plan", headers=user.headers).json()
    exercise = next(s for s in plan["steps"] if s["step"] == "exercise")
    assert exercise["evidence"]["days_target_met"] == 1
    # ... and raising it again takes it all back
    client.patch("/api/v1/me", json={"daily_target_minutes": 30}, headers=user.headers)
    wait_for_analysis(client)
    again = _day(client, user, yesterday)
    assert (again["target_met"], again["target_met_at"], again["streak_days"]) == (False, None, 0)


def test_a_poisoned_user_degrades_health_and_stops_nobody_else(client: TestClient, engine: Engine) -> None:
    """A stored sample no analysis can place (year 1, as a legacy row: ingest refuses it now) makes that
    user's history recompute fail: it is retried, parked, named by /health, and other users go on."""
    poisoned = sign_up(client, timezone="UTC", resting_hr=60, max_hr=190)
    device = register_device(client, poisoned)["id"]
    with engine.begin() as conn:
        conn.execute(insert(Sample), [{"device_id": device, "t_ms": -62_135_596_800_000, "user_id": poisoned.id,
                                       "bpm": 70, "rr_ms": None, "contact": True}])  # fmt: skip
    assert client.patch("/api/v1/me", json={"resting_hr": 61}, headers=poisoned.headers).status_code == 200
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and client.get("/health").json()["status"] == "ok":
        time.sleep(0.1)
    health = client.get("/health").json()
    assert health["status"] == "degraded"
    assert [f["user_id"] for f in health["failing"]] == [poisoned.id]
    # Meanwhile another user's minutes follow ingest within a second or so.
    other = sign_up(client, timezone="UTC", resting_hr=60, max_hr=190)
    other_device = register_device(client, other)["id"]
    day = dt.date.today() - dt.timedelta(days=2)
    started = time.monotonic()
    _upload(client, other, other_device, workout_samples(at_7(day), 12, **WORKOUT))
    while _day(client, other, day)["heartbeat_up_minutes"] < 12 and time.monotonic() - started < 10:
        time.sleep(0.05)
    assert _day(client, other, day)["heartbeat_up_minutes"] == 12
    assert time.monotonic() - started < 3.0
    wait_for_analysis(client)  # the poisoned work is parked, not retried for ever
    assert client.get("/health").json()["failing"][0]["attempts"] >= 3
