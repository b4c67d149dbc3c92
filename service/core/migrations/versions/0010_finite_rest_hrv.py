"""Rest HRV stored as a finite number or not at all: beats at a fixed rate had RMSSD 0, stored as ln 0 = -inf
(and RMSSD 0), which no band can use; such days now store none (service.pipeline.days._day_hrv).

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # +-inf lie beyond any finite bound on both databases; PostgreSQL also sorts NaN above them (SQLite stores
    # NaN as NULL already).
    op.execute(
        "UPDATE day_rollups SET ln_rmssd = NULL, rmssd_ms = NULL WHERE ln_rmssd < -1e300 OR ln_rmssd > 1e300"
    )


def downgrade() -> None:
    """Nothing to restore: the values removed were not numbers a reading could use."""
