"""Alembic environment: the engine comes from service.core.migrate, never from a file of settings."""

from __future__ import annotations

from alembic import context

from service.core.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    engine = config.attributes["engine"]
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # A batch migration rebuilds a table and drops the old one; with foreign keys on, that drop would
            # cascade into every row referring to it (a device's samples). Off while migrating, checked after.
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=sqlite,
            compare_type=True,
        )
        try:
            before = context.get_context().get_current_revision()
            with context.begin_transaction():
                context.run_migrations()
                migrated = context.get_context().get_current_revision() != before
                if sqlite and migrated:  # checked only when a migration ran, before it is committed
                    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    if broken:
                        raise RuntimeError(f"migration left rows referring to nothing: {broken[:5]}")
            connection.commit()
        finally:
            if sqlite:
                connection.rollback()  # nothing left open: PRAGMA foreign_keys cannot change in a transaction
                connection.exec_driver_sql("PRAGMA foreign_keys=ON")


run_migrations_online()
