"""Each dashboard API call against reading the same rows straight from the database, in one run.

A user with a year of 1 Hz history (rollups, sessions, a check-in a day) is served by `chinup serve`;
every call the pages make is timed over HTTP, and the rows it returns are read again with the bare
driver. An empty round trip (/health) is timed too: it is the floor any HTTP call pays.

Run: .venv/bin/python bench/dashboard.py [--days N] [--repeats R]
"""

from __future__ import annotations

import argparse
import datetime as dt
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._incremental import DAY_S, _seed  # noqa: E402
from bench._support import running_server  # noqa: E402
from service.core import migrate  # noqa: E402
from service.core.db import make_engine  # noqa: E402
from service.core.security import USER_TOKEN_PREFIX, new_token, token_digest  # noqa: E402


def _timed(fn: Callable[[], object], repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        began = time.perf_counter()
        fn()
        out.append(time.perf_counter() - began)
    return out


def _p(values: list[float], q: float) -> float:
    return sorted(values)[min(len(values) - 1, int(q * len(values)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--repeats", type=int, default=40)
    args = parser.parse_args()
    console = Console()
    end_s = float((int(time.time()) // DAY_S) * DAY_S)  # history up to last midnight UTC
    today = dt.datetime.fromtimestamp(end_s - 1, dt.UTC).date()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "dash.sqlite3"
        url = f"sqlite:///{path}"
        engine = make_engine(url)
        migrate.upgrade(engine)
        engine.dispose()
        user_id = _seed(url, "dash@bench", args.days, end_s, console, journal=True)
        token = new_token(USER_TOKEN_PREFIX)
        raw = sqlite3.connect(path)
        raw.execute(
            "INSERT INTO access_tokens (user_id, token_hash, created_at, expires_at) VALUES (?, ?, ?, ?)",
            (user_id, token_digest(token), "2020-01-01 00:00:00", "2100-01-01 00:00:00"),
        )
        raw.commit()
        session_id, s_start, s_end = raw.execute(
            "SELECT id, start_ms, end_ms FROM workout_sessions WHERE user_id = ? ORDER BY start_ms DESC LIMIT 1",
            (user_id,),
        ).fetchone()
        d90, d365 = today - dt.timedelta(days=89), today - dt.timedelta(days=364)
        t_today = int((end_s - DAY_S) * 1000)

        def rows(sql: str, *params: object) -> Callable[[], object]:
            return lambda: raw.execute(sql, params).fetchall()

        calls = [
            ("Today", "/api/v1/me", rows("SELECT * FROM users WHERE id = ?", user_id)),
            ("Today", f"/api/v1/days/{today}", rows(
                "SELECT * FROM day_rollups WHERE user_id = ? AND day > ?", user_id, str(today - dt.timedelta(days=60)))),
            ("Today", f"/api/v1/sessions?from={t_today}", rows(
                "SELECT * FROM workout_sessions WHERE user_id = ? AND end_ms >= ?", user_id, t_today)),
            ("Today", f"/api/v1/checkins?from={t_today}", rows(
                "SELECT * FROM checkins WHERE user_id = ? AND at >= ?", user_id, "2000-01-01")),
            ("Mood", f"/api/v1/days?from={d90}&to={today}", rows(
                "SELECT * FROM day_rollups WHERE user_id = ? AND day >= ?", user_id, str(d90))),
            ("Recovery", f"/api/v1/days?from={d365}&to={today}", rows(
                "SELECT * FROM day_rollups WHERE user_id = ? AND day >= ?", user_id, str(d365))),
            ("Sessions", f"/api/v1/sessions?from={int((end_s - 30 * DAY_S) * 1000)}", rows(
                "SELECT * FROM workout_sessions WHERE user_id = ? AND end_ms >= ?", user_id,
                int((end_s - 30 * DAY_S) * 1000))),
            ("Session", f"/api/v1/sessions/{session_id}/samples", rows(
                "SELECT t_ms, bpm FROM samples WHERE user_id = ? AND t_ms >= ? AND t_ms <= ?",
                user_id, s_start, s_end)),
        ]  # fmt: skip
        table = Table(
            title=f"Dashboard calls, {args.days} days of 1 Hz history, {args.repeats} repeats, median ms"
        )
        for col in (
            "page",
            "call",
            "API p50",
            "API p95",
            "raw rows p50",
            "API / (raw + HTTP floor)",
            "API / raw",
        ):
            table.add_column(col)
        with running_server(url) as base, httpx.Client(base_url=base, timeout=30) as http:
            headers = {"Authorization": f"Bearer {token}"}
            floor = statistics.median(_timed(lambda: http.get("/health"), args.repeats))
            today_p95 = []
            for page, path_, raw_read in calls:
                answer = http.get(path_, headers=headers)
                assert answer.status_code == 200, (path_, answer.text[:200])
                api = _timed(lambda p=path_: http.get(p, headers=headers), args.repeats)
                base_t = _timed(raw_read, args.repeats)
                a50, a95, r50 = statistics.median(api), _p(api, 0.95), statistics.median(base_t)
                if page == "Today":
                    today_p95.append(a95)
                table.add_row(page, path_.split("?")[0], f"{a50 * 1000:.1f}", f"{a95 * 1000:.1f}", f"{r50 * 1000:.2f}",
                              f"{a50 / (r50 + floor):.1f}", f"{a50 / r50:.0f}")  # fmt: skip
        raw.close()
    console.print(table)
    console.print(f"HTTP floor (GET /health) p50 {floor * 1000:.1f} ms; Today's calls p95 max "
                  f"{max(today_p95) * 1000:.1f} ms (aim < 50 ms)")  # fmt: skip


if __name__ == "__main__":
    main()
