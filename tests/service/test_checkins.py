"""Check-ins: create, list by time window, edit, delete; on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

from fastapi.testclient import TestClient

from tests.support.users import sign_up

URL = "/api/v1/checkins"


def test_check_in_with_an_offset_answers_utc(client: TestClient) -> None:
    user = sign_up(client)
    answer = client.post(
        URL,
        json={"at": "2024-03-05T09:30:00+02:00", "confidence": 4, "mood": 6, "note": "shaky"},
        headers=user.headers,
    )
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["at"] == "2024-03-05T07:30:00+00:00"
    assert (body["confidence"], body["mood"], body["note"]) == (4, 6, "shaky")
    assert client.get(f"{URL}/{body['id']}", headers=user.headers).json() == body


def test_time_defaults_to_now(client: TestClient) -> None:
    user = sign_up(client)
    before = dt.datetime.now(dt.UTC)
    answer = client.post(URL, json={"confidence": 7}, headers=user.headers)
    assert answer.status_code == 201, answer.text
    at = dt.datetime.fromisoformat(answer.json()["at"])
    assert before - dt.timedelta(seconds=1) <= at <= dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)
    assert answer.json()["mood"] is None


def test_list_is_in_time_order_and_windowed(client: TestClient) -> None:
    user = sign_up(client)
    for at, confidence in (
        ("2024-03-07T08:00:00Z", 7),
        ("2024-03-05T08:00:00Z", 5),
        ("2024-03-06T08:00:00Z", 6),
    ):
        assert (
            client.post(URL, json={"at": at, "confidence": confidence}, headers=user.headers).status_code
            == 201
        )
    everything = client.get(URL, headers=user.headers).json()
    assert [c["confidence"] for c in everything] == [5, 6, 7]
    iso = client.get(
        URL, params={"from": "2024-03-06T00:00:00+00:00", "to": "2024-03-07T08:00:00Z"}, headers=user.headers
    )
    assert [c["confidence"] for c in iso.json()] == [6]  # from inclusive, to exclusive
    epoch_from_ms = int(dt.datetime(2024, 3, 6, 8, tzinfo=dt.UTC).timestamp() * 1000)
    epoch = client.get(URL, params={"from": str(epoch_from_ms)}, headers=user.headers)
    assert [c["confidence"] for c in epoch.json()] == [6, 7]


def test_bad_input_is_422_with_a_reason(client: TestClient) -> None:
    user = sign_up(client)
    cases = [
        ({"confidence": 0}, "confidence"),
        ({"confidence": 11}, "confidence"),
        ({"confidence": 5, "mood": 12}, "mood"),
        ({"confidence": "very"}, "confidence"),
        ({}, "confidence"),
        ({"confidence": 5, "at": "2024-03-05T09:30:00"}, "timezone"),
        ({"confidence": 5, "at": "yesterday"}, "at"),
        ({"confidence": 5, "at": "2099-01-01T00:00:00Z"}, "future"),
        ({"confidence": 5, "note": "x" * 20_001}, "note"),
        ({"confidence": 5, "colour": "blue"}, "colour"),
    ]
    for body, reason in cases:
        answer = client.post(URL, json=body, headers=user.headers)
        assert answer.status_code == 422, (body, answer.text)
        assert reason in answer.json()["detail"], (body, answer.json())
    window = client.get(URL, params={"from": "last week"}, headers=user.headers)
    assert window.status_code == 422 and "from" in window.json()["detail"]


def test_edit_and_delete(client: TestClient) -> None:
    user = sign_up(client)
    created = client.post(URL, json={"confidence": 3, "mood": 4, "note": "low"}, headers=user.headers).json()
    patched = client.patch(
        f"{URL}/{created['id']}", json={"confidence": 6, "note": None}, headers=user.headers
    )
    assert patched.status_code == 200, patched.text
    assert (patched.json()["confidence"], patched.json()["mood"], patched.json()["note"]) == (6, 4, None)
    assert patched.json()["at"] == created["at"]
    refused = client.patch(f"{URL}/{created['id']}", json={"confidence": None}, headers=user.headers)
    assert refused.status_code == 422 and "null" in refused.json()["detail"]
    assert client.delete(f"{URL}/{created['id']}", headers=user.headers).status_code == 204
    assert client.get(f"{URL}/{created['id']}", headers=user.headers).status_code == 404
    assert client.delete(f"{URL}/{created['id']}", headers=user.headers).status_code == 404


def test_another_users_check_ins_are_invisible(client: TestClient) -> None:
    owner, other = sign_up(client), sign_up(client)
    created = client.post(URL, json={"confidence": 8, "note": "owner's secret"}, headers=owner.headers).json()
    assert client.get(URL, headers=other.headers).json() == []
    assert client.get(f"{URL}/{created['id']}", headers=other.headers).status_code == 404
    assert client.delete(f"{URL}/{created['id']}", headers=other.headers).status_code == 404
    assert client.get(f"{URL}/{created['id']}", headers=owner.headers).status_code == 200
