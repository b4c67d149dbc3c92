"""Load: recorders uploading 1 Hz samples in batches and dashboard users reading, against `chinup serve`.

Default: 200 recorders (each its own user and strap) posting 5 s batches, 20 dashboard users reading their
day, week and sessions once a second, for 60 s, on SQLite and on PostgreSQL. Afterwards every sample sent
is counted in the database: stored exactly once, none lost, none doubled. Printed: p50 / p99 latency of
uploads and reads, against the same requests on the idle server (baseline measured in the same run), and
the stored rate against the offered rate.

On PostgreSQL the same load runs against `chinup serve --workers N` for each N of --workers (default 1, 2
and 4; SQLite serves one process only): the stored samples a second, per worker and against one worker, in
the table and plotted with the latencies to bench/load_workers.png.

Run: .venv/bin/python bench/load.py [--recorders 200] [--readers 20] [--seconds 60] [--workers 1,2,4]
     [--backend sqlite|postgresql|both] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table
from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._support import running_server  # noqa: E402
from tests.support.databases import fresh_database, postgres_available  # noqa: E402

PASSWORD = "load-test-password"
SIGNUP_CONCURRENCY = 8
GIVE_UP_AFTER_S = 20  # a batch still refused this long after the run ends is reported, not retried forever
HTTP_LIMITS = httpx.Limits(max_connections=300, max_keepalive_connections=300)
PLOT = Path(__file__).with_name("load_workers.png")


@dataclass
class Recorder:
    headers: dict[str, str]  # the strap's device upload token
    device_id: int
    sent: int = 0
    accepted: int = 0
    duplicates: int = 0


@dataclass
class Reader:
    headers: dict[str, str]  # the user's token


@dataclass
class Stats:
    upload_ms: list[float] = field(default_factory=list)
    read_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


async def sign_up(client: httpx.AsyncClient, base: str, n: int) -> tuple[dict[str, str], Recorder]:
    """One user with one strap: the user's token (for reading) and the strap's upload token."""
    email = f"load-{n}-{random.getrandbits(32):08x}@example.org"
    answer = await client.post(f"{base}/api/v1/users", json={"email": email, "password": PASSWORD})
    answer.raise_for_status()
    token = await client.post(f"{base}/api/v1/auth/token", data={"username": email, "password": PASSWORD})
    token.raise_for_status()
    user = {"Authorization": f"Bearer {token.json()['access_token']}"}
    strap = await client.post(f"{base}/api/v1/devices", json={"name": f"strap {n}"}, headers=user)
    strap.raise_for_status()
    device = strap.json()
    return user, Recorder({"Authorization": f"Bearer {device['upload_token']}"}, int(device["id"]))


async def set_up(client: httpx.AsyncClient, base: str, n: int) -> tuple[list[dict[str, str]], list[Recorder]]:
    gate = asyncio.Semaphore(SIGNUP_CONCURRENCY)

    async def one(i: int) -> tuple[dict[str, str], Recorder]:
        async with gate:
            return await sign_up(client, base, i)

    pairs = await asyncio.gather(*(one(i) for i in range(n)))
    return [u for u, _ in pairs], [r for _, r in pairs]


def batch_body(start_ms: int, n: int, rng: random.Random) -> dict[str, object]:
    samples = []
    for i in range(n):
        bpm = rng.randint(60, 170)
        samples.append(
            {"t": start_ms + i * 1000, "bpm": bpm, "rr_ms": [round(60000 / bpm, 1)], "contact": True}
        )
    return {"samples": samples}


async def record(
    client: httpx.AsyncClient,
    base: str,
    rec: Recorder,
    stats: Stats,
    deadline: float,
    batch_s: float,
    seed: int,
) -> None:
    """1 Hz samples stamped with the wall clock, posted every `batch_s`; a failed batch is sent again."""
    rng = random.Random(seed)
    await asyncio.sleep(rng.uniform(0, batch_s))  # recorders are not in step
    next_ms = int(time.time() * 1000) - int(batch_s * 1000)
    url = f"{base}/api/v1/devices/{rec.device_id}/samples"
    while time.monotonic() < deadline:
        n = max(1, int((time.time() * 1000 - next_ms) // 1000))
        body = batch_body(next_ms, n, rng)
        while True:  # a recorder's spool keeps the batch until the service acknowledges it
            if time.monotonic() > deadline + GIVE_UP_AFTER_S:
                stats.errors.append("upload: given up after the run")  # unknown outcome: not counted as sent
                return
            started = time.perf_counter()
            try:
                answer = await client.post(url, json=body, headers=rec.headers)
            except httpx.TransportError as exc:
                stats.errors.append(f"upload: {type(exc).__name__}")
                await asyncio.sleep(1)
                continue
            stats.upload_ms.append((time.perf_counter() - started) * 1000)
            if answer.status_code == 200:
                break
            stats.errors.append(f"upload: {answer.status_code}")
            await asyncio.sleep(1)
        result = answer.json()
        rec.sent += n
        rec.accepted += result["accepted"]
        rec.duplicates += result["duplicates"]
        next_ms += n * 1000
        await asyncio.sleep(batch_s)


async def read(client: httpx.AsyncClient, base: str, reader: Reader, stats: Stats, deadline: float) -> None:
    """What the Today page asks for: the day, the week, the sessions; once a second."""
    today = dt.date.today()
    week = f"from={today - dt.timedelta(days=6)}&to={today}"
    since = f"from={today - dt.timedelta(days=6)}T00:00:00%2B00:00"
    paths = [f"/api/v1/days/{today}", f"/api/v1/days?{week}", f"/api/v1/sessions?{since}"]
    while time.monotonic() < deadline:
        for path in paths:
            started = time.perf_counter()
            try:
                answer = await client.get(f"{base}{path}", headers=reader.headers)
            except httpx.TransportError as exc:
                stats.errors.append(f"read: {type(exc).__name__}")
                continue
            stats.read_ms.append((time.perf_counter() - started) * 1000)
            if answer.status_code != 200:
                stats.errors.append(f"read {path}: {answer.status_code}")
        await asyncio.sleep(1)


async def idle_baseline(client: httpx.AsyncClient, base: str, rec: Recorder, reader: Reader) -> Stats:
    """The same requests one at a time on the idle server."""
    stats = Stats()
    deadline = time.monotonic() + 3
    await record(client, base, rec, stats, deadline, batch_s=0.2, seed=-1)
    await read(client, base, reader, stats, time.monotonic() + 0.5)
    return stats


@dataclass(frozen=True)
class LoadResult:
    backend: str
    workers: int
    recorders: int
    readers: int
    seconds: float
    sent: int
    accepted: int
    duplicates: int
    stored: int
    load: Stats
    idle: Stats

    @property
    def exactly_once(self) -> bool:
        return self.stored == self.sent == self.accepted and self.duplicates == 0

    @property
    def throughput(self) -> float:
        """Samples stored a second of the load."""
        return self.stored / self.seconds

    @property
    def offered(self) -> float:
        """What `throughput` can reach: a sample a second from each strap. At it the server kept up (which says
        nothing of how much more it could take); below it, it fell behind."""
        return float(self.recorders)

    @property
    def per_worker(self) -> float:
        return self.throughput / self.workers


def count_stored(db_url: str, device_ids: list[int]) -> int:
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            ids = ",".join(str(int(i)) for i in device_ids)
            return int(
                conn.execute(text(f"SELECT count(*) FROM samples WHERE device_id IN ({ids})")).scalar_one()
            )
    finally:
        engine.dispose()


async def run_load_at(
    base: str, db_url: str, *, recorders: int, readers: int, seconds: float, batch_s: float = 5.0
) -> tuple[int, int, int, int, Stats, Stats]:
    async with httpx.AsyncClient(timeout=60, limits=HTTP_LIMITS) as client:
        users, recs = await set_up(client, base, recorders + 1)
        idle = await idle_baseline(client, base, recs[-1], Reader(users[-1]))
        users, recs = users[:-1], recs[:-1]
        stats = Stats()
        deadline = time.monotonic() + seconds
        async with asyncio.TaskGroup() as tasks:
            for i, rec in enumerate(recs):
                tasks.create_task(record(client, base, rec, stats, deadline, batch_s, seed=i))
            for user in users[:readers]:
                tasks.create_task(read(client, base, Reader(user), stats, deadline))
    stored = await asyncio.to_thread(count_stored, db_url, [r.device_id for r in recs])
    sent = sum(r.sent for r in recs)
    return sent, sum(r.accepted for r in recs), sum(r.duplicates for r in recs), stored, stats, idle


def run_load(
    backend: str, *, workers: int = 1, recorders: int, readers: int, seconds: float, batch_s: float = 5.0
) -> LoadResult:
    """A fresh database and `chinup serve [--workers N]` subprocess, the load for `seconds`, then the count.

    Each worker count gets its own database: no run reads the samples of the one before it."""
    with fresh_database(backend) as db_url, running_server(db_url, workers=workers) as base:
        sent, accepted, duplicates, stored, stats, idle = asyncio.run(
            run_load_at(base, db_url, recorders=recorders, readers=readers, seconds=seconds, batch_s=batch_s)
        )
    return LoadResult(
        backend, workers, recorders, readers, seconds, sent, accepted, duplicates, stored, stats, idle
    )


def report(results: list[LoadResult]) -> Table:
    first = results[0]
    table = Table(title=f"Load: {first.recorders} recorders (1 Hz, 5 s batches), {first.readers} readers, "
                        f"{first.seconds:g} s")  # fmt: skip
    for col in ("database", "workers", "sent", "stored once", "stored / offered", "upload p50 / p99 ms",
                "vs idle p50", "read p50 / p99 ms", "vs idle p50", "stored/s", "per worker",
                "vs 1 worker", "errors"):  # fmt: skip
        table.add_column(col)
    one_worker = {r.backend: r.throughput for r in results if r.workers == 1}
    for r in results:
        up50, up99 = percentile(r.load.upload_ms, 50), percentile(r.load.upload_ms, 99)
        rd50, rd99 = percentile(r.load.read_ms, 50), percentile(r.load.read_ms, 99)
        offered = r.recorders * r.seconds  # samples a 1 Hz strap produces in the run
        base = one_worker.get(r.backend)
        table.add_row(
            r.backend,
            str(r.workers),
            f"{r.sent:,}",
            f"{r.stored:,} " + ("✓" if r.exactly_once else "✗"),
            f"{r.sent / offered:.2f}",
            f"{up50:.0f} / {up99:.0f}",
            f"{up50 / percentile(r.idle.upload_ms, 50):.1f}×",
            f"{rd50:.0f} / {rd99:.0f}",
            f"{rd50 / percentile(r.idle.read_ms, 50):.1f}×",
            f"{r.throughput:.0f}",
            f"{r.per_worker:.0f}",
            f"{r.throughput / base:.2f}×" if base else "–",
            str(len(r.load.errors)),
        )
    return table


def plot(results: list[LoadResult], path: Path) -> None:
    """Latency and throughput per worker against the worker count: whether a second process buys anything.

    matplotlib is imported here, not at the top: the SQLite-only run, and tests that import this module,
    do without it."""
    import matplotlib

    matplotlib.use("Agg")  # no display: a file only
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    runs = sorted(results, key=lambda r: r.workers)
    workers = [r.workers for r in runs]
    fig, (latency, rate) = plt.subplots(1, 2, figsize=(11, 4.2), constrained_layout=True)
    for samples, label, colour in (("upload_ms", "upload", "tab:blue"), ("read_ms", "read", "tab:orange")):
        for q, style in ((50, "-o"), (99, "--s")):
            ms = [percentile(getattr(r.load, samples), q) for r in runs]
            latency.plot(workers, ms, style, color=colour, label=f"{label} p{q}")
    latency.set(xlabel="workers", ylabel="latency under load (ms)", xticks=workers, yscale="log")
    latency.yaxis.set_major_locator(LogLocator(subs=(1, 2, 5)))
    latency.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}" if v >= 1 else f"{v:g}"))
    latency.yaxis.set_minor_formatter(NullFormatter())
    latency.set_title("Latency")
    latency.grid(True, which="major", alpha=0.3)
    latency.legend()
    rate.bar([str(w) for w in workers], [r.per_worker for r in runs], color="tab:green", alpha=0.8,
             label="stored samples/s per worker")  # fmt: skip
    rate.plot([str(w) for w in workers], [r.throughput for r in runs], "-o", color="black",
              label="stored samples/s in all")  # fmt: skip
    offered = runs[0].offered
    rate.axhline(offered, color="grey", linestyle=":", label=f"offered ({offered:.0f}/s)")
    for i, r in enumerate(runs):  # failed requests (retried by the recorders) beside the rate they cost
        if r.load.errors:
            rate.annotate(f"{len(r.load.errors)} failed requests", (i, r.throughput), xytext=(0, 8),
                          textcoords="offset points", ha="center", color="tab:red")  # fmt: skip
    rate.set(
        xlabel="workers", ylabel="samples/s", ylim=(0, 1.15 * max(offered, *(r.throughput for r in runs)))
    )
    rate.set_title("Throughput")
    rate.grid(True, axis="y", alpha=0.3)
    rate.legend()
    first = runs[0]
    fig.suptitle(f"chinup serve --workers N on {first.backend}: {first.recorders} recorders, "
                 f"{first.readers} readers, {first.seconds:g} s each")  # fmt: skip
    fig.savefig(path, dpi=110)
    plt.close(fig)


def worker_counts(text_value: str) -> list[int]:
    """`--workers 1,2,4`: the worker counts, each at least 1."""
    counts = sorted({int(part) for part in text_value.split(",") if part.strip()})
    if not counts or counts[0] < 1:
        raise argparse.ArgumentTypeError("worker counts are whole numbers of at least 1, e.g. 1,2,4")
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--recorders", type=int, default=200)
    parser.add_argument("--readers", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--quick", action="store_true", help="20 recorders, 5 readers, 10 s")
    parser.add_argument(
        "--workers", type=worker_counts, default=None,
        help="worker counts to serve with on PostgreSQL, e.g. 1,2,4 (the default); SQLite serves 1 only",
    )  # fmt: skip
    args = parser.parse_args()
    if args.quick:
        args.recorders, args.readers, args.seconds = 20, 5, 10
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    backends = [b for b in backends if b == "sqlite" or postgres_available()]
    if "sqlite" in backends and args.workers and args.workers != [1]:
        print("sqlite: one worker only (`chinup serve --workers N` above 1 needs PostgreSQL)")
    runs = [(b, w) for b in backends for w in ([1] if b == "sqlite" else args.workers or [1, 2, 4])]
    results = [
        run_load(b, workers=w, recorders=args.recorders, readers=args.readers, seconds=args.seconds)
        for b, w in runs
    ]
    Console(width=200).print(report(results))
    for r in results:
        if r.load.errors:
            print(f"{r.backend}, {r.workers} workers: first errors {r.load.errors[:5]}")
    postgres = [r for r in results if r.backend == "postgresql"]
    if len(postgres) > 1:
        plot(postgres, PLOT)
        print(f"plot: {PLOT.relative_to(Path.cwd()) if PLOT.is_relative_to(Path.cwd()) else PLOT}")
    if not all(r.exactly_once for r in results):
        raise SystemExit("some samples were lost or doubled")


if __name__ == "__main__":
    main()
