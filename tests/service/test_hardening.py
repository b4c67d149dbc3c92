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
from service.core.db import make_engine
from service.pipeline.ingest import MAX_RR_PER_SAMPLE
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
    with engine.begin() as conn:  # WAL mode (service.core.db): the -wal and -shm files appear with the first write
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
        conn.execute(text("INSERT INTO t VALUES (1)"))
        files = sorted(os.listdir(settings.data_dir))
        assert {"chinup.sqlite3", "chinup.sqlite3-wal"} <= set(files)
        for name in files:
            assert stat.S_IMODE(os.stat(settings.data_dir / name).st_mode) == 0o600, name
    engine.dispose()
    assert stat.S_IMODE(os.stat(settings.data_dir).st_mode) == 0o700


def test_a_value_from_outside_cannot_forge_a_log_line(caplog: pytest.LogCaptureFixture) -> None:
    import logging

    from service.core.logs import RedactSecrets

    logger = logging.getLogger("service.recording.supervisor")  # a child: a filter on "service" alone would miss it
    handler_filter = RedactSecrets()
    caplog.handler.addFilter(handler_filter)
    try:
        logger.warning("strap %s at %s", "Polar\nINFO chinup: user 2 logged in", "/api/v1/live?ticket=s3cret")
    finally:
        caplog.handler.removeFilter(handler_filter)
    line = caplog.records[-1].getMessage()
    assert "\n" not in line and "\\x0a" in line and "s3cret" not in line


def test_a_new_spool_is_the_owners_alone(tmp_path: Path) -> None:
    from devices.spool import Spool

    with Spool(tmp_path / "spool.sqlite3"):
        pass
    assert stat.S_IMODE(os.stat(tmp_path / "spool.sqlite3").st_mode) == 0o600


def test_another_heart_rate_for_a_stored_time_is_a_counted_conflict(http: httpx.Client) -> None:
    user = sign_up(http)
    device = register_device(http, user)
    url = f"/api/v1/devices/{device['id']}/samples"
    t = int(time.time() * 1000) - 60_000
    first = http.post(url, json={"samples": [{"t": t, "bpm": 70}]}, headers=user.headers).json()
    assert (first["accepted"], first["duplicates"], first["conflicts"]) == (1, 0, 0)
    retry = http.post(url, json={"samples": [{"t": t, "bpm": 70}]}, headers=user.headers).json()
    assert (retry["accepted"], retry["duplicates"], retry["conflicts"]) == (0, 1, 0)  # a retry is no conflict
    other = http.post(
        url, json={"samples": [{"t": t, "bpm": 90}, {"t": t + 1000, "bpm": 71}, {"t": t + 1000, "bpm": 72}]},
        headers=user.headers,
    ).json()  # fmt: skip
    assert (other["accepted"], other["duplicates"], other["conflicts"]) == (1, 2, 2)
    stored = http.get(url, headers=user.headers).json()
    assert [(s["t_ms"], s["bpm"]) for s in stored] == [(t, 70), (t + 1000, 71)]  # the first one stays


@pytest.mark.parametrize("path", ["/", "/api/v1/checkins/", "/dashboard/today/"])
def test_a_forged_host_never_appears_in_a_redirect(http: httpx.Client, path: str) -> None:
    # Starlette builds the trailing-slash redirect from the Host header: it sent browsers to evil.example.
    answer = http.get(path, headers={"Host": "evil.example"}, follow_redirects=False)
    assert answer.is_redirect
    location = answer.headers["location"]
    assert location.startswith("/") and not location.startswith("//"), location
    assert "evil.example" not in location
