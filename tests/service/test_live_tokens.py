"""The live stream against the running server: tickets instead of tokens in the URL, the token rechecked
while the stream runs (log-out, a password change, expiry end it), and at most a few streams per user."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import Engine, delete, update

from service.config import Settings
from service.core.db import make_session_factory
from service.core.logs import RedactSecrets
from service.core.models import AccessToken, StreamTicket, User
from service.core.security import token_digest
from service.pipeline.live import StreamGrant, StreamTickets
from tests.support.server import LiveServer
from tests.support.users import TestUser, register_device, sign_up

# The stream must end this soon after its token stops being valid (live_token_check_s is 2 by default).
ENDS_WITHIN_S = 5.0


def _ticket(http: httpx.Client, user: TestUser) -> str:
    answer = http.post("/api/v1/live/ticket", headers=user.headers)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["expires_in"] == 30 and len(body["ticket"]) >= 32
    return str(body["ticket"])


@contextlib.contextmanager
def _stream(http: httpx.Client, **kw: object) -> Iterator[httpx.Response]:
    with http.stream("GET", "/api/v1/live", timeout=httpx.Timeout(10, read=ENDS_WITHIN_S + 5), **kw) as r:
        yield r


def _seconds_until_it_ends(response: httpx.Response) -> tuple[float, list[str]]:
    started = time.monotonic()
    lines = list(response.iter_lines())  # a ReadTimeout here means the stream did not end
    return time.monotonic() - started, lines


def test_logging_out_ends_a_ticket_stream(http: httpx.Client) -> None:
    user = sign_up(http)
    with _stream(http, params={"ticket": _ticket(http, user)}) as stream:
        assert stream.status_code == 200
        assert http.post("/api/v1/auth/logout", headers=user.headers).status_code == 204
        took_s, lines = _seconds_until_it_ends(stream)
    assert took_s <= ENDS_WITHIN_S, f"the stream went on {took_s:.1f} s after log-out"
    assert "event: closed" in lines


def test_a_password_change_ends_the_streams_of_other_tokens(http: httpx.Client) -> None:
    user = sign_up(http)
    other = http.post("/api/v1/auth/token", data={"username": user.email, "password": user.password})
    second = {"Authorization": f"Bearer {other.json()['access_token']}"}
    with _stream(http, headers=user.headers) as stream:  # the Authorization header keeps working
        assert stream.status_code == 200
        changed = http.patch(
            "/api/v1/me",
            json={"password": "a new horse battery staple", "current_password": user.password},
            headers=second,
        )
        assert changed.status_code == 200, changed.text
        took_s, _ = _seconds_until_it_ends(stream)
    assert took_s <= ENDS_WITHIN_S


def test_an_expired_token_ends_its_stream(http: httpx.Client, server: LiveServer) -> None:
    user = sign_up(http)
    with _stream(http, params={"ticket": _ticket(http, user)}) as stream:
        assert stream.status_code == 200
        assert server.engine is not None
        with server.engine.begin() as db:  # the token's week runs out now
            db.execute(
                update(AccessToken)
                .where(AccessToken.token_hash == token_digest(user.token))
                .values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
            )
        took_s, _ = _seconds_until_it_ends(stream)
    assert took_s <= ENDS_WITHIN_S


def test_a_ticket_opens_one_stream_once(http: httpx.Client) -> None:
    user = sign_up(http)
    ticket = _ticket(http, user)
    with _stream(http, params={"ticket": ticket}) as first:
        assert first.status_code == 200
    with _stream(http, params={"ticket": ticket}) as again:
        assert again.status_code == 401
    for bad in ("", "not-a-ticket"):
        with _stream(http, params={"ticket": bad}) as refused:
            assert refused.status_code == 401
    assert http.post("/api/v1/live/ticket").status_code == 401
    upload_token = register_device(http, user)["upload_token"]
    device = http.post("/api/v1/live/ticket", headers={"Authorization": f"Bearer {upload_token}"})
    assert device.status_code == 401
    # a ticket whose token was logged out before it was used opens nothing
    late = _ticket(http, user)
    assert http.post("/api/v1/auth/logout", headers=user.headers).status_code == 204
    with _stream(http, params={"ticket": late}) as refused:
        assert refused.status_code == 401


def test_the_token_in_the_url_still_works_and_is_marked_deprecated(http: httpx.Client) -> None:
    user = sign_up(http)
    with _stream(http, params={"access_token": user.token}) as old_client:
        assert old_client.status_code == 200
        assert old_client.headers["deprecation"] == "true"
    params = http.get("/openapi.json").json()["paths"]["/api/v1/live"]["get"]["parameters"]
    by_name = {p["name"]: p for p in params}
    assert by_name["access_token"]["deprecated"] is True
    assert not by_name["ticket"].get("deprecated", False)
    assert "/api/v1/live/ticket" in http.get("/openapi.json").json()["paths"]


def test_streams_per_user_are_capped_and_a_closed_one_frees_its_slot(http: httpx.Client) -> None:
    cap = Settings().live_streams_per_user
    assert cap == 5
    user, neighbour = sign_up(http), sign_up(http)
    with contextlib.ExitStack() as open_streams:
        streams = [open_streams.enter_context(_stream(http, headers=user.headers)) for _ in range(cap)]
        assert [s.status_code for s in streams] == [200] * cap
        with _stream(http, params={"ticket": _ticket(http, user)}) as one_too_many:
            assert one_too_many.status_code == 429
            one_too_many.read()
            assert "at most 5 live streams" in one_too_many.json()["detail"]
        with _stream(http, headers=neighbour.headers) as theirs:  # the cap is per user
            assert theirs.status_code == 200
        streams[0].close()  # hang up one: its slot is free once the server hears it
        deadline = time.monotonic() + 3
        while True:
            with _stream(http, headers=user.headers) as again:
                if again.status_code == 200:
                    break
                assert again.status_code == 429 and time.monotonic() < deadline
            time.sleep(0.1)


def test_redaction_covers_tickets(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("uvicorn.access.tickets")
    logger.addFilter(RedactSecrets())
    with caplog.at_level(logging.INFO, logger="uvicorn.access.tickets"):
        logger.info(
            '%s - "%s %s HTTP/%s" %d', "127.0.0.1:5", "GET", "/api/v1/live?ticket=T0PSECRET", "1.1", 200
        )
    assert "T0PSECRET" not in caplog.text and "ticket=***" in caplog.text


def test_tickets_are_single_use_short_lived_and_bounded(engine: Engine) -> None:
    now = [100.0]
    tickets = StreamTickets(make_session_factory(engine), clock=lambda: now[0])
    with make_session_factory(engine).begin() as db:  # the store of another test run starts empty here
        db.execute(delete(StreamTicket))
    one, two = (sign_up_row(engine) for _ in range(2))
    grant = StreamGrant(user_id=one, token_digest="d")
    first = tickets.issue(grant, ttl_s=30)
    assert tickets.redeem(first) == grant and tickets.redeem(first) is None
    stale = tickets.issue(grant, ttl_s=30)
    now[0] += 30
    assert tickets.redeem(stale) is None
    for _ in range(100):  # an authenticated client asking over and over holds a bounded number
        tickets.issue(grant, ttl_s=30)
    assert len(tickets) <= 16
    now[0] += 31
    tickets.issue(StreamGrant(user_id=two, token_digest="e"), ttl_s=30)
    assert len(tickets) == 1  # expired ones are forgotten
    assert tickets.redeem("nonsense") is None and tickets.redeem(f"{two}.forged") is None
    assert tickets.redeem("².x") is None  # a Unicode digit is not a user id (int() would raise)


def sign_up_row(engine: Engine) -> int:
    """A user row, for the ticket store's foreign key."""
    with make_session_factory(engine).begin() as db:
        user = User(email=f"{uuid.uuid4().hex}@tickets.example", password_hash="x")
        db.add(user)
        db.flush()
        return user.id
