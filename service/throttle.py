"""Login throttling against password guessing: failed log-ins per account and per client address.

In memory and per process, as the service runs as one process; a restart forgets the counts, which costs an
attacker nothing they could not get by waiting the window out. Sliding window: a key is refused while it
holds `limit` failures younger than `window_s`, and `Retry-After` says when the oldest of them expires.
Refused attempts are not checked (no Argon2 work is spent on them) and do not extend the lock.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable

from service.config import Settings
from service.errors import TooManyRequests

# Bounds memory against an attacker cycling through addresses or account names: oldest keys go first.
MAX_TRACKED_KEYS = 100_000


class LoginThrottled(TooManyRequests):
    """Too many failed log-ins for this account or from this address; `retry_after_s` says when to retry."""

    def __init__(self, retry_after_s: float) -> None:
        super().__init__("too many failed log-ins; try again later")
        self.retry_after_s = max(1, math.ceil(retry_after_s))


class _Window:
    """Failure times per key, younger than the window, at most `limit` kept per key."""

    def __init__(self, limit: int, window_s: float) -> None:
        self.limit = limit
        self.window_s = window_s
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def wait_s(self, key: str, now: float) -> float:
        """0 when the key may try now, else seconds until its oldest counted failure expires."""
        times = self._failures.get(key)
        if times is None:
            return 0.0
        while times and times[0] <= now - self.window_s:
            times.popleft()
        if not times:
            del self._failures[key]
            return 0.0
        return times[0] + self.window_s - now if len(times) >= self.limit else 0.0

    def add(self, key: str, now: float) -> None:
        times = self._failures.pop(key, None) or deque(maxlen=self.limit)
        times.append(now)
        self._failures[key] = times  # most recently failed last
        while len(self._failures) > MAX_TRACKED_KEYS:
            self._failures.popitem(last=False)

    def clear(self, key: str) -> None:
        self._failures.pop(key, None)


class LoginThrottle:
    """Counts failed log-ins per account (the normalised email) and per client address."""

    def __init__(
        self,
        *,
        account_limit: int,
        address_limit: int,
        window_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._accounts = _Window(account_limit, window_s)
        self._addresses = _Window(address_limit, window_s)
        self._clock = clock
        self._lock = threading.Lock()  # routes run in a thread pool

    @classmethod
    def from_settings(cls, settings: Settings) -> LoginThrottle:
        return cls(
            account_limit=settings.login_failures_per_account,
            address_limit=settings.login_failures_per_address,
            window_s=settings.login_failure_window_s,
        )

    def check(self, account: str, address: str) -> None:
        """Raise LoginThrottled when either the account or the address has used up its failures."""
        with self._lock:
            now = self._clock()
            wait_s = max(self._accounts.wait_s(account, now), self._addresses.wait_s(address, now))
        if wait_s > 0:
            raise LoginThrottled(wait_s)

    def failed(self, account: str, address: str) -> None:
        with self._lock:
            now = self._clock()
            self._accounts.add(account, now)
            self._addresses.add(address, now)

    def succeeded(self, account: str) -> None:
        """The right password clears the account's count (the address keeps its own: it may guess others)."""
        with self._lock:
            self._accounts.clear(account)
