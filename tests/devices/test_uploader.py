"""The uploader: pure retry policy, then against the real service on a real socket (uvicorn, SQLite)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from devices.errors import UploadRefused
from devices.spool import Spool, SpooledSample
from devices.uploader import (
    BACKOFF_BASE_S,
    BACKOFF_CAP_S,
    RETRY_AFTER_MAX_S,
    Uploader,
    backoff_delay,
    is_retryable_status,
    parse_retry_after,
)
from service.config import Settings
from tests.support.server import LiveServer, free_port
from tests.support.users import TestUser, register_device, sign_up

KEY = "C0:FF:EE:00:00:01"
T0_MS = int(time.time() * 1000) - 3_600_000  # an hour ago: inside what the service accepts
FAST = {"backoff_base_s": 0.02, "backoff_cap_s": 0.2, "idle_poll_s": 0.02}

# --- pure: the retry policy ------------------------------------------------------------------------------


@pytest.mark.parametrize("attempt", range(12))
def test_backoff_stays_within_the_exponential_ceiling(attempt: int) -> None:
    rng = random.Random(attempt)
    ceiling = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2**attempt)
    delays = [backoff_delay(attempt, rng=rng) for _ in range(500)]
    assert all(0.0 <= d <= ceiling for d in delays)
    assert max(delays) > 0.9 * ceiling  # full jitter uses the whole range ...
    assert min(delays) < 0.1 * ceiling  # ... down to nearly zero


def test_backoff_full_jitter_averages_half_the_ceiling() -> None:
    rng = random.Random(1)
    delays = [backoff_delay(3, base_s=1.0, cap_s=100.0, rng=rng) for _ in range(20_000)]
    assert sum(delays) / len(delays) == pytest.approx(4.0, rel=0.03)


def test_backoff_is_capped_and_never_overflows() -> None:
    rng = random.Random(2)
    assert all(backoff_delay(a, cap_s=7.0, rng=rng) <= 7.0 for a in (20, 1023, 10**6))


def test_backoff_is_a_pure_function_of_attempt_and_rng() -> None:
    assert [backoff_delay(a, rng=random.Random(5)) for a in range(8)] == [
        backoff_delay(a, rng=random.Random(5)) for a in range(8)
    ]


def test_backoff_refuses_a_negative_attempt() -> None:
    with pytest.raises(ValueError):
        backoff_delay(-1, rng=random.Random())


@pytest.mark.parametrize(
    ("status", "retry"),
    [
        (408, True),
        (425, True),
        (429, True),
        (500, True),
        (502, True),
        (503, True),
        (504, True),
        (400, False),
        (401, False),
        (403, False),
        (404, False),
        (409, False),
        (413, False),
        (422, False),
    ],
)
def test_which_answers_are_worth_retrying(status: int, retry: bool) -> None:
    assert is_retryable_status(status) is retry


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        (None, None),
        ("3", 3.0),
        ("1.5", 1.5),
        ("-4", 0.0),
        ("99999", RETRY_AFTER_MAX_S),
        ("nan", None),
        ("Wed, 21 Oct 2015 07:28:00 GMT", None),
    ],
)
def test_retry_after_header(header: str | None, seconds: float | None) -> None:
    assert parse_retry_after(header) == seconds


# --- against the real service ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Registered:
    user: TestUser
    device_id: int
    token: str


def register(base_url: str, user: TestUser | None = None) -> Registered:
    """A new strap (and a user, unless given) through the public API (blocking: run it in a thread)."""
    address = ":".join(f"{random.randrange(256):02X}" for _ in range(6))  # the service keys straps by address
    with httpx.Client() as client:
        user = user or sign_up(client, base_url)
        device = register_device(client, user, base_url, address=address)
    return Registered(user, int(device["id"]), str(device["upload_token"]))


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, TestUser]]:
    """One server and one user for the tests that never stop it (password hashing is slow on purpose)."""
    data_dir = tmp_path_factory.mktemp("service")
    server = LiveServer(Settings(database_url=f"sqlite:///{data_dir / 'live.sqlite3'}", data_dir=data_dir))
    server.start()
    try:
        yield server, register(server.url).user
    finally:
        server.stop()


@pytest.fixture
def strap(service: tuple[LiveServer, TestUser]) -> tuple[str, Registered]:
    """A fresh device on the shared server: its base URL and credentials."""
    server, user = service
    return server.url, register(server.url, user)


def stored(base_url: str, who: Registered) -> list[dict[str, object]]:
    """What the service holds for the device, in time order."""
    answer = httpx.get(f"{base_url}/api/v1/devices/{who.device_id}/samples", headers=who.user.headers)
    assert answer.status_code == 200, answer.text
    return list(answer.json())


def recent(start: int, n: int) -> list[SpooledSample]:
    """Samples one second apart from T0_MS, with RR lists and every contact value."""
    return [
        SpooledSample(
            T0_MS + 1000 * i,
            60 + i % 90,
            (1000 * (800 + i % 50) / 1024,) * (i % 3),
            (None, True, False)[i % 3],
        )
        for i in range(start, start + n)
    ]


def uploader(
    spool: Spool, client: httpx.AsyncClient, url: str, who: Registered, **kwargs: object
) -> Uploader:
    return Uploader(
        spool,
        client=client,
        server_url=url,
        device_key=KEY,
        device_id=who.device_id,
        token=who.token,
        rng=random.Random(0),
        **{**FAST, **kwargs},
    )  # type: ignore[arg-type]


@pytest.mark.anyio
async def test_a_batch_uploaded_once_is_stored_once_and_exactly(
    strap: tuple[str, Registered], tmp_path: Path
) -> None:
    url, who = strap
    samples = recent(0, 250)
    with Spool(tmp_path / "s.db") as spool:
        spool.append(KEY, samples)
        async with httpx.AsyncClient() as client:
            up = uploader(spool, client, url, who, batch_size=100)
            assert await up.drain(timeout_s=30)
            assert spool.depth() == 0
            assert (await up.upload_once()).sent == 0  # nothing left to send
    assert (up.counters.uploaded, up.counters.duplicates, up.counters.batches) == (250, 0, 3)
    rows = await asyncio.to_thread(stored, url, who)
    assert [(r["t_ms"], r["bpm"], r["contact"]) for r in rows] == [
        (s.t_ms, s.bpm, s.contact) for s in samples
    ]
    assert [r["rr_ms"] for r in rows] == [pytest.approx(list(s.rr_ms), abs=1e-6) for s in samples]


class ResponseDroppingProxy:
    """TCP proxy to the service that hangs up on the first `drop` connections as soon as the service answers.

    The service has then processed and committed the batch, but the uploader never hears so: a lost ack.
    """

    def __init__(self, upstream_port: int, drop: int) -> None:
        self.upstream_port, self.drop, self.dropped = upstream_port, drop, 0
        self.port = 0
        self._handlers: set[asyncio.Task[None]] = set()

    @contextlib.asynccontextmanager
    async def serving(self) -> AsyncIterator[ResponseDroppingProxy]:
        server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        async with server:
            try:
                yield self
            finally:  # a kept-alive connection's handler would otherwise be collected with its sockets open
                for task in self._handlers:
                    task.cancel()
                await asyncio.gather(*self._handlers, return_exceptions=True)

    async def _handle(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        task.add_done_callback(self._handlers.discard)
        writers = [client_w]
        try:
            up_r, up_w = await asyncio.open_connection("127.0.0.1", self.upstream_port)
            writers.append(up_w)
            drop = self.dropped < self.drop
            forward = asyncio.create_task(self._pump(client_r, up_w))
            try:
                if drop:
                    await up_r.read(1)  # the service answered: it has stored the batch
                    self.dropped += 1
                else:
                    await self._pump(up_r, client_w)
            finally:
                forward.cancel()
                await asyncio.gather(forward, return_exceptions=True)
        finally:
            for writer in writers:
                writer.close()
                with contextlib.suppress(ConnectionError, asyncio.CancelledError):
                    await writer.wait_closed()

    @staticmethod
    async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()


@pytest.mark.anyio
async def test_a_resend_after_a_lost_ack_gives_duplicates_not_doubles(
    strap: tuple[str, Registered], tmp_path: Path
) -> None:
    url, who = strap
    samples = recent(0, 120)
    async with ResponseDroppingProxy(int(url.rsplit(":", 1)[1]), drop=1).serving() as proxy:
        with Spool(tmp_path / "s.db") as spool:
            spool.append(KEY, samples)
            async with httpx.AsyncClient() as client:
                up = uploader(spool, client, f"http://127.0.0.1:{proxy.port}", who)
                assert await up.drain(timeout_s=30)
    assert proxy.dropped == 1
    assert (up.counters.retries, up.counters.uploaded, up.counters.duplicates) == (1, 0, 120)
    assert len(await asyncio.to_thread(stored, url, who)) == 120


@pytest.mark.anyio
async def test_a_service_down_for_a_while_loses_nothing(live_server: LiveServer, tmp_path: Path) -> None:
    who = await asyncio.to_thread(register, live_server.url)
    stop = asyncio.Event()
    with Spool(tmp_path / "s.db") as spool:
        await asyncio.to_thread(spool.append, KEY, recent(0, 50))
        async with httpx.AsyncClient() as client:
            up = uploader(spool, client, live_server.url, who)
            runner = asyncio.create_task(up.run(stop))
            await wait_for(lambda: spool.depth() == 0)
            await asyncio.to_thread(live_server.stop)
            for start in range(50, 200, 50):  # the strap keeps streaming while the service is away
                await asyncio.to_thread(spool.append, KEY, recent(start, 50))
                await asyncio.sleep(0.1)
            await wait_for(lambda: up.counters.retries >= 3)
            assert spool.depth() == 150  # nothing acked while nobody answered
            await asyncio.to_thread(live_server.start)
            await wait_for(lambda: spool.depth() == 0)
            stop.set()
            await asyncio.wait_for(runner, timeout=5)
    rows = await asyncio.to_thread(stored, live_server.url, who)
    assert [r["t_ms"] for r in rows] == [s.t_ms for s in recent(0, 200)]
    assert (up.counters.uploaded, up.counters.duplicates) == (200, 0)


async def wait_for(condition: object, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


@pytest.mark.anyio
async def test_rejected_samples_are_acked_counted_and_logged(
    strap: tuple[str, Registered], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url, who = strap
    good = recent(0, 3)
    bad = SpooledSample(good[-1].t_ms + 1000, 300)  # no heart beats at 300 bpm
    with Spool(tmp_path / "s.db") as spool:
        spool.append(KEY, [*good, bad])
        async with httpx.AsyncClient() as client:
            up = uploader(spool, client, url, who)
            with caplog.at_level(logging.WARNING, logger="devices.uploader"):
                result = await up.upload_once()
        assert spool.depth() == 0  # retrying would not help
    assert (result.sent, result.accepted, result.duplicates) == (4, 3, 0)
    [rejection] = result.rejected
    assert rejection.t_ms == bad.t_ms and "300" in rejection.reason
    assert up.counters.rejected == 1
    assert any(KEY in r.getMessage() and rejection.reason in r.getMessage() for r in caplog.records)


@pytest.mark.anyio
@pytest.mark.parametrize("case", ["bad token", "another device's token", "unknown device"])
async def test_refusals_that_retrying_cannot_fix_raise_and_keep_the_samples(
    strap: tuple[str, Registered], tmp_path: Path, case: str
) -> None:
    url, who = strap
    if case == "bad token":
        device_id, token, status = who.device_id, "not-a-token", 401
    elif case == "another device's token":
        other = await asyncio.to_thread(register, url, who.user)
        device_id, token, status = who.device_id, other.token, 403
    else:
        device_id, token, status = 999_999, who.user.token, 404
    with Spool(tmp_path / "s.db") as spool:
        spool.append(KEY, recent(0, 5))
        async with httpx.AsyncClient() as client:
            up = Uploader(
                spool, client=client, server_url=url, device_key=KEY, device_id=device_id, token=token, **FAST
            )  # type: ignore[arg-type]
            with pytest.raises(UploadRefused) as caught:
                await asyncio.wait_for(up.run(asyncio.Event()), timeout=20)
        assert spool.depth() == 5
    assert caught.value.status_code == status
    assert up.counters.retries == 0


@pytest.mark.anyio
async def test_a_batch_over_the_service_cap_is_halved_until_it_fits(tmp_path: Path) -> None:
    server = LiveServer(
        Settings(
            database_url=f"sqlite:///{tmp_path / 'cap.sqlite3'}", data_dir=tmp_path, max_batch_samples=40
        )
    )
    await asyncio.to_thread(server.start)
    try:
        who = await asyncio.to_thread(register, server.url)
        with Spool(tmp_path / "s.db") as spool:
            spool.append(KEY, recent(0, 130))
            async with httpx.AsyncClient() as client:
                up = uploader(spool, client, server.url, who, batch_size=160)
                assert await up.drain(timeout_s=30)
        assert up.batch_size <= 40 and up.counters.uploaded == 130  # 130 -> 65 -> 32
        assert len(await asyncio.to_thread(stored, server.url, who)) == 130
    finally:
        await asyncio.to_thread(server.stop)


@pytest.mark.anyio
async def test_drain_gives_up_at_its_timeout_while_the_service_is_away(tmp_path: Path) -> None:
    nobody = f"http://127.0.0.1:{free_port()}"  # connection refused, as when the service is down
    with Spool(tmp_path / "s.db") as spool:
        spool.append(KEY, recent(0, 5))
        async with httpx.AsyncClient() as client:
            up = Uploader(
                spool,
                client=client,
                server_url=nobody,
                device_key=KEY,
                device_id=1,
                token="t",
                rng=random.Random(0),
                **FAST,
            )  # type: ignore[arg-type]
            started = time.monotonic()
            assert not await up.drain(timeout_s=0.5)
            assert time.monotonic() - started < 3
        assert spool.depth() == 5 and up.counters.retries >= 2
        assert up.counters.last_error is not None and "ConnectError" in up.counters.last_error


@pytest.mark.anyio
async def test_run_stops_promptly_when_idle(tmp_path: Path) -> None:
    stop = asyncio.Event()
    with Spool(tmp_path / "s.db") as spool:
        async with httpx.AsyncClient() as client:
            up = Uploader(
                spool,
                client=client,
                server_url=f"http://127.0.0.1:{free_port()}",
                device_key=KEY,
                device_id=1,
                token="t",
                idle_poll_s=60.0,
            )
            runner = asyncio.create_task(up.run(stop))
            await asyncio.sleep(0.2)
            stop.set()
            await asyncio.wait_for(runner, timeout=2)
    assert up.counters.batches == 0 and up.counters.retries == 0


def test_batch_size_must_be_positive(tmp_path: Path) -> None:
    with Spool(tmp_path / "s.db") as spool, pytest.raises(ValueError):
        Uploader(
            spool,
            client=httpx.AsyncClient(),
            server_url="http://x",
            device_key=KEY,
            device_id=1,
            token="t",
            batch_size=0,
        )
