"""`chinup record --replay`: a recording file played by an in-process virtual strap into the recorder.

It joins the simulator (devices.simulator) and the recorder (devices.recorder), which know nothing of each
other, and gives the recorder a clock running as fast as the replay.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import Callable
from pathlib import Path

from devices.recorder import SPOOL_POLL_S, RecordResult, StatusListener, StrapPipeline, record
from devices.simulator import VirtualStrap, load_recording
from devices.strap import Clock

REPLAY_STRAP_NAME = "Chin Up Replay"
REPLAY_TAIL_S = 2.0  # after a replay's last notification, how long its last ones may take to arrive
REPLAY_FUTURE_MARGIN_S = 60.0  # how far ahead of real time a fast replay's clock may get (the service
# refuses samples more than 5 minutes in the future; the rest of the 5 minutes absorbs a slow connection)


class ScaledClock:
    """Wall-clock that starts now and runs `speed` times faster, so replayed samples keep their spacing."""

    def __init__(self, speed: float, *, now: Callable[[], float] = time.time) -> None:
        self.speed = speed
        self._start_s = now()
        self._mono_start_s = time.monotonic()

    def __call__(self) -> float:
        return self._start_s + (time.monotonic() - self._mono_start_s) * self.speed

    @classmethod
    def for_replay(cls, speed: float, duration_s: float, *, now: Clock = time.time) -> ScaledClock:
        """The clock of a replay lasting `duration_s`: it starts now, or earlier by what a long fast replay
        needs for its last samples to stay within REPLAY_FUTURE_MARGIN_S of real time (a clock `speed` times
        faster gets ahead of real time by `duration_s * (1 - 1/speed)` by the end)."""
        ahead_s = duration_s * (1 - 1 / speed) if speed > 1 else 0.0
        back_s = max(0.0, ahead_s - REPLAY_FUTURE_MARGIN_S)
        return cls(speed, now=lambda: now() - back_s)


async def record_replay(
    *,
    server_url: str,
    token: str,
    replay: Path,
    transport: str = "virtual",
    speed: float = 1.0,
    address: str | None = None,
    name: str | None = None,
    seconds: float | None = None,
    spool_path: Path,
    clock: Clock | None = None,
    on_status: StatusListener | None = None,
) -> RecordResult:
    """`record()` of an in-process virtual strap on `transport` playing the file `replay` `speed` times faster.

    The recorder's clock runs `speed` times faster too (from now; from earlier for a replay long and fast
    enough to get more than REPLAY_FUTURE_MARGIN_S ahead of real time, which the service would refuse);
    without `seconds`, the recording ends once the replay has been played to the end and everything it sent
    is uploaded.
    """
    name = name or REPLAY_STRAP_NAME
    script = await asyncio.to_thread(load_recording, replay)
    if clock is None:
        clock = ScaledClock.for_replay(speed, script[-1].t_s - script[0].t_s if script else 0.0)
    async with VirtualStrap(transport, script, name=name, speed=speed) as strap:
        until = functools.partial(_replay_heard, strap) if seconds is None else None
        return await record(server_url=server_url, token=token, transport=transport, address=address, name=name,
                            seconds=seconds, spool_path=spool_path, clock=clock, until=until,
                            on_status=on_status)  # fmt: skip


async def _replay_heard(strap: VirtualStrap, pipeline: StrapPipeline) -> None:
    """Returns once the replay is over and the link has received every notification the strap sent."""
    await strap.finished.wait()
    with contextlib.suppress(TimeoutError):  # a notification lost in a disconnection never comes
        async with asyncio.timeout(REPLAY_TAIL_S):
            while pipeline.link.stats.notifications < strap.counters.notifications_sent:
                await asyncio.sleep(SPOOL_POLL_S)
