"""Faults: the service SIGKILLed and PostgreSQL restarted under uploads from spooled recorders, a full spool
under a live recording, and a strap that sends 0 bpm or nonsense for minutes.

The recorders here are the real devices.spool + devices.uploader pair against `chinup serve` run as its own
process; afterwards every sample a recorder spooled is in the database exactly once.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import random
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from devices.errors import SpoolFull
from devices.recorder import StrapPipeline, run_pipeline
from devices.replay import ScaledClock
from devices.simulator import Tick, VirtualStrap
from devices.spool import MIN_MAX_BYTES, Spool, SpooledSample
from devices.strap import StrapLink
from devices.uploader import Uploader
from service.cli.record_view import status_line
from tests.support.server import LiveServer, ServeProcess
from tests.support.settle import wait_for_analysis
from tests.support.users import TestUser, register_device, sign_up

N_RECORDERS = 4
T0_MS = int(time.time() * 1000) - 86_400_000  # yesterday: samples replayed fast stay in the past


def wait_until_answers_with(url: str, headers: dict[str, str], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if httpx.get(url, headers=headers, timeout=5).status_code == 200:
            return
        time.sleep(0.2)
    raise AssertionError(f"{url} did not answer 200 within {timeout_s} s")


@contextmanager
def serve(db_url: str, tmp_path: Path) -> Iterator[ServeProcess]:
    """`chinup serve` with the production settings, as its own process on a fixed port (killed and started
    again there by the tests)."""
    server = ServeProcess(db_url, tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


class SpooledRecorder:
    """A strap's worth of samples appended to its own spool at ~20 Hz, and the uploader draining it."""

    def __init__(
        self, n: int, spool_dir: Path, server_url: str, device: dict[str, object], client: httpx.AsyncClient
    ):
        self.key = f"AA:00:00:00:00:{n:02X}"
        self.spool = Spool(spool_dir / f"spool-{n}.sqlite3")
        self.uploader = Uploader(
            self.spool, client=client, server_url=server_url, device_key=self.key, device_id=int(device["id"]),
            token=str(device["upload_token"]), batch_size=20, backoff_base_s=0.1, backoff_cap_s=1.0,
            idle_poll_s=0.1, rng=random.Random(n),
        )  # fmt: skip
        self.appended = 0

    async def produce(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            sample = SpooledSample(T0_MS + self.appended * 1000, 60 + self.appended % 100, (800.0,), True)
            await asyncio.to_thread(self.spool.append, self.key, [sample])
            self.appended += 1
            await asyncio.sleep(0.05)


async def run_recorders(
    server_url: str, user: TestUser, spool_dir: Path, fault: object
) -> list[SpooledRecorder]:
    """Recorders upload while `fault()` runs; then they stop producing and drain their spools to the end."""
    with httpx.Client(timeout=10) as sync_client:
        devices = [register_device(sync_client, user, server_url) for _ in range(N_RECORDERS)]
    async with httpx.AsyncClient(timeout=10) as client:
        recorders = [SpooledRecorder(i, spool_dir, server_url, d, client) for i, d in enumerate(devices)]
        stop_producing, stop_uploading = asyncio.Event(), asyncio.Event()
        async with asyncio.TaskGroup() as tasks:
            for rec in recorders:
                tasks.create_task(rec.produce(stop_producing))
                tasks.create_task(rec.uploader.run(stop_uploading))
            await fault()  # type: ignore[operator]
            await asyncio.sleep(1.0)
            stop_producing.set()
            stop_uploading.set()
        for rec in recorders:
            assert await rec.uploader.drain(60), f"{rec.key}: spool not drained"
            rec.spool.close()
    return recorders


def stored_per_device(db_url: str, user_id: int) -> dict[int, tuple[int, int]]:
    """(rows, distinct times) per device of the user, straight from the database."""
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT device_id, count(*), count(DISTINCT t_ms) FROM samples WHERE user_id = :u GROUP BY device_id"
                ),
                {"u": user_id},
            ).all()
    finally:
        engine.dispose()
    return {int(d): (int(n), int(distinct)) for d, n, distinct in rows}


def assert_exactly_once(db_url: str, user: TestUser, recorders: list[SpooledRecorder]) -> None:
    stored = stored_per_device(db_url, user.id)
    for rec in recorders:
        device_id = int(rec.uploader.url.split("/devices/")[1].split("/")[0])
        assert stored[device_id] == (rec.appended, rec.appended), (rec.key, stored[device_id], rec.appended)
        # Stored once each (above). A batch stored just before the kill, whose answer never came, is sent
        # again and comes back as duplicates: accepted + duplicates cover every sample, accepted never more.
        counters = rec.uploader.counters
        assert counters.uploaded <= rec.appended <= counters.uploaded + counters.duplicates
        assert rec.spool.path and rec.appended > 20


# -- the service killed --------------------------------------------------------------------------------------


@pytest.mark.slow
def test_sigkill_of_the_service_loses_and_doubles_nothing(db_url: str, tmp_path: Path) -> None:
    with serve(db_url, tmp_path) as server:
        with httpx.Client(timeout=10) as client:
            user = sign_up(client, server.url)

        async def kill_and_restart() -> None:
            await asyncio.sleep(1.5)
            server.kill()  # mid-batch for some recorders: committed or not, never half
            await asyncio.sleep(1.0)  # recorders retry against a closed port, and keep spooling
            await asyncio.to_thread(server.start)

        recorders = asyncio.run(run_recorders(server.url, user, tmp_path, kill_and_restart))
        assert sum(r.uploader.counters.retries for r in recorders) > 0  # the outage was felt
        assert_exactly_once(db_url, user, recorders)


def test_sigkill_right_after_an_acknowledged_upload_loses_no_analysis(db_url: str, tmp_path: Path) -> None:
    """The analysis an upload is owed is written with its samples: killed before counting, the next start
    counts them (before, such samples stayed stored with no minute ever counted, even after a restart)."""
    day = dt.date.today() - dt.timedelta(days=2)
    t0_ms = int(dt.datetime.combine(day, dt.time(7), dt.UTC).timestamp() * 1000)
    samples = [{"t": t0_ms + i * 1000, "bpm": 150 + (i * 7) % 9 - 4, "contact": True} for i in range(20 * 60)]
    with serve(db_url, tmp_path) as server, httpx.Client(base_url=server.url, timeout=30) as client:
        for _ in range(3):  # the kill must land before the half-second counting tick: try again if it did not
            user = sign_up(client, timezone="UTC", resting_hr=60, max_hr=190)
            device = register_device(client, user)["id"]
            answer = client.post(
                f"/api/v1/devices/{device}/samples", json={"samples": samples}, headers=user.headers
            )
            server.kill()
            assert answer.status_code == 200 and answer.json()["accepted"] == len(samples)
            engine = create_engine(db_url)
            try:
                with engine.connect() as conn:
                    counted = conn.execute(text("SELECT count(*) FROM minute_rollups WHERE user_id = :u"),
                                           {"u": user.id}).scalar()  # fmt: skip
            finally:
                engine.dispose()
            server.start()
            if counted == 0:
                break
        assert counted == 0, "the server counted before every kill: nothing shown"
        wait_for_analysis(client)
        summary = client.get(f"/api/v1/days/{day}", headers=user.headers).json()
        assert summary["heartbeat_up_minutes"] == 20 and not summary["analysis_pending"]
        assert len(summary["sessions"]) == 1


# -- PostgreSQL restarted ------------------------------------------------------------------------------------


def restart_postgres() -> None:
    version = sorted(os.listdir("/etc/postgresql"))[-1]
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart"],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip


@pytest.mark.slow
@pytest.mark.serial  # it restarts the one PostgreSQL server every other test uses: alone, after the rest
def test_postgres_restart_under_uploads_recovers_by_itself(db_url: str, tmp_path: Path) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("restarts the PostgreSQL server")
    if not Path("/etc/postgresql").is_dir() or os.geteuid() != 0:
        pytest.skip("needs a local PostgreSQL cluster this user may restart")
    statuses: list[int] = []
    with serve(db_url, tmp_path) as server:
        with httpx.Client(timeout=10) as client:
            user = sign_up(client, server.url)

        async def probe(stop: asyncio.Event) -> None:
            async with httpx.AsyncClient(timeout=10) as client:
                while not stop.is_set():
                    statuses.append(
                        (await client.get(f"{server.url}/api/v1/me", headers=user.headers)).status_code
                    )
                    await asyncio.sleep(0.02)

        async def restart() -> None:
            await asyncio.sleep(1.5)
            stop = asyncio.Event()
            probing = asyncio.create_task(probe(stop))
            await asyncio.to_thread(restart_postgres)
            await asyncio.sleep(1.0)
            stop.set()
            await probing

        try:
            recorders = asyncio.run(run_recorders(server.url, user, tmp_path, restart))
        finally:  # later tests meet a PostgreSQL that answers: wait for a route that reads it
            wait_until_answers_with(f"{server.url}/api/v1/me", user.headers)
        assert 503 in statuses, sorted(set(statuses))  # the outage was answered "retry later"
        assert set(statuses) <= {200, 503}, sorted(set(statuses))  # never a 500
        assert statuses[-1] == 200  # recovered by itself (pool_pre_ping), no restart of the service
        assert_exactly_once(db_url, user, recorders)


# -- the spool full, while recording -------------------------------------------------------------------------


def fill(spool: Spool, key: str) -> list[int]:
    """Filler samples until the spool's bound refuses more; returns their ids."""
    t = 0
    with pytest.raises(SpoolFull):
        while True:
            spool.append(key, [SpooledSample(T0_MS + (t + i) * 1000, 70) for i in range(50)])
            t += 50
    return [row_id for row_id, _ in spool.pending(key, limit=10**6)]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # Bumble and bleak run on asyncio only


@pytest.mark.anyio
async def test_a_full_spool_drops_new_samples_says_so_and_the_recording_goes_on(
    live_server: LiveServer, tmp_path: Path
) -> None:
    with httpx.Client(timeout=10) as sync_client:
        user = sign_up(sync_client, live_server.url)
    spool_path = tmp_path / "spool.sqlite3"
    script = [Tick(float(i), 90 + i % 40, (60000 / (90 + i % 40),)) for i in range(1, 5000)]
    await asyncio.to_thread(live_server.stop)  # the service is away: nothing drains the spool
    with Spool(spool_path, max_bytes=MIN_MAX_BYTES, reserve_bytes=0) as spool:
        filler = fill(spool, "FILLER")
        spool.ack(filler[:30])  # room for a few samples, then full again
        async with (
            VirtualStrap("virtual", script, name="Full", speed=20.0),
            httpx.AsyncClient(timeout=10) as client,
        ):
            pipeline = StrapPipeline(StrapLink("virtual", name="Full", clock=ScaledClock(20.0)), spool)
            recording = asyncio.create_task(run_pipeline(pipeline, client, live_server.url, user.token, 6.0))
            while pipeline.samples_dropped == 0:
                await asyncio.sleep(0.1)
            assert "SPOOL FULL" in status_line(pipeline.status()) and "bound" in (pipeline.spool_full or "")
            spool.ack(filler)  # the user frees room; the service comes back
            await asyncio.to_thread(live_server.start)
            await asyncio.wait_for(recording, 60)
        result = pipeline.result()
        assert pipeline.spool_full is None  # spooling resumed once there was room
        assert result.samples_dropped > 0 and result.samples_spooled > 0 and result.spool_depth == 0
    with sqlite3.connect(spool_path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    rows = httpx.get(
        f"{live_server.url}/api/v1/devices/{result.device_id}/samples", headers=user.headers
    ).json()
    assert len(rows) == result.samples_spooled == result.uploaded  # what was kept arrived, exactly once


# -- a strap that sends nothing useful ------------------------------------------------------------------------


def nonsense_day(day: dt.date, rng: random.Random) -> list[dict[str, object]]:
    """Ten minutes of 0 bpm off the body, ten of random values 25-240 each second, ten frozen at 200."""
    t0 = dt.datetime.combine(day, dt.time(10), dt.UTC)
    samples: list[dict[str, object]] = []
    for i in range(1800):
        t = (t0 + dt.timedelta(seconds=i)).isoformat()
        if i < 600:
            samples.append({"t": t, "bpm": 0, "contact": False})
        elif i < 1200:
            samples.append({"t": t, "bpm": rng.randint(25, 240)})
        else:
            samples.append({"t": t, "bpm": 200})
    return samples


def test_a_strap_sending_zero_or_nonsense_for_minutes_makes_no_workout(client: TestClient) -> None:
    user = sign_up(client, timezone="UTC", resting_hr=60, max_hr=190)
    device = register_device(client, user)
    day = dt.date.today() - dt.timedelta(days=2)
    body = {"samples": nonsense_day(day, random.Random(7))}
    answer = client.post(f"/api/v1/devices/{device['id']}/samples", json=body, headers=user.headers)
    assert answer.status_code == 200 and answer.json()["accepted"] == 1800, answer.text
    summary = client.get(f"/api/v1/days/{day}", headers=user.headers).json()
    assert summary["heartbeat_up_minutes"] == 0, summary
    assert summary["sessions"] == []
    assert client.get(f"/api/v1/sessions?from={day}T00:00:00%2B00:00", headers=user.headers).json() == []
