"""Find, connect, subscribe and reconnect to a heart-rate strap, through bleak's public API only.

The notification callback stamps the receive time and queues the bytes; `SampleDecoder` (the
consumer's side) decodes them and places the beats in time. The link is watched: a disconnection
or 5 s without data (a stale strap) leads to a fresh connection, for as long as the owner wants.
"""

from __future__ import annotations

import asyncio
import collections
import enum
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import accumulate
from typing import TypeVar

from bleak import BleakClient
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.exc import BleakError
from bleak_retry_connector import establish_connection

from devices import hrs
from devices.errors import DeviceError, MalformedMeasurement
from devices.logs import RepeatLimiter
from devices.scan import SCAN_TIMEOUT_S, RadioHold, client_kwargs, find_strap
from devices.spool import SpooledSample

_LOGGER = logging.getLogger(__name__)
_T = TypeVar("_T")

Clock = Callable[[], float]
"""Wall-clock time in epoch seconds (`time.time`, or a faster one for replays)."""

MEASUREMENT = hrs.bluetooth_uuid(hrs.HEART_RATE_MEASUREMENT_UUID)
BODY_LOCATION = hrs.bluetooth_uuid(hrs.BODY_SENSOR_LOCATION_UUID)
BATTERY_LEVEL = hrs.bluetooth_uuid(hrs.BATTERY_LEVEL_UUID)

STALE_AFTER_S = 5.0  # no notification for this long: the link is dead even without a disconnect event
CONNECT_ATTEMPTS = 2  # bleak-retry-connector's own attempts inside one of ours
RETRY_FIRST_DELAY_S = 0.0  # right after a drop, try at once (as bleak-retry-connector does)
RETRY_BASE_DELAY_S = 0.25
RETRY_MAX_DELAY_S = 5.0
NOT_FOUND_DELAY_S = 1.0  # the strap is out of range or off: the scan itself already waited
UNSUBSCRIBE_TIMEOUT_S = 2.0  # at the end of a recording, how long the strap may take to stop notifying
MAX_BEAT_LAG_MS = 2000.0  # RR chained from the last beat lagging arrival by more: beats were lost
MIN_BEAT_SPACING_MS = 1.0


# --- pure core ------------------------------------------------------------------------------------


def retry_delay_s(attempt: int, error: BaseException | None) -> float:
    """Delay before connection attempt `attempt` (1 = first retry) after `error`; never gives up."""
    if attempt <= 1:
        return RETRY_FIRST_DELAY_S
    if isinstance(error, DeviceError):  # StrapNotFound: the scan already spent its timeout
        return NOT_FOUND_DELAY_S
    return min(RETRY_MAX_DELAY_S, RETRY_BASE_DELAY_S * 2 ** (attempt - 2))


def beat_times_ms(receive_ms: float, rr_ms: Sequence[float], last_beat_ms: float | None) -> tuple[float, ...]:
    """Times of the beats whose RR intervals arrived at `receive_ms`, strictly after `last_beat_ms`.

    RR intervals in a notification end at beats before its arrival. Chaining them from the previous
    beat keeps their exact spacing; when the chain ends after the arrival (impossible) or lags it by
    more than MAX_BEAT_LAG_MS (beats were lost, e.g. in a disconnection), the last beat is re-anchored
    at the arrival time and the others placed back from it.
    """
    if not rr_ms:
        return ()
    beats: list[float] = []
    if last_beat_ms is not None:
        beats = list(accumulate(rr_ms, initial=last_beat_ms))[1:]
    if not beats or beats[-1] > receive_ms or receive_ms - beats[-1] > MAX_BEAT_LAG_MS:
        back = list(accumulate(reversed(rr_ms[1:]), initial=0.0))
        beats = [receive_ms - b for b in reversed(back)]
    floor = -float("inf") if last_beat_ms is None else last_beat_ms
    placed = []
    for beat in beats:
        floor = max(beat, floor + MIN_BEAT_SPACING_MS)
        placed.append(floor)
    return tuple(placed)


@dataclass(frozen=True, slots=True)
class Notification:
    """Raw bytes of one 0x2A37 notification and when they arrived (epoch ms, injected clock)."""

    receive_ms: int
    payload: bytes


@dataclass(slots=True)
class SampleDecoder:
    """Turns one strap's notifications into spool samples; a malformed payload is counted, never fatal."""

    last_beat_ms: float | None = None
    last_t_ms: int | None = None
    decoded: int = 0
    malformed: collections.Counter[str] = field(default_factory=collections.Counter)
    last: hrs.HeartRateMeasurement | None = None

    def decode(self, notification: Notification) -> SpooledSample | None:
        """One sample per valid notification, at its last beat (else its arrival), strictly increasing."""
        try:
            m = hrs.decode_measurement(notification.payload)
        except MalformedMeasurement as exc:
            self.malformed[exc.reason] += 1
            return None
        beats = beat_times_ms(notification.receive_ms, m.rr_intervals_ms, self.last_beat_ms)
        if beats:
            self.last_beat_ms = beats[-1]
        t_ms = round(beats[-1]) if beats else notification.receive_ms
        if self.last_t_ms is not None:
            t_ms = max(t_ms, self.last_t_ms + 1)
        self.last_t_ms = t_ms
        self.decoded += 1
        self.last = m
        return SpooledSample(t_ms=t_ms, bpm=m.bpm, rr_ms=m.rr_intervals_ms, contact=m.sensor_contact)


# --- the link -------------------------------------------------------------------------------------


class LinkState(enum.StrEnum):
    """Where the link to the strap stands, for the live status line."""

    SEARCHING = "searching"
    CONNECTING = "connecting"
    STREAMING = "streaming"
    STALE = "stale"
    WAITING = "waiting to retry"
    STOPPED = "stopped"


@dataclass(slots=True)
class LinkStats:
    """Counters and the last known facts about the strap."""

    state: LinkState = LinkState.SEARCHING
    address: str | None = None
    name: str | None = None
    battery_pct: int | None = None
    body_location: hrs.BodySensorLocation | None = None
    notifications: int = 0
    connections: int = 0
    disconnections: int = 0
    stale_reconnects: int = 0
    failed_attempts: int = 0


class StrapLink:
    """Keeps one strap connected and subscribed until `stop` is set; notifications go to `queue`."""

    def __init__(
        self,
        transport: str,
        *,
        address: str | None = None,
        name: str | None = None,
        clock: Clock = time.time,
        stale_after_s: float = STALE_AFTER_S,
        scan_timeout_s: float = SCAN_TIMEOUT_S,
    ) -> None:
        self.transport, self.address, self.name = transport, address, name
        self.clock = clock
        self.stale_after_s, self.scan_timeout_s = stale_after_s, scan_timeout_s
        self.queue: asyncio.Queue[Notification] = asyncio.Queue()
        self.stats = LinkStats(address=address, name=name)
        self._last_data_s = 0.0
        self._disconnected = asyncio.Event()
        self._last_error: BaseException | None = None
        self._radio = RadioHold(transport)
        self._failures = RepeatLimiter(_LOGGER)  # a strap that never answers: one line a minute, not a second

    @property
    def last_error(self) -> BaseException | None:
        """Why the last attempt to find or connect failed (None after a success), for the summary."""
        return self._last_error

    def _on_notification(self, _sender: BleakGATTCharacteristic, data: bytearray) -> None:
        """Callbacks do the minimum: stamp, queue."""
        self.queue.put_nowait(Notification(round(self.clock() * 1000), bytes(data)))
        self._last_data_s = asyncio.get_running_loop().time()
        self.stats.notifications += 1

    def _on_disconnected(self, _client: BleakClient) -> None:
        self._disconnected.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Find, connect, stream; on any failure or loss wait per `retry_delay_s` and start again."""
        attempt = 0
        try:
            while not stop.is_set():
                client = await self._connect_or_none(stop, attempt)
                if client is None:
                    attempt += 1
                    self.stats.failed_attempts += int(not stop.is_set())
                    continue
                attempt = 1  # the next failure right after a working link retries at once
                self._last_error = None
                try:
                    await self._stream(client, stop)
                except (BleakError, TimeoutError) as exc:
                    _LOGGER.info("%s (%s): link lost: %s", self.stats.name, self.stats.address, exc)
                finally:
                    await self._disconnect(client, unsubscribe=stop.is_set())
        finally:
            await self._radio.release()
            self.stats.state = LinkState.STOPPED

    async def _connect_or_none(self, stop: asyncio.Event, attempt: int) -> BleakClient | None:
        """One find-and-connect attempt after the policy's delay; None when it failed or `stop` came."""
        error = self._last_error if attempt else None
        if attempt and await _wait_event(stop, retry_delay_s(attempt, error)):
            return None
        connecting = asyncio.create_task(self._find_and_connect(attempt))
        await _wait_event(stop, float("inf"), also_task=connecting)
        if not connecting.done():  # stopped while scanning or connecting
            connecting.cancel()
            await asyncio.gather(connecting, return_exceptions=True)
            return None
        return connecting.result()

    async def _find_and_connect(self, attempt: int) -> BleakClient | None:
        """Scan for the strap and connect with bleak-retry-connector; None (error kept) on failure."""
        target = self.stats.name or self.address or self.name or "strap"
        try:
            self.stats.state = LinkState.SEARCHING
            await self._radio.ensure()
            advert = await find_strap(
                self.transport, address=self.address, name=self.name, timeout_s=self.scan_timeout_s
            )
            self.stats.address, self.stats.name = advert.address, advert.name
            self.stats.state = LinkState.CONNECTING
            self._disconnected = asyncio.Event()
            level = logging.INFO if attempt <= 1 else logging.DEBUG  # each failure below names its attempt
            _LOGGER.log(level, "%s (%s): connecting, attempt %d", advert.name, advert.address, attempt + 1)
            return await establish_connection(
                BleakClient,
                advert.device,
                advert.name or advert.address,
                disconnected_callback=self._on_disconnected,
                max_attempts=CONNECT_ATTEMPTS,
                **client_kwargs(self.transport),
            )
        except (BleakError, DeviceError, TimeoutError) as exc:
            self._failures.log(logging.INFO, "%s (%s): connection attempt %d failed: %s", target,
                               self.stats.address or "?", attempt + 1, exc)  # fmt: skip
            self._last_error = exc
            self.stats.state = LinkState.WAITING
            return None

    async def _stream(self, client: BleakClient, stop: asyncio.Event) -> None:
        """Read battery and location, subscribe, then watch for stop, disconnection or staleness."""
        self.stats.connections += 1
        self.stats.battery_pct = await _read_optional(client, BATTERY_LEVEL, lambda b: b[0])
        self.stats.body_location = await _read_optional(
            client, BODY_LOCATION, hrs.decode_body_sensor_location
        )
        self._last_data_s = asyncio.get_running_loop().time()
        await client.start_notify(MEASUREMENT, self._on_notification)
        self.stats.state = LinkState.STREAMING
        _LOGGER.info("%s (%s): streaming", self.stats.name, self.stats.address)
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            if self._disconnected.is_set():
                self.stats.disconnections += 1
                _LOGGER.info("%s (%s): disconnected by the strap", self.stats.name, self.stats.address)
                return
            idle_s = loop.time() - self._last_data_s
            if idle_s >= self.stale_after_s:
                self.stats.stale_reconnects += 1
                self.stats.state = LinkState.STALE
                _LOGGER.info(
                    "%s (%s): no data for %.1f s, reconnecting", self.stats.name, self.stats.address, idle_s
                )
                return
            await _wait_event(stop, self.stale_after_s - idle_s, also=self._disconnected)

    async def _disconnect(self, client: BleakClient, *, unsubscribe: bool) -> None:
        """Close the client whatever state the link is in.

        When the owner stops the link, notifications are turned off first: the strap stops sending once it
        answers, and what it sent before arrives before the answer, so nothing is lost with the link.
        """
        if unsubscribe and client.is_connected:
            try:
                async with asyncio.timeout(UNSUBSCRIBE_TIMEOUT_S):
                    await client.stop_notify(MEASUREMENT)
            except (BleakError, TimeoutError) as exc:
                _LOGGER.debug("%s: stop notifications: %s", self.stats.address, exc)
        try:
            await client.disconnect()
        except (BleakError, TimeoutError) as exc:
            _LOGGER.debug("%s: disconnect: %s", self.stats.address, exc)


async def _read_optional(client: BleakClient, uuid: str, parse: Callable[[bytearray], _T]) -> _T | None:
    """Read and parse an optional characteristic; None when the strap lacks it or sends junk."""
    try:
        return parse(await client.read_gatt_char(uuid))
    except (BleakError, ValueError, IndexError):
        return None


async def _wait_event(
    event: asyncio.Event,
    timeout_s: float,
    *,
    also: asyncio.Event | None = None,
    also_task: asyncio.Task[object] | None = None,
) -> bool:
    """Wait up to `timeout_s` for `event` (or `also`, or `also_task` to finish); True when `event` is set."""
    waiters = {asyncio.ensure_future(e.wait()) for e in (event, also) if e is not None}
    watched = waiters | ({also_task} if also_task is not None else set())
    timeout = None if timeout_s == float("inf") else max(0.0, timeout_s)
    try:
        await asyncio.wait(watched, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
        await asyncio.gather(*waiters, return_exceptions=True)
    return event.is_set()
