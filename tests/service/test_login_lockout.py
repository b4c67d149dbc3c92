"""Password guessing against `chinup serve` itself: the owner is slowed, never locked out by someone else's
guesses; forwarded headers are not believed unless configured; sign-ups are throttled per address; the
password policy; log-in matches the email in the form sign-up stored.

The server is the real `chinup serve` in a subprocess (default settings), because how it starts uvicorn
decides whether X-Forwarded-For is believed. Distinct client addresses are real ones: the whole of
127.0.0.0/8 is loopback, so each attacker or owner binds its own 127.0.0.x.
"""

from __future__ import annotations

import itertools
import os
import time
import unicodedata
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from service.cli.main import proxy_options
from service.config import Settings
from tests.support.bystander import served_meanwhile
from tests.support.server import ServeProcess, serve_process
from tests.support.users import TestUser, sign_up

API = "/api/v1"
WRONG = "not the password at all"


@pytest.fixture(scope="module")
def server(db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    """`chinup serve --db URL --port P` with the default settings (no FORWARDED_ALLOW_IPS either)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHINUP_") and k != "FORWARDED_ALLOW_IPS"}
    with serve_process(db_url, tmp_path_factory.mktemp("serve"), env=env) as served:
        yield served


def client_from(server: ServeProcess, address: str) -> httpx.Client:
    """A client whose connections come from `address` (a loopback address of its own)."""
    return httpx.Client(base_url=server.url, timeout=30, transport=httpx.HTTPTransport(local_address=address))


def log_in(client: httpx.Client, email: str, password: str, **headers: str) -> httpx.Response:
    return client.post(f"{API}/auth/token", data={"username": email, "password": password}, headers=headers)


@pytest.fixture(scope="module")
def place() -> Callable[[], str]:
    """A fresh loopback address at each call: each test attacks from places nobody used before."""
    numbers = itertools.count()
    return lambda: (lambda n: f"127.1.{n // 200}.{n % 200 + 2}")(next(numbers))


def owner(server: ServeProcess, place: Callable[[], str]) -> TestUser:
    with client_from(server, place()) as home:
        return sign_up(home)


def test_five_wrong_guesses_from_elsewhere_do_not_lock_the_owner_out(
    server: ServeProcess, place: Callable[[], str]
) -> None:
    victim = owner(server, place)

    def attack() -> list[int]:
        with client_from(server, place()) as attacker:
            return [log_in(attacker, victim.email, WRONG).status_code for _ in range(5)]

    # three free failures, then a 1 s delay: guesses refused before any password check
    assert served_meanwhile(server.url, attack) == [401, 401, 401, 429, 429]
    with client_from(server, place()) as new_place:  # the owner, from an address never seen before
        started = time.monotonic()
        assert log_in(new_place, victim.email, victim.password).status_code == 200
        assert time.monotonic() - started < 1.0


def test_one_pair_waits_twice_as_long_after_each_further_failure(
    server: ServeProcess, place: Callable[[], str]
) -> None:
    victim = owner(server, place)
    with client_from(server, place()) as attacker:
        waits = []
        for _ in range(3):
            assert log_in(attacker, victim.email, WRONG).status_code == 401
        for guess in (WRONG, WRONG, victim.password):
            refused = log_in(attacker, victim.email, victim.password)  # the right one is refused too
            assert refused.status_code == 429 and refused.json()["detail"]
            waits.append(int(refused.headers["Retry-After"]))
            time.sleep(waits[-1] + 0.05)
            assert log_in(attacker, victim.email, guess).status_code == (401 if guess == WRONG else 200)
        assert waits == [1, 2, 4]
        # the delay served, the right password got in and cleared the pair's count
        assert log_in(attacker, victim.email, WRONG).status_code == 401


def test_forwarded_for_does_not_give_an_attacker_new_addresses(
    server: ServeProcess, place: Callable[[], str]
) -> None:
    """uvicorn alone believes X-Forwarded-For from 127.0.0.1: `chinup serve` does not, by default."""
    victim = owner(server, place)

    def attack() -> tuple[list[int], int]:
        with httpx.Client(base_url=server.url, timeout=30) as local:  # from 127.0.0.1, uvicorn's trusted host
            forged = [f"203.0.113.{i}" for i in range(1, 6)]
            one_account = [
                log_in(local, victim.email, WRONG, **{"X-Forwarded-For": ip}).status_code for ip in forged
            ]
        with client_from(server, place()) as sprayer:  # many accounts, a new forged address each time
            answers = [
                log_in(sprayer, f"nobody-{i}@example.org", WRONG, **{"X-Forwarded-For": f"198.51.100.{i}"})
                for i in range(21)
            ]
        assert [a.status_code for a in answers] == [401] * 20 + [429]
        return one_account, int(answers[-1].headers["Retry-After"])

    one_account, retry_after_s = served_meanwhile(server.url, attack)
    assert one_account == [401, 401, 401, 429, 429]
    assert 1 <= retry_after_s <= 900


def test_many_addresses_reach_the_account_ceiling_but_not_the_owners_known_address(
    server: ServeProcess, place: Callable[[], str]
) -> None:
    home = place()
    with client_from(server, home) as client:
        victim = sign_up(client)  # logs in from `home`: a known address of the account
    botnet = [place() for _ in range(17)]  # 17 × 3 free failures passes the ceiling of 50

    def guess(address: str) -> list[int]:
        with client_from(server, address) as bot:
            return [log_in(bot, victim.email, WRONG).status_code for _ in range(3)]

    def attack() -> list[int]:
        with ThreadPoolExecutor(2) as pool:  # 48 failures two at a time, then the last bot alone
            answers = [status for statuses in pool.map(guess, botnet[:-1]) for status in statuses]
        return answers + guess(botnet[-1])

    answers = served_meanwhile(server.url, attack)
    assert answers == [401] * 50 + [429]
    with client_from(server, place()) as stranger:
        refused = log_in(stranger, victim.email, victim.password)
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    with client_from(server, home) as client:
        assert log_in(client, victim.email, victim.password).status_code == 200


def test_concurrent_guesses_from_one_address_are_checked_one_at_a_time(
    server: ServeProcess, place: Callable[[], str]
) -> None:
    """Ten guesses sent at once must not all pass the check before the first failure is counted."""
    victim = owner(server, place)
    attacker = place()

    def guess(_: int) -> int:
        with client_from(server, attacker) as client:
            return log_in(client, victim.email, WRONG).status_code

    def attack() -> list[int]:
        with ThreadPoolExecutor(10) as pool:
            return list(pool.map(guess, range(10)))

    answers = served_meanwhile(server.url, attack)
    assert answers.count(401) <= 3 and answers.count(429) >= 7, answers


def test_sign_ups_are_throttled_per_address(server: ServeProcess, place: Callable[[], str]) -> None:
    """50 sign-up attempts an hour per address; an email already taken counts too (it answers 409)."""
    taken = owner(server, place).email

    def attack() -> list[httpx.Response]:
        with client_from(server, place()) as spammer:
            body = {"email": taken, "password": "correct horse battery"}
            return [spammer.post(f"{API}/users", json=body) for _ in range(51)]

    answers = served_meanwhile(server.url, attack)
    assert [a.status_code for a in answers] == [409] * 50 + [429]
    assert 1 <= int(answers[-1].headers["Retry-After"]) <= 3600
    with client_from(server, place()) as elsewhere:
        assert sign_up(elsewhere).id > 0


@pytest.mark.parametrize("password", ["too short", "password123", "QWERTYUIOP", "1234567890", "aaaaaaaaaaaa"])
def test_short_or_common_passwords_are_refused(
    server: ServeProcess, place: Callable[[], str], password: str
) -> None:
    with client_from(server, place()) as client:
        body = {"email": f"p-{uuid.uuid4().hex[:8]}@example.org", "password": password}
        refused = client.post(f"{API}/users", json=body)
        assert refused.status_code == 422, refused.text
        assert "password" in refused.text
        user = sign_up(client)
        change = {"password": password, "current_password": user.password}
        assert client.patch(f"{API}/me", json=change, headers=user.headers).status_code == 422


def test_log_in_matches_the_email_in_any_unicode_form(server: ServeProcess, place: Callable[[], str]) -> None:
    email = f"José-{uuid.uuid4().hex[:6]}@Exämple.org"
    with client_from(server, place()) as client:
        user = sign_up(client, email=unicodedata.normalize("NFC", email))
        for typed in (unicodedata.normalize("NFD", email), email.upper(), f"  {email} "):
            assert log_in(client, typed, user.password).status_code == 200, typed


def test_serve_believes_forwarded_headers_only_from_configured_proxies() -> None:
    assert proxy_options(Settings()) == {"proxy_headers": False, "forwarded_allow_ips": []}
    # a setting changed on purpose: the configured case is what this line checks
    configured = Settings(forwarded_allow_ips=["10.0.0.5", "192.168.1.0/24"])
    assert proxy_options(configured) == {
        "proxy_headers": True,
        "forwarded_allow_ips": ["10.0.0.5", "192.168.1.0/24"],
    }
