"""`chinup record`: strap -> decode -> durable spool -> uploader -> service, surviving both ends going away.

One pipeline per strap, each a set of owned tasks: the link (find, connect, reconnect), the consumer
(decode, beat times, spool), the uploader (device id, then batches), and the status line.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import httpx
from rich.console import Console
from rich.live import Live
from rich.text import Text

from devices.errors import DeviceError, SpoolFull, UploadRefused, UploadUnavailable
from devices.logs import RepeatLimiter
from devices.simulator import VirtualStrap, load_recording
from devices.spool import Spool
from devices.strap import Clock, SampleDecoder, StrapLink
from devices.uploader import Uploader

_LOGGER = logging.getLogger(__name__)
_T = TypeVar("_T")

REPLAY_STRAP_NAME = "Chin Up Replay"
RESOLVE_RETRY_FIRST_S = 0.5
RESOLVE_RETRY_MAX_S = 10.0
SPOOL_POLL_S = 0.1
STATUS_REFRESH_PER_S = 4
HTTP_TIMEOUT_S = 10.0
LEFTOVER_DRAIN_S = 30.0  # at start, how long to upload what an earlier run left before recording
REPLAY_TAIL_S = 2.0  # after a replay's last notification, how long its last ones may take to arrive
REPLAY_FUTURE_MARGIN_S = 60.0  # how far ahead of real time a fast replay's clock may get (the service
# refuses samples more than 5 minutes in the future; the rest of the 5 minutes absorbs a slow connection)


@dataclass(frozen=True, slots=True)
class RecordResult:
    """What one recording did, for the command's summary and for tests."""

    device_id: int
    device_key: str
    name: str | None
    notifications: int
    samples_spooled: int
    malformed: dict[str, int]
    uploaded: int
    duplicates: int
    rejected: int
    connections: int
    disconnections: int
    stale_reconnects: int
    spool_depth: int
    samples_dropped: int = 0  # the spool was full: they were decoded but could not be kept
    failure: str | None = None  # why the link never came up or was lost last, when it was
    leftover_straps: int = 0  # straps whose samples left by an earlier run were uploaded at the start

    @property
    def recorded(self) -> bool:
        """True when at least one sample reached the spool or the service."""
        return self.samples_spooled > 0 or self.uploaded > 0 or self.duplicates > 0


class ScaledClock:
    """Wall-clock that starts now and runs `speed` times faster, so replayed samples keep their spacing."""

    def __init__(self, speed: float, *, now: Callable[[], float] = time.time) -> None:
        self.speed = speed
        self._start_s = now()
        self._mono_start_s = time.monotonic()

    def __call__(self) -> float:
        return self._start_s + (time.monotonic() - self._mono_start_s) * self.speed

    @classmethod
    def for_replay(cls, speed: float, duration_s: float, *, now: Clock = time.time) -> ScaledClock:
        """The clock of a replay lasting `duration_s`: it starts now, or earlier by what a long fast replay
        needs for its last samples to stay within REPLAY_FUTURE_MARGIN_S of real time (a clock `speed` times
        faster gets ahead of real time by `duration_s * (1 - 1/speed)` by the end)."""
        ahead_s = duration_s * (1 - 1 / speed) if speed > 1 else 0.0
        back_s = max(0.0, ahead_s - REPLAY_FUTURE_MARGIN_S)
        return cls(speed, now=lambda: now() - back_s)


async def device_of_token(client: httpx.AsyncClient, server_url: str, token: str) -> int | None:
    """The device id a device upload token belongs to; None for a user token.

    Raises:
        UploadRefused: the token is not accepted (retrying cannot help).
        UploadUnavailable: the service cannot answer now.
    """
    url = server_url.rstrip("/") + "/api/v1/devices/current"
    answer = await _request(client, "GET", url, token)
    if answer.status_code == 200:
        return int(answer.json()["id"])
    if answer.status_code == 404:  # the service's answer for a user token
        return None
    raise _refusal(answer, url)


async def register_strap(
    client: httpx.AsyncClient,
    server_url: str,
    token: str,
    *,
    address: str,
    name: str,
    model: str | None = None,
) -> tuple[int, str]:
    """(device id, upload token) for the strap with a user token; the same address gives the same id.

    Raises:
        UploadRefused, UploadUnavailable: as `device_of_token`.
    """
    url = server_url.rstrip("/") + "/api/v1/devices"
    answer = await _request(
        client, "POST", url, token, json={"name": name, "address": address, "model": model}
    )
    if answer.status_code in (200, 201):
        data = answer.json()
        return int(data["id"]), str(data["upload_token"])
    raise _refusal(answer, url)


async def _request(
    client: httpx.AsyncClient, method: str, url: str, token: str, **kwargs: object
) -> httpx.Response:
    """One request with the bearer token; transport failures become UploadUnavailable."""
    try:
        return await client.request(method, url, headers={"Authorization": f"Bearer {token}"}, **kwargs)  # type: ignore[arg-type]
    except httpx.TransportError as exc:
        raise UploadUnavailable(url, str(exc) or type(exc).__name__) from exc


def _refusal(answer: httpx.Response, url: str) -> UploadUnavailable | UploadRefused:
    """5xx can pass; anything else is the client's mistake and final."""
    if answer.status_code >= 500:
        return UploadUnavailable(url, answer.text, status_code=answer.status_code)
    return UploadRefused(answer.status_code, url, answer.text)


class StrapPipeline:
    """One strap's tasks: link, consumer into the spool, uploader; stopped in that order."""

    def __init__(self, link: StrapLink, spool: Spool, *, device_key: str | None = None) -> None:
        self.link = link
        self.spool = spool
        self.decoder = SampleDecoder()
        self.samples_spooled = 0
        self.samples_dropped = 0  # decoded, but the spool was full (its bound or the disk)
        self.spool_full: str | None = None  # the SpoolFull message while the spool refuses samples
        self.device_key = device_key or (link.address.upper() if link.address else None)
        self.uploader: Uploader | None = None
        self.device_id: int | None = None
        self.depth = 0  # the spool depth last read off the event loop, for the status line
        # a service away for hours logs a line a minute, not one every 10 s
        self._unavailable = RepeatLimiter(_LOGGER)

    async def refresh_depth(self) -> int:
        """Read this strap's spool depth in a worker thread (SQLite must not block the event loop)."""
        key = self.device_key
        self.depth = await asyncio.to_thread(self.spool.depth, key) if key else 0
        return self.depth

    async def consume(self, link_done: asyncio.Event) -> None:
        """Decode queued notifications in batches into the spool; ends when the link stopped and all is in."""
        queue = self.link.queue
        while not (link_done.is_set() and queue.empty()):
            try:
                async with asyncio.timeout(SPOOL_POLL_S):
                    first = await queue.get()
            except TimeoutError:
                continue
            batch = [first] + [queue.get_nowait() for _ in range(queue.qsize())]
            self.device_key = self.device_key or self.link.stats.address  # known once connected
            assert self.device_key is not None
            samples = [s for s in map(self.decoder.decode, batch) if s is not None]
            if samples:
                try:
                    await asyncio.to_thread(self.spool.append, self.device_key, samples)
                except SpoolFull as exc:  # the recording goes on; what cannot be kept is counted and said
                    self._dropped(exc, len(samples))
                    continue
                self.samples_spooled += len(samples)
                self.spool_full = None

    def _dropped(self, exc: SpoolFull, n: int) -> None:
        """Samples the full spool could not take: counted, and one warning per episode of fullness."""
        if self.spool_full is None:
            _LOGGER.warning("%s: %s; new samples are dropped until it drains", self.device_key, exc)
        self.spool_full = str(exc)
        self.samples_dropped += n

    async def upload(
        self, client: httpx.AsyncClient, server_url: str, token: str, stop: asyncio.Event
    ) -> None:
        """Learn the device id (retrying while the service is away), then run the uploader until `stop`."""
        device_id, upload_token = await self._resolve(client, server_url, token, stop)
        while self.device_key is None and not stop.is_set():
            await asyncio.sleep(SPOOL_POLL_S)
        if device_id is None or self.device_key is None:
            return
        self.device_id = device_id
        self.uploader = Uploader(
            self.spool,
            client=client,
            server_url=server_url,
            device_key=self.device_key,
            device_id=device_id,
            token=upload_token,
            strap_name=self.link.stats.name,
        )
        await self.uploader.run(stop)

    async def _resolve(
        self, client: httpx.AsyncClient, server_url: str, token: str, stop: asyncio.Event
    ) -> tuple[int | None, str]:
        """Check the token at once, then (user token) register the strap once its address is known."""
        device_id = await self._retrying(lambda: device_of_token(client, server_url, token), stop)
        if device_id is not None or stop.is_set():
            return device_id, token
        while self.device_key is None and not stop.is_set():  # the spool key is the strap's address
            await asyncio.sleep(SPOOL_POLL_S)
        key = self.device_key or ""
        name = self.link.stats.name or key
        registered = await self._retrying(
            lambda: register_strap(client, server_url, token, address=key, name=name), stop
        )
        return registered if registered is not None else (None, "")

    async def _retrying(self, call: Callable[[], Awaitable[_T]], stop: asyncio.Event) -> _T | None:
        """`call()` retried with backoff while the service is unavailable; None when stopped first."""
        delay_s = RESOLVE_RETRY_FIRST_S
        while not stop.is_set():
            try:
                return await call()
            except UploadUnavailable as exc:
                self._unavailable.log(logging.INFO, "%s (%s): service unavailable (%s), retrying in %.1f s",
                                      self.link.stats.name or "strap", self.device_key or "?", exc,
                                      delay_s)  # fmt: skip
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay_s):
                    await stop.wait()
            delay_s = min(RESOLVE_RETRY_MAX_S, delay_s * 2)
        return None

    def status(self) -> str:
        """One line: state, bpm, battery, spool depth, uploaded count."""
        stats, last, key = self.link.stats, self.decoder.last, self.device_key
        bpm = f"{last.bpm} bpm" if last is not None else "-- bpm"
        battery = f"{stats.battery_pct} %" if stats.battery_pct is not None else "--"
        uploaded = self.uploader.counters.uploaded if self.uploader is not None else 0
        depth = self.depth
        malformed = sum(self.decoder.malformed.values())
        full = f"  SPOOL FULL, {self.samples_dropped} dropped" if self.spool_full else ""
        return (
            f"{stats.name or key or 'strap'} [{stats.state}] {bpm}  battery {battery}  "
            f"spool {depth}  uploaded {uploaded}  malformed {malformed}{full}"
        )

    def result(self) -> RecordResult:
        """The pipeline's counters."""
        up = self.uploader.counters if self.uploader is not None else None
        return RecordResult(
            device_id=self.device_id if self.device_id is not None else -1,
            device_key=self.device_key or "",
            name=self.link.stats.name,
            notifications=self.link.stats.notifications,
            samples_spooled=self.samples_spooled,
            malformed=dict(self.decoder.malformed),
            uploaded=up.uploaded if up else 0,
            duplicates=up.duplicates if up else 0,
            rejected=up.rejected if up else 0,
            connections=self.link.stats.connections,
            disconnections=self.link.stats.disconnections,
            stale_reconnects=self.link.stats.stale_reconnects,
            spool_depth=self.spool.depth(self.device_key) if self.device_key else 0,
            samples_dropped=self.samples_dropped,
            failure=_describe(self.link.last_error),
        )


async def record(
    *,
    server_url: str,
    token: str,
    transport: str = "os",
    address: str | None = None,
    name: str | None = None,
    seconds: float | None = None,
    spool_path: Path,
    replay: Path | None = None,
    speed: float = 1.0,
    clock: Clock | None = None,
    progress: bool = True,
) -> RecordResult:
    """Record one strap until `seconds` elapsed (then until the spool is empty) or until cancelled.

    With `replay`, an in-process virtual strap on `transport` plays the file `speed` times faster,
    and the recorder's clock runs `speed` times faster too (from now; from earlier for a replay long and fast
    enough to get more than REPLAY_FUTURE_MARGIN_S ahead of real time, which the service would refuse);
    without `seconds`, the recording ends once the replay has been played to the end and everything it sent
    is uploaded.
    """
    async with contextlib.AsyncExitStack() as stack:
        strap: VirtualStrap | None = None
        if replay is not None:
            name = name or REPLAY_STRAP_NAME
            script = await asyncio.to_thread(load_recording, replay)
            if clock is None:
                clock = ScaledClock.for_replay(speed, script[-1].t_s - script[0].t_s if script else 0.0)
            strap = await stack.enter_async_context(VirtualStrap(transport, script, name=name, speed=speed))
        spool = await asyncio.to_thread(Spool, spool_path)
        stack.push_async_callback(asyncio.to_thread, spool.close)
        client = await stack.enter_async_context(httpx.AsyncClient(timeout=HTTP_TIMEOUT_S))
        leftovers = await drain_leftovers(spool, client, server_url, token)
        link = StrapLink(transport, address=address, name=name, clock=clock or time.time)
        pipeline = StrapPipeline(link, spool)
        heard = functools.partial(_replay_heard, strap, pipeline) if strap is not None else None
        until = heard if seconds is None else None
        async with _status_line(pipeline, progress):
            await run_pipeline(pipeline, client, server_url, token, seconds, until=until)
        result = await asyncio.to_thread(pipeline.result)
        return dataclasses.replace(result, leftover_straps=leftovers)


async def _replay_heard(strap: VirtualStrap, pipeline: StrapPipeline) -> None:
    """Returns once the replay is over and the link has received every notification the strap sent."""
    await strap.finished.wait()
    with contextlib.suppress(TimeoutError):  # a notification lost in a disconnection never comes
        async with asyncio.timeout(REPLAY_TAIL_S):
            while pipeline.link.stats.notifications < strap.counters.notifications_sent:
                await asyncio.sleep(SPOOL_POLL_S)


def _describe(error: BaseException | None) -> str | None:
    """An error in one line for the summary (its type when it carries no message)."""
    if error is None:
        return None
    return str(error) or type(error).__name__


async def drain_leftovers(
    spool: Spool,
    client: httpx.AsyncClient,
    server_url: str,
    token: str,
    *,
    timeout_s: float = LEFTOVER_DRAIN_S,
) -> int:
    """Upload what an earlier run left in the spool (it was killed, or the service was away); returns how many
    straps' leftovers were fully uploaded. Whatever cannot go now stays safe for the next run.
    """
    drained = 0
    for key in await asyncio.to_thread(spool.device_keys):
        if not await asyncio.to_thread(spool.depth, key):
            continue
        try:
            device_id = await device_of_token(client, server_url, token)
            upload_token = token
            if device_id is None:
                device_id, upload_token = await register_strap(
                    client, server_url, token, address=key, name=key
                )
            uploader = Uploader(spool, client=client, server_url=server_url, device_key=key, device_id=device_id,
                                token=upload_token)  # fmt: skip
            drained += await uploader.drain(timeout_s)
        except UploadUnavailable as exc:
            _LOGGER.warning("%s: leftovers stay in the spool for now (%s)", key, exc)
            break
    return drained


async def run_pipeline(
    pipeline: StrapPipeline,
    client: httpx.AsyncClient,
    server_url: str,
    token: str,
    seconds: float | None,
    *,
    until: Callable[[], Awaitable[None]] | None = None,
) -> None:
    """Run one strap's tasks; after `seconds` (or once `until()` returns), stop the link, flush into the spool,
    upload until empty."""
    stop_link, link_done, stop_upload = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def link_then_mark() -> None:
        try:
            await pipeline.link.run(stop_link)
        finally:
            link_done.set()

    async def stop_when_done() -> None:
        if until is not None:
            await until()
        elif seconds is None:
            await asyncio.Event().wait()  # until cancelled (Ctrl-C)
        else:
            await asyncio.sleep(seconds)
        stop_link.set()
        await consumer
        while pipeline.device_key is not None and await pipeline.refresh_depth() > 0:
            if pipeline.uploader is None and upload_task.done():
                break  # the uploader gave up: nothing will drain it
            await asyncio.sleep(SPOOL_POLL_S)
        stop_upload.set()

    try:
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(link_then_mark(), name="strap link")
            consumer = tasks.create_task(pipeline.consume(link_done), name="spool consumer")
            uploading = pipeline.upload(client, server_url, token, stop_upload)
            upload_task = tasks.create_task(uploading, name="uploader")
            tasks.create_task(stop_when_done(), name="deadline")
    except ExceptionGroup as group:  # surface our own error (e.g. a refused token) as itself
        first = group.exceptions[0]
        if len(group.exceptions) == 1 and isinstance(first, DeviceError):
            raise first from group
        raise


@contextlib.asynccontextmanager
async def _status_line(pipeline: StrapPipeline, enabled: bool) -> AsyncIterator[None]:
    """A Rich live line refreshed a few times a second (nothing when disabled)."""
    if not enabled:
        yield
        return
    console = Console(stderr=True)
    with Live(console=console, refresh_per_second=STATUS_REFRESH_PER_S, transient=False) as live:

        async def refresh() -> None:
            while True:
                await pipeline.refresh_depth()
                live.update(Text(pipeline.status()))  # plain text: "[streaming]" is not Rich markup
                await asyncio.sleep(1 / STATUS_REFRESH_PER_S)

        task = asyncio.create_task(refresh(), name="status line")
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            live.update(Text(pipeline.status()))
    if not console.is_terminal:  # Live ends its last line only on a terminal: what follows gets its own
        console.line()
