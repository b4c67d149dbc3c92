"""Imports as background jobs (issue 15): POST /imports?background=true against a real server, both databases.

A background import must give what the synchronous one gives, follow its progress monotonically to 100,
survive the death of its process (the row left `running` with its file is run again at the next start,
storing nothing twice), fail a corrupt file with the reason the synchronous import answers, hide other
users' jobs, and hold the server's memory flat whatever the file's size.
"""

from __future__ import annotations

import datetime as dt
import shutil
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from service.core.models import ImportJob
from service.importers.background import MAX_PENDING_PER_USER, UPLOADS_DIR, node_name
from service.importers.upload import ImportOptions
from tests.support.server import LiveServer
from tests.support.settle import wait_for_analysis
from tests.support.users import TestUser, sign_up

RUN = "fitparse_fenix2_run.fit"
CORRUPT = "fitparse_settings_corrupt_header.fit"
PER_USER = ("device_ids", "sessions")  # ids of the importing user's own rows, not the file's
START = dt.datetime(2026, 1, 5, 6, 0, tzinfo=dt.UTC)


def _background(http: httpx.Client, user: TestUser, name: str, content: bytes, **form: str) -> httpx.Response:
    return http.post(
        "/api/v1/imports", params={"background": "true"}, files={"file": (name, content)}, data=form,
        headers=user.headers,
    )  # fmt: skip


def _follow(http: httpx.Client, user: TestUser, job_id: int, timeout_s: float = 60) -> list[dict[str, Any]]:
    """Every state of the job seen until it ends, polled as a client would."""
    seen, deadline = [], time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        answer = http.get(f"/api/v1/imports/{job_id}", headers=user.headers)
        assert answer.status_code == 200, answer.text
        seen.append(answer.json())
        if seen[-1]["state"] in ("done", "failed"):
            return seen
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not end within {timeout_s} s: {seen[-1]}")


def _without_ids(report: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in report.items() if k not in PER_USER}


def _monotone(seen: list[dict[str, Any]], key: str) -> bool:
    values = [s[key] for s in seen]
    return values == sorted(values)


def _uploads(server: LiveServer) -> Path:
    return server.settings.data_dir / UPLOADS_DIR


def test_a_background_import_answers_what_the_synchronous_one_does(
    server: LiveServer, http: httpx.Client, shared_data: Path
) -> None:
    content = (shared_data / RUN).read_bytes()
    plain, queued = sign_up(http), sign_up(http)
    sync = http.post("/api/v1/imports", files={"file": (RUN, content)}, headers=plain.headers)
    assert sync.status_code == 200, sync.text

    answer = _background(http, queued, RUN, content)
    assert answer.status_code == 202, answer.text
    job = answer.json()
    assert answer.headers["Location"] == f"/api/v1/imports/{job['id']}"
    assert job["file_name"] == RUN and job["bytes_total"] == len(content) and job["report"] is None
    seen = _follow(http, queued, job["id"])
    done = seen[-1]
    assert done["state"] == "done", done
    assert _without_ids(done["report"]) == _without_ids(sync.json())
    assert done["format"] == "fit" and done["samples_stored"] == sync.json()["stored"] > 2000
    assert done["percent"] == 100 and done["bytes_read"] == len(content) and done["error"] is None
    assert all(_monotone(seen, key) for key in ("percent", "bytes_read", "samples_stored"))
    assert done["started_at"] >= done["created_at"] and done["finished_at"] >= done["started_at"]
    assert not list(_uploads(server).iterdir())  # the stored upload is removed once the job ends

    mine = http.get("/api/v1/imports", headers=queued.headers).json()
    assert [j["id"] for j in mine] == [job["id"]]
    other = http.get(f"/api/v1/imports/{job['id']}", headers=plain.headers)
    assert other.status_code == 404 and other.json() == {"detail": "import job not found"}
    assert http.get("/api/v1/imports", headers=plain.headers).json() == []
    assert http.get(f"/api/v1/imports/{2**31}", headers=plain.headers).status_code == 404
    wait_for_analysis(http)


def test_a_corrupt_file_fails_with_the_reason_the_synchronous_import_gives_and_queues_are_bounded(
    server: LiveServer, http: httpx.Client, engine: Engine, shared_data: Path
) -> None:
    user = sign_up(http)
    files = ((CORRUPT, (shared_data / CORRUPT).read_bytes()), ("noise.fit", bytes(range(256)) * 9))
    for name, content in files:
        sync = http.post("/api/v1/imports", files={"file": (name, content)}, headers=user.headers)
        assert 400 <= sync.status_code < 500, sync.text
        answer = _background(http, user, name, content)
        assert answer.status_code == 202, answer.text
        failed = _follow(http, user, answer.json()["id"])[-1]
        assert failed["state"] == "failed" and failed["report"] is None
        assert failed["error"] == sync.json()["detail"]
    assert "header" in http.get("/api/v1/imports", headers=user.headers).json()[1]["error"]

    # Uploads wait on disk: a user cannot queue without end (rows of another node, which this one never runs).
    with Session(engine) as db:
        db.add_all(
            ImportJob(user_id=user.id, state="queued", file_name="f.csv", path="gone.upload", node="elsewhere",
                      options=asdict(ImportOptions()), bytes_total=1)
            for _ in range(MAX_PENDING_PER_USER)
        )  # fmt: skip
        db.commit()
    refused = _background(http, user, RUN, (shared_data / RUN).read_bytes())
    assert refused.status_code == 429 and "wait for one to end" in refused.json()["detail"]
    assert not list(_uploads(server).iterdir())


def _csv(n: int, *, pad: int = 0, first: int = 0) -> bytes:
    """A recording CSV of n samples at 1 Hz from START (+ first seconds), each row padded with a note column."""
    note = "x" * pad
    rows = [f"{(START + dt.timedelta(seconds=first + i)).isoformat()},{90 + i % 60},{note}" for i in range(n)]
    return ("t,bpm,note\n" + "\n".join(rows) + "\n").encode()


def _stored(http: httpx.Client, user: TestUser) -> list[dict[str, Any]]:
    span = {"from": START.isoformat(), "to": (START + dt.timedelta(days=1)).isoformat()}
    devices = http.get("/api/v1/devices", headers=user.headers).json()
    samples: list[dict[str, Any]] = []
    for device in devices:
        got = http.get(f"/api/v1/devices/{device['id']}/samples", params=span, headers=user.headers)
        samples += got.json()
    return samples


def test_a_job_left_running_by_a_dead_process_runs_again_at_the_next_start(
    server: LiveServer, http: httpx.Client, engine: Engine
) -> None:
    whole = _csv(3000)
    reference, crashed = sign_up(http), sign_up(http)
    sync = http.post("/api/v1/imports", files={"file": ("run.csv", whole)}, headers=reference.headers).json()
    # The dead process had stored the first third before it died: those rows come back as duplicates.
    part = http.post("/api/v1/imports", files={"file": ("run.csv", _csv(1000))}, headers=crashed.headers)
    assert part.json()["stored"] == 1000
    server.stop()
    _uploads(server).mkdir(mode=0o700, exist_ok=True)
    (_uploads(server) / "crashed.upload").write_bytes(whole)
    (_uploads(server) / "doomed.upload").write_bytes(whole)
    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    left = (("crashed.upload", 1, 40_000, 1000), ("doomed.upload", 3, 0, 0))  # path, starts, bytes, samples
    with Session(engine) as db:
        rows = [
            ImportJob(user_id=crashed.id, state="running", file_name="run.csv", path=path,
                      node=node_name(server.settings),
                      options=asdict(ImportOptions()), bytes_total=len(whole), bytes_read=read,
                      samples_stored=stored, attempts=attempts, started_at=long_ago, heartbeat_at=long_ago)
            for path, attempts, read, stored in left
        ]  # fmt: skip
        db.add_all(rows)
        db.commit()
        crashed_id, doomed_id = rows[0].id, rows[1].id
    server.start()

    seen = _follow(http, crashed, crashed_id)
    done = seen[-1]
    assert done["state"] == "done", done
    report = done["report"]
    assert (report["read"], report["stored"], report["duplicates"]) == (3000, 2000, 1000)
    assert done["samples_stored"] == 3000 and done["percent"] == 100
    assert all(_monotone(seen, key) for key in ("percent", "bytes_read", "samples_stored"))
    assert seen[0]["bytes_read"] >= 40_000  # progress never goes back, even across the restart
    doomed = _follow(http, crashed, doomed_id)[-1]
    assert doomed["state"] == "failed" and "started 3 times" in doomed["error"]
    assert not list(_uploads(server).iterdir())
    stored, expected = _stored(http, crashed), _stored(http, reference)
    assert sync["stored"] == 3000 and len(stored) == len({s["t"] for s in stored}) == 3000
    assert [(s["t"], s["bpm"]) for s in stored] == [(s["t"], s["bpm"]) for s in expected]
    wait_for_analysis(http)


def _peak_rss_growth_mb(http: httpx.Client, user: TestUser, path: Path) -> tuple[float, list[dict[str, Any]]]:
    """The peak resident memory the process (server and client both) gained while importing `path`."""
    Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM, the peak, to the current RSS
    before = _status_kb("VmRSS")
    with path.open("rb") as fh:
        answer = http.post(
            "/api/v1/imports",
            params={"background": "true"},
            files={"file": (path.name, fh)},
            headers=user.headers,
        )
    assert answer.status_code == 202, answer.text
    seen = _follow(http, user, answer.json()["id"], timeout_s=120)
    return (_status_kb("VmHWM") - before) / 1024, seen


def _status_kb(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1])
    raise LookupError(key)


def test_the_servers_memory_stays_flat_for_a_large_file(
    server: LiveServer, http: httpx.Client, db_url: str, tmp_path: Path, record_property: Any
) -> None:
    """The LiveServer runs in this process, so its RSS is the server's (plus the client's streamed upload)."""
    if not db_url.startswith("sqlite"):
        pytest.skip("memory is the server's, whatever the database: measured once")
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pytest.skip("needs Linux /proc (clear_refs, VmHWM) to read the peak resident memory")
    user = sign_up(http)
    small, large = tmp_path / "small.csv", tmp_path / "large.csv"
    small.write_bytes(_csv(500, pad=2000, first=86_400 * 2))
    large.write_bytes(_csv(100_000, pad=1080, first=86_400 * 3))
    assert large.stat().st_size > 100 * 2**20
    small_mb, _ = _peak_rss_growth_mb(http, user, small)
    large_mb, seen = _peak_rss_growth_mb(http, user, large)
    record_property("rss_growth_mb", {"small_1MB": round(small_mb, 1), "large_105MB": round(large_mb, 1)})
    size_mb = large.stat().st_size >> 20
    print(f"peak RSS growth: {small_mb:.1f} MB importing 1 MB, {large_mb:.1f} MB importing {size_mb} MB")
    assert seen[-1]["state"] == "done" and seen[-1]["report"]["stored"] == 100_000, seen[-1]
    assert len({s["percent"] for s in seen}) > 2 and _monotone(seen, "percent")  # progress seen on the way
    assert large_mb < small_mb + 40  # not the file: it is 100+ MB
    shutil.rmtree(tmp_path, ignore_errors=True)
    wait_for_analysis(http)
