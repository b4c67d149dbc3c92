"""Real databases for tests and benchmarks: a fresh SQLite file or a fresh PostgreSQL database."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
BACKENDS = ("sqlite", "postgresql")


def postgres_admin_url() -> str:
    return os.environ.get("CHINUP_TEST_DATABASE_URL", DEFAULT_PG_URL)


def postgres_required() -> bool:
    """In CI (or when a URL is given) PostgreSQL tests must run; locally they skip if no server answers."""
    return bool(os.environ.get("CI") or os.environ.get("CHINUP_TEST_DATABASE_URL"))


def postgres_answers(url: str) -> bool:
    """Whether a PostgreSQL server answers at `url` within a few seconds."""
    engine = create_engine(url, connect_args={"connect_timeout": 3})
    try:
        with engine.connect():
            return True
    except Exception:
        return False
    finally:
        engine.dispose()


def postgres_available() -> bool:
    """Whether the PostgreSQL server tests and benchmarks use (CHINUP_TEST_DATABASE_URL) answers."""
    return postgres_answers(postgres_admin_url())


@contextmanager
def scratch_postgres_database(admin_url: str, prefix: str = "chinup_test") -> Iterator[str]:
    """A new, empty PostgreSQL database next to `admin_url`'s, dropped afterwards (tests and benchmarks)."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT", pool_pre_ping=True)  # survives a restart
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def fresh_database(backend: str, tmp_dir: Path | None = None, prefix: str = "chinup_test") -> Iterator[str]:
    """The URL of an empty database that is dropped afterwards: a SQLite file in `tmp_dir` (a temporary
    directory of its own if None), or a PostgreSQL database named `prefix`_... next to the admin URL's.

    Without a PostgreSQL server a test skips (fails in CI); benchmarks ask `postgres_available()` first."""
    if backend == "sqlite":
        if tmp_dir is not None:
            yield f"sqlite:///{tmp_dir / f'chinup-{uuid.uuid4().hex[:8]}.sqlite3'}"
            return
        with tempfile.TemporaryDirectory(prefix="chinup-db-") as tmp:
            yield f"sqlite:///{Path(tmp) / 'chinup.sqlite3'}"
        return
    admin_url = postgres_admin_url()
    if not postgres_answers(admin_url):
        if postgres_required():
            pytest.fail(f"PostgreSQL does not answer at {admin_url}")
        pytest.skip("no PostgreSQL server answers")
    with scratch_postgres_database(admin_url, prefix) as url:
        yield url
