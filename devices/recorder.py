"""`chinup record`: strap -> decode -> durable spool -> uploader -> service, surviving both ends going away.

One pipeline per strap, each a set of owned tasks: the link (find, connect, reconnect), the consumer
(decode, beat times, spool), the uploader (device id, then batches), and status reports. How those reports
are shown is the caller's (service/cli/record_view.py for the command); a replay's virtual strap is
devices/replay.py's: the recorder knows neither (an import-linter contract).
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

from devices.errors import DeviceError, SpoolFull, UploadRefused, UploadUnavailable
from devices.logs import RepeatLimiter
from devices.spool import Spool
from devices.strap import Clock, LinkState, SampleDecoder, StrapLink
from devices.uploader import Uploader

_LOGGER = logging.getLogger(__name__)
_T = TypeVar("_T")

RESOLVE_RETRY_FIRST_S = 0.5
RESOLVE_RETRY_MAX_S = 10.0
SPOOL_POLL_S = 0.1
STATUS_REFRESH_PER_S = 4  # status reports a second
HTTP_TIMEOUT_S = 10.0
LEFTOVER_DRAIN_S = 30.0  # at start, how long to upload what an earlier run left before recording


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


@dataclass(frozen=True, slots=True)
class PipelineStatus:
    """What one strap's pipeline is doing now, reported a few times a second for whoever shows it."""

    label: str  # the strap's name, else its address, else "strap"
    state: LinkState
    bpm: int | None  # the last decoded heart rate; None before the first
    battery_pct: int | None
    spool_depth: int  # as last read off the event loop
    uploaded: int
    malformed: int
    samples_dropped: int
    spool_full: bool  # the spool refuses new samples now
    final: bool = False  # the last report: the pipeline has stopped


StatusListener = Callable[[PipelineStatus], None]


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

    def status(self, *, final: bool = False) -> PipelineStatus:
        """State, bpm, battery, spool depth (as last refreshed), uploaded and malformed counts, fullness."""
        stats, last = self.link.stats, self.decoder.last
        return PipelineStatus(
            label=stats.name or self.device_key or "strap",
            state=stats.state,
            bpm=last.bpm if last is not None else None,
            battery_pct=stats.battery_pct,
            spool_depth=self.depth,
            uploaded=self.uploader.counters.uploaded if self.uploader is not None else 0,
            malformed=sum(self.decoder.malformed.values()),
            samples_dropped=self.samples_dropped,
            spool_full=bool(self.spool_full),
            final=final,
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
    clock: Clock | None = None,
    until: Callable[[StrapPipeline], Awaitable[None]] | None = None,
    on_status: StatusListener | None = None,
) -> RecordResult:
    """Record one strap until `seconds` elapsed (then until the spool is empty) or until cancelled.

    `until(pipeline)`, when given, ends the recording when it returns instead (a replay's end:
    devices.replay). `on_status` hears the pipeline's status a few times a second and once at the end.
    """
    async with contextlib.AsyncExitStack() as stack:
        spool = await asyncio.to_thread(Spool, spool_path)
        stack.push_async_callback(asyncio.to_thread, spool.close)
        client = await stack.enter_async_context(httpx.AsyncClient(timeout=HTTP_TIMEOUT_S))
        leftovers = await drain_leftovers(spool, client, server_url, token)
        link = StrapLink(transport, address=address, name=name, clock=clock or time.time)
        pipeline = StrapPipeline(link, spool)
        ends = functools.partial(until, pipeline) if until is not None else None
        async with _reporting(pipeline, on_status):
            await run_pipeline(pipeline, client, server_url, token, seconds, until=ends)
        result = await asyncio.to_thread(pipeline.result)
        return dataclasses.replace(result, leftover_straps=leftovers)


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
async def _reporting(pipeline: StrapPipeline, on_status: StatusListener | None) -> AsyncIterator[None]:
    """Tell `on_status` the pipeline's status a few times a second, and once more (final) when it stops."""
    if on_status is None:
        yield
        return

    async def report() -> None:
        while True:
            await pipeline.refresh_depth()
            on_status(pipeline.status())
            await asyncio.sleep(1 / STATUS_REFRESH_PER_S)

    task = asyncio.create_task(report(), name="status reports")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        on_status(pipeline.status(final=True))
