"""The interview recovery plan against a journal built step by step: each action flips exactly its step."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient

from service.coaching.plan import exercise_step
from tests.support.settle import wait_for_analysis
from tests.support.users import TestUser, register_device, sign_up, upload_samples
from tests.support.workouts import workout_samples

STEPS = ["reflect", "learn", "move_on", "get_feedback", "practise", "dont_stop", "exercise"]
TZ = "Europe/London"
LONDON = ZoneInfo(TZ)


def _local(day: dt.date, hour: int) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), tzinfo=LONDON)


def _plan(client: TestClient, user: TestUser, interview_id: int) -> dict[str, Any]:
    answer = client.get(f"/api/v1/interviews/{interview_id}/recovery-plan", headers=user.headers)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def _done(client: TestClient, user: TestUser, interview_id: int) -> set[str]:
    return {s["step"] for s in _plan(client, user, interview_id)["steps"] if s["done"]}


def _evidence(client: TestClient, user: TestUser, interview_id: int, step: str) -> dict[str, Any]:
    return next(s["evidence"] for s in _plan(client, user, interview_id)["steps"] if s["step"] == step)


def _interview(client: TestClient, user: TestUser, at: dt.datetime) -> int:
    body = {"company": "Acme", "role": "Engineer", "at": at.isoformat(), "outcome": "rejected"}
    answer = client.post("/api/v1/interviews", json=body, headers=user.headers)
    assert answer.status_code == 201, answer.text
    return int(answer.json()["id"])


def _reflect(client: TestClient, user: TestUser, interview_id: int, **body: Any) -> None:
    full = {"went_well": [], "went_poorly": [], "lessons": [], **body}
    answer = client.put(f"/api/v1/interviews/{interview_id}/reflection", json=full, headers=user.headers)
    assert answer.status_code == 200, answer.text


def _post(client: TestClient, user: TestUser, path: str, body: dict[str, Any]) -> dict[str, Any]:
    answer = client.post(f"/api/v1{path}", json=body, headers=user.headers)
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def _run(start: dt.datetime) -> list[dict[str, Any]]:
    """35 minutes at 150 bpm from `start`: two minutes of rest before, a fast fall to 70 after (noise seeded by
    the start, as these numbers were taken)."""
    return workout_samples(start, 35, before_s=120, after_s=180, seed=int(start.timestamp()) % 10_000)


def _upload(client: TestClient, user: TestUser, device_id: int, samples: list[dict[str, Any]]) -> None:
    upload_samples(client, user, device_id, samples)
    wait_for_analysis(client)


def test_each_action_flips_exactly_its_step(client: TestClient) -> None:
    user = sign_up(client, timezone=TZ, resting_hr=60, max_hr=190, daily_target_minutes=30)
    today = dt.datetime.now(LONDON).date()
    interview_day = today - dt.timedelta(days=3)
    at = _local(interview_day, 14)
    iid = _interview(client, user, at)
    plan = _plan(client, user, iid)
    assert [s["step"] for s in plan["steps"]] == STEPS
    assert (plan["interview_id"], plan["done_count"], plan["total"]) == (iid, 0, 7)
    assert all(s["title"] and s["evidence"]["summary"] for s in plan["steps"])

    expected: set[str] = set()

    def flips(step: str | None) -> None:
        if step:
            expected.add(step)
        assert _done(client, user, iid) == expected

    _reflect(client, user, iid, went_well=["clear answers on design"])
    flips(None)  # only half the reflection
    well = ["clear answers on design"]
    poorly = ["froze on the salary question", "ran out of time"]
    _reflect(client, user, iid, went_well=well, went_poorly=poorly, lessons=["prepare numbers"])
    flips("reflect")
    evidence = _evidence(client, user, iid, "reflect")
    assert (evidence["went_well"], evidence["went_poorly"], evidence["well_first"]) == (1, 2, True)
    assert _evidence(client, user, iid, "learn")["with_next_time"] == 0  # a lesson without a plan
    lessons = [
        {"lesson": "prepare numbers", "next_time": "write a range down before the call"},
        {"lesson": "pace answers", "next_time": "two minutes per story"},
    ]
    _reflect(client, user, iid, went_well=well, went_poorly=poorly, lessons=lessons)
    flips("learn")
    _reflect(client, user, iid, went_well=well, went_poorly=poorly, lessons=lessons, moved_on=True)
    flips("move_on")

    asked = _post(
        client, user, f"/interviews/{iid}/feedback", {"requested_at": (at + dt.timedelta(days=1)).isoformat()}
    )
    flips(None)
    assert _evidence(client, user, iid, "get_feedback")["progress"] == 0.5
    reply = {"received_at": (at + dt.timedelta(days=2)).isoformat()}
    answer = client.patch(
        f"/api/v1/interviews/{iid}/feedback/{asked['id']}", json=reply, headers=user.headers
    )
    assert answer.status_code == 200, answer.text
    flips("get_feedback")
    assert _evidence(client, user, iid, "get_feedback")["progress"] == 1.0

    practice = {"questions": ["Tell me about a failure"], "self_rating": 6}
    _post(client, user, "/practice", {**practice, "at": (at - dt.timedelta(hours=2)).isoformat()})
    flips(None)  # before the interview: preparation, not recovery
    later = _post(client, user, "/practice", {**practice, "at": (at + dt.timedelta(days=1)).isoformat()})
    flips("practise")
    assert _evidence(client, user, iid, "practise")["practice_ids"] == [later["id"]]

    application = {"company": "Globex", "role": "Engineer"}
    _post(
        client, user, "/applications", {**application, "applied_at": (at - dt.timedelta(days=1)).isoformat()}
    )
    flips(None)
    _post(
        client, user, "/applications", {**application, "applied_at": (at + dt.timedelta(hours=3)).isoformat()}
    )
    flips("dont_stop")

    device = register_device(client, user)["id"]
    _upload(client, user, device, _run(_local(interview_day, 8)))
    flips(None)  # the hour was in before the interview that day
    _upload(client, user, device, _run(_local(today - dt.timedelta(days=2), 7)))
    flips("exercise")
    _upload(client, user, device, _run(_local(today - dt.timedelta(days=1), 7)))
    evidence = _evidence(client, user, iid, "exercise")
    assert (evidence["days_since"], evidence["days_target_met"], evidence["current_streak_days"]) == (4, 2, 2)
    assert _plan(client, user, iid)["done_count"] == 7


def test_what_went_poorly_written_first_does_not_count_until_rewritten(client: TestClient) -> None:
    user = sign_up(client, timezone=TZ)
    iid = _interview(client, user, dt.datetime.now(dt.UTC) - dt.timedelta(days=1))
    _reflect(client, user, iid, went_poorly=["rambled"])
    _reflect(client, user, iid, went_poorly=["rambled"], went_well=["good rapport"])
    assert "reflect" not in _done(client, user, iid)
    assert _evidence(client, user, iid, "reflect")["well_first"] is False
    _reflect(client, user, iid, went_well=["good rapport"])  # clearing it resets its time
    _reflect(client, user, iid, went_poorly=["rambled"], went_well=["good rapport"])
    assert _done(client, user, iid) == {"reflect"}


def test_another_users_interview_is_404(client: TestClient) -> None:
    owner, other = sign_up(client, timezone=TZ), sign_up(client, timezone=TZ)
    iid = _interview(client, owner, dt.datetime.now(dt.UTC) - dt.timedelta(days=1))
    answer = client.get(f"/api/v1/interviews/{iid}/recovery-plan", headers=other.headers)
    assert answer.status_code == 404 and "Acme" not in answer.text
    assert client.get("/api/v1/interviews/987654321/recovery-plan", headers=owner.headers).status_code == 404
    assert client.get(f"/api/v1/interviews/{iid}/recovery-plan").status_code == 401


def test_exercise_streak_counts_back_from_yesterday_while_today_is_young() -> None:
    utc = ZoneInfo("UTC")
    at = dt.datetime(2026, 3, 1, 9, tzinfo=dt.UTC)
    met = [(dt.date(2026, 3, d), dt.datetime(2026, 3, d, 18, tzinfo=dt.UTC)) for d in (1, 3, 4, 5)]
    step = exercise_step(at, met, dt.date(2026, 3, 6), utc)
    assert step.done and step.facts["current_streak_days"] == 3 and step.facts["days_target_met"] == 4
    assert step.facts["days_since"] == 6
    broken = exercise_step(at, met, dt.date(2026, 3, 7), utc)
    assert broken.done and broken.facts["current_streak_days"] == 0
    before = exercise_step(dt.datetime(2026, 3, 1, 19, tzinfo=dt.UTC), met[:1], dt.date(2026, 3, 1), utc)
    assert not before.done and before.facts["days_target_met"] == 0
