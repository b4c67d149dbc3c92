"""The virtual strap itself: a Bumble GATT peripheral advertising and serving Heart Rate like a chest strap.

It serves Heart Rate (0x180D), Battery (0x180F) and Device Information (0x180A) over the real Bumble stack,
plays a script (devices.simulator.script) and injects faults on demand to test the recorder's resilience.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import struct
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from types import TracebackType

from bumble import att, gatt
from bumble.core import AdvertisingData
from bumble.device import Connection, Device
from bumble.hci import Address
from bumble.profiles.battery_service import BatteryService
from bumble.profiles.device_information_service import DeviceInformationService

from devices import hrs
from devices.errors import UnknownTransport
from devices.simulator.script import Tick, generate_workout
from devices.transport import (
    READY_TIMEOUT_S,
    TransportKind,
    TransportSpec,
    open_bumble_device,
    parse_transport,
)

HEART_RATE_BELT_APPEARANCE = 0x0341  # category Heart Rate Sensor (0x0D), subcategory Belt (1)
TEST_COMPANY_ID = 0xFFFF  # the SIG's "no company" identifier, reserved for tests
ADVERTISING_INTERVAL_MS = 100.0  # quick to find, yet dozens of straps do not flood one scanner
MAX_RR_PER_NOTIFICATION = 9  # 1 flag + 1 bpm + 9 x 2 RR bytes fit the default 23-byte MTU's 20


@dataclass(frozen=True, slots=True)
class StrapProfile:
    """What kind of strap to imitate; mutable at run time through `VirtualStrap.profile`."""

    uint16_bpm: bool = False
    sends_rr: bool = True
    contact_supported: bool = True
    energy_expended: bool = False
    body_location: hrs.BodySensorLocation = hrs.BodySensorLocation.CHEST
    battery_pct: int = 87
    manufacturer: str = "Chin Up"
    model: str = "Virtual Strap"


@dataclass(slots=True)
class StrapCounters:
    """What the strap did, so tests can compare what was sent with what was stored."""

    notifications_sent: int = 0
    malformed_sent: int = 0
    links_dropped: int = 0
    energy_resets: int = 0
    sent: list[hrs.HeartRateMeasurement] = dataclasses.field(default_factory=list)  # decoded wire values


class VirtualStrap:
    """`async with VirtualStrap("virtual", ticks, name="HR 1") as strap:` advertises and plays `ticks`."""

    def __init__(
        self,
        transport: str | TransportSpec = "virtual",
        script: Sequence[Tick] | None = None,
        *,
        name: str = "Chin Up HR",
        speed: float = 1.0,
        profile: StrapProfile | None = None,
        address: Address | None = None,
        loop: bool = False,
        ready_timeout_s: float | None = READY_TIMEOUT_S,
        on_waiting: Callable[[str], None] | None = None,
    ) -> None:
        self.spec = transport if isinstance(transport, TransportSpec) else parse_transport(transport)
        if self.spec.kind is TransportKind.OS:
            raise UnknownTransport("os")  # bleak can only be a central: a peripheral needs Bumble
        self.script = list(script) if script is not None else generate_workout()
        self.name, self.speed, self.loop = name, speed, loop
        self.profile = profile or StrapProfile()
        self.counters = StrapCounters()
        self.finished = asyncio.Event()
        self.off_body = False
        self.silent = False
        self._address = address
        self._ready_timeout_s, self._on_waiting = ready_timeout_s, on_waiting
        self._listening = asyncio.Event()  # a central has notifications on: the script plays only then
        self._energy_kj = 0
        self._pending_raw: list[bytes] = []
        self._stack = contextlib.AsyncExitStack()
        self._device: Device | None = None
        self._player: asyncio.Task[None] | None = None
        self._hrm = gatt.Characteristic(
            gatt.GATT_HEART_RATE_MEASUREMENT_CHARACTERISTIC, gatt.Characteristic.Properties.NOTIFY, 0, b""
        )

    @property
    def address(self) -> str:
        """The advertised address, as bleak reports it."""
        assert self._device is not None, "the strap is not running"
        return self._device.random_address.to_string(False)

    async def __aenter__(self) -> VirtualStrap:
        self._device = await self._stack.enter_async_context(
            open_bumble_device(self.spec, name=self.name, address=self._address,
                               ready_timeout_s=self._ready_timeout_s, on_waiting=self._on_waiting)
        )  # fmt: skip
        self._device.add_services(self._services())
        # A central leaving is seen at the next send (nobody received it), which pauses the script.
        self._device.on("characteristic_subscription", self._on_subscription_change)
        await self._device.start_advertising(
            advertising_data=self._advertising_data(),
            auto_restart=True,
            advertising_interval_min=ADVERTISING_INTERVAL_MS,
            advertising_interval_max=ADVERTISING_INTERVAL_MS,
        )
        self._player = asyncio.create_task(self._play(), name=f"strap {self.name}")
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._player is not None:
            self._player.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._player
        await self._stack.aclose()
        self._device = None

    def _services(self) -> list[gatt.Service]:
        """Heart Rate with measurement, location and control point; Battery; Device Information."""
        location = gatt.Characteristic(
            gatt.GATT_BODY_SENSOR_LOCATION_CHARACTERISTIC,
            gatt.Characteristic.Properties.READ,
            gatt.Characteristic.READABLE,
            gatt.CharacteristicValue(
                read=lambda _c: hrs.encode_body_sensor_location(self.profile.body_location)
            ),
        )
        control = gatt.Characteristic(
            gatt.GATT_HEART_RATE_CONTROL_POINT_CHARACTERISTIC,
            gatt.Characteristic.Properties.WRITE,
            gatt.Characteristic.WRITEABLE,
            gatt.CharacteristicValue(write=self._on_control_point),
        )
        heart_rate = gatt.Service(gatt.GATT_HEART_RATE_SERVICE, [self._hrm, location, control])
        battery = BatteryService(lambda _c: self.profile.battery_pct)
        info = DeviceInformationService(
            manufacturer_name=self.profile.manufacturer,
            model_number=self.profile.model,
            serial_number=self.name,
            firmware_revision="1.0",
        )
        return [heart_rate, battery, info]

    def _on_control_point(self, _connection: Connection, value: bytes) -> None:
        """Reset energy expended (opcode 1); anything else answers HRS's 0x80 error."""
        try:
            hrs.decode_control_point(value)
        except ValueError as exc:
            raise att.ATT_Error(hrs.CONTROL_POINT_NOT_SUPPORTED) from exc
        self._energy_kj = 0
        self.counters.energy_resets += 1

    def _advertising_data(self) -> bytes:
        """Flags, 0x180D and 0x180F, complete name, appearance, and manufacturer data saying the kind."""
        kind = (self.profile.uint16_bpm, self.profile.sends_rr, self.profile.contact_supported)
        return bytes(
            AdvertisingData(
                [
                    (AdvertisingData.FLAGS, bytes([0x06])),  # LE General Discoverable, BR/EDR not supported
                    (
                        AdvertisingData.COMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS,
                        struct.pack("<HH", 0x180D, 0x180F),
                    ),
                    (AdvertisingData.COMPLETE_LOCAL_NAME, self.name.encode()),
                    (AdvertisingData.APPEARANCE, struct.pack("<H", HEART_RATE_BELT_APPEARANCE)),
                    (
                        AdvertisingData.MANUFACTURER_SPECIFIC_DATA,
                        struct.pack("<H", TEST_COMPANY_ID) + bytes(int(k) for k in kind),
                    ),
                ]
            )
        )

    # --- playing --------------------------------------------------------------------------------

    def _ticks(self) -> Iterator[tuple[float, Tick]]:
        """The script's ticks with their play time in script seconds, repeated when looping."""
        offset_s = 0.0
        while True:
            for tick in self.script:
                yield offset_s + tick.t_s, tick
            if not self.loop or not self.script:
                return
            offset_s += self.script[-1].t_s + 1.0

    def _on_subscription_change(self, *_args: object) -> None:
        """Bumble's event for a CCCD written: play while someone listens, pause otherwise."""
        if self._device is not None and self._subscriber_count() > 0:
            self._listening.set()
        else:
            self._listening.clear()

    async def _play(self) -> None:
        """Send each tick its script interval after the previous one, divided by the speed.

        Paced from the previous send, not from a fixed start: after a stall of the event loop the
        strap goes on at its pace instead of bursting out the overdue ticks, as a real strap would.
        Like a real strap, nothing is sent before a central enables notifications: the script starts
        at the first subscription and pauses (keeping its place) while nobody listens, so a replay
        arrives whole.
        """
        previous_s = None
        for t_s, tick in self._ticks():
            if previous_s is not None:
                await asyncio.sleep(max(0.0, t_s - previous_s) / self.speed)
            previous_s = t_s
            if self.silent:
                continue
            measurement = self._measurement(tick)
            while True:
                await self._listening.wait()
                if await self.notify(measurement):
                    break
                self._listening.clear()  # the listener left between the event and the send
        self.finished.set()

    def _measurement(self, tick: Tick) -> hrs.HeartRateMeasurement:
        """The measurement the current profile and faults make of a tick."""
        p = self.profile
        if p.energy_expended:
            self._energy_kj = min(0xFFFF, self._energy_kj + 1)
        energy = self._energy_kj if p.energy_expended else None
        if self.off_body:
            contact = False if p.contact_supported else None
            return hrs.HeartRateMeasurement(0, contact, energy, (), uint16_bpm=p.uint16_bpm)
        rr = tick.rr_ms[-MAX_RR_PER_NOTIFICATION:] if p.sends_rr else ()
        contact = True if p.contact_supported else None
        return hrs.HeartRateMeasurement(tick.bpm, contact, energy, rr, uint16_bpm=p.uint16_bpm)

    def _subscriber_count(self) -> int:
        """How many centrals enabled notifications on the measurement characteristic."""
        assert self._device is not None
        return sum(
            1
            for cccds in self._device.gatt_server.subscribers.values()
            if cccds.get(self._hrm.handle, b"\x00\x00")[0] & 0x01
        )

    async def notify(self, measurement: hrs.HeartRateMeasurement) -> int:
        """Notify one measurement (or a queued malformed payload first); returns how many received it."""
        assert self._device is not None
        subscribers = self._subscriber_count()
        if subscribers == 0:
            return 0
        if self._pending_raw:
            await self._device.notify_subscribers(self._hrm, self._pending_raw.pop(0))
            self.counters.malformed_sent += subscribers
        payload = hrs.encode_measurement(measurement)
        await self._device.notify_subscribers(self._hrm, payload)
        self.counters.notifications_sent += subscribers
        self.counters.sent.append(hrs.decode_measurement(payload))  # as on the wire (RR in 1/1024 s)
        return subscribers

    # --- faults ---------------------------------------------------------------------------------

    def inject_malformed(self, payload: bytes = b"\x10\x48\x00") -> None:
        """Send `payload` just before the next measurement (default: RR flag with an odd byte)."""
        self._pending_raw.append(payload)

    def set_off_body(self, off_body: bool = True) -> None:
        """Contact lost: 0 bpm, contact bit clear, no RR, until set back."""
        self.off_body = off_body

    def set_silent(self, silent: bool = True) -> None:
        """Keep the link up but send nothing (a hung strap): the central must call it stale."""
        self.silent = silent

    def set_profile(self, **changes: object) -> None:
        """Change the strap's kind at run time (e.g. `uint16_bpm=True`, `energy_expended=True`)."""
        self.profile = dataclasses.replace(self.profile, **changes)  # type: ignore[arg-type]

    async def drop_link(self) -> int:
        """Drop every connection from the strap's side (the central sees a real disconnection)."""
        assert self._device is not None
        connections = list(self._device.connections.values())
        for connection in connections:
            with contextlib.suppress(Exception):
                await connection.disconnect()
        self.counters.links_dropped += len(connections)
        return len(connections)

    async def wait_subscribed(self, timeout_s: float = 5.0) -> None:
        """Wait until a central has enabled notifications (polled: Bumble has no awaitable for it)."""
        async with asyncio.timeout(timeout_s):
            while self._subscriber_count() == 0:
                await asyncio.sleep(0.01)
