"""Throttles against password guessing and mass sign-up, keyed on the account and the client address.

Log-in: each (account, address) pair gets `free_failures` wrong guesses, then must wait `delay_base_s`,
doubled at each further failure up to `delay_max_s` (the owner typing from their own address is slowed by
seconds, never locked out from elsewhere). Two looser sliding-window ceilings stop what a pair cannot see:
one address guessing across many accounts, and many addresses guessing one account; an address that
logged in to the account before is exempt from the account's ceiling, so a distributed attack does not
lock the owner out of their usual places either.

In memory and per process on SQLite (one process; a restart forgets the counts, which costs an attacker
nothing they could not get by waiting); in the database on PostgreSQL (SharedLoginThrottle), where several
processes serve one deployment and must count the same guesses. Refused attempts are not checked (no Argon2 work is spent on them) and do not count. One
guess at a time per pair and per address (`attempt`): concurrent guesses would otherwise all pass the check
before the first failure is counted. The account's ceiling can be passed by as many guesses as there are
addresses guessing at the same moment.
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter, OrderedDict, deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from service.config import Settings
from service.core.models import LoginEvent
from service.errors import TooManyRequests

# Bounds memory against an attacker cycling through addresses or account names: oldest keys go first.
MAX_TRACKED_KEYS = 100_000
# A pair's failure count is forgotten after a day without failures (or at its next success).
PAIR_MEMORY_S = 24 * 3600.0
# An address the account logged in from stays exempt from the account's ceiling this long.
KNOWN_ADDRESS_S = 30 * 24 * 3600.0
# The shared throttle forgets old rows every this many writes.
PRUNE_EVERY = 100


class LoginThrottled(TooManyRequests):
    """Too many failed log-ins (or sign-ups) from here; `retry_after_s` says when to retry."""

    def __init__(
        self, retry_after_s: float, detail: str = "too many failed log-ins; try again later"
    ) -> None:
        super().__init__(detail)
        self.retry_after_s = max(1, math.ceil(retry_after_s))


class SignupThrottled(LoginThrottled):
    """Too many sign-ups from this address."""

    def __init__(self, retry_after_s: float) -> None:
        super().__init__(retry_after_s, "too many sign-ups from this address; try again later")


def pair_delay_s(failures: int, *, free_failures: int, base_s: float, max_s: float) -> float:
    """Seconds a pair waits after its `failures`-th consecutive failure: 0, then base, 2 base, 4 base…"""
    if failures < free_failures:
        return 0.0
    return min(max_s, base_s * 2.0 ** min(failures - free_failures, 64))


class _Window:
    """Event times per key, younger than the window, at most `limit` kept per key."""

    def __init__(self, limit: int, window_s: float) -> None:
        self.limit = limit
        self.window_s = window_s
        self._events: OrderedDict[str, deque[float]] = OrderedDict()

    def wait_s(self, key: str, now: float) -> float:
        """0 when the key may try now, else seconds until its oldest counted event expires."""
        times = self._events.get(key)
        if times is None:
            return 0.0
        while times and times[0] <= now - self.window_s:
            times.popleft()
        if not times:
            del self._events[key]
            return 0.0
        return times[0] + self.window_s - now if len(times) >= self.limit else 0.0

    def left(self, key: str, now: float) -> int:
        """How many more events the key may have within the window (at least 0)."""
        self.wait_s(key, now)  # drops the expired ones
        return max(0, self.limit - len(self._events.get(key, ())))

    def add(self, key: str, now: float) -> None:
        times = self._events.pop(key, None) or deque(maxlen=self.limit)
        times.append(now)
        self._events[key] = times  # most recent last
        while len(self._events) > MAX_TRACKED_KEYS:
            self._events.popitem(last=False)


@dataclass
class _Pair:
    failures: int
    last_s: float


class _Bounded(OrderedDict[tuple[str, str], float]):
    """Most recently touched last; the oldest go first past MAX_TRACKED_KEYS."""

    def touch(self, key: tuple[str, str], value: float) -> None:
        self.pop(key, None)
        self[key] = value
        while len(self) > MAX_TRACKED_KEYS:
            self.popitem(last=False)


def limits_from(settings: Settings) -> dict[str, Any]:
    """The throttle's limits as the settings give them."""
    return {
        "account_limit": settings.login_failures_per_account,
        "address_limit": settings.login_failures_per_address,
        "window_s": settings.login_failure_window_s,
        "free_failures": settings.login_free_failures,
        "delay_base_s": settings.login_delay_base_s,
        "delay_max_s": settings.login_delay_max_s,
        "signup_limit": settings.signups_per_address,
        "signup_window_s": settings.signup_window_s,
    }


class LoginThrottle:
    """Failed log-ins per (account, address) pair, per account and per address; sign-ups per address."""

    def __init__(
        self,
        *,
        account_limit: int,
        address_limit: int,
        window_s: float,
        free_failures: int = 3,
        delay_base_s: float = 1.0,
        delay_max_s: float = 900.0,
        signup_limit: int = 50,
        signup_window_s: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._accounts = _Window(account_limit, window_s)
        self._addresses = _Window(address_limit, window_s)
        self._signups = _Window(signup_limit, signup_window_s)
        self._pairs: OrderedDict[tuple[str, str], _Pair] = OrderedDict()
        self._known = _Bounded()  # (account, address) -> when it last logged in
        # Guesses being checked, per pair and per address: each may fail, so no more run at once than the
        # failures the pair and the address have left (a burst cannot outrun the count).
        self._in_flight: Counter[tuple[str, str] | str] = Counter()
        self._free_failures = free_failures
        self._delay = {"free_failures": free_failures, "base_s": delay_base_s, "max_s": delay_max_s}
        self._clock = clock
        self._lock = threading.Lock()  # routes run in a thread pool

    @classmethod
    def from_settings(cls, settings: Settings) -> LoginThrottle:
        return cls(**limits_from(settings))

    def _pair_wait_s(self, key: tuple[str, str], now: float) -> float:
        pair = self._pairs.get(key)
        if pair is None:
            return 0.0
        if now - pair.last_s > PAIR_MEMORY_S:
            del self._pairs[key]
            return 0.0
        return max(0.0, pair.last_s + pair_delay_s(pair.failures, **self._delay) - now)

    def _known_address(self, key: tuple[str, str], now: float) -> bool:
        since = self._known.get(key)
        return since is not None and now - since <= KNOWN_ADDRESS_S

    def _wait_s(self, key: tuple[str, str], now: float) -> float:
        account, address = key
        waits = [self._pair_wait_s(key, now), self._addresses.wait_s(address, now)]
        if not self._known_address(key, now):
            waits.append(self._accounts.wait_s(account, now))
        return max(waits)

    def check(self, account: str, address: str) -> None:
        """Raise LoginThrottled while the pair waits out its delay or a ceiling is reached."""
        with self._lock:
            wait_s = self._wait_s((account, address), self._clock())
        if wait_s > 0:
            raise LoginThrottled(wait_s)

    @contextmanager
    def attempt(self, account: str, address: str) -> Iterator[None]:
        """`check`, then hold the pair and the address while this guess is checked (call `failed` or
        `succeeded` inside): no more guesses from one pair or address at once than it has failures left,
        the one past that refused with Retry-After 1 (many users behind one address log in together)."""
        key = (account, address)
        with self._lock:
            now = self._clock()
            busy = self._in_flight[key] >= self._pair_left(key) or self._in_flight[address] >= max(
                1, self._address_left(address, now)
            )
            wait_s = 1.0 if busy else self._wait_s(key, now)
            if wait_s <= 0:
                self._in_flight.update((key, address))
        if wait_s > 0:
            raise LoginThrottled(wait_s)
        try:
            yield
        finally:
            with self._lock:
                self._in_flight.subtract((key, address))
                for held in (key, address):
                    if self._in_flight[held] <= 0:
                        del self._in_flight[held]

    def _address_left(self, address: str, now: float) -> int:
        return self._addresses.left(address, now)

    def _pair_left(self, key: tuple[str, str]) -> int:
        """Guesses the pair may have checked at once: its free failures left, at least one."""
        pair = self._pairs.get(key)
        return max(1, self._free_failures - (pair.failures if pair else 0))

    def failed(self, account: str, address: str) -> None:
        key = (account, address)
        with self._lock:
            now = self._clock()
            pair = self._pairs.pop(key, None) or _Pair(0, now)
            pair.failures, pair.last_s = pair.failures + 1, now
            self._pairs[key] = pair
            while len(self._pairs) > MAX_TRACKED_KEYS:
                self._pairs.popitem(last=False)
            self._accounts.add(account, now)
            self._addresses.add(address, now)

    def succeeded(self, account: str, address: str) -> None:
        """The right password clears the pair's count and makes the address known to the account; the
        account's ceiling keeps its failures (they came from elsewhere) and the address its own."""
        key = (account, address)
        with self._lock:
            self._pairs.pop(key, None)
            self._known.touch(key, self._clock())

    def signup(self, address: str) -> None:
        """Count one sign-up from the address, or raise SignupThrottled when it has used up the window."""
        with self._lock:
            now = self._clock()
            wait_s = self._signups.wait_s(address, now)
            if wait_s <= 0:
                self._signups.add(address, now)
        if wait_s > 0:
            raise SignupThrottled(wait_s)


class SharedLoginThrottle(LoginThrottle):
    """The same rules, counted in the database (models.LoginEvent), so every process of a deployment on one
    PostgreSQL counts the same guesses: `--workers 4` does not give a guesser four times the tries.

    Failures, log-ins and sign-ups are rows with a wall-clock time (processes share no monotonic clock).
    A pair's failures are those after its last log-in. Guesses being checked at this moment are still held
    per process (`attempt`), so N processes may each check one guess of a pair at the same instant; each
    failure is counted by all before the next check. Blocking: routes call it from worker threads."""

    def __init__(self, sessions: sessionmaker[Session], **kw: Any) -> None:
        kw.setdefault("clock", time.time)
        super().__init__(**kw)
        self._sessions = sessions
        self._writes = 0

    @classmethod
    def shared(cls, settings: Settings, sessions: sessionmaker[Session]) -> SharedLoginThrottle:
        return cls(sessions, **limits_from(settings))

    def _times(self, kind: str, since: float, limit: int, **match: str) -> list[float]:
        """The newest `limit` event times of `kind` after `since` for the account and/or address given."""
        query = select(LoginEvent.at_s).where(LoginEvent.kind == kind, LoginEvent.at_s > since)
        for column, value in match.items():
            query = query.where(getattr(LoginEvent, column) == value)
        with self._sessions() as db:
            return list(db.scalars(query.order_by(LoginEvent.at_s.desc()).limit(limit)))

    def _window_wait_s(self, window: _Window, kind: str, now: float, **match: str) -> float:
        times = self._times(kind, now - window.window_s, window.limit, **match)
        return times[-1] + window.window_s - now if len(times) >= window.limit else 0.0

    def _window_left(self, window: _Window, kind: str, now: float, **match: str) -> int:
        return max(0, window.limit - len(self._times(kind, now - window.window_s, window.limit, **match)))

    def _pair_failures(self, key: tuple[str, str]) -> tuple[int, float]:
        """(failures since the pair's last log-in within a day, when the newest was)."""
        account, address = key
        now = self._clock()
        last_ok = self._times("ok", now - PAIR_MEMORY_S, 1, account=account, address=address)
        since = last_ok[0] if last_ok else now - PAIR_MEMORY_S
        times = self._times("failed", since, 10_000, account=account, address=address)
        return len(times), (times[0] if times else 0.0)

    def _pair_wait_s(self, key: tuple[str, str], now: float) -> float:
        failures, last_s = self._pair_failures(key)
        if not failures:
            return 0.0
        return max(0.0, last_s + pair_delay_s(failures, **self._delay) - now)

    def _known_address(self, key: tuple[str, str], now: float) -> bool:
        account, address = key
        return bool(self._times("ok", now - KNOWN_ADDRESS_S, 1, account=account, address=address))

    def _wait_s(self, key: tuple[str, str], now: float) -> float:
        account, address = key
        waits = [
            self._pair_wait_s(key, now),
            self._window_wait_s(self._addresses, "failed", now, address=address),
        ]
        if not self._known_address(key, now):
            waits.append(self._window_wait_s(self._accounts, "failed", now, account=account))
        return max(waits)

    def _pair_left(self, key: tuple[str, str]) -> int:
        return max(1, self._free_failures - self._pair_failures(key)[0])

    def _address_left(self, address: str, now: float) -> int:
        return self._window_left(self._addresses, "failed", now, address=address)

    def _record(self, kind: str, account: str | None, address: str, *, replace: bool = False) -> None:
        now = self._clock()
        with self._sessions.begin() as db:
            if replace:  # one log-in row per pair is all the rules read
                db.execute(delete(LoginEvent).where(
                    LoginEvent.kind == kind, LoginEvent.account == account, LoginEvent.address == address
                ))  # fmt: skip
            db.add(LoginEvent(kind=kind, account=account, address=address, at_s=now))
            self._writes += 1
            if self._writes % PRUNE_EVERY == 0:
                self._prune(db, now)

    def _prune(self, db: Session, now: float) -> None:
        """Forget what no rule reads any more: failures and sign-ups past every window, log-ins past a month."""
        keep_s = max(PAIR_MEMORY_S, self._accounts.window_s, self._addresses.window_s, self._signups.window_s)
        db.execute(delete(LoginEvent).where(LoginEvent.kind != "ok", LoginEvent.at_s < now - keep_s))
        db.execute(delete(LoginEvent).where(LoginEvent.kind == "ok", LoginEvent.at_s < now - KNOWN_ADDRESS_S))

    def failed(self, account: str, address: str) -> None:
        with self._lock:
            self._record("failed", account, address)

    def succeeded(self, account: str, address: str) -> None:
        with self._lock:
            self._record("ok", account, address, replace=True)

    def signup(self, address: str) -> None:
        with self._lock:
            now = self._clock()
            wait_s = self._window_wait_s(self._signups, "signup", now, address=address)
            if wait_s <= 0:
                self._record("signup", None, address)
        if wait_s > 0:
            raise SignupThrottled(wait_s)
