"""In-process publish/subscribe of each user's live events (heart rate, target met) for server-sent events."""

from __future__ import annotations

import asyncio
import threading
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

QUEUE_SIZE = 256


class LiveHub:
    """Fan-out of events per user; publish is safe from worker threads, subscribers live on the event loop."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: dict[int, set[asyncio.Queue[dict[str, Any]]]] = defaultdict(set)
        self._loop: asyncio.AbstractEventLoop | None = None
        self.last: dict[int, dict[str, Any]] = {}

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def subscribe(self, user_id: int) -> asyncio.Queue[dict[str, Any]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(QUEUE_SIZE)
        with self._lock:
            self._subscribers[user_id].add(queue)
        return queue

    def unsubscribe(self, user_id: int, queue: asyncio.Queue[dict[str, Any]]) -> None:
        with self._lock:
            self._subscribers[user_id].discard(queue)

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
