"""Day rollups remember the newest minute they counted, so a day answer can say how current it is.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("day_rollups") as batch:
        batch.add_column(sa.Column("counted_until_s", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("day_rollups") as batch:
        batch.drop_column("counted_until_s")
