"""Time of one real file imported in the background (POST /imports?background=true, then its job followed to
the end) against the synchronous POST /imports, through a real server on a fresh SQLite database.

Each round imports the file for a new user on both sides, so every sample is new on both; the sides alternate
and each keeps its fastest round (the machine is shared). The background side's time runs from the upload to
the first answer saying `done`, polled every 20 ms, so the ratio shows what the queue, the stored upload and
the progress writes add.

Run: .venv/bin/python bench/imports_background.py [--file PATH] [--rounds N]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx  # noqa: E402

from service.config import Settings  # noqa: E402
from tests.support.server import LiveServer  # noqa: E402
from tests.support.settle import wait_for_analysis  # noqa: E402
from tests.support.users import sign_up  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
DEFAULT_FILE = DATA / "fitparse_fenix2_run.fit"
ROUNDS = 5
POLL_S = 0.02


def synchronous(http: httpx.Client, path: Path) -> tuple[int, float]:
    user = sign_up(http)
    t0 = time.perf_counter()
    answer = http.post(
        "/api/v1/imports", files={"file": (path.name, path.read_bytes())}, headers=user.headers
    )
    elapsed = time.perf_counter() - t0
    answer.raise_for_status()
    return int(answer.json()["stored"]), elapsed


def background(http: httpx.Client, path: Path) -> tuple[int, float]:
    user = sign_up(http)
    t0 = time.perf_counter()
    job = http.post(
        "/api/v1/imports", params={"background": "true"}, files={"file": (path.name, path.read_bytes())},
        headers=user.headers,
    ).json()  # fmt: skip
    while job["state"] not in ("done", "failed"):
        time.sleep(POLL_S)
        job = http.get(f"/api/v1/imports/{job['id']}", headers=user.headers).json()
    elapsed = time.perf_counter() - t0
    if job["state"] != "done":
        raise SystemExit(f"the background import failed: {job['error']}")
    return int(job["report"]["stored"]), elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--file", type=Path, default=DEFAULT_FILE, help="a real recording (../shared/data)")
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    args = parser.parse_args()
    if not args.file.is_file():
        raise SystemExit(f"{args.file} is not there (see ../shared/data/README.md)")
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        server = LiveServer(Settings(database_url=f"sqlite:///{tmp / 'bench.sqlite3'}", data_dir=tmp))
        server.start()
        try:
            with httpx.Client(base_url=server.url, timeout=300) as http:
                sync_best = back_best = float("inf")
                for _ in range(args.rounds):
                    n_sync, sync_s = synchronous(http, args.file)
                    n_back, back_s = background(http, args.file)
                    assert n_sync == n_back, (n_sync, n_back)
                    sync_best, back_best = min(sync_best, sync_s), min(back_best, back_s)
                    wait_for_analysis(http, timeout_s=300)  # the next round does not share the analysis
        finally:
            server.stop()
    print(f"{args.file.name}: {n_sync} samples, {args.file.stat().st_size / 1024:.0f} KiB")
    print(
        f"synchronous {sync_best * 1000:.0f} ms, background {back_best * 1000:.0f} ms (best of {args.rounds})"
    )
    print(f"background / synchronous: {back_best / sync_best:.2f}")


if __name__ == "__main__":
    main()
