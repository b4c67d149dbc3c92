"""Another user served while an attack runs: the check every issue-15 attack test makes."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import httpx

from tests.support.users import sign_up

_T = TypeVar("_T")


def served_meanwhile(base_url: str, attack: Callable[[], _T], *, within_s: float = 1.0) -> _T:
    """Run `attack` in a thread while a fresh user reads their profile over and over: each answer must come
    within `within_s`. Returns what the attack returned."""
    with httpx.Client(base_url=base_url, timeout=10) as client:
        bystander = sign_up(client)
        with ThreadPoolExecutor(1) as pool:
            running = pool.submit(attack)
            slowest_s = 0.0
            while not running.done():
                started = time.monotonic()
                assert client.get("/api/v1/me", headers=bystander.headers).status_code == 200
                slowest_s = max(slowest_s, time.monotonic() - started)
                time.sleep(0.05)
            result = running.result()
    assert slowest_s < within_s, f"another user waited {slowest_s:.2f} s"
    return result
