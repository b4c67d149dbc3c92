"""Bumble's virtual controllers on one link, one per TCP server: `bumble.apps.controllers` for any number.

Bumble's own app takes exactly two transports; the two-straps-and-a-scanner test needs three radios on
one link. Same parts (Bumble's `Controller` and `LocalLink`), same wiring as the app.
Run: `python -m tests.devices.bumble_link tcp-server:127.0.0.1:P1 tcp-server:127.0.0.1:P2 ...`.
"""

from __future__ import annotations

import asyncio
import sys

from bumble.controller import Controller
from bumble.link import LocalLink
from bumble.transport import open_transport


async def serve(specs: list[str]) -> None:
    """Open every transport, put a controller on each, all on one link, until killed."""
    link = LocalLink()
    transports = [await open_transport(spec) for spec in specs]
    controllers = [
        Controller(f"C{i}", host_source=t.source, host_sink=t.sink, link=link) for i, t in enumerate(transports)
    ]
    print(f"{len(controllers)} controllers", flush=True)
    await asyncio.get_running_loop().create_future()


if __name__ == "__main__":
    asyncio.run(serve(sys.argv[1:]))
