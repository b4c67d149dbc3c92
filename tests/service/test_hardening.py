"""The low-severity findings of issue 15's probe, each against the running service or the real database file."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from service.config import Settings
from service.db import make_engine
from service.ingest import MAX_RR_PER_SAMPLE
from tests.support.users import register_device, sign_up


@pytest.mark.parametrize("item_id", ["²", "١", "0", "2147483648"])
def test_detail_pages_answer_404_for_what_is_no_id(http: httpx.Client, item_id: str) -> None:
    # "²".isdigit() and "١".isdigit() are true in Python; int("²") raises: it answered 500.
    for slug in ("sessions", "interviews"):
        assert http.get(f"/dashboard/{slug}/{item_id}").status_code == 404


def test_one_sample_holds_at_most_a_bounded_number_of_rr_intervals(http: httpx.Client) -> None:
    user = sign_up(http)
    device = register_device(http, user)
    now_ms = int(time.time() * 1000)
    samples = [
        {"t": now_ms - 2000, "bpm": 70, "rr_ms": [850.0] * (MAX_RR_PER_SAMPLE + 1)},
        {"t": now_ms - 1000, "bpm": 70, "rr_ms": [850.0] * MAX_RR_PER_SAMPLE},
    ]
    answer = http.post(
        f"/api/v1/devices/{device['id']}/samples", json={"samples": samples}, headers=user.headers
    )
    assert answer.status_code == 200
    body = answer.json()
    assert body["accepted"] == 1
    assert body["rejected"] == [
        {"index": 0, "reason": f"more than {MAX_RR_PER_SAMPLE} RR intervals in one sample"}
    ]


def test_the_database_and_its_journal_files_are_the_owners_alone(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    engine = make_engine(settings.resolved_database_url)
    with engine.begin() as conn:  # WAL mode (service.db): the -wal and -shm files appear with the first write
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
        conn.execute(text("INSERT INTO t VALUES (1)"))
        files = sorted(os.listdir(settings.data_dir))
        assert {"chinup.sqlite3", "chinup.sqlite3-wal"} <= set(files)
        for name in files:
            assert stat.S_IMODE(os.stat(settings.data_dir / name).st_mode) == 0o600, name
    engine.dispose()
    assert stat.S_IMODE(os.stat(settings.data_dir).st_mode) == 0o700
