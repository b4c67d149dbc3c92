"""Practice sessions: create, list by time window, edit, delete; on SQLite and PostgreSQL."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.support.users import sign_up

URL = "/api/v1/practice"


def test_practice_round_trip_in_utc(client: TestClient) -> None:
    user = sign_up(client)
    body = {
        "at": "2024-03-07T19:00:00+09:00",
        "questions": ["Tell me about a failure", "Why us?"],
        "self_rating": 6,
    }
    answer = client.post(URL, json=body, headers=user.headers)
    assert answer.status_code == 201, answer.text
    created = answer.json()
    assert created["at"] == "2024-03-07T10:00:00+00:00"
    assert (created["questions"], created["self_rating"], created["notes"]) == (body["questions"], 6, None)
    assert client.get(f"{URL}/{created['id']}", headers=user.headers).json() == created


def test_list_is_in_time_order_and_windowed(client: TestClient) -> None:
    user = sign_up(client)
    for at, rating in (("2024-03-09T10:00:00Z", 8), ("2024-03-07T10:00:00Z", 5), ("2024-03-08T10:00:00Z", 7)):
        body = {"at": at, "questions": [], "self_rating": rating}
        assert client.post(URL, json=body, headers=user.headers).status_code == 201
    assert [p["self_rating"] for p in client.get(URL, headers=user.headers).json()] == [5, 7, 8]
    window = {"from": "2024-03-08T00:00:00Z", "to": "2024-03-09T00:00:00Z"}
    assert [p["self_rating"] for p in client.get(URL, params=window, headers=user.headers).json()] == [7]


def test_bad_practice_is_422_with_a_reason(client: TestClient) -> None:
    user = sign_up(client)
    good = {"at": "2024-03-07T10:00:00Z", "questions": ["q"], "self_rating": 5}
    for change, reason in (
        ({"self_rating": 0}, "self_rating"),
        ({"self_rating": None}, "self_rating"),
        ({"questions": "q"}, "questions"),
        ({"questions": [""]}, "questions"),
        ({"questions": ["q"] * 201}, "questions"),
        ({"at": "2024-03-07T10:00:00"}, "timezone"),
        ({"at": "2099-03-07T10:00:00Z"}, "future"),
        ({"minutes": 20}, "minutes"),
    ):
        answer = client.post(URL, json={**good, **change}, headers=user.headers)
        assert answer.status_code == 422, (change, answer.text)
        assert reason in answer.json()["detail"], (change, answer.json())


def test_edit_and_delete(client: TestClient) -> None:
    user = sign_up(client)
    created = client.post(
        URL, json={"at": "2024-03-07T10:00:00Z", "questions": ["q"], "self_rating": 4}, headers=user.headers
    ).json()
    patched = client.patch(
        f"{URL}/{created['id']}", json={"self_rating": 7, "notes": "steadier"}, headers=user.headers
    )
    assert patched.status_code == 200, patched.text
    assert (patched.json()["self_rating"], patched.json()["notes"], patched.json()["questions"]) == (
        7,
        "steadier",
        ["q"],
    )
    assert (
        client.patch(f"{URL}/{created['id']}", json={"questions": None}, headers=user.headers).status_code
        == 422
    )
    assert client.delete(f"{URL}/{created['id']}", headers=user.headers).status_code == 204
    assert client.get(f"{URL}/{created['id']}", headers=user.headers).status_code == 404
    assert client.get(URL, headers=user.headers).json() == []
