"""Service test fixtures: blocking calls in the event loop fail the async tests of in-service recording.

Scoped on purpose: the supervisor (service/recording.py) and the devices pipeline it runs are checked; the
rest of the service's async code is checked where its own tests opt in.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.devices.no_blocking import no_blocking_in_the_loop

CHECKED_MODULES = {"tests.service.test_recording"}
SCANNED = ("devices", "service.recording")


@pytest.fixture(autouse=True)
def _no_blocking_in_recording(request: pytest.FixtureRequest) -> Iterator[None]:
    """blockbuster around each async test of the modules above (see tests/devices/no_blocking.py)."""
    if request.module.__name__ not in CHECKED_MODULES:
        yield
        return
    with no_blocking_in_the_loop(request, SCANNED):
        yield
