"""Security of the service as users and attackers meet it, on SQLite and PostgreSQL.

Login throttling, token expiry and revocation, the Content-Security-Policy with no inline script on every
dashboard page, CORS off unless configured, no route hidden from the OpenAPI document except public ones,
and no secret-looking setting with a default. (Every route in the OpenAPI document needing a token is
tests/service/test_isolation.py's `test_every_private_route_needs_a_token`.)
"""

from __future__ import annotations

import io
import json
import random
import time
import uuid
from collections.abc import Callable, Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import Engine, delete
from starlette.routing import Mount, Route

from dashboards.web import DETAIL_PAGES, PAGES
from service.app import create_app
from service.config import Settings
from service.core.models import LoginEvent
from service.importers import ImportFailed, open_import
from service.web.security_headers import CONTENT_SECURITY_POLICY
from service.web.throttle import LoginThrottle, LoginThrottled
from tests.service.test_importers_support import build_fit
from tests.support.users import TestUser, sign_up

API = "/api/v1"
PASSWORD = "correct horse battery"
T0_MS = 1_700_000_000_000

MakeClient = Callable[..., TestClient]


@pytest.fixture
def make_client(db_url: str, engine: Engine, tmp_path: Path) -> Iterator[MakeClient]:
    """A fresh app (its own throttle) on the module's database, with settings overridden per test."""
    opened: list[TestClient] = []
    with engine.begin() as conn:  # on PostgreSQL the throttle counts in the database: each test starts clean
        conn.execute(delete(LoginEvent))

    def make(*, client_host: str = "203.0.113.7", **overrides: object) -> TestClient:
        settings = Settings(database_url=db_url, data_dir=tmp_path, **overrides)
        test_client = TestClient(
            create_app(settings, engine=engine, migrate_db=False), client=(client_host, 1)
        )
        opened.append(test_client.__enter__())
        return test_client

    yield make
    for test_client in opened:
        test_client.__exit__(None, None, None)


def log_in(client: TestClient, email: str, password: str) -> tuple[int, dict[str, str]]:
    answer = client.post(f"{API}/auth/token", data={"username": email, "password": password})
    return answer.status_code, dict(answer.headers)


# -- login throttling ---------------------------------------------------------------------------------


class FakeClock:
    """A clock the test moves by hand (an injected input, as the throttle takes any callable)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_throttle_counts_failures_in_a_sliding_window() -> None:
    clock = FakeClock()
    throttle = LoginThrottle(account_limit=3, address_limit=10, window_s=60, clock=clock)
    for _ in range(3):
        throttle.check("ada@example.org", "10.0.0.1")
        throttle.failed("ada@example.org", "10.0.0.1")
        clock.now += 10
    with pytest.raises(LoginThrottled) as caught:
        throttle.check("ada@example.org", "10.0.0.2")  # another address: the account is what is locked
    assert (
        caught.value.status == 429 and caught.value.retry_after_s == 30
    )  # the first failure, at +0, expires at +60
    throttle.check("bob@example.org", "10.0.0.1")  # the address still has failures left
    clock.now += 30
    throttle.check("ada@example.org", "10.0.0.1")  # the oldest failure left the window


def test_throttle_locks_an_address_that_guesses_across_accounts_and_success_exempts_the_address() -> None:
    clock = FakeClock()
    throttle = LoginThrottle(account_limit=2, address_limit=4, window_s=60, clock=clock)
    for i in range(4):
        throttle.failed(f"user{i}@example.org", "10.0.0.9")
    with pytest.raises(LoginThrottled):
        throttle.check("someone-new@example.org", "10.0.0.9")
    throttle.check("someone-new@example.org", "10.0.0.10")
    throttle.failed("ada@example.org", "10.0.0.10")
    throttle.succeeded("ada@example.org", "10.0.0.10")
    throttle.failed("ada@example.org", "10.0.0.10")
    # the account's ceiling (2) is reached, but this address logged in to it: exempt
    throttle.check("ada@example.org", "10.0.0.10")
    with pytest.raises(LoginThrottled):
        throttle.check("ada@example.org", "10.0.0.11")


def test_login_guessing_gets_429_with_retry_after_even_with_the_right_password(
    make_client: MakeClient,
) -> None:
    client = make_client(login_failures_per_account=3, login_failures_per_address=50)
    user = sign_up(client)
    assert [log_in(client, user.email, f"guess {i}")[0] for i in range(3)] == [401, 401, 401]
    status, headers = log_in(client, user.email, user.password)
    assert status == 429
    assert 1 <= int(headers["retry-after"]) <= 900
    # The email is normalised before counting: a case change is the same account.
    assert log_in(client, user.email.upper(), user.password)[0] == 429
    other = sign_up(client)  # same address, another account: still served
    assert log_in(client, other.email, other.password)[0] == 200


def test_one_address_guessing_many_accounts_is_throttled(make_client: MakeClient) -> None:
    client = make_client(login_failures_per_account=50, login_failures_per_address=4)
    victim = sign_up(client)
    unknown = [f"nobody-{uuid.uuid4().hex[:6]}@example.org" for _ in range(4)]
    assert [log_in(client, email, "password1")[0] for email in unknown] == [401] * 4
    assert log_in(client, victim.email, victim.password)[0] == 429
    elsewhere = make_client(client_host="198.51.100.4", login_failures_per_address=4)
    assert log_in(elsewhere, victim.email, victim.password)[0] == 200


# -- tokens ---------------------------------------------------------------------------------------------


def test_an_expired_token_is_refused(make_client: MakeClient) -> None:
    client = make_client(access_token_ttl_s=1)
    user = sign_up(client)
    assert client.get(f"{API}/me", headers=user.headers).status_code == 200
    time.sleep(1.2)
    answer = client.get(f"{API}/me", headers=user.headers)
    assert answer.status_code == 401 and answer.headers["www-authenticate"] == "Bearer"
    fresh = client.post(f"{API}/auth/token", data={"username": user.email, "password": user.password})
    assert fresh.status_code == 200
    again = {"Authorization": f"Bearer {fresh.json()['access_token']}"}
    assert client.get(f"{API}/me", headers=again).status_code == 200


def test_log_out_revokes_only_that_token(make_client: MakeClient) -> None:
    client = make_client()
    user = sign_up(client)
    second = client.post(f"{API}/auth/token", data={"username": user.email, "password": user.password})
    other = TestUser(user.id, user.email, user.password, second.json()["access_token"])
    assert client.post(f"{API}/auth/logout", headers=user.headers).status_code == 204
    assert client.get(f"{API}/me", headers=user.headers).status_code == 401
    assert client.post(f"{API}/auth/logout", headers=user.headers).status_code == 401
    assert client.get(f"{API}/me", headers=other.headers).status_code == 200


def test_a_device_upload_token_reads_nothing(make_client: MakeClient) -> None:
    client = make_client()
    user = sign_up(client)
    device = client.post(f"{API}/devices", json={"name": "strap"}, headers=user.headers).json()
    device_headers = {"Authorization": f"Bearer {device['upload_token']}"}
    for path in (
        "/me",
        f"/devices/{device['id']}/samples",
        "/checkins",
        "/days?from=2024-01-01&to=2024-01-02",
    ):
        assert client.get(f"{API}{path}", headers=device_headers).status_code == 401, path


# -- headers: CSP, no inline script, CORS -------------------------------------------------------------------


class InlineFinder(HTMLParser):
    """Everything a `default-src 'self'` policy would block or that runs script inline."""

    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []
        self.scripts = 0
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = dict(attrs)
        self.problems += [f"<{tag} {name}=…>" for name in names if name.startswith("on") or name == "style"]
        self.problems += [
            f"<{tag}> javascript: URL"
            for v in names.values()
            if (v or "").lower().strip().startswith("javascript:")
        ]
        if tag == "script":
            self.scripts += 1
            if not names.get("src"):
                self.problems.append("<script> without src")
        if tag in ("script", "style"):
            self._in = tag

    def handle_endtag(self, tag: str) -> None:
        self._in = None

    def handle_data(self, data: str) -> None:
        if self._in and data.strip():
            self.problems.append(f"inline <{self._in}> content: {data.strip()[:60]!r}")


def dashboard_paths() -> list[str]:
    pages = [f"/dashboard/{slug}".rstrip("/") for slug in PAGES]
    return pages + [f"/dashboard/{slug}/1" for slug in DETAIL_PAGES] + ["/dashboard/no-such-page"]


def test_every_dashboard_page_has_the_policy_and_no_inline_script(make_client: MakeClient) -> None:
    client = make_client()
    for path in dashboard_paths():
        answer = client.get(path)
        assert answer.status_code in (200, 404), path
        assert answer.headers["content-security-policy"] == CONTENT_SECURITY_POLICY, path
        assert "default-src 'self'" in CONTENT_SECURITY_POLICY and "unsafe" not in CONTENT_SECURITY_POLICY
        assert answer.headers["x-content-type-options"] == "nosniff"
        finder = InlineFinder()
        finder.feed(answer.text)
        assert not finder.problems, (path, finder.problems)
        assert finder.scripts >= (1 if answer.status_code == 200 else 0), path


def test_inline_finder_catches_what_the_policy_would_block() -> None:
    finder = InlineFinder()
    finder.feed('<script>alert(1)</script><a href="javascript:x()" onclick="y()">x</a><p style="c">')
    assert len(finder.problems) == 5


def test_api_answers_are_not_cached_and_carry_the_policy(make_client: MakeClient) -> None:
    client = make_client()
    user = sign_up(client)
    answer = client.get(f"{API}/me", headers=user.headers)
    assert answer.headers["cache-control"] == "no-store"
    assert answer.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert answer.headers["x-frame-options"] == "DENY"
    docs_policy = client.get("/docs").headers["content-security-policy"]  # Swagger UI is vendored: self only
    assert "script-src 'self'" in docs_policy and "http" not in docs_policy


def preflight(client: TestClient, origin: str) -> dict[str, str]:
    answer = client.options(
        f"{API}/me",
        headers={"Origin": origin, "Access-Control-Request-Method": "GET",
                 "Access-Control-Request-Headers": "authorization"},
    )  # fmt: skip
    return dict(answer.headers)


def test_cors_is_off_unless_configured(make_client: MakeClient) -> None:
    closed = make_client()
    user = sign_up(closed)
    assert "access-control-allow-origin" not in preflight(closed, "https://evil.example")
    read = closed.get(f"{API}/me", headers={**user.headers, "Origin": "https://evil.example"})
    assert read.status_code == 200 and "access-control-allow-origin" not in read.headers

    opened = make_client(cors_origins=["https://app.example.org"])
    assert (
        preflight(opened, "https://app.example.org")["access-control-allow-origin"]
        == "https://app.example.org"
    )
    assert "access-control-allow-origin" not in preflight(opened, "https://evil.example")
    # a page on the allowed origin can follow the journal lists' pages and read an import job's Location
    reader = sign_up(opened)
    listed = opened.get(f"{API}/checkins", headers={**reader.headers, "Origin": "https://app.example.org"})
    assert "link" in listed.headers["access-control-expose-headers"].lower()


# -- what is public --------------------------------------------------------------------------------------------

# Routes outside the OpenAPI document, all public by design: the docs and the dashboard shells (which hold
# no data; their scripts call the API with the user's token).
HIDDEN_PUBLIC = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc", "/", "/dashboard",
                 "/dashboard/{slug}", "/dashboard/{slug}/{item_id}", "/dashboard/static"}  # fmt: skip


def test_no_route_is_hidden_from_the_openapi_walk_except_public_pages(make_client: MakeClient) -> None:
    client = make_client()
    documented = set(client.get("/openapi.json").json()["paths"])
    hidden = set()
    for route in client.app.routes:  # type: ignore[attr-defined]
        if isinstance(route, APIRoute) and route.include_in_schema:
            assert route.path in documented, route.path
        elif isinstance(route, Route | Mount):
            hidden.add(route.path)
    assert hidden <= HIDDEN_PUBLIC, hidden - HIDDEN_PUBLIC
    for path in (
        "/openapi.json",
        "/docs",
        "/redoc",
        "/health",
        "/dashboard",
        "/dashboard/static/css/app.css",
    ):
        assert client.get(path).status_code == 200, path


def test_no_secret_setting_has_a_default() -> None:
    """The service signs nothing (tokens are random, stored hashed); any secret added later must come from the
    environment, never from a default in the code."""
    secret_like = ("secret", "password", "api_key", "private", "signing")
    for name, field in Settings.model_fields.items():
        if any(word in name for word in secret_like):
            assert field.is_required() or field.default is None, name


# -- hostile input: what schemathesis and the fuzz harnesses found, kept fixed ------------------------------------


def test_text_no_database_can_store_is_422_not_500(make_client: MakeClient) -> None:
    client = make_client()
    user = sign_up(client)
    for text in ("nul \x00 inside", "lone \ud83d surrogate"):
        body = json.dumps({"company": text, "role": "r", "at": "2024-03-05T12:00:00+00:00"})
        answer = client.post(
            f"{API}/interviews", content=body, headers={**user.headers, "Content-Type": "application/json"}
        )
        assert answer.status_code == 422, answer.text
    paired = json.dumps({"company": "emoji \ud83d\ude00", "role": "r", "at": "2024-03-05T12:00:00+00:00"})
    ok = client.post(
        f"{API}/interviews", content=paired, headers={**user.headers, "Content-Type": "application/json"}
    )
    assert ok.status_code == 201 and ok.json()["company"] == "emoji 😀"


def test_ids_beyond_the_database_range_are_404_not_500(make_client: MakeClient) -> None:
    client = make_client()
    user = sign_up(client)
    for path in (
        "/practice/4028071230554660484570677248",
        "/devices/-155217176385",
        "/sessions/36028797018963969",
    ):
        assert client.get(f"{API}{path}", headers=user.headers).status_code == 404, path
    merge = client.post(
        f"{API}/sessions/merge", json={"ids": [1, -4024312494780911714304]}, headers=user.headers
    )
    assert merge.status_code == 422
    assert client.get(f"{API}/checkins?from=99999999999999999999", headers=user.headers).status_code == 422


def test_a_null_password_in_a_profile_update_changes_nothing(make_client: MakeClient) -> None:
    client = make_client()
    user = sign_up(client)
    answer = client.patch(f"{API}/me", json={"password": None, "nudges_enabled": None}, headers=user.headers)
    assert answer.status_code == 200, answer.text
    assert log_in(client, user.email, user.password)[0] == 200


def test_the_error_answers_are_in_the_openapi_document(make_client: MakeClient) -> None:
    document = make_client().get("/openapi.json").json()
    validation = document["components"]["schemas"]["HTTPValidationError"]
    assert validation["properties"]["detail"]["type"] == "string"  # what the app's 422 handler answers
    me = document["paths"][f"{API}/me"]["get"]["responses"]
    assert {"200", "401", "503"} <= set(me)
    days = document["paths"][f"{API}/days"]["get"]["responses"]["200"]["content"]["application/json"][
        "schema"
    ]
    assert days != {"type": "string"}  # FastJSON routes show their model, not a string


@pytest.mark.parametrize(
    "name, data",
    [
        ("run.tcx", b'<?xml version="1.0" encoding="utN-8"?><TrainingCenterDatabase/>'),
        ("run.gpx", b'<?xml version="1.0" encoding="utfk8"?><gpx/>'),
        (
            "run.tcx",
            b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><TrainingCenterDatabase>&a;</TrainingCenterDatabase>',
        ),
    ],
)
def test_hostile_xml_is_a_corrupt_file(name: str, data: bytes) -> None:
    with pytest.raises(ImportFailed):
        with open_import(io.BytesIO(data), name, start_ms=T0_MS) as opened:
            list(opened.entries())


def test_damaged_fit_files_are_only_import_errors() -> None:
    """The mutations fuzz/fuzz_fit.py --smoke found ValueError, AssertionError and TypeError with."""
    seed = build_fit([(T0_MS + i * 1000, 60 + i) for i in range(20)], [[0.8, 0.81]] * 20)
    rng = random.Random(0)
    for _ in range(1500):
        data = bytearray(seed)
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        try:
            with open_import(io.BytesIO(bytes(data)), "ride.fit", start_ms=T0_MS) as opened:
                list(opened.entries())
        except ImportFailed:
            pass
