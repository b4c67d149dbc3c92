"""Finding heart-rate straps through bleak's public API, on whichever stack the transport names."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from bleak import BleakScanner
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData

from devices import hrs
from devices.bumble_backend import BleakClientBumble, BleakScannerBumble
from devices.errors import StrapNotFound
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


def _advert(device: BLEDevice, adv: AdvertisementData) -> StrapAdvert:
    return StrapAdvert(
        device, adv.local_name or device.name, adv.rssi, tuple(adv.service_uuids), adv.manufacturer_data
    )


async def scan_straps(transport: str, seconds: float) -> list[StrapAdvert]:
    """Every strap advertising 0x180D heard within `seconds`, strongest first."""
    seen: dict[str, StrapAdvert] = {}

    def on_advert(device: BLEDevice, adv: AdvertisementData) -> None:
        seen[device.address] = _advert(device, adv)

    async with BleakScanner(on_advert, [HEART_RATE_SERVICE], **scanner_kwargs(transport)):
        await asyncio.sleep(seconds)
    return sorted(seen.values(), key=lambda s: s.rssi, reverse=True)


async def find_strap(
    transport: str, *, address: str | None = None, name: str | None = None, timeout_s: float = SCAN_TIMEOUT_S
) -> StrapAdvert:
    """The strap with `address`, else named `name`, else the strongest one advertising 0x180D.

    Raises:
        StrapNotFound: nothing matched within `timeout_s`.
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
    async with BleakScanner(on_advert, uuids, **scanner_kwargs(transport)):
        try:
            async with asyncio.timeout(timeout_s):
                await first_heard.wait()
        except TimeoutError:
            raise StrapNotFound(transport, address=address, name=name, timeout_s=timeout_s) from None
        if not (address or name):
            await asyncio.sleep(STRONGEST_WINDOW_S)
    return max(seen.values(), key=lambda s: s.rssi)
