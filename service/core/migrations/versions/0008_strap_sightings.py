"""Strap sightings kept in the database, so a pairing sees a scan run by another process of the deployment.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "strap_sightings",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(length=17), nullable=False),
        sa.Column("seen_s", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_strap_sightings_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", "address", name=op.f("pk_strap_sightings")),
    )


def downgrade() -> None:
    op.drop_table("strap_sightings")
