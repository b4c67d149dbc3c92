"""The demo's generated history is stored as a strap's would be: its device says when it last sent a sample
(the Devices page showed "Last sample: none yet" beside eight weeks of data, found by a new user)."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.core import migrate
from service.core.db import make_engine
from service.core.models import Device, Sample
from service.demo.run import seed_demo


def test_the_demo_history_device_knows_its_last_sample(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'demo.sqlite3'}")
    migrate.upgrade(engine)
    user_id, _ = seed_demo(engine, weeks=1, console=Console(file=io.StringIO()))
    with Session(engine) as db:
        device = db.scalars(select(Device).where(Device.user_id == user_id)).one()
        newest = db.scalar(select(func.max(Sample.t_ms)).where(Sample.device_id == device.id))
    engine.dispose()
    assert newest is not None and device.last_sample_ms == newest
