"""Tokens against the running service: a password change needs the current password and revokes the
user's other tokens, deleting the account needs the password, and device upload tokens are listed, rotated
and revoked per device without losing its history (re-registering an address revokes the old token too)."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import httpx
from sqlalchemy import Engine, insert

from service.core.models import AccessToken
from service.core.security import USER_TOKEN_PREFIX, new_token, token_digest, token_user
from tests.support.bystander import served_meanwhile
from tests.support.users import register_device, sign_up

API = "/api/v1"
NEW_PASSWORD = "a different long one"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def log_in(http: httpx.Client, email: str, password: str) -> httpx.Response:
    return http.post(f"{API}/auth/token", data={"username": email, "password": password})


def upload(http: httpx.Client, device_id: int, token: str, minute: int = 0) -> int:
    at = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0) - dt.timedelta(minutes=10 - minute)
    body = {"samples": [{"t": at.isoformat(), "bpm": 70}]}
    return http.post(f"{API}/devices/{device_id}/samples", json=body, headers=bearer(token)).status_code


def test_a_stolen_token_alone_cannot_change_the_password(http: httpx.Client) -> None:
    user = sign_up(http)
    thief = user.headers

    def attack() -> list[int]:
        bare = http.patch(f"{API}/me", json={"password": NEW_PASSWORD}, headers=thief)
        guesses = [
            http.patch(
                f"{API}/me", json={"password": NEW_PASSWORD, "current_password": f"guess {i}"}, headers=thief
            ).status_code
            for i in range(5)
        ]
        return [bare.status_code, *guesses]

    # no current password: 422; wrong ones: 403, then throttled like log-in guesses (same pair)
    assert served_meanwhile(str(http.base_url), attack) == [422, 403, 403, 403, 429, 429]
    # the guesses counted for this account and address like log-in guesses: wait, then the password is unchanged
    time.sleep(2.05)
    assert log_in(http, user.email, NEW_PASSWORD).status_code == 401
    time.sleep(4.05)
    assert log_in(http, user.email, user.password).status_code == 200


def test_a_password_change_revokes_every_other_token_of_the_user(http: httpx.Client) -> None:
    user = sign_up(http)
    other_session = log_in(http, user.email, user.password).json()["access_token"]
    device = register_device(http, user)
    change = {"password": NEW_PASSWORD, "current_password": user.password}
    changed = http.patch(f"{API}/me", json=change, headers=user.headers)
    assert changed.status_code == 200, changed.text
    assert http.get(f"{API}/me", headers=user.headers).status_code == 200  # the token that changed it
    assert http.get(f"{API}/me", headers=bearer(other_session)).status_code == 401
    assert log_in(http, user.email, user.password).status_code == 401
    assert log_in(http, user.email, NEW_PASSWORD).status_code == 200
    # upload tokens are the devices': kept (a strap keeps recording), revoked per device below
    assert upload(http, device["id"], device["upload_token"]) == 200


def test_deleting_the_account_needs_the_password(http: httpx.Client) -> None:
    user = sign_up(http)
    assert http.delete(f"{API}/me", headers=user.headers).status_code == 422
    wrong = http.request("DELETE", f"{API}/me", json={"password": "not my password"}, headers=user.headers)
    assert wrong.status_code == 403 and wrong.json()["detail"]
    assert http.get(f"{API}/me", headers=user.headers).status_code == 200
    right = http.request("DELETE", f"{API}/me", json={"password": user.password}, headers=user.headers)
    assert right.status_code == 204
    assert http.get(f"{API}/me", headers=user.headers).status_code == 401


def test_upload_tokens_are_listed_rotated_and_revoked_without_losing_history(http: httpx.Client) -> None:
    user = sign_up(http)
    device = register_device(http, user, name="Chest strap")
    first = device["upload_token"]
    assert upload(http, device["id"], first, minute=0) == 200

    def attack() -> dict[str, Any]:  # a leaked token: rotate it out
        return http.post(f"{API}/devices/{device['id']}/tokens", headers=user.headers).json()

    rotated = served_meanwhile(str(http.base_url), attack)
    assert rotated["upload_token"].startswith("cud_") and rotated["active"] is True
    assert upload(http, device["id"], first, minute=1) == 401
    assert upload(http, device["id"], rotated["upload_token"], minute=2) == 200

    listed = http.get(f"{API}/devices/{device['id']}/tokens", headers=user.headers)
    assert listed.status_code == 200
    tokens = listed.json()
    assert [t["active"] for t in tokens] == [True, False] and tokens[0]["id"] == rotated["id"]
    assert tokens[1]["revoked_at"] is not None
    assert all("upload_token" not in t and "token_hash" not in t for t in tokens)

    revoked = http.delete(f"{API}/devices/{device['id']}/tokens/{rotated['id']}", headers=user.headers)
    assert revoked.status_code == 204
    assert upload(http, device["id"], rotated["upload_token"], minute=3) == 401
    again = http.delete(f"{API}/devices/{device['id']}/tokens/{rotated['id']}", headers=user.headers)
    assert again.status_code == 204  # idempotent

    samples = http.get(f"{API}/devices/{device['id']}/samples", headers=user.headers)
    assert samples.status_code == 200 and len(samples.json()) == 2  # the history stays


def test_re_registering_an_address_revokes_the_old_token(http: httpx.Client) -> None:
    user = sign_up(http)
    first = register_device(http, user, name="Strap", address="AA:BB:CC:DD:EE:01")
    assert upload(http, first["id"], first["upload_token"]) == 200
    second = register_device(http, user, name="Strap again", address="AA:BB:CC:DD:EE:01")
    assert second["id"] == first["id"] and second["upload_token"] != first["upload_token"]
    assert upload(http, first["id"], first["upload_token"], minute=1) == 401
    assert upload(http, first["id"], second["upload_token"], minute=2) == 200
    samples = http.get(f"{API}/devices/{first['id']}/samples", headers=user.headers).json()
    assert len(samples) == 2


def test_another_users_device_tokens_are_404(http: httpx.Client) -> None:
    alice, bob = sign_up(http), sign_up(http)
    hers = register_device(http, alice)
    his = register_device(http, bob)
    his_token_id = http.get(f"{API}/devices/{his['id']}/tokens", headers=bob.headers).json()[0]["id"]
    for method, path in [
        ("GET", f"{API}/devices/{hers['id']}/tokens"),
        ("POST", f"{API}/devices/{hers['id']}/tokens"),
        ("DELETE", f"{API}/devices/{hers['id']}/tokens/{his_token_id}"),  # his token id, her device
    ]:
        assert http.request(method, path, headers=bob.headers).status_code == 404, (method, path)
    his_token = f"{API}/devices/{his['id']}/tokens/{his_token_id}"
    assert http.delete(his_token, headers=alice.headers).status_code == 404
    assert http.delete(f"{API}/devices/{his['id']}/tokens/2147483647", headers=bob.headers).status_code == 404
    assert upload(http, his["id"], his["upload_token"]) == 200  # untouched by all of the above
    assert upload(http, hers["id"], hers["upload_token"]) == 200
    # an upload token cannot manage tokens
    assert (
        http.get(f"{API}/devices/{his['id']}/tokens", headers=bearer(his["upload_token"])).status_code == 401
    )


def test_a_token_names_its_user_and_a_forged_name_is_refused(http: httpx.Client, engine: Engine) -> None:
    """New tokens name their user (`cu_<id>.`, `cud_<id>.`), so the lookup reads one user's rows (one shard of a
    schema distributed by user). The name is not trusted: the same secret under another user's id is refused;
    a token from before (no name) still works."""
    owner, other = sign_up(http), sign_up(http)
    device = register_device(http, owner, name="H10")
    assert owner.token.startswith(f"cu_{owner.id}.")
    assert device["upload_token"].startswith(f"cud_{owner.id}.")
    forged = owner.token.replace(f"cu_{owner.id}.", f"cu_{other.id}.", 1)
    assert http.get(f"{API}/me", headers=bearer(forged)).status_code == 401
    forged_upload = device["upload_token"].replace(f"cud_{owner.id}.", f"cud_{other.id}.", 1)
    assert upload(http, device["id"], forged_upload) == 401
    for odd in (
        f"cu_{owner.id}x.{owner.token}",
        "cu_.abc",
        f"cu_{'9' * 40}.abc",
        "cu_12345678901.abc",
        "cud_2147483648.abc",
    ):
        assert http.get(f"{API}/me", headers=bearer(odd)).status_code == 401, odd
    unnamed = new_token(USER_TOKEN_PREFIX)
    with engine.begin() as conn:
        conn.execute(
            insert(AccessToken).values(
                user_id=owner.id, token_hash=token_digest(unnamed), created_at=dt.datetime.now(dt.UTC),
                expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(days=1),
            )
        )  # fmt: skip
    me = http.get(f"{API}/me", headers=bearer(unnamed))
    assert me.status_code == 200 and me.json()["id"] == owner.id


def test_only_plain_digits_name_a_user() -> None:
    assert token_user("cu_42.abc", USER_TOKEN_PREFIX) == 42
    for token in (
        "cu_abc",
        "cu_².abc",
        "cu_٤٢.abc",
        "cu_.abc",
        "cu_4 2.abc",
        f"cu_{'9' * 19}.abc",
        "cu_2147483648.abc",
    ):
        assert token_user(token, USER_TOKEN_PREFIX) is None, token
