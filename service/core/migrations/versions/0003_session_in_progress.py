"""Workout sessions say whether they are still going and why a recovery value is missing or reads low.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("workout_sessions") as batch:
        # Sessions stored before this revision were all analysed as finished: false for them.
        batch.add_column(sa.Column("in_progress", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("recovery_note", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("workout_sessions") as batch:
        batch.drop_column("recovery_note")
        batch.drop_column("in_progress")
