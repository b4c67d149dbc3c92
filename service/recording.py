"""The service records its paired straps itself: one supervised `chinup record` pipeline per strap.

Why no second implementation: each strap runs `devices.recorder.run_pipeline` unchanged (StrapLink ->
decoder -> durable spool in the data directory -> Uploader). The uploader's HTTP client is bound to this
very app through httpx's ASGI transport, so every batch goes through the same endpoint as an external
recorder's (`POST /devices/{id}/samples`: token check, validation, idempotent store, live stream,
rollups) without a socket and without the service having to know the address it listens on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from devices.recorder import HTTP_TIMEOUT_S, StrapPipeline, run_pipeline
from devices.spool import Spool
from devices.strap import Clock, LinkState, StrapLink
from service.live import LiveHub
from service.models import DeviceToken, PairedStrap
from service.security import DEVICE_TOKEN_PREFIX, new_token, token_digest

log = logging.getLogger(__name__)

INTERNAL_URL = "http://chinup.internal"  # the ASGI transport never resolves it: requests go to the app
SPOOL_FILE = "straps-spool.sqlite3"
STATUS_EVERY_S = 0.5
RESTART_FIRST_S = 1.0
RESTART_MAX_S = 30.0


class _WholeRequestTransport(httpx.AsyncBaseTransport):
    """The app's own ASGI transport, but a cancelled caller no longer cancels the app half-way through.

    Over a socket, a recorder that stops just hangs up and the server finishes the request (closing its
    database session); in-process, cancellation would reach into the handler. Each request therefore
    runs as its own task, shielded from the caller, and shutdown waits for those still running.
    """

    def __init__(self, app: Callable[..., Any]) -> None:
        self._inner = httpx.ASGITransport(app=app)
        self._running: set[asyncio.Task[httpx.Response]] = set()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        task = asyncio.ensure_future(self._inner.handle_async_request(request))
        self._running.add(task)
        task.add_done_callback(self._running.discard)
        return await asyncio.shield(task)

    async def aclose(self) -> None:
        await asyncio.gather(*self._running, return_exceptions=True)
        await self._inner.aclose()


class StrapState:
    """What the Devices page shows for a paired strap (the link's state in the user's words)."""

    CONNECTING = "connecting"
    RECORDING = "recording"
    STALE = "stale"
    RECONNECTING = "reconnecting"
    STOPPED = "stopped"


def strap_state(link: LinkState, connections: int) -> str:
    """Map the link's own state; after a first connection any search or retry is a reconnection."""
    if link is LinkState.STREAMING:
        return StrapState.RECORDING
    if link is LinkState.STALE:
        return StrapState.STALE
    if link is LinkState.STOPPED:
        return StrapState.STOPPED
    return StrapState.RECONNECTING if connections or link is LinkState.WAITING else StrapState.CONNECTING


@dataclass(frozen=True, slots=True)
class StrapStatus:
    """A paired strap as it stands now: the link, the last reading, the facts read once connected."""

    device_id: int
    address: str
    name: str
    state: str
    battery_pct: int | None = None
    body_location: str | None = None
    last_bpm: int | None = None
    last_sample_ms: int | None = None

    def event(self) -> dict[str, Any]:
        """The live stream's `strap` event (the Today page reads `state` and `battery`)."""
        return {
            "type": "strap", "device_id": self.device_id, "address": self.address, "name": self.name,
            "state": self.state, "battery": self.battery_pct, "body_location": self.body_location,
            "bpm": self.last_bpm, "t_ms": self.last_sample_ms,
        }  # fmt: skip


@dataclass(frozen=True, slots=True)
class PairedInfo:
    """What a recording needs to know of its pairing row."""

    user_id: int
    device_id: int
    address: str
    name: str


class StrapRecording:
    """One paired strap's pipeline, restarted with backoff if it ever fails, until stopped."""

    def __init__(self, info: PairedInfo, token: str, *, supervisor: StrapSupervisor) -> None:
        self.info = info
        self.token = token
        self._sup = supervisor
        self.pipeline: StrapPipeline | None = None
        self.task: asyncio.Task[None] | None = None
        self._published: dict[str, Any] | None = None

    def status(self) -> StrapStatus:
        """The strap's state from its link and decoder (connecting until the pipeline exists)."""
        p, info = self.pipeline, self.info
        if p is None:
            return StrapStatus(info.device_id, info.address, info.name, StrapState.CONNECTING)
        stats, last = p.link.stats, p.decoder.last
        return StrapStatus(
            info.device_id, info.address, stats.name or info.name,
            strap_state(stats.state, stats.connections), stats.battery_pct,
            stats.body_location.name.lower().replace("_", " ") if stats.body_location is not None else None,
            last.bpm if last is not None else None, p.decoder.last_t_ms,
        )  # fmt: skip

    async def run(self) -> None:
        """The supervised loop: run the pipeline; on an error log it and start again after a pause."""
        delay_s = RESTART_FIRST_S
        while True:
            link = StrapLink(self._sup.transport, address=self.info.address, clock=self._sup.clock)
            self.pipeline = StrapPipeline(link, self._sup.spool, device_key=self.info.address)
            try:
                async with asyncio.TaskGroup() as tasks:
                    tasks.create_task(self._publish_status(), name=f"status {self.info.address}")
                    await run_pipeline(self.pipeline, self._sup.client, INTERNAL_URL, self.token, None)
            except Exception:  # supervision: one strap's failure never stops the others or the service
                log.exception("%s (%s): recording failed, restarting in %.0f s", self.info.name,
                              self.info.address, delay_s)  # fmt: skip
            await asyncio.sleep(delay_s)
            delay_s = min(RESTART_MAX_S, delay_s * 2)

    async def _publish_status(self) -> None:
        """A `strap` event on the user's live stream whenever state, battery or reading changed."""
        while True:
            event = self.status().event()
            if event != self._published:
                self._published = event
                self._sup.live.publish(self.info.user_id, event)
            await asyncio.sleep(STATUS_EVERY_S)

    async def stop(self) -> None:
        """Cancel the pipeline (what reached the spool stays there and uploads at the next start)."""
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        stopped = StrapStatus(self.info.device_id, self.info.address, self.info.name, StrapState.STOPPED)
        self._sup.live.publish(self.info.user_id, stopped.event())


class StrapSupervisor:
    """Owner of every in-service recording: started and stopped by the app's lifespan."""

    def __init__(
        self,
        *,
        transport: str,
        data_dir: Path,
        sessions: sessionmaker[Session],
        live: LiveHub,
        asgi_app: Callable[..., Any],
        clock: Clock = time.time,
    ) -> None:
        self.transport = transport
        self.sessions = sessions
        self.live = live
        self.clock = clock
        self._spool_path = data_dir / SPOOL_FILE
        self._asgi_app = asgi_app
        self._recordings: dict[int, StrapRecording] = {}
        self._tasks: asyncio.TaskGroup | None = None
        self._spool: Spool | None = None
        self._client: httpx.AsyncClient | None = None

    @property
    def spool(self) -> Spool:
        assert self._spool is not None, "the supervisor is not running"
        return self._spool

    @property
    def client(self) -> httpx.AsyncClient:
        assert self._client is not None, "the supervisor is not running"
        return self._client

    async def run(self, stop: asyncio.Event) -> None:
        """Open the spool and the in-process client, start every paired strap set to record, until `stop`."""
        self._spool_path.parent.mkdir(parents=True, exist_ok=True)
        transport = _WholeRequestTransport(self._asgi_app)
        with Spool(self._spool_path) as spool:
            async with httpx.AsyncClient(transport=transport, base_url=INTERNAL_URL,
                                         timeout=HTTP_TIMEOUT_S) as client:  # fmt: skip
                self._spool, self._client = spool, client
                try:
                    async with asyncio.TaskGroup() as tasks:
                        self._tasks = tasks
                        for info in await asyncio.to_thread(self._paired_to_record):
                            await self.start(info)
                        await stop.wait()
                        await self.stop_all()
                finally:
                    self._tasks = None
                    self._spool = self._client = None

    def _paired_to_record(self) -> list[PairedInfo]:
        with self.sessions() as db:
            rows = db.scalars(select(PairedStrap).where(PairedStrap.recording.is_(True))).all()
            return [PairedInfo(r.user_id, r.device_id, r.address, r.name) for r in rows]

    def status(self, device_id: int) -> StrapStatus | None:
        """The live status of a strap being recorded; None when it is not."""
        recording = self._recordings.get(device_id)
        return recording.status() if recording is not None else None

    async def start(self, info: PairedInfo) -> None:
        """Record a paired strap (no-op when it already is), with a fresh upload token for its device."""
        if info.device_id in self._recordings or self._tasks is None:
            return
        token = await asyncio.to_thread(self._mint_token, info.device_id)
        recording = StrapRecording(info, token, supervisor=self)
        self._recordings[info.device_id] = recording
        recording.task = self._tasks.create_task(recording.run(), name=f"record {info.address}")
        log.info("%s (%s): recording for user %d", info.name, info.address, info.user_id)

    async def stop(self, device_id: int) -> None:
        """Stop recording one strap; nothing when it is not recorded."""
        recording = self._recordings.pop(device_id, None)
        if recording is not None:
            await recording.stop()
            log.info("%s (%s): stopped", recording.info.name, recording.info.address)

    async def stop_all(self) -> None:
        """Stop every recording (the service is going down)."""
        for device_id in list(self._recordings):
            await self.stop(device_id)

    def _mint_token(self, device_id: int) -> str:
        """A new upload token for the device; the previous one the service minted is deleted."""
        token = new_token(DEVICE_TOKEN_PREFIX)
        with self.sessions() as db:
            paired = db.scalar(select(PairedStrap).where(PairedStrap.device_id == device_id))
            if paired is not None and paired.recorder_token_id is not None:
                db.execute(delete(DeviceToken).where(DeviceToken.id == paired.recorder_token_id))
            row = DeviceToken(device_id=device_id, token_hash=token_digest(token))
            db.add(row)
            db.flush()
            if paired is not None:
                paired.recorder_token_id = row.id
            db.commit()
        return token
