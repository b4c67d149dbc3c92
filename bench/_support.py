"""Shared by the benchmarks: a real `chinup serve` subprocess on a fresh database, and user set-up."""

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

import httpx

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
    env = {**os.environ, "CHINUP_DATA_DIR": data_dir}
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


def sign_up(base: str) -> dict[str, str]:
    email = f"bench-{uuid.uuid4().hex[:8]}@example.org"
    httpx.post(
        f"{base}/api/v1/users", json={"email": email, "password": "benchmark-password"}
    ).raise_for_status()
    token = httpx.post(
        f"{base}/api/v1/auth/token", data={"username": email, "password": "benchmark-password"}
    )
    token.raise_for_status()
    return {"Authorization": f"Bearer {token.json()['access_token']}"}
