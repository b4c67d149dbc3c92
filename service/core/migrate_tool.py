"""Regenerate the initial migration from the models: `python -m service.core.migrate_tool` (development only)."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from alembic import command

from service.core.db import make_engine
from service.core.migrate import MIGRATIONS_DIR, alembic_config


def regenerate_initial(message: str = "initial schema") -> None:
    """Until the first release there is one migration; it is rewritten whenever the models change."""
    for old in (MIGRATIONS_DIR / "versions").glob("0001_*.py"):
        old.unlink()
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'empty.sqlite3'}")
        command.revision(alembic_config(engine), message=message, autogenerate=True, rev_id="0001")
        engine.dispose()


if __name__ == "__main__":
    regenerate_initial(*sys.argv[1:])
