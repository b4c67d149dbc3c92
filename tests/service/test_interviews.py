"""Interviews with their reflection and feedback; on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from service.core.models import Feedback, Reflection
from tests.support.users import TestUser, sign_up

URL = "/api/v1/interviews"


def _interview(client: TestClient, user: TestUser, **body: Any) -> dict[str, Any]:
    body = {"company": "Initech", "role": "Data engineer", "at": "2024-03-05T14:00:00-05:00", **body}
    answer = client.post(URL, json=body, headers=user.headers)
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def _reflect(client: TestClient, user: TestUser, interview_id: int, **body: Any) -> dict[str, Any]:
    body = {"went_well": [], "went_poorly": [], "lessons": [], **body}
    answer = client.put(f"{URL}/{interview_id}/reflection", json=body, headers=user.headers)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def test_create_read_list_in_time_order(client: TestClient) -> None:
    user = sign_up(client)
    late = _interview(client, user, at="2024-04-01T10:00:00+01:00", stage="onsite")
    early = _interview(client, user, stage="phone screen", outcome="rejected")
    assert early["at"] == "2024-03-05T19:00:00+00:00"
    assert (early["stage"], early["outcome"]) == ("phone screen", "rejected")
    listed = client.get(URL, headers=user.headers).json()
    assert [i["id"] for i in listed] == [early["id"], late["id"]]
    windowed = client.get(URL, params={"from": "2024-03-10T00:00:00Z"}, headers=user.headers).json()
    assert [i["id"] for i in windowed] == [late["id"]]
    one = client.get(f"{URL}/{early['id']}", headers=user.headers).json()
    assert one["reflection"] is None and one["feedback"] == []
    assert {k: one[k] for k in early} == early


def test_patch_changes_only_what_is_given(client: TestClient) -> None:
    user = sign_up(client)
    created = _interview(client, user, stage="final")
    patched = client.patch(
        f"{URL}/{created['id']}", json={"outcome": "no offer", "stage": None}, headers=user.headers
    )
    assert patched.status_code == 200, patched.text
    assert (patched.json()["outcome"], patched.json()["stage"], patched.json()["company"]) == (
        "no offer",
        None,
        "Initech",
    )
    for body in ({"company": None}, {"at": None}, {"company": ""}, {"at": "2024-03-05"}, {"mood": 3}):
        refused = client.patch(f"{URL}/{created['id']}", json=body, headers=user.headers)
        assert refused.status_code == 422, (body, refused.text)


def test_bad_interviews_are_422_with_a_reason(client: TestClient) -> None:
    user = sign_up(client)
    for body, reason in (
        ({"company": "A", "role": "B"}, "at"),
        ({"company": "A", "role": "B", "at": "2024-03-05T14:00:00"}, "timezone"),
        ({"company": "A" * 201, "role": "B", "at": "2024-03-05T14:00:00Z"}, "company"),
        ({"company": "A", "role": "B", "at": "2024-03-05T14:00:00Z", "stage": "s" * 101}, "stage"),
    ):
        answer = client.post(URL, json=body, headers=user.headers)
        assert answer.status_code == 422, (body, answer.text)
        assert reason in answer.json()["detail"]


def test_reflection_keeps_when_each_part_was_first_written(client: TestClient) -> None:
    user = sign_up(client)
    interview = _interview(client, user)
    first = _reflect(client, user, interview["id"], went_well=["clear answer on SQL"])
    assert first["went_well_at"] is not None and first["went_poorly_at"] is None
    second = _reflect(
        client,
        user,
        interview["id"],
        went_well=["clear answer on SQL", "good questions"],
        went_poorly=["froze"],
    )
    assert second["went_well_at"] == first["went_well_at"]
    assert second["went_poorly_at"] is not None
    assert dt.datetime.fromisoformat(second["went_well_at"]) <= dt.datetime.fromisoformat(
        second["went_poorly_at"]
    )
    assert second["went_well"] == ["clear answer on SQL", "good questions"]
    cleared = _reflect(client, user, interview["id"], went_poorly=["froze"])
    assert cleared["went_well"] == [] and cleared["went_well_at"] is None
    assert cleared["went_poorly_at"] == second["went_poorly_at"]


def test_lessons_accept_objects_and_plain_strings(client: TestClient) -> None:
    user = sign_up(client)
    interview = _interview(client, user)
    lessons = [
        "prepare a system-design story",
        {"lesson": "ask for a minute to think", "next_time": "say so aloud"},
    ]
    reflection = _reflect(client, user, interview["id"], lessons=lessons, outsider_view="one hard question")
    assert reflection["lessons"] == [
        {"lesson": "prepare a system-design story", "next_time": None},
        {"lesson": "ask for a minute to think", "next_time": "say so aloud"},
    ]
    assert reflection["outsider_view"] == "one hard question"
    read = client.get(f"{URL}/{interview['id']}/reflection", headers=user.headers).json()
    assert read == reflection
    assert client.get(f"{URL}/{interview['id']}", headers=user.headers).json()["reflection"] == reflection


def test_moved_on_is_a_switch_that_survives_edits(client: TestClient) -> None:
    user = sign_up(client)
    interview = _interview(client, user)
    assert _reflect(client, user, interview["id"])["moved_on"] is False
    moved = _reflect(client, user, interview["id"], moved_on=True)
    assert moved["moved_on"] is True and moved["moved_on_at"] is not None
    edited = _reflect(client, user, interview["id"], went_well=["kept calm"])
    assert edited["moved_on_at"] == moved["moved_on_at"]
    assert _reflect(client, user, interview["id"], moved_on=True)["moved_on_at"] == moved["moved_on_at"]
    undone = _reflect(client, user, interview["id"], moved_on=False)
    assert undone["moved_on"] is False and undone["moved_on_at"] is None


def test_bad_reflections_are_422(client: TestClient) -> None:
    user = sign_up(client)
    interview = _interview(client, user)
    path = f"{URL}/{interview['id']}/reflection"
    for body in (
        {"went_well": [], "went_poorly": []},
        {"went_well": "all of it", "went_poorly": [], "lessons": []},
        {"went_well": [""], "went_poorly": [], "lessons": []},
        {"went_well": ["x" * 2001], "went_poorly": [], "lessons": []},
        {"went_well": [], "went_poorly": [], "lessons": [{"next_time": "breathe"}]},
        {"went_well": [], "went_poorly": [], "lessons": [{"lesson": "a", "extra": 1}]},
        {"went_well": [], "went_poorly": [], "lessons": [], "moved_on": "maybe"},
    ):
        answer = client.put(path, json=body, headers=user.headers)
        assert answer.status_code == 422, (body, answer.text)
        assert answer.json()["detail"]
    assert client.get(path, headers=user.headers).status_code == 404


def test_feedback_requested_then_received(client: TestClient) -> None:
    user = sign_up(client)
    interview = _interview(client, user)
    path = f"{URL}/{interview['id']}/feedback"
    later = client.post(path, json={"requested_at": "2024-03-09T09:00:00Z"}, headers=user.headers).json()
    asked = client.post(path, json={"requested_at": "2024-03-06T09:00:00+01:00"}, headers=user.headers)
    assert asked.status_code == 201, asked.text
    assert asked.json()["requested_at"] == "2024-03-06T08:00:00+00:00" and asked.json()["received_at"] is None
    reply = client.patch(
        f"{path}/{asked.json()['id']}",
        json={"received_at": "2024-03-08T16:00:00Z", "notes": "needed more depth"},
        headers=user.headers,
    )
    assert reply.status_code == 200, reply.text
    assert reply.json()["requested_at"] == "2024-03-06T08:00:00+00:00"
    assert (reply.json()["received_at"], reply.json()["notes"]) == (
        "2024-03-08T16:00:00+00:00",
        "needed more depth",
    )
    listed = client.get(path, headers=user.headers).json()
    assert [f["id"] for f in listed] == [asked.json()["id"], later["id"]]
    assert client.get(f"{URL}/{interview['id']}", headers=user.headers).json()["feedback"] == listed


def test_bad_feedback_is_422(client: TestClient) -> None:
    user = sign_up(client)
    interview = _interview(client, user)
    path = f"{URL}/{interview['id']}/feedback"
    backwards = {"requested_at": "2024-03-09T09:00:00Z", "received_at": "2024-03-08T09:00:00Z"}
    answer = client.post(path, json=backwards, headers=user.headers)
    assert answer.status_code == 422 and "before" in answer.json()["detail"]
    created = client.post(path, json={"requested_at": "2024-03-09T09:00:00Z"}, headers=user.headers).json()
    early_reply = client.patch(
        f"{path}/{created['id']}", json={"received_at": "2024-03-01T09:00:00Z"}, headers=user.headers
    )
    assert early_reply.status_code == 422 and "before" in early_reply.json()["detail"]
    assert client.post(path, json={"notes": 5}, headers=user.headers).status_code == 422
    assert (
        client.post(path, json={}, headers=user.headers).status_code == 201
    )  # a note to ask, nothing else yet


def test_feedback_of_another_interview_is_404(client: TestClient) -> None:
    user = sign_up(client)
    first, second = _interview(client, user), _interview(client, user)
    feedback = client.post(f"{URL}/{first['id']}/feedback", json={"notes": "n"}, headers=user.headers).json()
    wrong = f"{URL}/{second['id']}/feedback/{feedback['id']}"
    assert client.patch(wrong, json={"notes": "m"}, headers=user.headers).status_code == 404
    assert client.delete(wrong, headers=user.headers).status_code == 404
    right = f"{URL}/{first['id']}/feedback/{feedback['id']}"
    assert client.delete(right, headers=user.headers).status_code == 204
    assert client.get(f"{URL}/{first['id']}/feedback", headers=user.headers).json() == []


def test_deleting_an_interview_deletes_its_reflection_and_feedback(
    client: TestClient, engine: Engine
) -> None:
    user = sign_up(client)
    interview = _interview(client, user)
    _reflect(client, user, interview["id"], went_well=["arrived early"])
    client.post(f"{URL}/{interview['id']}/feedback", json={"notes": "n"}, headers=user.headers)
    assert client.delete(f"{URL}/{interview['id']}", headers=user.headers).status_code == 204
    assert client.get(f"{URL}/{interview['id']}", headers=user.headers).status_code == 404
    assert client.get(f"{URL}/{interview['id']}/reflection", headers=user.headers).status_code == 404
    assert client.get(f"{URL}/{interview['id']}/feedback", headers=user.headers).status_code == 404
    assert client.get(URL, headers=user.headers).json() == []
    with engine.connect() as conn:
        for model in (Reflection, Feedback):
            count = conn.scalar(select(func.count()).where(model.interview_id == interview["id"]))
            assert count == 0, model.__name__
