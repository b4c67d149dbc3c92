"""Analysis owed to stored samples is a table, written with the samples, so a crash loses no analysis.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import service.core.db

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "analysis_tasks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("lo_ms", sa.BigInteger(), nullable=True),
        sa.Column("hi_ms", sa.BigInteger(), nullable=True),
        sa.Column("created_at", service.core.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_analysis_tasks_user_id"), "analysis_tasks", ["user_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_analysis_tasks_user_id"), table_name="analysis_tasks")
    op.drop_table("analysis_tasks")
