"""The service records its paired straps itself: one supervised `chinup record` pipeline per strap.

Why no second implementation: each strap runs `devices.recorder.run_pipeline` unchanged (StrapLink ->
decoder -> durable spool in the data directory -> Uploader). The uploader's HTTP client is bound to this
very app through httpx's ASGI transport, so every batch goes through the same endpoint as an external
recorder's (`POST /devices/{id}/samples`: token check, validation, idempotent store, live stream,
rollups) without a socket and without the service having to know the address it listens on.

One recorder per strap whatever the concurrency: `start` reserves the strap's slot before its first await,
and the recorder mints its own upload token once running (again after a 401). A recorder whose pairing
or device is gone (forgotten, `DELETE /devices/{id}`, by this worker or another) ends itself. Every stop
is bounded in time, so the service always shuts down.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import delete, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from devices.errors import UploadRefused
from devices.logs import RepeatLimiter
from devices.recorder import HTTP_TIMEOUT_S, StrapPipeline, run_pipeline
from devices.spool import Spool
from devices.strap import Clock, LinkState, StrapLink
from service.core.models import Device, DeviceToken, PairedStrap
from service.core.security import DEVICE_TOKEN_PREFIX, new_token, token_digest
from service.pipeline.live import LiveHub
from service.recording.claims import CLAIM_RETRY_S, LocalClaims, StrapClaims

log = logging.getLogger(__name__)

INTERNAL_URL = "http://chinup.internal"  # the ASGI transport never resolves it: requests go to the app
SPOOL_FILE = "straps-spool.sqlite3"
STATUS_EVERY_S = 0.5
RESTART_FIRST_S = 1.0
RESTART_MAX_S = 30.0
HEALTHY_RUN_S = 60.0  # a pipeline that ran this long before failing was healthy: the backoff starts over
STOP_TIMEOUT_S = 3.0  # how long a cancelled recorder may take to wind down before it is left behind
REQUEST_DRAIN_S = 3.0  # at shutdown, how long in-process requests still running may take to finish
TOKEN_REFUSED = (401, 403)  # the recorder's token is gone or no longer valid for the device
PAIRING_CHECK_S = 5.0  # how often a recorder checks that its strap is still paired (even with no upload)
MAX_SIGHTINGS = 10_000  # (address, user) pairs a scan heard, kept at most (a crowd of fake adverts is cut)


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
        """Let running requests finish (their sessions close), but not for ever: shutdown must end."""
        running = set(self._running)
        if running:
            _done, late = await asyncio.wait(running, timeout=REQUEST_DRAIN_S)
            for task in late:
                task.cancel()
            if late:
                await asyncio.wait(late, timeout=REQUEST_DRAIN_S)
        await self._inner.aclose()


class StrapState:
    """What the Devices page shows for a paired strap (the link's state in the user's words)."""

    CONNECTING = "connecting"
    RECORDING = "recording"
    STALE = "stale"
    RECONNECTING = "reconnecting"
    STOPPED = "stopped"


def restart_delay_s(previous_s: float | None, ran_s: float) -> float:
    """The pause before restarting a failed pipeline: doubling from RESTART_FIRST_S up to RESTART_MAX_S, and
    back to RESTART_FIRST_S after a run of HEALTHY_RUN_S or more (a strap that worked for an hour and then
    failed once is not a strap failing for an hour)."""
    if previous_s is None or ran_s >= HEALTHY_RUN_S:
        return RESTART_FIRST_S
    return min(RESTART_MAX_S, previous_s * 2)


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


class ClaimLost(Exception):
    """This process no longer holds a strap's claim: its recorder stops and waits to claim it again."""


class StrapRecording:
    """One paired strap's pipeline, restarted with backoff if it ever fails, until stopped."""

    def __init__(self, info: PairedInfo, *, supervisor: StrapSupervisor) -> None:
        self.info = info
        self.token: str | None = None  # minted by `run`, so that `start` need not await
        self.restarts = 0
        self._sup = supervisor
        self.pipeline: StrapPipeline | None = None
        self.task: asyncio.Task[None] | None = None
        self._published: dict[str, Any] | None = None
        self._failures = RepeatLimiter(log)  # a strap failing for hours logs a line a minute, with a count
        self._unchecked = RepeatLimiter(log)  # so does a database away for hours (checked every 5 s)
        # This process holds the strap's claim (service.recording.claims); alone on its database it always does.
        self.claimed = isinstance(supervisor.claims, LocalClaims)

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
        """The supervised loop: run the pipeline; on an error log it and start again after a pause.

        A refused token is replaced at once by a fresh one while the strap is still paired; a strap no
        longer paired (or whose device is gone) ends the loop. The pause doubles after each failure and
        starts over after a healthy run.
        """
        loop = asyncio.get_running_loop()
        delay_s: float | None = None
        try:
            while True:
                started_s = loop.time()
                try:  # everything, the database included: one failure never ends the service's recordings
                    if not await self._claim():
                        log.info("%s (%s): no longer paired: recording ends", *self._who())
                        return
                    if self.token is None:
                        self.token = await asyncio.to_thread(self._sup.mint_token, self.info.device_id)
                        if self.token is None:
                            return  # unpaired meanwhile
                    if not await self._run_once(self.token):
                        log.info("%s (%s): no longer paired: recording ends", *self._who())
                        return
                except UploadRefused as exc:
                    if not await self._still_paired():
                        log.info("%s (%s): no longer paired (%s): recording ends", self.info.name,
                                 self.info.address, exc.status_code)  # fmt: skip
                        return
                    if exc.status_code in TOKEN_REFUSED:
                        log.info("%s (%s): upload token refused, minting a new one", self.info.name,
                                 self.info.address)  # fmt: skip
                        self.token = None
                    else:
                        self._failures.log(logging.WARNING, "%s (%s): upload refused: %s", *self._who(), exc)
                except Exception:  # supervision: one strap's failure never stops the others or the service
                    self._failures.log(logging.ERROR, "%s (%s): recording failed, restarting", *self._who(),
                                       exc_info=True)  # fmt: skip
                delay_s = restart_delay_s(delay_s, loop.time() - started_s)
                self.restarts += 1
                await asyncio.sleep(delay_s)
        finally:
            self._sup.forget(self)
            self.claimed = False
            await self._sup.claims.release(self.info.device_id)  # also a claim granted as it was cancelled

    async def _claim(self) -> bool:
        """Wait until this process holds the strap's claim (at once unless another process records it);
        False when the strap is no longer paired meanwhile."""
        waited = False
        while not await self._sup.claims.try_claim(self.info.device_id):
            self.claimed = False
            if not waited:
                log.info("%s (%s): recorded by another process; standing by", *self._who())
                waited = True
            await asyncio.sleep(CLAIM_RETRY_S)
            if not await self._still_paired():
                return False
        if waited:
            log.info("%s (%s): taken over from the process that recorded it", *self._who())
        self.claimed = True
        return True

    async def _run_once(self, token: str) -> bool:
        """One pipeline, with its status published beside it, until it fails (raises what ended it) or the
        strap is no longer paired (returns False): forgotten, stopped or its device deleted, by this worker
        or another, noticed within PAIRING_CHECK_S even while nothing is uploaded."""
        link = StrapLink(self._sup.transport, address=self.info.address, clock=self._sup.clock)
        self.pipeline = StrapPipeline(link, self._sup.spool, device_key=self.info.address)
        address = self.info.address
        running = run_pipeline(self.pipeline, self._sup.client, INTERNAL_URL, token, None)
        pipeline = asyncio.create_task(running, name=f"pipeline {address}")
        watcher = asyncio.create_task(self._until_unpaired(), name=f"pairing {address}")
        publisher = asyncio.create_task(self._publish_status(), name=f"status {address}")
        try:
            await asyncio.wait({pipeline, watcher}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (publisher, watcher, pipeline):
                task.cancel()
            await asyncio.gather(publisher, watcher, pipeline, return_exceptions=True)
        if pipeline.cancelled():  # the watcher ended it: unpaired (or the watcher failed: raised here)
            watcher.result()
            return False
        pipeline.result()  # raises what ended the pipeline
        return True

    def _who(self) -> tuple[str, str]:
        """The strap's name and address, as every log line names them."""
        return self.info.name, self.info.address

    async def _until_unpaired(self) -> None:
        """Returns once the strap is no longer paired and set to record; raises ClaimLost when this
        process no longer holds its claim (its database connection dropped: another may record it now)."""
        while True:
            await asyncio.sleep(PAIRING_CHECK_S)
            if not await self._sup.claims.still_held(self.info.device_id):
                self.claimed = False
                raise ClaimLost(f"{self.info.name} ({self.info.address}): this process lost its claim")
            if not await self._still_paired():
                return

    async def _still_paired(self) -> bool:
        """`still_recording` off the loop; a database that cannot answer now counts as "still paired"."""
        try:
            return await asyncio.to_thread(self._sup.still_recording, self.info.device_id)
        except SQLAlchemyError as exc:
            self._unchecked.log(
                logging.WARNING, "%s (%s): cannot check the pairing now: %s", *self._who(), exc
            )
            return True

    async def _publish_status(self) -> None:
        """A `strap` event on the user's live stream whenever state, battery or reading changed."""
        while True:
            status = self.status()
            if status.name != self.info.name and self.info.name == self.info.address:
                await self._learn_name(status.name)
            event = status.event()
            if event != self._published:
                self._published = event
                self._sup.live.publish(self.info.user_id, event)
            await asyncio.sleep(STATUS_EVERY_S)

    async def _learn_name(self, name: str) -> None:
        """A strap paired by its address alone is named by what it calls itself once connected: kept in the
        pairing and its device, so every answer and event after (a stopped strap's included) says the same
        name, never the address instead."""
        try:
            await asyncio.to_thread(self._sup.learn_name, self.info.device_id, self.info.address, name)
        except SQLAlchemyError as exc:
            self._unchecked.log(logging.WARNING, "%s (%s): cannot keep its name now: %s", *self._who(), exc)
            return
        self.info = replace(self.info, name=name)

    async def stop(self) -> None:
        """Cancel the pipeline (what reached the spool stays there and uploads at the next start).

        Bounded: a recorder that does not wind down within STOP_TIMEOUT_S is left to its cancellation.
        """
        task = self.task
        heard_as = self.status().name  # what the strap called itself, before its link goes
        was_recording = self.claimed  # a process standing by on the claim says nothing of the strap
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            await asyncio.wait({task}, timeout=STOP_TIMEOUT_S)
            if not task.done():
                log.warning("%s (%s): still stopping after %.0f s", self.info.name, self.info.address,
                            STOP_TIMEOUT_S)  # fmt: skip
        if heard_as != self.info.name and self.info.name == self.info.address:
            await self._learn_name(
                heard_as
            )  # stopped at once after connecting: not yet kept by the publisher
        if was_recording:
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
        monotonic: Callable[[], float] = time.monotonic,
        claims: StrapClaims | None = None,
    ) -> None:
        self.transport = transport
        self.claims: StrapClaims = claims or LocalClaims()
        self.sessions = sessions
        self.live = live
        self.clock = clock
        self._spool_path = data_dir / SPOOL_FILE
        self._asgi_app = asgi_app
        self._recordings: dict[int, StrapRecording] = {}
        self._tasks: set[asyncio.Task[None]] = set()  # every recorder task, owned until it is done
        self._accepting = False  # True while `run` runs: a recorder started at any other time would leak
        self._locks: dict[int, asyncio.Lock] = {}
        self._spool: Spool | None = None
        self._client: httpx.AsyncClient | None = None
        self._monotonic = monotonic
        # address -> {user id: when that user's scan through this service last heard it}: a pairing needs
        # one (see `seen_by`). In memory on purpose: a sighting is worth minutes, and only this process's
        # radio heard it.
        self._sightings: dict[str, dict[int, float]] = {}

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
        await asyncio.to_thread(self._spool_path.parent.mkdir, parents=True, exist_ok=True)
        transport = _WholeRequestTransport(self._asgi_app)
        spool = await asyncio.to_thread(Spool, self._spool_path)  # SQLite: opened and closed off the loop
        try:
            async with httpx.AsyncClient(transport=transport, base_url=INTERNAL_URL,
                                         timeout=HTTP_TIMEOUT_S) as client:  # fmt: skip
                self._spool, self._client = spool, client
                self._accepting = True
                try:
                    for info in await asyncio.to_thread(self._paired_to_record):
                        await self.start(info)
                    if isinstance(self.claims, LocalClaims):
                        await stop.wait()
                    else:
                        await self._follow_pairings(stop)
                finally:
                    self._accepting = False  # no new recorder from here on
                    await self.stop_all()
                    await self._abandon_stragglers()
                    await self.claims.close()
                    self._spool = self._client = None
        finally:
            await asyncio.to_thread(spool.close)

    async def _follow_pairings(self, stop: asyncio.Event) -> None:
        """With other processes on the database: a strap paired or resumed through another one gets a
        recorder here too, standing by on its claim, so this process takes over when that one dies."""
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), timeout=CLAIM_RETRY_S)
            except TimeoutError:
                pass
            if stop.is_set():
                return
            try:
                for info in await asyncio.to_thread(self._paired_to_record):
                    await self.start(info)
            except SQLAlchemyError as exc:
                log.warning("cannot read the pairings now: %s", exc)

    def saw(self, user_id: int, addresses: Iterable[str], *, keep_s: float) -> None:
        """Note that this user's scan heard these addresses now; sightings older than `keep_s` go."""
        now_s = self._monotonic()
        for address, seen in list(self._sightings.items()):
            for uid, at_s in list(seen.items()):
                if now_s - at_s > keep_s:
                    del seen[uid]
            if not seen:
                del self._sightings[address]
        for address in addresses:
            self._sightings.setdefault(address.upper(), {})[user_id] = now_s
        excess = self.sighting_count - MAX_SIGHTINGS
        if excess > 0:  # only a flood of fake adverts gets here: the oldest sightings go first
            oldest = sorted(
                (at_s, a, uid) for a, seen in self._sightings.items() for uid, at_s in seen.items()
            )
            for _at_s, address, uid in oldest[:excess]:
                del self._sightings[address][uid]
                if not self._sightings[address]:
                    del self._sightings[address]

    def seen_by(self, user_id: int, address: str, *, within_s: float) -> bool:
        """Whether this user's own scan through this service heard the address in the last `within_s`.

        Why pairing asks for it: the address is unique service-wide, so without it anyone could type a
        neighbour's address and hold the strap first; a scan only hears what is in radio range.
        """
        at_s = self._sightings.get(address.upper(), {}).get(user_id)
        return at_s is not None and 0 <= self._monotonic() - at_s <= within_s

    @property
    def sighting_count(self) -> int:
        """How many (address, user) sightings are kept (bounded by MAX_SIGHTINGS; for health and tests)."""
        return sum(map(len, self._sightings.values()))

    def _paired_to_record(self) -> list[PairedInfo]:
        with self.sessions() as db:
            rows = db.scalars(select(PairedStrap).where(PairedStrap.recording.is_(True))).all()
            return [PairedInfo(r.user_id, r.device_id, r.address, r.name) for r in rows]

    def status(self, device_id: int) -> StrapStatus | None:
        """The live status of a strap being recorded by this process; None when it is not (another
        process may record it: its status reaches the page as live events)."""
        recording = self._recordings.get(device_id)
        return recording.status() if recording is not None and recording.claimed else None

    async def start(self, info: PairedInfo) -> None:
        """Record a paired strap (no-op when it already is or the supervisor is not running).

        The slot is taken before anything is awaited, so concurrent calls for one strap start one recorder.
        """
        if info.device_id in self._recordings or not self._accepting:
            return
        recording = StrapRecording(info, supervisor=self)
        self._recordings[info.device_id] = recording
        recording.task = task = asyncio.create_task(recording.run(), name=f"record {info.address}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        log.info("%s (%s): recording for user %d", info.name, info.address, info.user_id)

    def strap_lock(self, device_id: int) -> asyncio.Lock:
        """Serialises what changes one strap's recording (the database row, then start or stop), so that
        concurrent stop and resume calls leave the recorder as the row says."""
        return self._locks.setdefault(device_id, asyncio.Lock())

    async def stop(self, device_id: int) -> None:
        """Stop recording one strap; nothing when it is not recorded."""
        recording = self._recordings.pop(device_id, None)
        if recording is not None:
            await recording.stop()
            log.info("%s (%s): stopped", recording.info.name, recording.info.address)

    async def stop_all(self) -> None:
        """Stop every recording at once (the service is going down); each stop is bounded in time."""
        await asyncio.gather(*(self.stop(device_id) for device_id in list(self._recordings)))

    async def _abandon_stragglers(self) -> None:
        """Recorder tasks still winding down after `stop_all` get one more bounded wait, then are left: a
        shutdown must finish even if one strap's stack never answers (a task group would wait for ever)."""
        running = {task for task in self._tasks if not task.done()}
        for task in running:
            task.cancel()
        if running:
            _done, late = await asyncio.wait(running, timeout=STOP_TIMEOUT_S)
            for task in late:
                log.warning("%s: recorder did not stop, left behind at shutdown", task.get_name())

    def forget(self, recording: StrapRecording) -> None:
        """A recorder that ended by itself leaves its slot (only its own: a newer one may hold it)."""
        if self._recordings.get(recording.info.device_id) is recording:
            del self._recordings[recording.info.device_id]
            if not recording.claimed:
                return  # it stood by: the process holding the claim speaks for the strap
            stopped = StrapStatus(recording.info.device_id, recording.info.address, recording.info.name,
                                  StrapState.STOPPED)  # fmt: skip
            self.live.publish(recording.info.user_id, stopped.event())

    @property
    def shared(self) -> bool:
        """Whether other processes may serve this deployment's requests too (claims on PostgreSQL)."""
        return not isinstance(self.claims, LocalClaims)

    @property
    def recorder_count(self) -> int:
        """How many straps have a recorder now (for the health of the service and for tests)."""
        return len(self._recordings)

    def learn_name(self, device_id: int, address: str, name: str) -> None:
        """Name the pairing and its device `name` where they are still named by their address. Blocking."""
        name = name[:120]  # the columns hold 120 characters; an advertised name holds at most 29 bytes anyway
        with self.sessions() as db:
            db.execute(update(PairedStrap).where(PairedStrap.device_id == device_id, PairedStrap.name == address)
                       .values(name=name))  # fmt: skip
            db.execute(update(Device).where(Device.id == device_id, Device.name == address).values(name=name))
            db.commit()

    def still_recording(self, device_id: int) -> bool:
        """Whether the strap is still paired and set to record (the truth is the database: another worker
        or `DELETE /devices/{id}` may have changed it). Blocking: call it in a worker thread."""
        with self.sessions() as db:
            recording = db.scalar(select(PairedStrap.recording).where(PairedStrap.device_id == device_id))
        return bool(recording)

    def mint_token(self, device_id: int) -> str | None:
        """A new upload token for a paired strap's device, the previous one the service minted deleted;
        None when the strap is no longer paired. Blocking: call it in a worker thread.

        The pairing row is locked (PostgreSQL) so two mints for one strap cannot both leave a token.
        """
        with self.sessions() as db:
            paired = db.scalar(
                select(PairedStrap).where(PairedStrap.device_id == device_id).with_for_update()
            )
            if paired is None or not paired.recording:
                return None
            if paired.recorder_token_id is not None:
                db.execute(delete(DeviceToken).where(DeviceToken.id == paired.recorder_token_id))
            token = new_token(DEVICE_TOKEN_PREFIX, paired.user_id)
            row = DeviceToken(device_id=device_id, user_id=paired.user_id, token_hash=token_digest(token))
            db.add(row)
            db.flush()
            paired.recorder_token_id = row.id
            db.commit()
        return token
