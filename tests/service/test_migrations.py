"""The Alembic migrations produce exactly the schema of the models, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, create_engine, insert, inspect, select

from service.core import migrate
from service.core.models import Base


def test_migrations_match_the_models(engine: Engine) -> None:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def test_upgrade_is_idempotent_and_creates_every_table(engine: Engine) -> None:
    migrate.upgrade(engine)  # a second start of `chinup serve` changes nothing
    tables = set(inspect(engine).get_table_names())
    assert set(Base.metadata.tables) <= tables
    assert "alembic_version" in tables


def test_sqlite_runs_in_wal_mode_with_foreign_keys(engine: Engine) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite pragmas")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_0006_starts_the_history_of_every_application_that_has_a_status(tmp_path: Path) -> None:
    """An application stored before 0006 gets one event, its status at applied_at; one without gets none."""
    engine = create_engine(f"sqlite:///{tmp_path / 'old.sqlite3'}")
    migrate.upgrade(engine, "0005")
    users, applications = Base.metadata.tables["users"], Base.metadata.tables["applications"]
    applied = dt.datetime(2024, 3, 8, 10, tzinfo=dt.UTC)
    with engine.begin() as conn:
        user_id = conn.execute(
            insert(users).values(
                email="old@example.org", password_hash="x", timezone="UTC", daily_target_minutes=60,
                nudge_time="18:00", nudges_enabled=False, is_demo=False, created_at=applied,
            )
        ).inserted_primary_key[0]  # fmt: skip
        for status in ("sent", None):
            conn.execute(
                insert(applications).values(
                    user_id=user_id, company="Globex", role="Analyst", applied_at=applied, status=status,
                    created_at=applied,
                )
            )  # fmt: skip
    migrate.upgrade(engine)
    events = Base.metadata.tables["application_status_events"]
    with engine.connect() as conn:
        rows = conn.execute(select(events.c.user_id, events.c.status, events.c.at)).all()
    engine.dispose()
    assert [tuple(r) for r in rows] == [(user_id, "sent", applied)]
