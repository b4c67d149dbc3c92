"""What only the benchmarks need, over tests/support (the one server starter, scratch database, sign-up,
settling and synthetic workout that tests and benchmarks share): `chinup serve` set up for benchmark loads, and
the bare database driver the ingest benchmark measures against."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.support.server import serve_process


@contextmanager
def running_server(db_url: str, workers: int = 1) -> Iterator[str]:
    """`chinup serve` as its own process, the way users run it, with `--workers N` above 1 (PostgreSQL only);
    its URL.

    Every benchmark user signs up from this one address: the per-address sign-up throttle (50 an hour, there
    against account farming) would stop bench/load.py's 200 at the 51st. Nothing else is changed. The server's
    log goes to the file CHINUP_BENCH_LOG names, if any (else into its temporary data directory).
    """
    env = {**os.environ, "CHINUP_SIGNUPS_PER_ADDRESS": "1000000"}
    log = os.environ.get("CHINUP_BENCH_LOG")
    args = ["--workers", str(workers)] if workers > 1 else []  # one worker: the plain single-process serve
    with serve_process(db_url, env=env, args=args, log_path=Path(log) if log else None) as server:
        yield server.url


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
