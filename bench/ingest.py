"""Ingest through the real HTTP server against the bare driver on the same rows, per database and batching,
and whether the day totals the service then reports equal a from-scratch count of the same samples.

Batchings: `interleaved` (C clients, one device each of one user, batches of 1,000 synthetic samples at the
same times), and `day 1,000` / `day 10,000`: C users each upload a 1 Hz workout day (the `bpm_1hz` stream of
../shared/data/synthetic_24h_rr.npz, else a generated day) in batches spanning ~17 min or ~2.8 h. The server
runs with its default settings. The clock stops once /health says the minute rollups caught up; day totals are
read once the analysis is quiet and compared with clean_hr -> minute_table -> day_totals over the samples the
service accepted, with the user's profile (service.pipeline.minutes.profile_for). Exits 1 if any day differs.
`after last answer` is the share of the clocked time spent after the last upload was answered.

Run: .venv/bin/python bench/ingest.py [--samples N] [--clients C] [--batchings ...] [--databases ...]
PostgreSQL is included when CHINUP_TEST_DATABASE_URL (default postgres@127.0.0.1:5432/test) answers.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from rich.console import Console
from rich.table import Table
from sqlalchemy import text
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._support import bare_connection, running_server  # noqa: E402
from service.analysis.cleaning import clean_hr  # noqa: E402
from service.analysis.minutes import day_totals, minute_table  # noqa: E402
from service.analysis.profile import HeartProfile  # noqa: E402
from service.config import Settings  # noqa: E402
from service.core import localtime, migrate  # noqa: E402
from service.core.db import make_engine  # noqa: E402
from service.core.models import User  # noqa: E402
from service.pipeline.ingest import BatchVerdict, CleanSample, format_rr, parse_batch  # noqa: E402
from service.pipeline.minutes import profile_for  # noqa: E402
from tests.support.databases import fresh_database, postgres_available  # noqa: E402
from tests.support.settle import wait_for_analysis  # noqa: E402
from tests.support.users import sign_up  # noqa: E402
from tests.support.workouts import workout_day  # noqa: E402

BATCH = 1000
START_MS = int(time.time() * 1000) - 30 * 86_400_000
DAY_START = dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0) - dt.timedelta(days=2)
# Given at sign-up, so the profile never moves with the data: 40 % of the reserve is 107 bpm.
PROFILE = {"resting_hr": 55, "max_hr": 185}
COMPARED = ("heartbeat_up_minutes", "moderate", "vigorous", "peak", "active_zone_points")
AIM = 1 / 3

Item = dict[str, Any]  # one sample as the API takes it


@dataclass(frozen=True)
class Stream:
    """What one client uploads to a device of its own: a user's samples, batch after batch."""

    user: int  # index of the workload's user
    items: list[Item]


@dataclass(frozen=True)
class Workload:
    name: str
    batch: int
    users: int
    streams: list[Stream]


@dataclass(frozen=True)
class Prepared:
    """Bodies encoded and judged by the service's own parser before any clock starts."""

    workload: Workload
    bodies: list[list[bytes]]  # per stream
    verdicts: list[list[BatchVerdict]]  # per stream, per body

    @property
    def samples(self) -> int:
        return sum(len(v.clean) for stream in self.verdicts for v in stream)


def interleaved(n: int, clients: int) -> Workload:
    """The original workload: bpm 60-149 in 90 s saw teeth, the same times on every client's device."""
    items = [
        {
            "t": START_MS + i * 1000,
            "bpm": 60 + i % 90,
            "rr_ms": [round(60000 / (60 + i % 90), 1)],
            "contact": True,
        }
        for i in range(n // clients)
    ]
    return Workload(f"interleaved {BATCH:,}", BATCH, 1, [Stream(0, items) for _ in range(clients)])


def day_stream() -> list[Item]:
    """The 1 Hz day as API items (a corrupt value is sent as it is: the service rejects it and counts that)."""
    t_s, bpm = workout_day()
    start_ms = int(DAY_START.timestamp() * 1000)
    return [
        {"t": start_ms + int(t) * 1000, "bpm": int(b), "rr_ms": [round(60000 / b, 1)] if b > 0 else None,
         "contact": True}
        for t, b in zip(t_s, bpm, strict=True)
    ]  # fmt: skip


def day_workload(batch: int, clients: int) -> Workload:
    items = day_stream()
    return Workload(f"day {batch:,}", batch, clients, [Stream(u, items) for u in range(clients)])


def prepare(workload: Workload) -> Prepared:
    settings = Settings()
    now_ms = int(time.time() * 1000)
    done: dict[int, tuple[list[bytes], list[BatchVerdict]]] = {}  # streams sharing items share bodies
    for stream in workload.streams:
        if id(stream.items) not in done:
            b = workload.batch
            bodies = [
                json.dumps({"samples": stream.items[j : j + b]}).encode()
                for j in range(0, len(stream.items), b)
            ]
            verdicts = [
                parse_batch(body, now_ms, settings.future_tolerance_s * 1000, settings.max_batch_samples)
                for body in bodies
            ]
            done[id(stream.items)] = (bodies, verdicts)
    pairs = [done[id(s.items)] for s in workload.streams]
    return Prepared(workload, [p[0] for p in pairs], [p[1] for p in pairs])


def raw_driver_rate(db_url: str, prepared: Prepared) -> float:
    """The same rows through the bare DB-API driver, batch by batch, each committed; one device per stream."""
    engine = make_engine(db_url)
    migrate.upgrade(engine)
    streams = prepared.workload.streams
    with engine.begin() as conn:
        for u in range(prepared.workload.users):
            conn.execute(
                text(
                    "INSERT INTO users (id, email, password_hash, timezone, daily_target_minutes, nudge_time,"
                    " nudges_enabled, is_demo, created_at) VALUES (:id, :email, 'x', 'UTC', 60, '18:00',"
                    " false, false, CURRENT_TIMESTAMP)"
                ),
                {"id": u + 1, "email": f"raw{u}@x"},
            )
        for k, stream in enumerate(streams):
            conn.execute(
                text(
                    "INSERT INTO devices (id, user_id, name, created_at) VALUES (:id, :user, 'raw', CURRENT_TIMESTAMP)"
                ),
                {"id": k + 1, "user": stream.user + 1},
            )
    engine.dispose()
    batches = [
        [(k + 1, s.t_ms, stream.user + 1, s.bpm, format_rr(s.rr_ms), s.contact) for s in v.clean]
        for k, stream in enumerate(streams)
        for v in prepared.verdicts[k]
    ]
    with bare_connection(db_url) as (conn, mark):
        sql = (
            f"INSERT INTO samples (device_id, t_ms, user_id, bpm, rr_ms, contact) VALUES ({', '.join([mark] * 6)})"
            " ON CONFLICT DO NOTHING"
        )
        started = time.perf_counter()
        for rows in batches:
            cur = conn.cursor()
            cur.executemany(sql, rows)
            conn.commit()
        elapsed = time.perf_counter() - started
    return prepared.samples / elapsed


@dataclass(frozen=True)
class ApiRun:
    rate: float
    tail_share: float  # of the clocked time, the part after the last answer (waiting for the minute rollups)
    days: list[tuple[int, list[dict[str, Any]]]]  # per user of the workload: id, GET /days answer
    health: dict[str, Any]


def api_run(db_url: str, prepared: Prepared) -> ApiRun:
    """The same batches through `chinup serve`, one client thread per stream; then the users' days."""
    workload = prepared.workload
    with running_server(db_url) as base, httpx.Client(base_url=base, timeout=60) as http:
        users = [sign_up(http, **PROFILE).headers for _ in range(workload.users)]
        user_ids = [httpx.get(f"{base}/api/v1/me", headers=h).json()["id"] for h in users]
        device_ids = []
        for k, stream in enumerate(workload.streams):
            answer = httpx.post(
                f"{base}/api/v1/devices",
                json={"name": f"strap {k}", "address": f"BE:NC:00:00:{k // 256:02X}:{k % 256:02X}"},
                headers=users[stream.user],
            )
            answer.raise_for_status()
            device_ids.append(answer.json()["id"])
        errors: list[str] = []

        def upload(k: int) -> None:
            headers = {**users[workload.streams[k].user], "Content-Type": "application/json"}
            with httpx.Client(timeout=120) as http:
                for body, verdict in zip(prepared.bodies[k], prepared.verdicts[k], strict=True):
                    answer = http.post(
                        f"{base}/api/v1/devices/{device_ids[k]}/samples", content=body, headers=headers
                    )
                    if answer.status_code != 200 or answer.json()["accepted"] != len(verdict.clean):
                        errors.append(answer.text[:200])

        threads = [threading.Thread(target=upload, args=(k,)) for k in range(len(workload.streams))]
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        answered = time.perf_counter()
        # The clock stops once the minutes and days of every stored sample are counted, not at the last answer.
        while httpx.get(f"{base}/health").json().get("analysis_backlog", 0):
            time.sleep(0.01)
        elapsed = time.perf_counter() - started
        if errors:
            raise RuntimeError(f"uploads failed: {errors[:3]}")
        health = wait_for_analysis(http, timeout_s=600)
        first, last = _day_range(prepared)
        days = [
            (uid, httpx.get(f"{base}/api/v1/days", params={"from": first, "to": last}, headers=h).json())
            for uid, h in zip(user_ids, users, strict=True)
        ]
    return ApiRun(prepared.samples / elapsed, (elapsed - (answered - started)) / elapsed, days, health)


def _day_range(prepared: Prepared) -> tuple[dt.date, dt.date]:
    """UTC days holding samples, and one more on each side (a count there would be wrong too)."""
    t_ms = [s.t_ms for stream in prepared.verdicts for v in stream for s in v.clean]
    first = dt.datetime.fromtimestamp(min(t_ms) / 1000, dt.UTC).date()
    last = dt.datetime.fromtimestamp(max(t_ms) / 1000, dt.UTC).date()
    return first - dt.timedelta(days=1), last + dt.timedelta(days=1)


def scratch_days(
    samples: list[CleanSample], profile: HeartProfile, tz_name: str, first: dt.date, last: dt.date
) -> dict[str, dict[str, int]]:
    """The days' totals counted at once over all the user's samples, as the service's pure analysis does."""
    samples = sorted(samples, key=lambda s: s.t_ms)
    t_s = np.array([s.t_ms for s in samples], dtype=np.int64) / 1000.0
    bpm = np.array([s.bpm for s in samples], dtype=np.float32)
    contact = np.array([s.contact is not False for s in samples], dtype=bool)  # stored NULL counts as contact
    valid = clean_hr(t_s, bpm, contact=contact).valid
    table = minute_table(t_s, bpm, valid, profile=profile, contact=contact)
    totals = day_totals(table, localtime.day_edges_s(first, last, localtime.zone(tz_name)))
    columns = {
        "heartbeat_up_minutes": totals.heartbeat_up_minutes, "moderate": totals.moderate_minutes,
        "vigorous": totals.vigorous_minutes, "peak": totals.peak_minutes,
        "active_zone_points": totals.active_zone_points,
    }  # fmt: skip
    return {
        (first + dt.timedelta(days=i)).isoformat(): {k: int(v[i]) for k, v in columns.items()}
        for i in range((last - first).days + 1)
    }


def _served(day: dict[str, Any]) -> dict[str, int]:
    zones = day["zone_minutes"]
    return {"heartbeat_up_minutes": day["heartbeat_up_minutes"], **{k: zones[k] for k in COMPARED[1:]}}


def _stored(prepared: Prepared, user: int) -> list[CleanSample]:
    """What the service stores of a user's uploads: per device, the first sample of each time."""
    out: list[CleanSample] = []
    for k, stream in enumerate(prepared.workload.streams):
        if stream.user == user:
            kept: dict[int, CleanSample] = {}
            for verdict in prepared.verdicts[k]:
                for sample in verdict.clean:
                    kept.setdefault(sample.t_ms, sample)
            out += kept.values()
    return out


def differing_days(db_url: str, prepared: Prepared, run: ApiRun) -> list[str]:
    """One line per user-day whose served totals differ from the scratch count of the user's samples."""
    first, last = _day_range(prepared)
    engine = make_engine(db_url)
    users_by_line: dict[str, list[int]] = {}  # users uploading the same day differ the same way: one line
    try:
        with Session(engine) as db:
            for u, (uid, served) in enumerate(run.days):
                user = db.get(User, uid)
                assert user is not None
                scratch = scratch_days(_stored(prepared, u), profile_for(user), user.timezone, first, last)
                for day in served:
                    got, want = _served(day), scratch[day["date"]]
                    if got != want:
                        diff = ", ".join(
                            f"{k} {got[k]} (scratch {want[k]})" for k in COMPARED if got[k] != want[k]
                        )
                        users_by_line.setdefault(f"{day['date']}: {diff}", []).append(uid)
    finally:
        engine.dispose()
    return [f"user {', '.join(map(str, uids))} {line}" for line, uids in users_by_line.items()]


def default_settings_only() -> None:
    """The server must run with its defaults: drop CHINUP_ settings this shell may carry (the URL stays)."""
    for name in Settings.model_fields:
        os.environ.pop(f"CHINUP_{name.upper()}", None)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--samples",
        type=int,
        default=240_000,
        help="samples of the interleaved batching (a few seconds: shorter runs time the warm-up)",
    )
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--batchings", nargs="+", default=["interleaved", "day-1000", "day-10000"],
                        choices=["interleaved", "day-1000", "day-10000"])  # fmt: skip
    parser.add_argument(
        "--databases", nargs="+", default=["sqlite", "postgresql"], choices=["sqlite", "postgresql"]
    )
    args = parser.parse_args()
    default_settings_only()
    console = Console()
    if not console.is_terminal:
        console.width = 132  # a pipe or a file: one row per batching rather than 80 wrapped columns
    table = Table(title=f"Ingest, {args.clients} clients (the clock stops when the minute rollups caught up)")
    for col in ("database", "batching", "samples", "driver samples/s", "API samples/s", "API / driver", "aim",
                "after last answer", "day totals = scratch"):  # fmt: skip
        table.add_column(col)
    workloads = {
        "interleaved": lambda: interleaved(args.samples, args.clients),
        "day-1000": lambda: day_workload(1_000, args.clients),
        "day-10000": lambda: day_workload(10_000, args.clients),
    }
    prepared = [prepare(workloads[name]()) for name in args.batchings]
    backends = [b for b in args.databases if b == "sqlite" or postgres_available()]
    differences: list[str] = []
    for backend in backends:
        for job in prepared:
            with fresh_database(backend) as url:
                raw = raw_driver_rate(url, job)
            with fresh_database(backend) as url:
                run = api_run(url, job)
                diff = differing_days(url, job, run)
            ratio = run.rate / raw
            differences += [f"{backend}, {job.workload.name}: {line}" for line in diff]
            if run.health.get("status") != "ok":
                differences.append(f"{backend}, {job.workload.name}: /health {run.health}")
            table.add_row(
                backend, job.workload.name, f"{job.samples:,}", f"{raw:,.0f}", f"{run.rate:,.0f}", f"{ratio:.2f}",
                f"≥ {AIM:.2f} " + ("✓" if ratio >= AIM else "✗"), f"{run.tail_share:.0%}", "no" if diff else "yes",
            )  # fmt: skip
    console.print(table)
    for line in differences:
        console.print(line, markup=False)
    return 1 if differences else 0


if __name__ == "__main__":
    sys.exit(main())
