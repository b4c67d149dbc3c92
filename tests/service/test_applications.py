"""Job applications: create, list by time window, edit, delete; on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

from fastapi.testclient import TestClient

from tests.support.users import sign_up

URL = "/api/v1/applications"


def test_application_round_trip_in_utc(client: TestClient) -> None:
    user = sign_up(client)
    body = {"company": "Globex", "role": "Analyst", "applied_at": "2024-03-08T23:30:00-08:00"}
    answer = client.post(URL, json=body, headers=user.headers)
    assert answer.status_code == 201, answer.text
    created = answer.json()
    assert created["applied_at"] == "2024-03-09T07:30:00+00:00"
    assert (created["company"], created["role"], created["status"]) == ("Globex", "Analyst", None)
    assert client.get(f"{URL}/{created['id']}", headers=user.headers).json() == created


def test_list_is_in_time_order_and_windowed(client: TestClient) -> None:
    user = sign_up(client)
    for company, applied_at in (
        ("C", "2024-03-12T09:00:00Z"),
        ("A", "2024-03-10T09:00:00Z"),
        ("B", "2024-03-11T09:00:00Z"),
    ):
        body = {"company": company, "role": "Engineer", "applied_at": applied_at}
        assert client.post(URL, json=body, headers=user.headers).status_code == 201
    assert [a["company"] for a in client.get(URL, headers=user.headers).json()] == ["A", "B", "C"]
    since = client.get(URL, params={"from": "2024-03-11T09:00:00Z"}, headers=user.headers).json()
    assert [a["company"] for a in since] == ["B", "C"]


def test_bad_applications_are_422_with_a_reason(client: TestClient) -> None:
    user = sign_up(client)
    good = {"company": "Globex", "role": "Analyst", "applied_at": "2024-03-08T10:00:00Z"}
    for change, reason in (
        ({"company": ""}, "company"),
        ({"role": "r" * 201}, "role"),
        ({"status": "s" * 101}, "status"),
        ({"applied_at": None}, "applied_at"),
        ({"applied_at": "2099-03-08T10:00:00Z"}, "future"),
        ({"salary": 1}, "salary"),
    ):
        answer = client.post(URL, json={**good, **change}, headers=user.headers)
        assert answer.status_code == 422, (change, answer.text)
        assert reason in answer.json()["detail"], (change, answer.json())


def test_status_moves_on_and_the_application_can_be_deleted(client: TestClient) -> None:
    user = sign_up(client)
    body = {"company": "Globex", "role": "Analyst", "applied_at": "2024-03-08T10:00:00Z", "status": "sent"}
    created = client.post(URL, json=body, headers=user.headers).json()
    patched = client.patch(
        f"{URL}/{created['id']}", json={"status": "interview booked"}, headers=user.headers
    )
    assert patched.status_code == 200, patched.text
    history = patched.json().pop("history")
    assert patched.json() | {"history": created["history"]} == {**created, "status": "interview booked"}
    assert [h["status"] for h in history] == ["sent", "interview booked"]
    assert (
        client.patch(f"{URL}/{created['id']}", json={"role": None}, headers=user.headers).status_code == 422
    )
    assert client.delete(f"{URL}/{created['id']}", headers=user.headers).status_code == 204
    assert client.get(f"{URL}/{created['id']}", headers=user.headers).status_code == 404


def test_every_status_change_is_kept_in_order_and_only_for_its_owner(client: TestClient) -> None:
    user, other = sign_up(client), sign_up(client)
    body = {"company": "Initech", "role": "Analyst", "applied_at": "2024-03-08T10:00:00Z"}
    created = client.post(URL, json=body, headers=user.headers).json()
    assert created["history"] == []  # no status, no history
    item = f"{URL}/{created['id']}"
    before = dt.datetime.now(dt.UTC)
    for status in ("sent", "sent", "screen", "onsite", "rejected"):  # the repeat is no change
        assert client.patch(item, json={"status": status}, headers=user.headers).status_code == 200
    assert client.patch(item, json={"role": "Senior Analyst"}, headers=user.headers).status_code == 200
    history = client.get(item, headers=user.headers).json()["history"]
    assert [h["status"] for h in history] == ["sent", "screen", "onsite", "rejected"]
    times = [dt.datetime.fromisoformat(h["at"]) for h in history]
    assert times == sorted(times) and times[0] >= before - dt.timedelta(seconds=1)
    listed = client.get(URL, headers=user.headers).json()
    assert [a["history"] for a in listed] == [history]
    with_status = client.post(URL, json={**body, "status": "sent"}, headers=user.headers).json()
    assert with_status["history"] == [{"status": "sent", "at": "2024-03-08T10:00:00+00:00"}]
    # Another user's id answers 404 and adds nothing to the history.
    assert client.patch(item, json={"status": "offer"}, headers=other.headers).status_code == 404
    assert client.get(item, headers=other.headers).status_code == 404
    assert client.get(URL, headers=other.headers).json() == []
    assert len(client.get(item, headers=user.headers).json()["history"]) == 4
