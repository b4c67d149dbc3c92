"""`python -m tests.support.strap_node DB_URL PORT DATA_DIR`: one Chin Up server process whose virtual radio
hears one shared strap, for tests of several processes recording one paired strap.

Each process's Bumble virtual link lives in that process, so every node advertises its own copy of the
strap at the same address and name: as one real strap in range of several machines. Which node records it
is up to the strap claims (service.recording.claims), which is what the tests watch.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import uvicorn

from devices.simulator import VirtualStrap, generate_workout
from devices.transport import new_random_address
from service.app import create_app
from service.config import Settings
from service.core.logs import setup_logging

SHARED_STRAP = "Shared Polar H10"


async def main(db_url: str, port: int, data_dir: Path) -> None:
    setup_logging(False)
    settings = Settings(database_url=db_url, data_dir=data_dir, ble_transport="virtual", port=port)
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning"))
    async with VirtualStrap("virtual", generate_workout(seed=3), name=SHARED_STRAP, loop=True,
                            address=new_random_address(seed=SHARED_STRAP)):  # fmt: skip
        await server.serve()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])))
