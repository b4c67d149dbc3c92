"""Practice sessions keep the span they were timed over; applications keep their status changes.

Existing applications with a status get one event at their applied_at, so every history starts where the
application did.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import service.core.db

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("practice_sessions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("started_at", service.core.db.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("ended_at", service.core.db.UTCDateTime(), nullable=True))
    op.create_table(
        "application_status_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("application_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=100), nullable=False),
        sa.Column("at", service.core.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name=op.f("fk_application_status_events_application_id_applications"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_application_status_events_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_application_status_events")),
    )
    op.create_index(
        "ix_application_status_events_app_at",
        "application_status_events",
        ["application_id", "at"],
        unique=False,
    )
    op.execute(
        "INSERT INTO application_status_events (application_id, user_id, status, at)"
        " SELECT id, user_id, status, applied_at FROM applications WHERE status IS NOT NULL"
    )


def downgrade() -> None:
    op.drop_index("ix_application_status_events_app_at", table_name="application_status_events")
    op.drop_table("application_status_events")
    with op.batch_alter_table("practice_sessions", schema=None) as batch_op:
        batch_op.drop_column("ended_at")
        batch_op.drop_column("started_at")
