"""Wait for the service's background analysis to finish, as a client would: through /health."""

from __future__ import annotations

import time
from typing import Any


def wait_for_analysis(client: Any, base: str = "", timeout_s: float = 60.0) -> dict[str, Any]:
    """Until /health reports nothing left to analyse twice in a row (one look can fall between two pieces of
    the work: a day's analysis done, the next not yet queued); returns that last answer. AssertionError after
    timeout_s.

    The service runs with its production settings in tests (analysis debounced, coalesced in the
    background), so a test reads analysed results only once the service says they are current.
    """
    deadline, calm = time.monotonic() + timeout_s, 0
    health: dict[str, Any] = {}
    while time.monotonic() < deadline:
        health = client.get(f"{base}/health").json()
        idle = not health.get("analysis_backlog") and not health.get("days_awaiting_analysis")
        calm = calm + 1 if idle else 0
        if calm >= 2:
            return health
        time.sleep(0.1)
    raise AssertionError(f"analysis did not settle within {timeout_s} s: {health}")
