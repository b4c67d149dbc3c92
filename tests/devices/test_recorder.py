"""`record()` end to end: virtual strap -> Bumble -> bleak -> spool -> uploader -> real service (uvicorn)."""

from __future__ import annotations

import asyncio
import statistics
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from devices.errors import UploadRefused
from devices.recorder import record
from devices.replay import REPLAY_FUTURE_MARGIN_S, ScaledClock, record_replay
from devices.simulator import Tick, VirtualStrap
from tests.support.server import LiveServer
from tests.support.users import TestUser, sign_up

pytestmark = pytest.mark.anyio


def stored(server: LiveServer, user: TestUser, device_id: int) -> list[dict[str, object]]:
    answer = httpx.get(f"{server.url}/api/v1/devices/{device_id}/samples", headers=user.headers, timeout=10)
    assert answer.status_code == 200, answer.text
    return list(answer.json())


def is_subsequence(part: list[object], whole: list[object]) -> bool:
    items = iter(whole)
    return all(any(x == y for y in items) for x in part)


def t_ms(row: dict[str, object]) -> float:
    return datetime.fromisoformat(str(row["t"])).timestamp() * 1000


@pytest.fixture
def user(live_server: LiveServer) -> TestUser:
    with httpx.Client(timeout=10) as client:
        return sign_up(client, live_server.url)


def test_scaled_clock_runs_faster_from_now() -> None:
    clock = ScaledClock(20.0, now=lambda: 1_000.0)
    assert 1_000.0 <= clock() < 1_001.0


def test_a_long_fast_replay_starts_early_enough_never_to_run_into_the_future() -> None:
    short = ScaledClock.for_replay(20.0, 60.0, now=lambda: 1_000.0)  # ends 57 s ahead: starts now
    assert 1_000.0 <= short() < 1_001.0
    long = ScaledClock.for_replay(20.0, 300.0, now=lambda: 1_000.0)  # would end 285 s ahead of real time
    start = long()
    real_end = 1_000.0 + 300.0 / 20
    assert start + 300.0 - real_end == pytest.approx(REPLAY_FUTURE_MARGIN_S, abs=1.0)
    assert ScaledClock.for_replay(1.0, 3_600.0, now=lambda: 1_000.0)() == pytest.approx(1_000.0, abs=1.0)


async def test_replay_reaches_the_database_exactly_once_with_its_own_spacing(
    live_server: LiveServer, user: TestUser, tmp_path: Path
) -> None:
    replay = tmp_path / "ride.csv"
    replay.write_text("t,bpm\n" + "".join(f"{i},{90 + i % 40}\n" for i in range(60)))
    result = await record_replay(
        server_url=live_server.url,
        token=user.token,
        transport="virtual",
        replay=replay,
        speed=20.0,
        seconds=2.0,
        spool_path=tmp_path / "spool.sqlite3",
    )
    rows = await asyncio.to_thread(stored, live_server, user, result.device_id)
    assert result.samples_spooled >= 10 and result.spool_depth == 0
    assert len(rows) == result.samples_spooled == result.uploaded and result.duplicates == 0
    times_ms = [t_ms(r) for r in rows]
    gaps_ms = [b - a for a, b in zip(times_ms, times_ms[1:], strict=False)]
    assert 800 <= statistics.median(gaps_ms) <= 1200  # the recording's 1 s spacing, at 20x speed


async def test_device_token_uploads_to_its_device(
    live_server: LiveServer, user: TestUser, tmp_path: Path
) -> None:
    replay = tmp_path / "r.csv"
    replay.write_text("t,bpm\n" + "".join(f"{i},70\n" for i in range(100)))
    async with httpx.AsyncClient(timeout=10) as client:
        answer = await client.post(
            f"{live_server.url}/api/v1/devices",
            json={"name": "Kept", "address": "C0:00:00:00:00:01"},
            headers=user.headers,
        )
    device = answer.json()
    result = await record_replay(
        server_url=live_server.url,
        token=device["upload_token"],
        transport="virtual",
        replay=replay,
        speed=20.0,
        seconds=1.0,
        spool_path=tmp_path / "spool.sqlite3",
    )
    assert result.device_id == device["id"]
    rows = await asyncio.to_thread(stored, live_server, user, device["id"])
    assert len(rows) == result.samples_spooled > 0


async def test_a_refused_token_is_reported(live_server: LiveServer, tmp_path: Path) -> None:
    replay = tmp_path / "r.csv"
    replay.write_text("t,bpm\n0,70\n1,71\n")
    with pytest.raises(UploadRefused):
        await record_replay(
            server_url=live_server.url,
            token="not-a-token",
            transport="virtual",
            replay=replay,
            speed=5.0,
            seconds=5.0,
            spool_path=tmp_path / "spool.sqlite3",
        )


async def _record_own_strap(
    live_server: LiveServer, user: TestUser, tmp_path: Path, seconds: float, chaos
) -> tuple[VirtualStrap, object]:
    """Record a strap this test controls, running `chaos(strap)` alongside."""
    script = [Tick(float(i), 60 + i % 50, (1000.0 * 60 / (60 + i % 50),)) for i in range(1, 10_000)]
    async with VirtualStrap("virtual", script, name="Chaos", speed=10.0) as strap:
        async with asyncio.TaskGroup() as tasks:
            recording = tasks.create_task(
                record(
                    server_url=live_server.url,
                    token=user.token,
                    transport="virtual",
                    name="Chaos",
                    seconds=seconds,
                    spool_path=tmp_path / "spool.sqlite3",
                )
            )
            tasks.create_task(chaos(strap))
        return strap, recording.result()


async def test_link_drops_every_few_seconds_lose_nothing_that_was_sent(
    live_server: LiveServer, user: TestUser, tmp_path: Path
) -> None:
    async def drop_every_second(strap: VirtualStrap) -> None:
        for _ in range(4):
            await asyncio.sleep(1.0)
            await strap.drop_link()

    strap, result = await _record_own_strap(live_server, user, tmp_path, 6.0, drop_every_second)
    rows = await asyncio.to_thread(stored, live_server, user, result.device_id)
    assert result.disconnections >= 3 and result.connections >= 4
    # every notification received is stored exactly once; only one in flight at a drop or at the end may be lost
    assert len(rows) == result.samples_spooled == result.notifications
    in_flight_max = strap.counters.links_dropped + 1
    assert 0 <= strap.counters.notifications_sent - result.notifications <= in_flight_max
    assert is_subsequence([r["bpm"] for r in rows], [m.bpm for m in strap.counters.sent])
    times = [t_ms(r) for r in rows]
    assert times == sorted(set(times))


async def test_service_down_for_a_while_loses_nothing(
    live_server: LiveServer, user: TestUser, tmp_path: Path
) -> None:
    async def take_the_service_away(_strap: VirtualStrap) -> None:
        await asyncio.sleep(1.0)
        await asyncio.to_thread(live_server.stop)
        await asyncio.sleep(2.0)
        await asyncio.to_thread(live_server.start)

    strap, result = await _record_own_strap(live_server, user, tmp_path, 5.0, take_the_service_away)
    rows = await asyncio.to_thread(stored, live_server, user, result.device_id)
    assert len(rows) == result.samples_spooled == result.notifications > 30
    assert 0 <= strap.counters.notifications_sent - result.notifications <= 1  # one in flight at the end
    assert result.spool_depth == 0


@pytest.mark.slow
@pytest.mark.timeout(120)
async def test_a_replay_of_300_rows_at_20x_arrives_whole_in_order_rr_within_a_tick(
    live_server: LiveServer, user: TestUser, tmp_path: Path
) -> None:
    replay = tmp_path / "ride.csv"
    bpm = [80 + (i * 7) % 90 for i in range(300)]
    rr_ms = [round(60000 / b, 1) for b in bpm]  # ms as a strap export writes them, not exact in 1/1024 s
    rows_text = "".join(f"{i},{b},{r}\n" for i, (b, r) in enumerate(zip(bpm, rr_ms, strict=True)))
    replay.write_text("t,bpm,rr_ms\n" + rows_text)
    started = asyncio.get_running_loop().time()
    result = await record_replay(
        server_url=live_server.url, token=user.token, transport="virtual", replay=replay, speed=20.0,
        spool_path=tmp_path / "spool.sqlite3",
    )  # fmt: skip
    took_s = asyncio.get_running_loop().time() - started
    rows = await asyncio.to_thread(stored, live_server, user, result.device_id)
    assert result.connections == 1 and result.recorded
    assert len(rows) == 300 == result.samples_spooled, f"{len(rows)} of 300 stored"  # the start was not lost
    # a batch re-sent after a lost answer counts as duplicates
    assert result.uploaded + result.duplicates == 300
    assert [r["bpm"] for r in rows] == bpm  # in order, each once
    tick_ms = 1000 / 1024
    pairs = zip(rows, rr_ms, strict=True)
    assert all(len(r["rr_ms"]) == 1 and abs(r["rr_ms"][0] - want) <= tick_ms for r, want in pairs)  # type: ignore[index, arg-type]
    times = [t_ms(r) for r in rows]
    assert times == sorted(set(times))
    assert took_s < 15 + 10  # ends by itself once the replay is over (300 s at 20x = 15 s)
