"""State that every `chinup serve` process must see alike: live stream tickets and log-in throttle events.

Both were in memory, which is right for one process and wrong for several: a ticket issued by one worker was
unknown to the one that opened the stream, and each worker counted its own share of a password guesser's tries.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stream_tickets",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("token_digest", sa.String(length=64), nullable=False),
        sa.Column("issued_s", sa.Float(), nullable=False),
        sa.Column("expires_s", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_stream_tickets_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", "digest", name=op.f("pk_stream_tickets")),
    )
    op.create_table(
        "login_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("account", sa.String(length=320), nullable=True),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("at_s", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_events")),
    )
    op.create_index("ix_login_events_account", "login_events", ["kind", "account", "at_s"], unique=False)
    op.create_index("ix_login_events_address", "login_events", ["kind", "address", "at_s"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_login_events_address", table_name="login_events")
    op.drop_index("ix_login_events_account", table_name="login_events")
    op.drop_table("login_events")
    op.drop_table("stream_tickets")
