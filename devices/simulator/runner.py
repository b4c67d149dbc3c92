"""`chinup strap`: one virtual strap advertising on a Bumble transport until stopped or its replay ends.

Waits for the transport's controller as long as it takes and says what it does, for the command's output.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from devices.simulator.peripheral import VirtualStrap
from devices.simulator.script import generate_workout, load_recording
from devices.transport import new_random_address


async def run_strap(
    transport: str,
    replay: Path | None,
    speed: float,
    name: str,
    stop: asyncio.Event | None = None,
    *,
    seed: str | None = None,
    say: Callable[[str], None] | None = None,
) -> None:
    """`chinup strap`: advertise and play `replay` (else a looping workout) until `stop` or the end.

    Waits as long as it takes for the transport's controller (a `tcp-server` has none until one
    connects), telling `say` what it waits for, then that it advertises. With `seed`, the strap's
    address is derived from it (the same strap across restarts); otherwise it is random.
    """
    script = await asyncio.to_thread(load_recording, replay) if replay is not None else generate_workout()
    address = new_random_address(seed) if seed is not None else None
    strap = VirtualStrap(transport, script, name=name, speed=speed, loop=replay is None, address=address,
                         ready_timeout_s=None, on_waiting=say)  # fmt: skip
    async with strap:
        if say is not None:
            say(f"advertising as {name!r} at {strap.address} on {transport}")
        waiters = {asyncio.create_task(strap.finished.wait())}
        if stop is not None:
            waiters.add(asyncio.create_task(stop.wait()))
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
            await asyncio.gather(*waiters, return_exceptions=True)
