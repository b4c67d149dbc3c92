"""Repeated log lines stay bounded: the limiter on a simulated clock (bytes per minute, for an hour), and a
real strap link, on the Bumble virtual link, whose strap is never there."""

from __future__ import annotations

import asyncio
import io
import logging

import pytest

from devices.logs import REPEAT_LOG_EVERY_S, RepeatLimiter
from devices.strap import StrapLink

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"  # the service's (service/core/logs.py)
ADDRESS = "C0:FF:EE:DE:AD:01"


class SimulatedClock:
    """Monotonic seconds that move only when the test says."""

    def __init__(self) -> None:
        self.now_s = 0.0

    def __call__(self) -> float:
        return self.now_s


def test_a_failure_every_second_for_an_hour_writes_a_line_a_minute() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter(FORMAT))
    logger = logging.getLogger("tests.devices.test_logs.hour")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    clock = SimulatedClock()
    limiter = RepeatLimiter(logger, clock=clock)
    bytes_per_minute = []
    try:
        for minute in range(60):
            start = stream.tell()
            for second in range(60):  # a strap never found is retried about once a second
                clock.now_s = minute * 60.0 + second
                limiter.log(logging.INFO, "%s (%s): connection attempt %d failed: %s", "Fake strap", ADDRESS,
                            minute * 60 + second + 1, "no strap with this address within 10 s")  # fmt: skip
            bytes_per_minute.append(stream.tell() - start)
    finally:
        logger.removeHandler(handler)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 3600 / REPEAT_LOG_EVERY_S == 60  # the first, then one per simulated minute
    assert lines[0].endswith("connection attempt 1 failed: no strap with this address within 10 s")
    assert lines[1].endswith("attempt 61 failed: no strap with this address within 10 s "
                             "(failed 59 more times in the last 60 s)")  # fmt: skip
    assert max(bytes_per_minute) < 250
    # The figure: 300 such straps wrote about 197 MB an hour, one line per attempt. Now:
    assert 300 * sum(bytes_per_minute) < 5 * 2**20


@pytest.mark.anyio
async def test_a_strap_that_is_never_found_logs_its_failure_once(caplog: pytest.LogCaptureFixture) -> None:
    """Attempt after attempt fails on the real stack; one line says so (the next comes a minute later)."""
    link = StrapLink("virtual", address=ADDRESS, scan_timeout_s=0.1)  # short scans: attempts come quickly
    stop = asyncio.Event()
    with caplog.at_level(logging.INFO, logger="devices"):
        running = asyncio.create_task(link.run(stop))
        async with asyncio.timeout(15):
            while link.stats.failed_attempts < 4:
                await asyncio.sleep(0.05)
        stop.set()
        await running
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("devices")]
    assert len(lines) == 1, lines
    assert ADDRESS in lines[0] and "attempt 1 failed" in lines[0]
