"""Several `chinup serve` processes on one PostgreSQL (issue 19): what one process takes in, another serves.

Two real servers on one database, started together (their migrations take turns on an advisory lock), then
- a heart-rate sample uploaded through one reaches a live stream held by the other within a second, the
  stream opened with a ticket the first one issued (tickets are in the database, single-use across both);
- log-in guesses count across processes: the free failures are shared, not granted per process;
- strap claims: exactly one process holds a strap's claim, and another takes it over within 10 s of the
  holder being killed with SIGKILL;
- the analysis a SIGKILLed process owed for its answered uploads is done by the other (the analysis_tasks
  table is everyone's queue): the same minutes as a workout uploaded to the survivor itself;
- `chinup serve --workers 2` serves on PostgreSQL, and is refused with a reason on SQLite.

PostgreSQL only (SQLite is the embedded single-process default): skipped where none answers.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from service.pipeline.scheduler import ADOPT_EVERY_S, ORPHAN_AFTER_S
from tests.support.databases import postgres_available, scratch_postgres_database
from tests.support.server import ServeProcess, free_port
from tests.support.settle import wait_for_analysis
from tests.support.strap_node import SHARED_STRAP
from tests.support.users import TestUser, register_device, sign_up, upload_samples
from tests.support.workouts import workout_samples

ROOT = Path(__file__).resolve().parents[2]
ADMIN_URL = os.environ.get("CHINUP_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
LIVE_WITHIN_S = 1.0
TAKEOVER_WITHIN_S = 10.0

pytestmark = pytest.mark.skipif(not postgres_available(), reason="needs PostgreSQL at 127.0.0.1:5432")


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    with scratch_postgres_database(ADMIN_URL, prefix="chinup_workers") as url:
        yield url


@pytest.fixture(scope="module", params=[2, 4], ids=lambda n: f"{n} servers")
def cluster(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[ServeProcess]]:
    """Two or four `chinup serve` processes on one fresh database (separate machines, as far as they can
    tell: each has its own data directory), started at the same moment, so all run the migrations at once."""
    with scratch_postgres_database(ADMIN_URL, prefix="chinup_workers") as url:
        servers = [ServeProcess(url, tmp_path_factory.mktemp(f"node{n}")) for n in range(request.param)]
        try:
            with ThreadPoolExecutor(len(servers)) as pool:
                list(pool.map(lambda s: s.start(timeout_s=120), servers))
            yield servers
        finally:
            for server in servers:
                server.stop()


def _events(url: str, ticket: str, into: queue.Queue[tuple[float, dict[str, object]]], ready: threading.Event,
            stop: threading.Event) -> None:  # fmt: skip
    """Read the live stream into `into` as (arrival time, event) until `stop`."""
    timeout = httpx.Timeout(10, read=2)
    with (
        httpx.Client(base_url=url, timeout=timeout) as http,
        http.stream("GET", "/api/v1/live", params={"ticket": ticket}) as response,
    ):
        assert response.status_code == 200, response.read()
        ready.set()
        try:
            for line in response.iter_lines():
                if line.startswith("data:"):
                    try:
                        into.put((time.monotonic(), json.loads(line[5:])))
                    except ValueError:
                        pass
                if stop.is_set():
                    return
        except httpx.ReadTimeout:
            if not stop.is_set():
                raise


def test_a_sample_ingested_by_one_process_is_live_on_every_other_within_a_second(
    cluster: list[ServeProcess],
) -> None:
    a, others = cluster[0], cluster[1:]
    with httpx.Client(base_url=a.url, timeout=30) as on_a:
        user = sign_up(on_a)
        device = register_device(on_a, user)
        arrived = [queue.Queue[tuple[float, dict[str, object]]]() for _ in others]
        stop = threading.Event()
        tickets = []
        for other, into in zip(others, arrived, strict=True):
            ticket = on_a.post("/api/v1/live/ticket", headers=user.headers).json()["ticket"]
            tickets.append(ticket)
            ready = threading.Event()
            reader = threading.Thread(
                target=_events, args=(other.url, ticket, into, ready, stop), daemon=True
            )
            reader.start()  # a ticket A issued opens the stream on another process
            assert ready.wait(15), f"the stream on {other.url} did not open"
        sent: dict[int, float] = {}
        latencies: list[list[float]] = [[] for _ in others]
        deadline = time.monotonic() + 20
        while min(map(len, latencies)) < 5 and time.monotonic() < deadline:
            t_ms = int(time.time() * 1000)
            answer = on_a.post(
                f"/api/v1/devices/{device['id']}/samples",
                json={"samples": [{"t": t_ms, "bpm": 120, "rr_ms": [500.0], "contact": True}]},
                headers=user.headers,
            )
            assert answer.status_code in (200, 201), answer.text
            sent[t_ms] = time.monotonic()
            time.sleep(0.3)
            for into, mine in zip(arrived, latencies, strict=True):
                while not into.empty():
                    at, event = into.get_nowait()
                    if event.get("type") == "heart_rate" and event.get("t_ms") in sent:
                        mine.append(at - sent[int(event["t_ms"])])  # type: ignore[call-overload]
        stop.set()
    logs = "".join(s.log[-600:] for s in cluster)
    assert all(len(mine) >= 3 for mine in latencies), (
        f"heart rate from A reached the others {latencies}: {logs}"
    )
    assert max(max(mine) for mine in latencies) < LIVE_WITHIN_S, latencies
    # single-use across processes: a ticket that opened a stream elsewhere opens nothing on A
    refused = httpx.get(f"{a.url}/api/v1/live", params={"ticket": tickets[0]}, timeout=10)
    assert refused.status_code == 401


def test_log_in_guesses_count_across_processes(cluster: list[ServeProcess]) -> None:
    clients = [httpx.Client(base_url=s.url, timeout=30) for s in cluster]
    try:
        victim = sign_up(clients[0])
        guesses = [
            clients[i % len(clients)]
            .post("/api/v1/auth/token", data={"username": victim.email, "password": "not it"})
            .status_code
            for i in range(5)
        ]
    finally:
        for client in clients:
            client.close()
    # three free failures shared by every process, then the pair waits: refused by any
    assert guesses == [401, 401, 401, 429, 429], guesses


CLAIM_HOLDER = """
import asyncio, sys
from service.recording.claims import PostgresClaims
async def main():
    claims = PostgresClaims(sys.argv[1])
    assert await claims.try_claim(int(sys.argv[2]))
    print("claimed", flush=True)
    await asyncio.sleep(3600)
asyncio.run(main())
"""


def test_one_process_holds_a_strap_claim_and_another_takes_over_after_sigkill(pg_url: str) -> None:
    import asyncio

    from service.recording.claims import CLAIM_RETRY_S, PostgresClaims

    holder = subprocess.Popen(
        [sys.executable, "-c", CLAIM_HOLDER, pg_url, "4242"], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "claimed"

        async def contend() -> float:
            claims = PostgresClaims(pg_url)
            try:
                assert not await claims.try_claim(4242), "two processes held one strap's claim"
                assert await claims.try_claim(4243)  # another strap is free
                holder.kill()  # SIGKILL: no shutdown code runs, PostgreSQL frees the lock with the connection
                killed = time.monotonic()
                while not await claims.try_claim(4242):
                    assert time.monotonic() - killed < TAKEOVER_WITHIN_S, "not taken over"
                    await asyncio.sleep(CLAIM_RETRY_S)
                taken = time.monotonic() - killed
                assert await claims.still_held(4242)
                await claims.release(4242)
                assert not await claims.still_held(4242)
                return taken
            finally:
                await claims.close()

        taken_s = asyncio.run(contend())
        assert taken_s < TAKEOVER_WITHIN_S
    finally:
        holder.kill()
        holder.wait(10)
        if holder.stdout is not None:
            holder.stdout.close()


def test_serve_with_two_workers_on_postgresql(pg_url: str, tmp_path: Path) -> None:
    server = ServeProcess(pg_url, tmp_path, args=("--workers", "2"))
    server.start(timeout_s=90)
    try:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            user: TestUser = sign_up(http)
            # requests land on either worker: tickets and stream both work whichever answers
            for _ in range(6):
                ticket = http.post("/api/v1/live/ticket", headers=user.headers).json()["ticket"]
                with http.stream("GET", "/api/v1/live", params={"ticket": ticket},
                                 timeout=httpx.Timeout(10, read=5)) as stream:  # fmt: skip
                    assert stream.status_code == 200
    finally:
        log = server.stop()
    assert "Traceback" not in log, log[-2000:]


def test_serve_with_workers_is_refused_on_sqlite(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "service.cli", "serve", "--workers", "2", "--db", f"sqlite:///{tmp_path}/x.db"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
        env={**os.environ, "CHINUP_DATA_DIR": str(tmp_path)},
    )  # fmt: skip
    assert done.returncode == 2
    assert "needs PostgreSQL" in done.stdout and "single-process" in done.stdout


def _minutes_on(http: httpx.Client, user: TestUser, day: str) -> int:
    answer = http.get(f"/api/v1/days/{day}", headers=user.headers)
    assert answer.status_code == 200, answer.text
    return int(answer.json()["heartbeat_up_minutes"])


def test_the_analysis_a_killed_process_owed_is_done_by_the_other(
    cluster: list[ServeProcess],
) -> None:
    """Runs last for its cluster: it kills the first server (and starts it again at the end)."""
    a, b = cluster[0], cluster[1]
    pg_url = a.db_url
    start = dt.datetime(2026, 11, 2, 17, 0, tzinfo=dt.UTC)
    samples = workout_samples(start, 40)
    with httpx.Client(base_url=a.url, timeout=30) as on_a, httpx.Client(base_url=b.url, timeout=30) as on_b:
        victim, control = sign_up(on_a, birth_year=1985), sign_up(on_b, birth_year=1985)
        upload_samples(on_a, victim, register_device(on_a, victim)["id"], samples, chunk=1000)
        a.kill()  # SIGKILL right after the last answer: the minutes it owed are rows, not done
        upload_samples(on_b, control, register_device(on_b, control)["id"], samples, chunk=1000)
        engine = create_engine(pg_url)
        try:
            deadline = time.monotonic() + ORPHAN_AFTER_S + ADOPT_EVERY_S + 30
            owed, first_owed = None, None
            while time.monotonic() < deadline:
                with engine.connect() as conn:
                    owed = conn.execute(
                        text("SELECT count(*) FROM analysis_tasks WHERE user_id = :u"), {"u": victim.id}
                    ).scalar_one()
                first_owed = owed if first_owed is None else first_owed
                if owed == 0:
                    break
                time.sleep(1)
        finally:
            engine.dispose()
        assert owed == 0, f"the killed process's analysis is still owed: {b.log[-1500:]}"
        # what A left was taken up by B (or A had done it all before it died)
        survivors = "".join(s.log for s in cluster[1:])
        assert first_owed == 0 or "adopted the owed analysis of 1 user" in survivors, (
            first_owed,
            survivors[-1500:],
        )
        print(f"owed at the kill: {first_owed} task(s)")
        wait_for_analysis(on_b)
        day = start.date().isoformat()
        expected = _minutes_on(on_b, control, day)
        assert expected > 30
        assert _minutes_on(on_b, victim, day) == expected
    a.start(timeout_s=90)


def _node(db_url: str, data_dir: Path) -> tuple[subprocess.Popen[bytes], str, Path]:
    """A server process hearing the shared virtual strap (tests/support/strap_node.py); its URL and log."""
    port = free_port()
    log = data_dir / "node.log"
    with open(log, "ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.support.strap_node", db_url, str(port), str(data_dir)],
            cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()[-2000:]
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return process, url, log
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    process.kill()
    raise AssertionError(f"node did not start: {log.read_text()[-2000:]}")


def test_a_paired_strap_is_recorded_by_one_process_and_taken_over_within_10_s_of_a_sigkill(
    pg_url: str, tmp_path: Path
) -> None:
    """Two servers in range of one strap (each hears its own copy of it): a scan through one lets the user
    pair through the other; one records, the other stands by on the strap's claim; the recorder SIGKILLed,
    the other records within 10 s and samples keep coming."""
    nodes = []
    try:
        for n in (1, 2):
            (tmp_path / f"node{n}").mkdir()
        with ThreadPoolExecutor(2) as pool:
            nodes = list(pool.map(lambda n: _node(pg_url, tmp_path / f"node{n}"), (1, 2)))
        (a, a_url, a_log), (b, b_url, b_log) = nodes
        with (
            httpx.Client(base_url=a_url, timeout=30) as on_a,
            httpx.Client(base_url=b_url, timeout=30) as on_b,
        ):
            user = sign_up(on_a)
            # the scan runs on B, the pairing on A: sightings are shared through the database
            found = on_b.get("/api/v1/straps/scan", params={"seconds": 3}, headers=user.headers).json()
            strap = next(s for s in found if s["name"] == SHARED_STRAP)
            paired = on_a.post("/api/v1/straps", json={"address": strap["address"]}, headers=user.headers)
            assert paired.status_code == 201, paired.text
            device_id = paired.json()["device_id"]

            def newest_ms(http: httpx.Client) -> int:
                rows = http.get("/api/v1/straps", headers=user.headers).json()
                return int(next(r for r in rows if r["device_id"] == device_id)["last_sample_ms"] or 0)

            deadline = time.monotonic() + 30
            while newest_ms(on_a) == 0 or "standing by" not in b_log.read_text():
                assert time.monotonic() < deadline, (
                    f"{a_log.read_text()[-1500:]}\n{b_log.read_text()[-1500:]}"
                )
                time.sleep(0.5)
            assert "standing by" not in a_log.read_text()  # one recorder: A records, B waits on the claim
            a.kill()  # SIGKILL: PostgreSQL frees A's claims as its connection drops
            a.wait(10)
            killed_s, killed_ms = time.monotonic(), int(time.time() * 1000)
            while not (newest_ms(on_b) > killed_ms and "taken over" in b_log.read_text()):
                assert time.monotonic() - killed_s < TAKEOVER_WITHIN_S, b_log.read_text()[-2000:]
                time.sleep(0.25)
            taken_s = time.monotonic() - killed_s
            row = next(r for r in on_b.get("/api/v1/straps", headers=user.headers).json()
                       if r["device_id"] == device_id)  # fmt: skip
            assert row["recording"] and row["state"] in ("connecting", "recording"), row
        print(f"taken over and recording again {taken_s:.1f} s after the SIGKILL")
    finally:
        for process, _url, _log in nodes:
            process.kill()
            process.wait(10)


def test_a_users_owed_minutes_are_counted_by_one_process_not_by_each(pg_url: str) -> None:
    """Two schedulers on one database, each told of the same user's uploads (as when a strap's batches land on
    either worker): the first counts the stored tasks, the second finds them done and counts nothing, where
    before each process counted every user again (bench/load.py with 2 workers: twice one worker's analysis)."""
    from service.core import migrate
    from service.core.db import make_engine, make_session_factory
    from service.core.models import AnalysisTask, User
    from service.pipeline.ingest import CleanSample
    from service.pipeline.live import LiveHub
    from service.pipeline.scheduler import Rollups

    engine = make_engine(pg_url)
    try:
        migrate.upgrade(engine)
        sessions = make_session_factory(engine)
        with sessions() as db:
            user = User(email=f"dedup-{time.monotonic_ns()}@example.org", password_hash="x")
            db.add(user)
            db.commit()
            user_id = user.id
        a, b = Rollups(sessions, LiveHub()), Rollups(sessions, LiveHub())
        now_ms = int(time.time() * 1000)
        for batch in range(3):
            samples = [CleanSample(now_ms + (5 * batch + i) * 1000, 120) for i in range(5)]
            with sessions() as db:  # what an upload commits with its samples
                a.note_ingest(db, user_id, samples)
                db.commit()
            a.on_ingest(user_id, samples)
            b.on_ingest(user_id, samples)
        assert a.run_dirty() == 1
        assert b.run_dirty() == 0  # nothing left owed: counted by the other
        with sessions() as db:
            assert db.query(AnalysisTask).filter_by(user_id=user_id).count() == 0
        samples = [CleanSample(now_ms + 60_000, 121)]
        with sessions() as db:
            b.note_ingest(db, user_id, samples)
            db.commit()
        b.on_ingest(user_id, samples)
        assert b.run_dirty() == 1  # new samples are counted by whoever is told first
        assert a.backlog == b.backlog == 0
    finally:
        engine.dispose()
