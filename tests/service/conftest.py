"""Service test fixtures: a real HTTP server per module, and blocking calls in the event loop failing the async
tests of in-service recording.

The blocking check is scoped on purpose: the supervisor (service/recording/supervisor.py) and the devices pipeline it runs are checked; the
rest of the service's async code is checked where its own tests opt in.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

from service.config import Settings
from tests.devices.no_blocking import no_blocking_in_the_loop
from tests.support.server import LiveServer

CHECKED_MODULES = {"tests.service.test_recording"}
SCANNED = ("devices", "service.recording.supervisor", "service.api.straps", "service.api.live")


@pytest.fixture(autouse=True)
def _no_blocking_in_recording(request: pytest.FixtureRequest) -> Iterator[None]:
    """blockbuster around each async test of the modules above (see tests/devices/no_blocking.py)."""
    if request.module.__name__ not in CHECKED_MODULES:
        yield
        return
    with no_blocking_in_the_loop(request, SCANNED):
        yield


@pytest.fixture(scope="module")
def server(engine: Engine, db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A real uvicorn server on the module's database with the production settings (modules needing
    other settings define their own)."""
    live = LiveServer(Settings(database_url=db_url, data_dir=tmp_path_factory.mktemp("data")), engine=engine)
    live.start()
    yield live
    live.stop()


@pytest.fixture(scope="module")
def http(server: LiveServer) -> Iterator[httpx.Client]:
    """A client of ``server``; whole-file imports of the real recordings take up to a few minutes."""
    with httpx.Client(base_url=server.url, timeout=180) as client:
        yield client


@pytest.fixture
def app_settings(settings: Settings, tmp_path: Path) -> Settings:
    """Settings for a service that records straps: the virtual Bumble link is the only radio in tests, and
    the data directory (the service's spool) is the test's own."""
    return settings.model_copy(update={"ble_transport": "virtual", "data_dir": tmp_path})
