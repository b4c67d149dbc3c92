"""Samples per second through the real HTTP server against the raw driver on the same schema, per database.

Run: .venv/bin/python bench/ingest.py [--samples N] [--clients C]
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._support import fresh_database, postgres_available, running_server, sign_up  # noqa: E402
from service import migrate  # noqa: E402
from service.db import make_engine  # noqa: E402

BATCH = 1000
START_MS = int(time.time() * 1000) - 30 * 86_400_000


def make_rows(n: int, device_id: int, user_id: int) -> list[tuple[int, int, int, int, str, bool]]:
    return [
        (device_id, START_MS + i * 1000, user_id, 60 + i % 90, f"{60000 / (60 + i % 90):.1f}", True)
        for i in range(n)
    ]


def raw_driver_rate(db_url: str, n: int) -> float:
    """The same rows through the bare DB-API driver, in batches of BATCH, each committed."""
    engine = make_engine(db_url)
    migrate.upgrade(engine)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO users (id, email, password_hash, timezone, daily_target_minutes, nudge_time,"
                " nudges_enabled, is_demo, created_at) VALUES (1, 'raw@x', 'x', 'UTC', 60, '18:00',"
                " false, false, CURRENT_TIMESTAMP)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO devices (id, user_id, name, created_at) VALUES (1, 1, 'raw', CURRENT_TIMESTAMP)"
            )
        )
    engine.dispose()
    rows = make_rows(n, 1, 1)
    if db_url.startswith("sqlite"):
        import sqlite3

        conn = sqlite3.connect(db_url.removeprefix("sqlite:///"))
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        sql = (
            "INSERT INTO samples (device_id, t_ms, user_id, bpm, rr_ms, contact) VALUES (?,?,?,?,?,?)"
            " ON CONFLICT DO NOTHING"
        )
    else:
        import psycopg

        conn = psycopg.connect(db_url.replace("postgresql+psycopg", "postgresql"))
        sql = (
            "INSERT INTO samples (device_id, t_ms, user_id, bpm, rr_ms, contact) VALUES (%s,%s,%s,%s,%s,%s)"
            " ON CONFLICT DO NOTHING"
        )
    started = time.perf_counter()
    for i in range(0, n, BATCH):
        cur = conn.cursor()
        cur.executemany(sql, rows[i : i + BATCH])
        conn.commit()
    elapsed = time.perf_counter() - started
    conn.close()
    return n / elapsed


def api_rate(db_url: str, n: int, clients: int) -> float:
    """The same number of samples as JSON batches through `chinup serve`, from several concurrent clients."""
    with running_server(db_url) as base:
        headers = sign_up(base)
        per_client = n // clients
        device_ids = []
        for c in range(clients):
            answer = httpx.post(
                f"{base}/api/v1/devices",
                json={"name": f"strap {c}", "address": f"BE:NC:00:00:00:{c:02X}"},
                headers=headers,
            )
            answer.raise_for_status()
            device_ids.append(answer.json()["id"])
        # Bodies are encoded before the clock starts: the server's rate is measured, not the client's json.dumps.
        bodies = [
            [
                json.dumps(
                    {
                        "samples": [
                            {
                                "t": START_MS + i * 1000,
                                "bpm": 60 + i % 90,
                                "rr_ms": [round(60000 / (60 + i % 90), 1)],
                                "contact": True,
                            }
                            for i in range(j, j + BATCH)
                        ]
                    }
                ).encode()
                for j in range(0, per_client, BATCH)
            ]
            for _ in range(clients)
        ]
        errors: list[str] = []

        def upload(c: int) -> None:
            with httpx.Client(timeout=60) as http:
                for body in bodies[c]:
                    answer = http.post(
                        f"{base}/api/v1/devices/{device_ids[c]}/samples",
                        content=body,
                        headers={**headers, "Content-Type": "application/json"},
                    )
                    if answer.status_code != 200 or answer.json()["accepted"] != BATCH:
                        errors.append(answer.text[:200])

        threads = [threading.Thread(target=upload, args=(c,)) for c in range(clients)]
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        # The clock stops once the minutes and days of every stored sample are counted, not at the last answer.
        while httpx.get(f"{base}/health").json().get("analysis_backlog", 0):
            time.sleep(0.01)
        elapsed = time.perf_counter() - started
        if errors:
            raise RuntimeError(f"uploads failed: {errors[:3]}")
        return per_client * clients / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--samples", type=int, default=60_000)
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args()
    console = Console()
    table = Table(title=f"Ingest: {args.samples} samples, batches of {BATCH}, {args.clients} clients")
    for col in ("database", "raw driver (samples/s)", "API (samples/s)", "API / raw", "aim"):
        table.add_column(col)
    backends = ["sqlite"] + (["postgresql"] if postgres_available() else [])
    for backend in backends:
        with fresh_database(backend) as url:
            raw = raw_driver_rate(url, args.samples)
        with fresh_database(backend) as url:
            api = api_rate(url, args.samples, args.clients)
        ratio = api / raw
        table.add_row(
            backend,
            f"{raw:,.0f}",
            f"{api:,.0f}",
            f"{ratio:.2f}",
            "≥ 0.33 " + ("✓" if ratio >= 1 / 3 else "✗"),
        )
    console.print(table)


if __name__ == "__main__":
    main()
