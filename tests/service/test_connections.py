"""Connections against a real `chinup serve` process: sockets that never finish their headers are closed
and do not crowd out other users, idle keep-alive connections are closed, a connection cap answers 503,
and no token or ticket reaches the access log."""

from __future__ import annotations

import os
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from service.config import Settings
from tests.support.bystander import served_meanwhile
from tests.support.server import ServeProcess
from tests.support.users import sign_up

SLOW_SOCKETS = 500
DEFAULTS = Settings()


def _serve(tmp: Path, **env: str) -> ServeProcess:
    """`chinup serve -v` (the access log on) on SQLite: connection handling is the HTTP server's, the same
    for every database, so one backend is enough here."""
    served = ServeProcess(f"sqlite:///{tmp / 'c.sqlite3'}", tmp, env={**os.environ, **env}, args=["-v"])
    served.start(timeout_s=30)
    return served


@pytest.fixture(scope="module")
def serve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    served = _serve(tmp_path_factory.mktemp("serve"))
    yield served
    served.stop(signal.SIGINT)


def _closed_by_server(sock: socket.socket, within_s: float) -> float | None:
    """Seconds until the server closed the socket (recv gives b"" or a reset), None if it stayed open."""
    started = time.monotonic()
    sock.settimeout(within_s)
    try:
        while sock.recv(65536):
            pass
    except TimeoutError:
        return None
    except ConnectionResetError:
        pass
    return time.monotonic() - started


def test_sockets_that_never_finish_their_headers_neither_crowd_out_others_nor_stay(serve: ServeProcess) -> None:
    sockets: list[socket.socket] = []

    def attack() -> None:
        for _ in range(SLOW_SOCKETS):
            sock = socket.create_connection(("127.0.0.1", serve.port))
            sock.sendall(b"GET /api/v1/me HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")  # and nothing more
            sockets.append(sock)
        time.sleep(2)  # all of them held open while the bystander keeps asking

    opened = time.monotonic()
    try:
        served_meanwhile(serve.url, attack, within_s=1.0)
        assert len(sockets) == SLOW_SOCKETS
        # the header deadline closes every one of them (uvicorn alone would keep them for ever)
        wait_s = DEFAULTS.http_header_timeout_s + 5 - (time.monotonic() - opened)
        still_open = [s for s in sockets if _closed_by_server(s, max(wait_s, 0.5)) is None]
        assert not still_open, f"{len(still_open)} slow sockets still open"
    finally:
        for sock in sockets:
            sock.close()


def test_headers_over_their_limit_close_the_connection(serve: ServeProcess) -> None:
    with socket.create_connection(("127.0.0.1", serve.port)) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ")
        try:
            sock.sendall(b"a" * (DEFAULTS.http_max_header_bytes + 1024))
        except (BrokenPipeError, ConnectionResetError):
            return
        took_s = _closed_by_server(sock, 3.0)
    assert took_s is not None, "a connection kept sending headers past the limit"


def test_idle_keep_alive_connections_are_closed_after_the_timeout(serve: ServeProcess) -> None:
    with socket.create_connection(("127.0.0.1", serve.port)) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        sock.settimeout(5)
        assert sock.recv(65536).startswith(b"HTTP/1.1 200")
        answered = time.monotonic()
        took_s = _closed_by_server(sock, DEFAULTS.http_keep_alive_timeout_s + 5)
    assert took_s is not None, "an idle keep-alive connection stayed open"
    idle_s = time.monotonic() - answered
    assert DEFAULTS.http_keep_alive_timeout_s - 1 <= idle_s <= DEFAULTS.http_keep_alive_timeout_s + 2


def test_no_token_or_ticket_reaches_the_access_log(serve: ServeProcess, tmp_path: Path) -> None:
    with httpx.Client(base_url=serve.url, timeout=10) as http:
        user = sign_up(http)
        ticket = http.post("/api/v1/live/ticket", headers=user.headers).json()["ticket"]
        with http.stream("GET", "/api/v1/live", params={"ticket": ticket}) as stream:
            assert stream.status_code == 200
        with http.stream("GET", "/api/v1/live", params={"access_token": user.token}) as stream:
            assert stream.status_code == 200
    deadline = time.monotonic() + 5
    while "access_token=***" not in serve.log and time.monotonic() < deadline:
        time.sleep(0.1)
    logged = serve.log
    assert "ticket=***" in logged and "access_token=***" in logged
    assert ticket not in logged and user.token not in logged


def test_past_the_connection_cap_new_requests_answer_503(tmp_path: Path) -> None:
    # A cap of 20 instead of the default 2,000, so that the test need not open 2,000 sockets.
    served = _serve(tmp_path, CHINUP_HTTP_MAX_CONNECTIONS="20")
    idle = [socket.create_connection(("127.0.0.1", served.port)) for _ in range(20)]
    try:
        time.sleep(0.3)
        assert httpx.get(f"{served.url}/health", timeout=5).status_code == 503
        for sock in idle:
            sock.close()
        deadline = time.monotonic() + 3
        while httpx.get(f"{served.url}/health", timeout=5).status_code != 200:
            assert time.monotonic() < deadline, "the cap did not free when the connections closed"
            time.sleep(0.1)
    finally:
        for sock in idle:
            sock.close()
        served.stop(signal.SIGINT)
