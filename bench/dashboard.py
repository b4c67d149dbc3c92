"""Each dashboard API call against reading the same rows straight from the database, in one run.

A user with a year of 1 Hz history (rollups, sessions, a check-in a day) is served by `chinup serve`;
every call the pages make is timed over HTTP, and every row it reads (the caller's token and user, and each
table the route queries, with the same WHERE) is read again with the bare driver; the table names them. An
empty round trip (/health) is timed too: it is the floor any HTTP call pays. Aim (issue 19): the /days range
calls within 3x of raw + floor.

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

AIM = 3.0  # issue 19: /days?from=&to= within 3x of reading its rows with the bare driver (+ the HTTP floor)


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
    console = Console(width=200)  # the table stays readable when written to a file
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
        t_month = int((end_s - 30 * DAY_S) * 1000)

        def at(t_ms: int) -> str:  # a time as the service stores it (service.core.db.UTCDateTime)
            return dt.datetime.fromtimestamp(t_ms / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")

        def day_ms(day: dt.date) -> int:  # the UTC instant a local day of the (UTC) bench user begins
            return int(dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC).timestamp() * 1000)

        # Every call reads the caller's token and user first (service.api.deps), so every raw read does too.
        auth = (
            "SELECT users.*, access_tokens.expires_at, access_tokens.revoked_at FROM users JOIN access_tokens"
            " ON access_tokens.user_id = users.id WHERE access_tokens.token_hash = ?",
            (token_digest(token),),
        )

        def reads(*queries: tuple[str, tuple[object, ...]]) -> tuple[str, Callable[[], object]]:
            """The bare reads of the rows a call reads, with its WHERE; and what they are, for the table."""

            def run() -> object:
                return [raw.execute(sql, params).fetchall() for sql, params in (auth, *queries)]

            names = ["auth"] + [sql.split(" FROM ")[1].split()[0] for sql, _ in queries]
            return " + ".join(names), run

        def days_reads(first: dt.date, last: dt.date) -> tuple[str, Callable[[], object]]:
            """What GET /days?from=&to= reads (service.api.days.list_days)."""
            lo, hi = day_ms(first), day_ms(last + dt.timedelta(days=1))
            return reads(
                (
                    "SELECT * FROM day_rollups WHERE user_id = ? AND day >= ? AND day <= ?",
                    (user_id, str(first), str(last)),
                ),
                (
                    "SELECT * FROM workout_sessions WHERE user_id = ? AND deleted = 0 AND start_ms >= ? AND start_ms < ?"
                    " ORDER BY start_ms",
                    (user_id, lo, hi),
                ),
                (
                    "SELECT * FROM checkins WHERE user_id = ? AND at >= ? AND at < ? ORDER BY at",
                    (user_id, at(lo), at(hi)),
                ),
                (
                    "SELECT day, ln_rmssd FROM day_rollups WHERE user_id = ? AND ln_rmssd IS NOT NULL AND day <= ?"
                    " AND day > ? ORDER BY day",
                    (user_id, str(last), str(first - dt.timedelta(days=60))),
                ),
            )

        day_lo, day_hi = day_ms(today), day_ms(today + dt.timedelta(days=1))
        calls = [
            ("Today", "/api/v1/me", reads()),
            ("Today", f"/api/v1/days/{today}", reads(
                ("SELECT * FROM day_rollups WHERE user_id = ? AND day = ?", (user_id, str(today))),
                ("SELECT * FROM workout_sessions WHERE user_id = ? AND deleted = 0 AND start_ms >= ? AND start_ms < ?"
                 " ORDER BY start_ms", (user_id, day_lo, day_hi)),
                ("SELECT * FROM checkins WHERE user_id = ? AND at >= ? AND at < ? ORDER BY at",
                 (user_id, at(day_lo), at(day_hi))),
                ("SELECT day, ln_rmssd FROM day_rollups WHERE user_id = ? AND ln_rmssd IS NOT NULL AND day <= ?"
                 " AND day > ? ORDER BY day", (user_id, str(today), str(today - dt.timedelta(days=60)))),
                ("SELECT day, heartbeat_up_minutes FROM day_rollups WHERE user_id = ? AND day <= ? AND day > ?"
                 " ORDER BY day DESC", (user_id, str(today), str(today - dt.timedelta(days=400)))),
                ("SELECT * FROM day_rollups WHERE user_id = ? AND day >= ? AND day <= ?",
                 (user_id, str(today - dt.timedelta(days=6)), str(today))),
            )),
            ("Today", f"/api/v1/sessions?from={t_today}", reads(
                ("SELECT * FROM workout_sessions WHERE user_id = ? AND deleted = 0 AND end_ms >= ?"
                 " ORDER BY start_ms LIMIT 5000", (user_id, t_today)),
            )),
            ("Today", f"/api/v1/checkins?from={t_today}", reads(
                ("SELECT * FROM checkins WHERE user_id = ? AND at >= ? ORDER BY at DESC, id DESC LIMIT 101",
                 (user_id, at(t_today))),
            )),
            ("Mood", f"/api/v1/days?from={d90}&to={today}", days_reads(d90, today)),
            ("Recovery", f"/api/v1/days?from={d365}&to={today}", days_reads(d365, today)),
            ("Sessions", f"/api/v1/sessions?from={t_month}", reads(
                ("SELECT * FROM workout_sessions WHERE user_id = ? AND deleted = 0 AND end_ms >= ?"
                 " ORDER BY start_ms LIMIT 5000", (user_id, t_month)),
            )),
            ("Session", f"/api/v1/sessions/{session_id}/samples", reads(
                ("SELECT * FROM workout_sessions WHERE id = ? AND user_id = ?", (session_id, user_id)),
                ("SELECT t_ms, bpm FROM samples WHERE user_id = ? AND t_ms >= ? AND t_ms <= ? ORDER BY t_ms",
                 (user_id, s_start, s_end)),
            )),
        ]  # fmt: skip
        table = Table(
            title=f"Dashboard calls, {args.days} days of 1 Hz history, {args.repeats} repeats, median ms"
        )
        for col in (
            "page",
            "call",
            "raw reads (same WHERE)",
            "API p50",
            "API p95",
            "raw rows p50",
            "API / (raw + HTTP floor)",
            "aim",
        ):
            table.add_column(col)
        with running_server(url) as base, httpx.Client(base_url=base, timeout=30) as http:
            headers = {"Authorization": f"Bearer {token}"}
            floor = statistics.median(_timed(lambda: http.get("/health"), args.repeats))
            today_p95 = []
            for page, path_, (compared, raw_read) in calls:
                answer = http.get(path_, headers=headers)
                assert answer.status_code == 200, (path_, answer.text[:200])
                api = _timed(lambda p=path_: http.get(p, headers=headers), args.repeats)
                base_t = _timed(raw_read, args.repeats)
                a50, a95, r50 = statistics.median(api), _p(api, 0.95), statistics.median(base_t)
                if page == "Today":
                    today_p95.append(a95)
                ratio = a50 / (r50 + floor)
                verdict = ("<= 3 ✓" if ratio <= AIM else "✗") if path_.startswith("/api/v1/days?") else ""
                table.add_row(page, path_.split("?")[0] + ("?from=&to=" if "&to=" in path_ else ""), compared,
                              f"{a50 * 1000:.1f}", f"{a95 * 1000:.1f}", f"{r50 * 1000:.2f}", f"{ratio:.1f}",
                              verdict or ("✓" if ratio <= AIM else "-"))  # fmt: skip
        raw.close()
    console.print(table)
    console.print(f"HTTP floor (GET /health) p50 {floor * 1000:.1f} ms; Today's calls p95 max "
                  f"{max(today_p95) * 1000:.1f} ms (aim < 50 ms)")  # fmt: skip


if __name__ == "__main__":
    main()
