"""Shared by the benchmarks: a real `chinup serve` subprocess on a fresh database, user set-up, waiting for the
analysis, the bare driver, and a workout day to upload."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from numpy.typing import NDArray

from tests.support.databases import postgres_answers, scratch_postgres_database

ROOT = Path(__file__).resolve().parents[1]
PG_ADMIN_URL = os.environ.get("CHINUP_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def fresh_database(backend: str) -> Iterator[str]:
    """An empty database of the backend, dropped afterwards (the tests' own helper for PostgreSQL)."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite:///{tmp}/bench.sqlite3"
        return
    with scratch_postgres_database(PG_ADMIN_URL, prefix="chinup_bench") as url:
        yield url


def postgres_available() -> bool:
    return postgres_answers(PG_ADMIN_URL)


@contextmanager
def running_server(db_url: str) -> Iterator[str]:
    """`chinup serve` as its own process, the way users run it."""
    port = free_port()
    data_dir = tempfile.mkdtemp()
    # Every benchmark user signs up from this one address: the per-address sign-up throttle (50 an hour,
    # there against account farming) would stop bench/load.py's 200 at the 51st. Nothing else is changed.
    env = {**os.environ, "CHINUP_DATA_DIR": data_dir, "CHINUP_SIGNUPS_PER_ADDRESS": "1000000"}
    # The server's log goes to a file: a pipe nobody reads fills at 64 KiB and then blocks the server's
    # logging, and with it every request (found by bench/load.py). CHINUP_BENCH_LOG names the file.
    log_path = os.environ.get("CHINUP_BENCH_LOG") or os.path.join(data_dir, "serve.log")
    log = open(log_path, "ab")  # closed with the process below
    proc = subprocess.Popen(
        [sys.executable, "-m", "service.cli", "serve", "--db", db_url, "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited: {Path(log_path).read_text(errors='replace')[-2000:]}")
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()


def sign_up(base: str, **profile: object) -> dict[str, str]:
    """A new user (with `profile` fields such as resting_hr, max_hr, timezone); their bearer header."""
    email = f"bench-{uuid.uuid4().hex[:8]}@example.org"
    httpx.post(
        f"{base}/api/v1/users", json={"email": email, "password": "benchmark-password", **profile}
    ).raise_for_status()
    token = httpx.post(
        f"{base}/api/v1/auth/token", data={"username": email, "password": "benchmark-password"}
    )
    token.raise_for_status()
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


SETTLE_POLL_S = 0.05


def wait_for_analysis(base: str, timeout_s: float = 600.0) -> dict[str, Any]:
    """Until /health reports nothing left to count or analyse twice in a row; returns the last answer.

    Twice, because one look can fall between two pieces of the analysis' work (a day's analysis done,
    the next one not yet queued).
    """
    deadline = time.monotonic() + timeout_s
    quiet = 0
    health: dict[str, Any] = {}
    while quiet < 2:
        if time.monotonic() > deadline:
            raise TimeoutError(f"analysis not quiet after {timeout_s:g} s: {health}")
        time.sleep(SETTLE_POLL_S)
        health = httpx.get(f"{base}/health").json()
        idle = health.get("analysis_backlog") == 0 and health.get("days_awaiting_analysis") == 0
        quiet = quiet + 1 if idle else 0
    return health


@contextmanager
def bare_connection(db_url: str) -> Iterator[tuple[Any, str]]:
    """A bare DB-API connection with the service's SQLite pragmas, and its parameter mark."""
    if db_url.startswith("sqlite"):
        import sqlite3

        conn: Any = sqlite3.connect(db_url.removeprefix("sqlite:///"))
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        # The service's connections check foreign keys (service/core/db.py), as PostgreSQL always does: so must the
        # baseline, or it measures SQLite skipping work the service may not skip (15 % of its time here).
        conn.execute("PRAGMA foreign_keys=ON")
        mark = "?"
    else:
        import psycopg

        conn = psycopg.connect(db_url.replace("postgresql+psycopg", "postgresql"))
        mark = "%s"
    try:
        yield conn, mark
    finally:
        conn.close()


DAY_NPZ = ROOT.parent / "shared" / "data" / "synthetic_24h_rr.npz"


def workout_day() -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """1 Hz heart rate of a workout day, (seconds since midnight, bpm): the shared synthetic day's `bpm_t` and
    `bpm_1hz` when that file is there (its first value is corrupt, as a strap's can be), else a generated day."""
    if DAY_NPZ.exists():
        with np.load(DAY_NPZ) as data:
            return data["bpm_t"].astype(np.int64), data["bpm_1hz"].astype(np.int64)
    return generated_day()


def generated_day(seed: int = 7) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Sleep at ~54 bpm, a day at ~72 with a walk at 12:00, a 50-min interval run at 18:00 and its recovery."""
    t = np.arange(1, 86_400)
    hours = t / 3600
    level = np.where((hours < 6.5) | (hours >= 23), 54.0, 72.0)
    level[(hours >= 12) & (hours < 12.5)] = 98.0
    run = (hours >= 18) & (hours < 18 + 50 / 60)
    level[run] = 150.0 + 20.0 * ((t[run] // 240) % 2)
    after = (hours >= 18 + 50 / 60) & (hours < 19.5)
    level[after] = 72.0 + 88.0 * np.exp(-(t[after] - t[run][-1]) / 120.0)
    # A minute's moving average: ramps, not steps the cleaning would flag (edges padded, not pulled to 0).
    level = np.convolve(np.pad(level, 30, mode="edge"), np.ones(60) / 60, mode="same")[30:-30]
    noise = np.random.default_rng(seed).normal(0.0, 1.5, t.size)
    return t, np.round(level + noise).astype(np.int64)
