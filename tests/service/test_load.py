"""bench/load.py, shortened for CI: 20 recorders and 5 dashboard users for 10 s against `chinup serve`.

Every sample sent is in the database exactly once afterwards, no request failed, and the latencies under
load stay within a wide factor of the same requests on the idle server (measured in the same run).
"""

from __future__ import annotations

import asyncio
import os

import pytest

from bench.load import percentile, run_load_at
from tests.support.server import serve_process

pytestmark = pytest.mark.slow

RECORDERS, READERS, SECONDS = 20, 5, 10.0
# Loose on purpose: 2 shared CPU cores run the server, the clients and other tests. A lock-up, a retry storm
# or a table scan per request shows as a factor in the hundreds.
MAX_SLOWDOWN = 50


def test_every_sample_is_stored_once_under_load(db_url: str) -> None:
    # All the load's users sign up from 127.0.0.1: past the per-address throttle (50 an hour), as bench/load.py.
    env = {**os.environ, "CHINUP_SIGNUPS_PER_ADDRESS": "1000000"}
    with serve_process(db_url, env=env) as server:
        sent, accepted, duplicates, stored, load, idle = asyncio.run(
            run_load_at(server.url, db_url, recorders=RECORDERS, readers=READERS, seconds=SECONDS)
        )
    assert sent >= RECORDERS * SECONDS * 0.8, sent  # the recorders kept up with their 1 Hz straps
    assert stored == sent == accepted and duplicates == 0, (sent, accepted, duplicates, stored)
    assert not load.errors, load.errors[:5]
    assert len(load.read_ms) >= READERS * 3 * 5
    for under_load, alone in ((load.upload_ms, idle.upload_ms), (load.read_ms, idle.read_ms)):
        assert percentile(under_load, 50) < MAX_SLOWDOWN * percentile(alone, 50)
        assert percentile(under_load, 99) < MAX_SLOWDOWN * max(percentile(alone, 99), 1.0) * 2
