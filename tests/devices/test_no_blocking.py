"""The blocking-call check itself: it must catch a blocking call made by scanned async code (it once exempted
everything, its own frames being in the tests folder)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from blockbuster import BlockingError

from tests.devices.no_blocking import no_blocking_in_the_loop


async def _an_async_test() -> None:
    """Stands for the test function the fixture is given."""


def test_a_blocking_call_in_scanned_async_code_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "chinup_blocky.py").write_text("import time\n\n\nasync def nap():\n    time.sleep(0.001)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import chinup_blocky  # type: ignore[import-not-found]

    monkeypatch.setitem(sys.modules, "chinup_blocky", chinup_blocky)
    request = SimpleNamespace(function=_an_async_test)
    with no_blocking_in_the_loop(request, ("chinup_blocky",)), pytest.raises(BlockingError):  # type: ignore[arg-type]
        asyncio.run(chinup_blocky.nap())
    asyncio.run(chinup_blocky.nap())  # and nothing is checked once the test is over
