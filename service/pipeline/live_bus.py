"""Live events across processes: on PostgreSQL every `chinup serve` process (a worker of `--workers N`, or a
server on another machine) publishes through `NOTIFY` and delivers what its `LISTEN` connection hears.

A dashboard's stream is held by whichever process accepted it, while the sample it waits for may be
ingested by any other. So with the bus running, `LiveHub.publish` hands the event to the bus, and every
process, the publishing one too, delivers it to its own subscribers when PostgreSQL echoes it back: one
path, no duplicates. While the bus is not connected (starting, or PostgreSQL restarting) events are
delivered locally only, so a single process never loses its own.

The bus owns two tasks on the event loop, a sender and a listener, each on its own autocommit connection
(psycopg 3's async API: nothing blocks the loop); both end when `run` is told to stop. A NOTIFY payload is
at most 8000 bytes: a larger event (none is today) is delivered locally only, with a warning.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Any

import psycopg
from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)

CHANNEL = "chinup_live"
MAX_PAYLOAD_BYTES = 7999  # PostgreSQL's limit is 8000 bytes, less than 8000 to be safe
RECONNECT_S = (0.2, 0.5, 1.0, 2.0, 5.0)
# A server gone without closing the connection (a machine or a network lost) is noticed in seconds, not hours.
CONNECT_OPTIONS = {"connect_timeout": 5, "keepalives": 1, "keepalives_idle": 5, "keepalives_interval": 2,
                   "keepalives_count": 3, "tcp_user_timeout": 10_000}
SEND_QUEUE = 10_000  # events waiting for the sender; past it the oldest are delivered locally instead

Deliver = Callable[[int, dict[str, Any]], None]


def libpq_url(sqlalchemy_url: str) -> str:
    """The libpq connection string of a SQLAlchemy URL (`postgresql+psycopg://…` → `postgresql://…`)."""
    return make_url(sqlalchemy_url).set(drivername="postgresql").render_as_string(hide_password=False)


def encode(user_id: int, event: dict[str, Any]) -> str | None:
    """The NOTIFY payload of an event, or None when it is too large to go through PostgreSQL."""
    payload = json.dumps({"u": user_id, "e": event}, separators=(",", ":"), default=str)
    return payload if len(payload.encode()) <= MAX_PAYLOAD_BYTES else None


def decode(payload: str) -> tuple[int, dict[str, Any]] | None:
    """(user id, event) of a payload another process sent, or None for anything malformed."""
    try:
        message = json.loads(payload)
        user_id, event = message["u"], message["e"]
    except (ValueError, KeyError, TypeError):
        return None
    if not isinstance(user_id, int) or not isinstance(event, dict):
        return None
    return user_id, event


class PostgresLiveBus:
    """The NOTIFY/LISTEN pair behind a LiveHub; `send` is safe from any thread."""

    def __init__(self, database_url: str) -> None:
        self._url = libpq_url(database_url)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: asyncio.Queue[str] = asyncio.Queue(SEND_QUEUE)
        self._deliver: Deliver | None = None
        self.listening = asyncio.Event()  # set while the LISTEN connection is up
        self.sent = 0
        self.heard = 0

    @property
    def connected(self) -> bool:
        return self.listening.is_set()

    def send(self, user_id: int, event: dict[str, Any]) -> bool:
        """Queue the event for every process; False when the caller must deliver it locally instead
        (the bus is down, the payload too large, or the loop gone)."""
        loop = self._loop
        if loop is None or loop.is_closed() or not self.connected:
            return False
        payload = encode(user_id, event)
        if payload is None:
            log.warning("a live event of %s is too large for NOTIFY; delivered locally", event.get("type"))
            return False
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            return self._enqueue(payload)
        loop.call_soon_threadsafe(self._enqueue, payload)
        return True

    def _enqueue(self, payload: str) -> bool:
        if self._queue.full():
            dropped = self._queue.get_nowait()
            self._deliver_payload(dropped)  # the oldest goes to this process's subscribers at least
        self._queue.put_nowait(payload)
        return True

    def _deliver_payload(self, payload: str) -> None:
        decoded = decode(payload)
        if decoded is None:
            log.warning("ignored a malformed live event on %s", CHANNEL)
            return
        self.heard += 1
        if self._deliver is not None:
            self._deliver(*decoded)

    async def run(self, deliver: Deliver, stop: asyncio.Event) -> None:
        """Send and listen until `stop` is set, reconnecting with back-off when PostgreSQL goes away."""
        self._loop = asyncio.get_running_loop()
        self._deliver = deliver
        async with asyncio.TaskGroup() as tasks:
            listener = tasks.create_task(self._listen_forever(), name="live bus listener")
            sender = tasks.create_task(self._send_forever(), name="live bus sender")
            await stop.wait()
            listener.cancel()
            sender.cancel()

    async def _listen_forever(self) -> None:
        attempt = 0
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(self._url, autocommit=True, **CONNECT_OPTIONS) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    self.listening.set()
                    attempt = 0
                    async for notify in conn.notifies():
                        self._deliver_payload(notify.payload)
            except (psycopg.Error, OSError) as exc:
                log.warning("live bus listener lost PostgreSQL (%s); reconnecting", type(exc).__name__)
            finally:
                self.listening.clear()
            await asyncio.sleep(RECONNECT_S[min(attempt, len(RECONNECT_S) - 1)])
            attempt += 1

    async def _send_forever(self) -> None:
        attempt = 0
        pending: str | None = None
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(self._url, autocommit=True, **CONNECT_OPTIONS) as conn:
                    attempt = 0
                    while True:
                        if pending is None:
                            pending = await self._queue.get()
                        await conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, pending))
                        self.sent += 1
                        pending = None
            except (psycopg.Error, OSError) as exc:
                log.warning("live bus sender lost PostgreSQL (%s); reconnecting", type(exc).__name__)
                if pending is not None:  # not known to be sent: this process's own subscribers get it
                    self._deliver_payload(pending)
                    pending = None
            await asyncio.sleep(RECONNECT_S[min(attempt, len(RECONNECT_S) - 1)])
            attempt += 1

