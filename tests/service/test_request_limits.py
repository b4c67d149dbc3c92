"""Request bodies against the running service: size limits answered before the body is read, authentication
before anything large is read, JSON nested too deeply refused with a reason, and other users served meanwhile.

Issue 15 found an unauthenticated 200 MB `POST /health` taking 77 s and 500 MB of memory, and JSON nested
1,000 deep answering 500. The limits are the defaults of service.config.Settings.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from service.config import Settings
from tests.support.server import LiveServer
from tests.support.users import TestUser, register_device, sign_up

DEFAULTS = Settings()
NOW_MS = int(time.time() * 1000)


def _raw_request(server: LiveServer, head: str, body: bytes = b"", wait_s: float = 5.0) -> tuple[int, bytes]:
    """Send a request's head (and maybe the start of its body) on a bare socket; the status and answer read
    within `wait_s`, without sending the rest of the body the head announces."""
    url = urlsplit(server.url)
    with socket.create_connection((url.hostname, url.port), timeout=wait_s) as sock:
        sock.sendall(head.replace("\n", "\r\n").encode() + b"\r\n" + body)
        answer = b""
        deadline = time.monotonic() + wait_s
        while b"\r\n\r\n" not in answer and time.monotonic() < deadline:
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
        try:  # the answer's body, when it came with the head
            sock.settimeout(0.5)
            answer += sock.recv(65536)
        except (TimeoutError, OSError):
            pass
    status = int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/") else 0
    return status, answer


def _head(
    method: str, path: str, length: int, token: str | None = None, kind: str = "application/json"
) -> str:
    auth = f"Authorization: Bearer {token}\n" if token else ""
    return f"{method} {path} HTTP/1.1\nHost: test\nContent-Type: {kind}\nContent-Length: {length}\n{auth}"


@pytest.fixture(scope="module")
def user(http: httpx.Client) -> TestUser:
    return sign_up(http)


@pytest.fixture(scope="module")
def device_id(http: httpx.Client, user: TestUser) -> int:
    return int(register_device(http, user)["id"])


@pytest.mark.parametrize("path", ["/api/v1/users", "/health", "/api/v1/auth/token"])
def test_a_body_announced_over_the_limit_is_answered_413_before_it_is_sent(
    server: LiveServer, path: str
) -> None:
    started = time.monotonic()
    status, answer = _raw_request(server, _head("POST", path, 200 * 2**20))
    assert status in (413, 405), answer[:300]  # /health takes no POST: 405, also without reading
    assert time.monotonic() - started < 3
    if status == 413:
        assert b'"detail"' in answer and b"larger than" in answer, answer[:300]


def test_ingest_asks_who_you_are_before_reading_the_body(server: LiveServer, device_id: int) -> None:
    # 3 MB announced (under the limit), none of it sent: a wrong token is answered at once.
    status, _ = _raw_request(
        server, _head("POST", f"/api/v1/devices/{device_id}/samples", 3 * 2**20, "forged")
    )
    assert status == 401


def test_a_streamed_body_is_cut_off_at_the_limit(server: LiveServer, user: TestUser, device_id: int) -> None:
    sent = 0

    def body() -> Iterator[bytes]:  # chunked: no Content-Length to check up front
        nonlocal sent
        yield b'{"samples": ['
        item = b'{"t": %d, "bpm": 70},' % NOW_MS
        while sent < 4 * DEFAULTS.max_body_bytes:
            sent += 64 * len(item)
            yield item * 64

    try:
        answer = httpx.post(
            f"{server.url}/api/v1/devices/{device_id}/samples", content=body(),
            headers={**user.headers, "Content-Type": "application/json"}, timeout=30,
        )  # fmt: skip
    except (httpx.WriteError, httpx.RemoteProtocolError, httpx.ReadError):
        assert sent > DEFAULTS.max_body_bytes  # the server answered and closed once the limit was passed
    else:
        assert answer.status_code == 413, answer.text
        assert "larger than" in answer.json()["detail"]


@pytest.mark.parametrize("escape", ["", "\\u0000"])
def test_json_nested_too_deeply_is_refused_with_a_reason(
    http: httpx.Client, user: TestUser, device_id: int, escape: str
) -> None:
    deep = "[" * 1000 + f'"{escape}"' + "]" * 1000
    for path, body in [
        ("/api/v1/checkins", f'{{"date": "2026-01-01", "mood": 3, "confidence": {deep}}}'),
        (f"/api/v1/devices/{device_id}/samples", f'{{"samples": {deep}}}'),
        ("/api/v1/users", f'{{"email": {deep}, "password": "x"}}'),  # no token needed
    ]:
        headers = {"Content-Type": "application/json", **(user.headers if "users" not in path else {})}
        answer = http.post(path, content=body.encode(), headers=headers)
        assert answer.status_code == 422, (path, answer.status_code, answer.text[:300])
        assert answer.json()["detail"], path


def test_text_no_database_can_store_is_refused_after_the_limit_is_checked(http: httpx.Client) -> None:
    answer = http.post("/api/v1/users", content=b'{"email": "a\\u0000@example.com", "password": "long enough 1"}',
                       headers={"Content-Type": "application/json"})  # fmt: skip
    assert answer.status_code == 422 and "NUL" in answer.json()["detail"]


def test_a_batch_of_the_largest_size_still_fits_the_body_limit(
    http: httpx.Client, user: TestUser, device_id: int
) -> None:
    start = NOW_MS - 2 * 86_400_000
    samples = [{"t": start + i * 1000, "bpm": 150, "rr_ms": [400.0, 400.0], "contact": True}
               for i in range(DEFAULTS.max_batch_samples)]  # fmt: skip
    answer = http.post(
        f"/api/v1/devices/{device_id}/samples", json={"samples": samples}, headers=user.headers
    )
    assert answer.status_code == 200, answer.text[:300]
    assert answer.json()["accepted"] == DEFAULTS.max_batch_samples


def test_imports_take_files_larger_than_the_json_limit_and_refuse_past_theirs(
    server: LiveServer, http: httpx.Client, user: TestUser
) -> None:
    start_s = NOW_MS // 1000 - 3 * 86_400
    rows = "".join(f"{(start_s + i) * 1000},{90 + i % 40}\n" for i in range(400_000))  # epoch ms
    csv = ("t,bpm\n" + rows).encode()
    assert len(csv) > DEFAULTS.max_body_bytes
    answer = http.post("/api/v1/imports", files={"file": ("big.csv", csv, "text/csv")}, headers=user.headers)
    assert answer.status_code == 200, answer.text[:300]
    assert answer.json()["read"] == 400_000
    status, raw = _raw_request(
        server,
        _head(
            "POST",
            "/api/v1/imports",
            DEFAULTS.max_upload_bytes + 1,
            user.token,
            "multipart/form-data; boundary=x",
        ),
    )
    assert status == 413, raw[:300]


def test_others_are_served_within_a_second_while_a_large_body_trickles_in(
    server: LiveServer, http: httpx.Client, device_id: int, user: TestUser
) -> None:
    other = sign_up(http)
    stop = threading.Event()

    def trickle() -> None:
        url = urlsplit(server.url)
        head = _head("POST", f"/api/v1/devices/{device_id}/samples", DEFAULTS.max_body_bytes - 1, user.token)
        with socket.create_connection((url.hostname, url.port), timeout=10) as sock:
            sock.sendall(head.replace("\n", "\r\n").encode() + b"\r\n" + b'{"samples": [')
            while not stop.is_set():
                sock.sendall(b" " * 4096)
                time.sleep(0.01)

    sender = threading.Thread(target=trickle, daemon=True)
    sender.start()
    try:
        time.sleep(0.5)
        for _ in range(5):
            started = time.monotonic()
            assert http.get("/api/v1/me", headers=other.headers).status_code == 200
            assert time.monotonic() - started < 1.0
    finally:
        stop.set()
        sender.join(timeout=10)
