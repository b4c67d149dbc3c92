"""In-process publish/subscribe of each user's live events (heart rate, target met) for server-sent events."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from service.errors import TooManyRequests

QUEUE_SIZE = 256
# Outstanding (issued, not yet used) stream tickets one user may hold; the oldest is dropped past it.
TICKETS_PER_USER = 16


class TooManyLiveStreams(TooManyRequests):
    """The user already has `limit` live streams open (answered 429 with this reason)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"at most {limit} live streams per user may be open at once; close one and retry")
        self.limit = limit


@dataclass(frozen=True)
class StreamGrant:
    """Who a live stream is for, and the access token it keeps checking (by digest) while it runs."""

    user_id: int
    token_digest: str


@dataclass(frozen=True)
class _Ticket:
    grant: StreamGrant
    expires_at: float


class StreamTickets:
    """Short-lived single-use tickets for EventSource, which cannot send an Authorization header: the URL
    carries a ticket worth one stream for a few seconds instead of the access token itself.

    Kept in memory like the hub's subscribers (a ticket is redeemed by the process that streams the events);
    touched only on the event loop. Tickets are stored by digest."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._tickets: dict[str, _Ticket] = {}

    def issue(self, grant: StreamGrant, *, ttl_s: float) -> str:
        now = self._clock()
        self._forget_expired(now)
        # dicts keep insertion order: the user's oldest tickets first
        mine = [key for key, t in self._tickets.items() if t.grant.user_id == grant.user_id]
        for key in mine[: max(0, len(mine) - TICKETS_PER_USER + 1)]:
            del self._tickets[key]
        ticket = secrets.token_urlsafe(32)
        self._tickets[_digest(ticket)] = _Ticket(grant, now + ttl_s)
        return ticket

    def redeem(self, ticket: str) -> StreamGrant | None:
        """The grant of a valid ticket, once; None for an unknown, used or expired one."""
        found = self._tickets.pop(_digest(ticket), None)
        if found is None or found.expires_at <= self._clock():
            return None
        return found.grant

    def __len__(self) -> int:
        return len(self._tickets)

    def _forget_expired(self, now: float) -> None:
        for key in [key for key, t in self._tickets.items() if t.expires_at <= now]:
            del self._tickets[key]


def _digest(ticket: str) -> str:
    return hashlib.sha256(ticket.encode()).hexdigest()


class LiveHub:
    """Fan-out of events per user; publish is safe from worker threads, subscribers live on the event loop."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: dict[int, set[asyncio.Queue[dict[str, Any]]]] = defaultdict(set)
        self._loop: asyncio.AbstractEventLoop | None = None
        self.last: dict[int, dict[str, Any]] = {}
        self.tickets = StreamTickets()

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def subscribe(self, user_id: int, *, limit: int | None = None) -> asyncio.Queue[dict[str, Any]]:
        """A queue of the user's events; raises TooManyLiveStreams when `limit` subscriptions are open."""
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(QUEUE_SIZE)
        with self._lock:
            if limit is not None and len(self._subscribers.get(user_id, ())) >= limit:
                raise TooManyLiveStreams(limit)
            self._subscribers[user_id].add(queue)
        return queue

    def unsubscribe(self, user_id: int, queue: asyncio.Queue[dict[str, Any]]) -> None:
        """Idempotent: the stream's owner may call it from more than one exit path."""
        with self._lock:
            queues = self._subscribers.get(user_id)
            if queues is not None:
                queues.discard(queue)
                if not queues:
                    del self._subscribers[user_id]

    def streams(self, user_id: int) -> int:
        with self._lock:
            return len(self._subscribers.get(user_id, ()))

    def publish(self, user_id: int, event: dict[str, Any]) -> None:
        """Deliver to every subscriber of the user; a slow subscriber loses its oldest events, never blocks."""
        if event.get("type") == "heart_rate":
            self.last[user_id] = event
        with self._lock:
            queues = list(self._subscribers.get(user_id, ()))
        if not queues or self._loop is None:
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        for queue in queues:
            if running is self._loop:
                _put_dropping_oldest(queue, event)
            elif not self._loop.is_closed():
                self._loop.call_soon_threadsafe(_put_dropping_oldest, queue, event)


def _put_dropping_oldest(queue: asyncio.Queue[dict[str, Any]], event: dict[str, Any]) -> None:
    if queue.full():
        queue.get_nowait()
    queue.put_nowait(event)


# A reading older than this is history arriving late (a catch-up after an outage, an import), not "right now".
LIVE_MAX_AGE_MS = 30_000


def publish_heart_rate(
    hub: LiveHub, user_id: int, device_id: int, samples: Sequence[Any], *, now_ms: int
) -> None:
    """The newest reading of a batch on the user's live stream, if it is recent enough to be live."""
    newest = max(samples, key=lambda s: s.t_ms)
    if newest.t_ms < now_ms - LIVE_MAX_AGE_MS:
        return
    hub.publish(
        user_id,
        {
            "type": "heart_rate",
            "device_id": device_id,
            "t_ms": newest.t_ms,
            "bpm": newest.bpm,
            "contact": newest.contact,
        },
    )
