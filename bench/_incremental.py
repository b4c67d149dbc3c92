"""Ingesting one more minute for a user with one day of history and with a year of it (bench/analysis.py).

The histories are seeded in bulk (raw inserts of samples, and rollups computed by the same pure functions
the service uses), then one more minute at a time goes through the service's own ingest path: validation,
storage, minute and day rollups, and the day's sessions and HRV (analysis inline, as in the tests).
"""

from __future__ import annotations

import datetime as dt
import statistics
import tempfile
import time

import numpy as np
from rich.console import Console
from rich.progress import Progress
from sqlalchemy import insert, text

from service.analysis.cleaning import clean_hr
from service.analysis.minutes import day_totals, minute_table
from service.analysis.sessions import find_sessions
from service.core import localtime, migrate
from service.core.db import make_engine, make_session_factory
from service.core.models import CheckIn, DayRollup, MinuteRollup, User, WorkoutSession
from service.pipeline.days import session_columns
from service.pipeline.ingest import CleanSample, store_samples
from service.pipeline.live import LiveHub
from service.pipeline.minutes import minute_rows, profile_for
from service.pipeline.scheduler import Rollups
from tests.support.workouts import day_heart_rate

DAY_S = 86_400
CHUNK_DAYS = 5


def _seed(
    db_url: str, email: str, days: int, end_s: float, console: Console, *, journal: bool = False
) -> int:
    """A user with `days` of 1 Hz history ending at `end_s`, rollups computed in bulk; with sessions and
    a check-in a day when `journal`."""
    engine = make_engine(db_url)
    sessions = make_session_factory(engine)
    with sessions() as db:
        user = User(email=email, password_hash="x", timezone="UTC", resting_hr=58, max_hr=185)
        db.add(user)
        db.flush()
        db.execute(text("INSERT INTO devices (user_id, name, created_at) VALUES (:u, 'bench', CURRENT_TIMESTAMP)"),
                   {"u": user.id})  # fmt: skip
        device_id = db.execute(text("SELECT max(id) FROM devices")).scalar_one()
        db.commit()
        profile = profile_for(user)
        user_id = user.id
    raw = engine.raw_connection()
    tz = localtime.zone("UTC")
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task(f"seeding {days} days of 1 Hz history", total=days)
        for first in range(0, days, CHUNK_DAYS):
            n_days = min(CHUNK_DAYS, days - first)
            t0 = end_s - (days - first) * DAY_S
            t = np.arange(t0, t0 + n_days * DAY_S, 1.0)
            bpm = day_heart_rate(t, seed=int(t[0]) % 97)  # sleep, a walk and a run each day, with noise
            cur = raw.cursor()
            cur.executemany(
                "INSERT INTO samples (device_id, t_ms, user_id, bpm, rr_ms, contact) VALUES (?, ?, ?, ?, NULL, 1)",
                zip([device_id] * t.size, (t * 1000).astype(np.int64).tolist(), [user_id] * t.size, bpm.tolist(),
                    strict=True),
            )  # fmt: skip
            raw.commit()
            valid = clean_hr(t, bpm).valid
            table = minute_table(t, bpm, valid, profile=profile)
            first_day = localtime.local_day(t0, tz)
            edges = localtime.day_edges_s(first_day, first_day + dt.timedelta(days=n_days - 1), tz)
            totals = day_totals(table, edges)
            found = find_sessions(t, bpm, valid, table) if journal else []
            with sessions() as db:
                for session in found:
                    db.add(WorkoutSession(user_id=user_id, source="detected", **session_columns(session)))
                if journal:
                    for i in range(n_days):
                        at = dt.datetime.fromtimestamp(edges[i] + 20 * 3600, dt.UTC)
                        db.add(CheckIn(user_id=user_id, at=at, confidence=5 + i % 4, mood=6 + i % 3))
                db.execute(insert(MinuteRollup), minute_rows(user_id, table))
                for i in range(n_days):
                    db.add(DayRollup(user_id=user_id, day=first_day + dt.timedelta(days=i),
                                     heartbeat_up_minutes=int(totals.heartbeat_up_minutes[i]),
                                     valid_minutes=int(totals.valid_minutes[i])))  # fmt: skip
                db.commit()
            progress.advance(task, n_days)
    raw.close()
    engine.dispose()
    return user_id


def _one_more_minute(rollups: Rollups, sessions, user_id: int, device_id: int, start_s: float) -> float:  # type: ignore[no-untyped-def]
    samples = [CleanSample(int((start_s + i) * 1000), 120 + i % 7, (), True) for i in range(60)]
    began = time.perf_counter()
    with sessions() as db:
        store_samples(db, user_id=user_id, device_id=device_id, samples=samples)
        db.commit()
    rollups.on_ingest(user_id, samples)
    return time.perf_counter() - began


def bench_incremental(quick: bool = False, console: Console | None = None) -> float:
    """Median time to ingest one more minute: a year of history against one day; returns the ratio."""
    console = console or Console()
    year_days = 30 if quick else 365
    end_s = float((int(time.time()) // DAY_S) * DAY_S - DAY_S)  # midnight UTC yesterday: history ends there
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.sqlite3"
        engine = make_engine(url)
        migrate.upgrade(engine)
        engine.dispose()
        short = _seed(url, "day@bench", 1, end_s, console)
        long = _seed(url, "year@bench", year_days, end_s, console)
        engine = make_engine(url)
        sessions = make_session_factory(engine)
        rollups = Rollups(sessions, LiveHub(), debounce_s=0)  # inline: one update is timed as the work it is
        times: dict[int, list[float]] = {short: [], long: []}
        for k in range(12):  # interleaved, so machine noise hits both alike
            for user_id in (short, long):
                device_id = user_id  # one bench device per user, created in order
                times[user_id].append(
                    _one_more_minute(rollups, sessions, user_id, device_id, end_s - 3600 + 60 * k)
                )
        engine.dispose()
    a, b = statistics.median(times[short][2:]), statistics.median(times[long][2:])
    ratio = b / a
    console.print(
        f"one more minute: {a * 1000:.1f} ms with 1 day of history, {b * 1000:.1f} ms with {year_days} days "
        f"→ ratio {ratio:.2f} (aim < 1.5) {'✓' if ratio < 1.5 else '✗'}"
    )
    return ratio


if __name__ == "__main__":
    bench_incremental(quick=True)
