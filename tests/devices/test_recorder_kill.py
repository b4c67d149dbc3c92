"""`chinup record` killed with SIGKILL mid-recording and started again: every spooled sample is stored once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from devices.spool import Spool
from tests.support.server import LiveServer
from tests.support.users import TestUser, sign_up

ROOT = Path(__file__).resolve().parents[2]


def _record(
    server: LiveServer, user: TestUser, replay: Path, spool: Path, seconds: float
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "service.cli", "record", "--server", server.url, "--token", user.token,
         "--transport", "virtual", "--replay", str(replay), "--speed", "4", "--seconds", str(seconds),
         "--spool", str(spool)],
        cwd=ROOT, env={**os.environ, "CHINUP_DATA_DIR": str(spool.parent)},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip


def _stored_times(server: LiveServer, user: TestUser) -> list[int]:
    devices = httpx.get(f"{server.url}/api/v1/devices", headers=user.headers, timeout=10).json()
    times: list[int] = []
    for device in devices:
        rows = httpx.get(
            f"{server.url}/api/v1/devices/{device['id']}/samples", headers=user.headers, timeout=30
        )
        times += [row["t_ms"] for row in rows.json()]
    return times


def _spooled_times(spool_path: Path) -> list[int]:
    with Spool(spool_path) as spool:
        return [s.t_ms for key in spool.device_keys() for _, s in spool.pending(key, limit=100_000)]


@pytest.mark.slow
def test_sigkill_mid_recording_then_restart_stores_exact_totals(
    live_server: LiveServer, tmp_path: Path
) -> None:
    with httpx.Client(timeout=10) as client:
        user = sign_up(client, live_server.url)
    replay = tmp_path / "ride.csv"
    replay.write_text(
        "t,bpm,rr_ms\n" + "".join(f"{i},{100 + i % 30},{60000 / (100 + i % 30):.0f}\n" for i in range(600))
    )
    spool_path = tmp_path / "spool.sqlite3"

    first = _record(live_server, user, replay, spool_path, seconds=120)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(_stored_times(live_server, user)) < 20:
        time.sleep(0.5)
    first.send_signal(signal.SIGKILL)
    first.communicate(timeout=10)
    # What was durable at the moment of the kill: stored by the service, or committed in the spool.
    durable = set(_stored_times(live_server, user)) | set(_spooled_times(spool_path))
    assert len(durable) >= 20

    restarted_at_ms = time.time() * 1000
    second = _record(live_server, user, replay, spool_path, seconds=0)
    output = second.communicate(timeout=120)[0].decode(errors="replace")
    assert second.returncode == 0, output

    final = _stored_times(live_server, user)
    assert len(final) == len(set(final)), "a sample was stored twice"
    assert durable <= set(final), f"{len(durable - set(final))} durable samples were lost"
    assert all(t >= restarted_at_ms - 5_000 for t in set(final) - durable), "unexplained extra samples"
    assert _spooled_times(spool_path) == []
