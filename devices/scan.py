"""Finding heart-rate straps through bleak's public API, on whichever stack the transport names."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from bleak import BleakScanner
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData
from bleak.exc import (
    BleakBluetoothNotAvailableError,
    BleakBluetoothNotAvailableReason,
    BleakDBusError,
    BleakError,
)

from devices import hrs
from devices.bumble_backend import (
    BleakClientBumble,
    BleakScannerBumble,
    BumbleCentral,
    acquire_central,
    release_central,
)
from devices.errors import StackUnavailable, StrapNotFound, TransportUnavailable
from devices.transport import parse_transport

HEART_RATE_SERVICE = hrs.bluetooth_uuid(hrs.HEART_RATE_SERVICE_UUID)
SCAN_TIMEOUT_S = 10.0
STRONGEST_WINDOW_S = 1.0  # after the first strap is heard, listen this long for a stronger one


@dataclass(frozen=True, slots=True)
class StrapAdvert:
    """One strap heard while scanning, as `chinup scan` lists it."""

    device: BLEDevice
    name: str | None
    rssi: int
    service_uuids: tuple[str, ...]
    manufacturer_data: dict[int, bytes]

    @property
    def address(self) -> str:
        """The address bleak reports (a UUID on macOS)."""
        return self.device.address


def scanner_kwargs(transport: str) -> dict[str, Any]:
    """`BleakScanner` keyword arguments choosing the backend: none for `os` (bleak's own default)."""
    if not parse_transport(transport).uses_bumble:
        return {}
    return {"backend": BleakScannerBumble, "bumble": {"transport": transport}}


def client_kwargs(transport: str) -> dict[str, Any]:
    """`BleakClient` keyword arguments choosing the backend: none for `os` (bleak's own default)."""
    if not parse_transport(transport).uses_bumble:
        return {}
    return {"backend": BleakClientBumble, "bumble": {"transport": transport}}


class RadioHold:
    """Keeps a Bumble transport's central open across the scans and connections of one recording.

    bleak opens and closes the backend per scanner and per client; held here, the HCI transport is opened
    once for the whole session (a TCP controller drops the packets of a client that reconnects at once).
    Nothing to hold for the OS stack, which owns its adapter itself.
    """

    def __init__(self, transport: str) -> None:
        self.transport = transport
        self._uses_bumble = parse_transport(transport).uses_bumble
        self._central: BumbleCentral | None = None

    async def ensure(self) -> None:
        """Open the transport if not held yet, or again if it was lost.

        Raises:
            TransportUnavailable: it cannot be opened, or its controller does not answer in time.
        """
        if not self._uses_bumble:
            return
        if self._central is not None and self._central.lost:
            await self.release()
        if self._central is None:
            self._central = await acquire_central(self.transport)

    async def release(self) -> None:
        """Give the transport back (closed once nobody else in the process holds it)."""
        central, self._central = self._central, None
        if central is not None:
            await release_central(central)


_OTHER_TRANSPORTS = "or use another transport: --transport bumble:usb:0 for a USB dongle, virtual for a simulated strap"
_NOT_AVAILABLE = {  # bleak's own reasons, in the user's words, with what to do
    BleakBluetoothNotAvailableReason.NO_BLUETOOTH: ("no Bluetooth adapter found", "plug one in"),
    BleakBluetoothNotAvailableReason.NO_BLE_CENTRAL_ROLE: (
        "the Bluetooth adapter cannot scan for Bluetooth LE devices", "use a Bluetooth 4.0+ adapter"),
    BleakBluetoothNotAvailableReason.POWERED_OFF: ("Bluetooth is turned off", "turn it on in the system settings"),
    BleakBluetoothNotAvailableReason.DENIED_BY_USER: (
        "no permission to use Bluetooth", "allow this terminal to use Bluetooth in the privacy settings"),
    BleakBluetoothNotAvailableReason.DENIED_BY_SYSTEM: (
        "no permission to use Bluetooth", "ask your administrator, or add your user to the bluetooth group"),
}  # fmt: skip


def stack_unavailable(transport: str, exc: BaseException) -> StackUnavailable | None:
    """What is missing for `transport` and what to do, when `exc` says the stack itself cannot be used.

    Sorted by the exception's type and bleak's structured fields, never by its message text. None when
    `exc` is about one strap or one attempt (the stack works).
    """
    if isinstance(exc, TransportUnavailable):
        return StackUnavailable(
            str(exc),
            "check that the controller or dongle is connected and not used by another program (on Linux, "
            "stop bluetoothd or detach the adapter from it), or use --transport virtual for a simulated strap",
        )
    if isinstance(exc, BleakError) and isinstance(exc.__cause__, TransportUnavailable):
        return stack_unavailable(transport, exc.__cause__)
    if isinstance(exc, BleakBluetoothNotAvailableError):
        missing, hint = _NOT_AVAILABLE.get(exc.reason, ("Bluetooth is not available", "check the adapter"))
        return StackUnavailable(missing, f"{hint}, {_OTHER_TRANSPORTS}")
    if isinstance(exc, FileNotFoundError):  # no D-Bus system bus socket: BlueZ cannot be reached at all
        return StackUnavailable(
            "BlueZ is not running (no D-Bus system bus)",
            f"install and start it (sudo systemctl start bluetooth), {_OTHER_TRANSPORTS}",
        )
    if isinstance(exc, PermissionError):
        return StackUnavailable(
            "no permission to use Bluetooth", f"add your user to the bluetooth group or run as root, {_OTHER_TRANSPORTS}"
        )
    if isinstance(exc, BleakDBusError) and exc.dbus_error in (
        "org.freedesktop.DBus.Error.ServiceUnknown", "org.freedesktop.DBus.Error.NameHasNoOwner"
    ):
        return StackUnavailable("BlueZ is not running", f"start it: sudo systemctl start bluetooth, {_OTHER_TRANSPORTS}")
    if isinstance(exc, BleakDBusError) and exc.dbus_error == "org.bluez.Error.NotReady":
        return StackUnavailable("the Bluetooth adapter is powered off", "power it on: bluetoothctl power on")
    return None


@contextlib.contextmanager
def _stack_errors(transport: str) -> Iterator[None]:
    """Turn "this machine has no usable Bluetooth" into one StackUnavailable saying what to do."""
    try:
        yield
    except (BleakError, OSError) as exc:
        if (translated := stack_unavailable(transport, exc)) is not None:
            raise translated from exc
        raise


def _advert(device: BLEDevice, adv: AdvertisementData) -> StrapAdvert:
    return StrapAdvert(
        device, adv.local_name or device.name, adv.rssi, tuple(adv.service_uuids), adv.manufacturer_data
    )


async def scan_straps(transport: str, seconds: float) -> list[StrapAdvert]:
    """Every strap advertising 0x180D heard within `seconds`, strongest first.

    Raises:
        StackUnavailable: no usable Bluetooth stack for `transport` (what is missing, what to do).
    """
    seen: dict[str, StrapAdvert] = {}

    def on_advert(device: BLEDevice, adv: AdvertisementData) -> None:
        seen[device.address] = _advert(device, adv)

    with _stack_errors(transport):
        async with BleakScanner(on_advert, [HEART_RATE_SERVICE], **scanner_kwargs(transport)):
            await asyncio.sleep(seconds)
    return sorted(seen.values(), key=lambda s: s.rssi, reverse=True)


async def find_strap(
    transport: str, *, address: str | None = None, name: str | None = None, timeout_s: float = SCAN_TIMEOUT_S
) -> StrapAdvert:
    """The strap with `address`, else named `name`, else the strongest one advertising 0x180D.

    Raises:
        StrapNotFound: nothing matched within `timeout_s`.
        StackUnavailable: no usable Bluetooth stack for `transport`.
    """
    wanted_address = address.upper() if address else None
    first_heard = asyncio.Event()
    seen: dict[str, StrapAdvert] = {}

    def on_advert(device: BLEDevice, adv: AdvertisementData) -> None:
        if wanted_address and device.address.upper() != wanted_address:
            return
        if name and adv.local_name != name:
            return
        seen[device.address] = _advert(device, adv)
        first_heard.set()

    uuids = None if address else [HEART_RATE_SERVICE]
    scanner = BleakScanner(on_advert, uuids, **scanner_kwargs(transport))
    with _stack_errors(transport):
        await scanner.start()
    try:
        try:
            async with asyncio.timeout(timeout_s):
                await first_heard.wait()
        except TimeoutError:
            raise StrapNotFound(transport, address=address, name=name, timeout_s=timeout_s) from None
        if not (address or name):
            await asyncio.sleep(STRONGEST_WINDOW_S)
    finally:
        await scanner.stop()
    return max(seen.values(), key=lambda s: s.rssi)
