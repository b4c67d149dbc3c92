"""Fixtures for the radio tests: every async test runs on asyncio through anyio's pytest plugin, and fails
on any blocking call our code makes in the event loop."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.devices.no_blocking import no_blocking_in_the_loop


@pytest.fixture
def anyio_backend() -> str:
    """Bumble and bleak run on asyncio only."""
    return "asyncio"


@pytest.fixture(autouse=True)
def _no_blocking(request: pytest.FixtureRequest) -> Iterator[None]:
    """blockbuster around each async test (see tests/devices/no_blocking.py)."""
    with no_blocking_in_the_loop(request):
        yield
