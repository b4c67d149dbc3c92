"""Publish/subscribe of each user's live events (heart rate, target met) for server-sent events: in the
process, and across processes through PostgreSQL when a bus is attached (service.pipeline.live_bus)."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from service.core.models import StreamTicket
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


class StreamTickets:
    """Short-lived single-use tickets for EventSource, which cannot send an Authorization header: the URL
    carries a ticket worth one stream for a few seconds instead of the access token itself.

    Kept in the database by digest (models.StreamTicket), so a ticket issued by one process opens a stream on
    any other; redeeming deletes it, so it opens one. Blocking: call from a worker thread."""

    def __init__(self, sessions: sessionmaker[Session], clock: Callable[[], float] = time.time) -> None:
        self._sessions = sessions
        self._clock = clock

    def issue(self, grant: StreamGrant, *, ttl_s: float) -> str:
        now = self._clock()
        ticket = f"{grant.user_id}.{secrets.token_urlsafe(32)}"  # the user first: the row's key without a scan
        with self._sessions.begin() as db:
            db.execute(delete(StreamTicket).where(StreamTicket.expires_s <= now))
            mine = db.scalars(
                select(StreamTicket.digest)
                .where(StreamTicket.user_id == grant.user_id)
                .order_by(StreamTicket.issued_s.desc())
                .offset(TICKETS_PER_USER - 1)
            ).all()
            if mine:  # the user's oldest go, so an eager client holds a bounded number
                db.execute(
                    delete(StreamTicket).where(
                        StreamTicket.user_id == grant.user_id, StreamTicket.digest.in_(mine)
                    )
                )
            db.add(
                StreamTicket(
                    user_id=grant.user_id, digest=_digest(ticket), token_digest=grant.token_digest,
                    issued_s=now, expires_s=now + ttl_s,
                )
            )
        return ticket

    def redeem(self, ticket: str) -> StreamGrant | None:
        """The grant of a valid ticket, once; None for an unknown, used or expired one."""
        user, _, rest = ticket.partition(".")
        if not rest or not (user.isascii() and user.isdigit()) or len(user) > 18:
            return None
        with self._sessions.begin() as db:
            found = db.execute(
                delete(StreamTicket)
                .where(StreamTicket.user_id == int(user), StreamTicket.digest == _digest(ticket))
                .returning(StreamTicket.token_digest, StreamTicket.expires_s)
            ).first()
        if found is None or found.expires_s <= self._clock():
            return None
        return StreamGrant(user_id=int(user), token_digest=found.token_digest)

    def __len__(self) -> int:
        with self._sessions() as db:
            return int(db.scalar(select(func.count()).select_from(StreamTicket)) or 0)


def _digest(ticket: str) -> str:
    return hashlib.sha256(ticket.encode()).hexdigest()


class Bus(Protocol):
    """What carries events between processes (service.pipeline.live_bus.PostgresLiveBus)."""

    def send(self, user_id: int, event: dict[str, Any]) -> bool: ...


class LiveHub:
    """Fan-out of events per user; publish is safe from worker threads, subscribers live on the event loop."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: dict[int, set[asyncio.Queue[dict[str, Any]]]] = defaultdict(set)
        self._loop: asyncio.AbstractEventLoop | None = None
        self.last: dict[int, dict[str, Any]] = {}
        self.straps: dict[int, dict[str, Any]] = {}  # device id -> its newest `strap` event
        self.tickets: StreamTickets | None = None  # set by the app, which has the database
        # Set on PostgreSQL (service.pipeline.live_bus): events then reach the subscribers of every process.
        self.bus: Bus | None = None

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
        """Deliver to every subscriber of the user, in every process when a bus runs; a slow subscriber
        loses its oldest events, never blocks. Safe from any thread."""
        if self.bus is not None and self.bus.send(user_id, event):
            return  # the bus delivers it here too, when PostgreSQL echoes it back
        self.deliver(user_id, event)

    def deliver(self, user_id: int, event: dict[str, Any]) -> None:
        """Deliver to this process's subscribers of the user (what publish does without a bus)."""
        if event.get("type") == "heart_rate":
            self.last[user_id] = event
        elif event.get("type") == "strap" and isinstance(event.get("device_id"), int):
            # the newest status of each strap, whichever process records it (heard through the bus)
            self.straps[event["device_id"]] = event
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
