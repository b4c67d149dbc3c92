"""Fixtures for the radio tests: every async test runs on asyncio through anyio's pytest plugin."""

from __future__ import annotations

import pytest


@pytest.fixture
def anyio_backend() -> str:
    """Bumble and bleak run on asyncio only."""
    return "asyncio"
