"""Engine and session factory for SQLite (WAL, foreign keys) and PostgreSQL (psycopg 3)."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import threading
import weakref
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

from sqlalchemy import DateTime, Engine, create_engine, event
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Stores naive UTC, returns aware UTC: the same on SQLite (no time zones) and PostgreSQL."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where a UTC time is required")
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


# Routes run in anyio's thread pool (40 workers) and close their session in a worker too. A pool smaller than
# that deadlocks under load: every worker waits for a connection that only a worker can give back, until the
# pool's 30 s timeout (found by bench/load.py: 200 recorders). So the pool can serve every worker, plus the
# background analysis and the live recorders: on PostgreSQL an analysis thread holds two (its work, and the
# session of its user's advisory lock).
ROUTE_WORKERS = 40
BACKGROUND_CONNECTIONS = 12  # six analysis threads (asyncio's default on 2 cores) at two each
POOL_CAPACITY = ROUTE_WORKERS + BACKGROUND_CONNECTIONS


def make_engine(url: str, *, route_threads: int = ROUTE_WORKERS, **kwargs: Any) -> Engine:
    """An engine with the per-dialect settings the service relies on; its pool serves `route_threads` route
    threads and the background work beside them."""
    capacity = route_threads + BACKGROUND_CONNECTIONS
    if url.startswith("sqlite"):
        connect_args = {"check_same_thread": False, "timeout": 30}
        if url in ("sqlite://", "sqlite:///:memory:"):
            kwargs.setdefault("poolclass", StaticPool)
        else:
            kwargs.setdefault("pool_size", capacity)  # a SQLite connection is a file handle
            kwargs.setdefault("max_overflow", 0)
            _create_private(make_url(url).database)
        engine = create_engine(url, connect_args=connect_args, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    kwargs.setdefault("pool_size", min(10, capacity))
    kwargs.setdefault("max_overflow", capacity - min(10, capacity))
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def _create_private(path: str | None) -> None:
    """Create a new SQLite file readable by its owner only (health data and a journal); SQLite gives its
    -wal and -shm files the database file's permissions. An existing file is left as it is."""
    if not path or path == ":memory:" or path.startswith("file:"):
        return
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded objects usable after commit (answers are built after it)."""
    return sessionmaker(engine, expire_on_commit=False)


_WRITERS: weakref.WeakKeyDictionary[Engine, threading.Lock] = weakref.WeakKeyDictionary()
_WRITERS_LOCK = threading.Lock()


def writer_lock(engine: Engine) -> AbstractContextManager[object]:
    """One writer at a time on SQLite, queued in the process instead of in SQLite's busy handler.

    SQLite admits a single writer; concurrent ones sleep in its busy handler in steps of up to 100 ms,
    which caps concurrent ingest far below what one writer does alone (bench/ingest.py). PostgreSQL
    needs no such lock.
    """
    if engine.dialect.name != "sqlite":
        return nullcontext()
    with _WRITERS_LOCK:
        return _WRITERS.setdefault(engine, threading.Lock())


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A unit of work: commit on success, roll back on any error."""
    with factory() as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
