"""Sign-up, log-in, profile and log-out, on SQLite and PostgreSQL."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.support.users import sign_up


def test_sign_up_answers_the_user_without_secrets(client: TestClient) -> None:
    answer = client.post(
        "/api/v1/users",
        json={
            "email": "Ada@Example.org",
            "password": "s3cret-enough",
            "timezone": "Europe/London",
            "birth_year": 1990,
        },
    )
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["email"] == "ada@example.org"
    assert body["daily_target_minutes"] == 60
    assert "password" not in answer.text and "s3cret-enough" not in answer.text
    assert (
        client.post("/api/v1/users", json={"email": "ada@example.org", "password": "another-one"}).status_code
        == 409
    )


def test_bad_profile_is_422_with_a_reason(client: TestClient) -> None:
    answer = client.post(
        "/api/v1/users", json={"email": "x@example.org", "password": "long enough", "timezone": "Mars/Base"}
    )
    assert answer.status_code == 422
    assert "time zone" in answer.json()["detail"]
    short = client.post("/api/v1/users", json={"email": "y@example.org", "password": "short"})
    assert short.status_code == 422


def test_log_in_read_and_update_profile(client: TestClient) -> None:
    user = sign_up(client)
    me = client.get("/api/v1/me", headers=user.headers)
    assert me.status_code == 200 and me.json()["email"] == user.email
    patched = client.patch(
        "/api/v1/me", json={"resting_hr": 52, "timezone": "America/New_York"}, headers=user.headers
    )
    assert patched.status_code == 200
    assert patched.json()["resting_hr"] == 52 and patched.json()["timezone"] == "America/New_York"


def test_wrong_password_and_missing_token_are_401(client: TestClient) -> None:
    user = sign_up(client)
    wrong = client.post("/api/v1/auth/token", data={"username": user.email, "password": "not it at all"})
    assert wrong.status_code == 401
    assert client.get("/api/v1/me").status_code == 401
    assert client.get("/api/v1/me", headers={"Authorization": "Bearer cu_forged"}).status_code == 401


def test_log_out_revokes_the_token(client: TestClient) -> None:
    user = sign_up(client)
    assert client.post("/api/v1/auth/logout", headers=user.headers).status_code == 204
    assert client.get("/api/v1/me", headers=user.headers).status_code == 401
