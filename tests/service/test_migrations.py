"""The Alembic migrations produce exactly the schema of the models, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, create_engine, insert, inspect, select, text

from service.core import migrate
from service.core.models import Base
from tests.support.databases import fresh_database


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


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_0009_keys_every_row_by_its_user_and_keeps_them_all(backend: str, tmp_path: Path) -> None:
    """A database of 0008 with a user's samples, tokens, reflection, feedback and paired strap: after 0009
    every row is still there, the new user ids are the owners', and SQLite's references all hold (its batch
    rebuilds of devices and interviews must not cascade into their children)."""
    with fresh_database(backend, tmp_path) as url:
        engine = create_engine(url)
        migrate.upgrade(engine, "0008")
        with engine.begin() as conn:
            day = "2024-01-01"
            user_id = conn.execute(
                text("INSERT INTO users (email, password_hash, timezone, daily_target_minutes, nudge_time,"
                     " nudges_enabled, is_demo, created_at) VALUES ('old@example.org', 'x', 'UTC', 60, '18:00',"
                     " false, false, :day) RETURNING id"), {"day": day},
            ).scalar_one()  # fmt: skip
            device_id = conn.execute(
                text("INSERT INTO devices (user_id, name, created_at) VALUES (:u, 'H10', :day) RETURNING id"),
                {"u": user_id, "day": day},
            ).scalar_one()
            conn.execute(text("INSERT INTO device_tokens (device_id, token_hash, created_at) VALUES (:d, 'h', :day)"),
                         {"d": device_id, "day": day})  # fmt: skip
            conn.execute(text("INSERT INTO samples (device_id, t_ms, user_id, bpm) VALUES (:d, :t, :u, 70)"),
                         [{"d": device_id, "t": t * 1000, "u": user_id} for t in range(500)])  # fmt: skip
            interview_id = conn.execute(
                text("INSERT INTO interviews (user_id, company, role, at, created_at) VALUES (:u, 'Globex',"
                     " 'Analyst', :day, :day) RETURNING id"), {"u": user_id, "day": day},
            ).scalar_one()  # fmt: skip
            conn.execute(text("INSERT INTO reflections (interview_id, went_well, went_poorly, lessons, updated_at)"
                              " VALUES (:i, '[]', '[]', '[]', :day)"), {"i": interview_id, "day": day})  # fmt: skip
            conn.execute(text("INSERT INTO feedback (interview_id, created_at) VALUES (:i, :day)"),
                         [{"i": interview_id, "day": day}] * 2)  # fmt: skip
            conn.execute(text("INSERT INTO paired_straps (user_id, device_id, address, name, recording, paired_at)"
                              " VALUES (:u, :d, 'C0:FF:EE:00:00:01', 'H10', true, :day)"),
                         {"u": user_id, "d": device_id, "day": day})  # fmt: skip
        migrate.upgrade(engine)
        counts = {"samples": 500, "device_tokens": 1, "reflections": 1, "feedback": 2, "paired_straps": 1}
        with engine.connect() as conn:
            for table, expected in counts.items():
                owners = conn.execute(text(f"SELECT user_id, count(*) FROM {table} GROUP BY user_id")).all()
                assert [tuple(r) for r in owners] == [(user_id, expected)], table
            if backend == "sqlite":
                assert conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall() == []
            pk = inspect(conn).get_pk_constraint("samples")["constrained_columns"]
        engine.dispose()
        assert pk == ["device_id", "t_ms", "user_id"]


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_0010_clears_rest_hrv_that_is_not_a_number(backend: str, tmp_path: Path) -> None:
    """Days stored with ln RMSSD -inf (RMSSD 0) or +inf lose their HRV; finite ones and other columns stay."""
    with fresh_database(backend, tmp_path) as url:
        engine = create_engine(url)
        migrate.upgrade(engine, "0009")
        rollups = Base.metadata.tables["day_rollups"]
        with engine.begin() as conn:
            user_id = conn.execute(
                text("INSERT INTO users (email, password_hash, timezone, daily_target_minutes, nudge_time,"
                     " nudges_enabled, is_demo, created_at) VALUES ('old@example.org', 'x', 'UTC', 60, '18:00',"
                     " false, false, '2024-01-01') RETURNING id"),
            ).scalar_one()  # fmt: skip
            for i, ln in enumerate((float("-inf"), 3.7, float("inf"), None)):
                conn.execute(
                    insert(rollups).values(
                        user_id=user_id, day=dt.date(2024, 1, 1 + i), heartbeat_up_minutes=30 + i,
                        moderate_minutes=0, vigorous_minutes=0, peak_minutes=0, active_zone_points=0,
                        valid_minutes=600, lost_contact_minutes=0, n_beats=9000, ln_rmssd=ln,
                        rmssd_ms=None if ln is None else (0.0 if ln < 0 else 40.4),
                        updated_at=dt.datetime(2024, 1, 5, tzinfo=dt.UTC),
                    )
                )  # fmt: skip
        migrate.upgrade(engine)
        with engine.connect() as conn:
            rows = conn.execute(
                select(rollups.c.heartbeat_up_minutes, rollups.c.ln_rmssd, rollups.c.rmssd_ms).order_by(
                    rollups.c.day
                )
            ).all()
        engine.dispose()
    assert [tuple(r) for r in rows] == [(30, None, None), (31, 3.7, 40.4), (32, None, None), (33, None, None)]
