"""One Bumble central per transport and event loop, shared by every scanner and client using it.

A real adapter is shared the same way by the OS: several straps connect through one controller,
scans fan out to every listener, and the controller accepts one LE connection attempt at a time.

The HCI transport is opened once per session, not once per scanner or client: closing it after a scan
and opening it again to connect made Bumble's TCP controller drop every packet to the new client (it
handles the old socket's loss after the new one's arrival). `hold_central` keeps one open across a
scan and the connection that follows; a transport that was lost is opened anew on the next acquire.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import TypedDict

from bleak.backends.scanner import AdvertisementData
from bumble.device import Advertisement, Connection, Device
from bumble.hci import Address

from devices.bumble_backend.advertising import advertisement_data
from devices.transport import TransportSpec, open_bumble_device, parse_transport, transport_lost

_LOGGER = logging.getLogger(__name__)

DEFAULT_BUMBLE_TRANSPORT = "virtual"
"""Used when a scanner or client is given no `bumble={"transport": ...}` argument."""

AdvertisementListener = Callable[[Advertisement, AdvertisementData], None]


class BumbleArgs(TypedDict, total=False):
    """Backend-specific keyword argument `bumble=` of `BleakScanner` / `BleakClient`."""

    transport: str


@dataclass(frozen=True, slots=True)
class BumbleDetails:
    """`BLEDevice.details` of this backend: what a client needs to reach the advertiser again."""

    transport: str
    address: Address


def transport_from_args(bumble: BumbleArgs | None) -> str:
    """The transport string from the `bumble=` argument, defaulted in this one place."""
    return (bumble or {}).get("transport", DEFAULT_BUMBLE_TRANSPORT)


class BumbleCentral:
    """A powered-on Bumble device acting as the local adapter, reference-counted by its users."""

    def __init__(self, transport: str) -> None:
        self.transport = transport
        self.spec: TransportSpec = parse_transport(transport)
        self.device: Device | None = None
        self._stack = contextlib.AsyncExitStack()
        self._refs = 0
        self._listeners: dict[object, AdvertisementListener] = {}
        self._connect_lock = asyncio.Lock()

    async def _open(self) -> None:
        """Open the transport (waiting for its controller, within its timeout) and listen for advertisements."""
        try:
            self.device = await self._stack.enter_async_context(
                open_bumble_device(self.spec, name="chinup-central")
            )
        except BaseException:
            await self._stack.aclose()
            raise
        self.device.on(Device.EVENT_ADVERTISEMENT, self._on_advertisement)

    @property
    def lost(self) -> bool:
        """True once the HCI transport went away (controller stopped, dongle pulled): open a new one."""
        return self.device is not None and transport_lost(self.device)

    def _on_advertisement(self, advertisement: Advertisement) -> None:
        """Convert one advertisement once, then fan it out to every active scanner."""
        if not self._listeners:
            return
        data = advertisement_data(advertisement)
        for listener in list(self._listeners.values()):
            listener(advertisement, data)

    async def start_scanning(self, token: object, listener: AdvertisementListener, *, active: bool) -> None:
        """Register a listener; the radio scans while at least one listener is registered."""
        assert self.device is not None
        self._listeners[token] = listener
        if not self.device.is_scanning:
            await self.device.start_scanning(active=active, filter_duplicates=False)

    async def stop_scanning(self, token: object) -> None:
        """Unregister a listener; stop the radio scan when none is left."""
        self._listeners.pop(token, None)
        if not self._listeners and self.device is not None and self.device.is_scanning:
            await self.device.stop_scanning()

    async def find_address(self, address: str) -> Address:
        """Scan until `address` advertises, to learn its address type (public or random)."""
        found: asyncio.Future[Address] = asyncio.get_running_loop().create_future()
        wanted = address.upper()

        def listener(advertisement: Advertisement, _data: AdvertisementData) -> None:
            if advertisement.address.to_string(False) == wanted and not found.done():
                found.set_result(advertisement.address)

        token = object()
        await self.start_scanning(token, listener, active=False)
        try:
            return await found
        finally:
            await self.stop_scanning(token)

    async def connect(self, address: Address, timeout_s: float) -> Connection:
        """Connect as central; attempts are serialised as the controller allows only one at a time."""
        assert self.device is not None
        async with self._connect_lock:
            _LOGGER.debug("%s: connecting to %s", self.transport, address)
            return await self.device.connect(address, timeout=timeout_s)


_centrals: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, BumbleCentral]] = (
    weakref.WeakKeyDictionary()
)
_registry_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
    weakref.WeakKeyDictionary()
)


def _registry_lock() -> asyncio.Lock:
    """The lock guarding the central registry of the running loop."""
    return _registry_locks.setdefault(asyncio.get_running_loop(), asyncio.Lock())


async def acquire_central(transport: str) -> BumbleCentral:
    """Take a reference to the central of `transport`, opening it on first use (or after it was lost).

    Raises:
        TransportUnavailable: the transport cannot be opened or its controller does not answer.
    """
    async with _registry_lock():
        centrals = _centrals.setdefault(asyncio.get_running_loop(), {})
        central = centrals.get(transport)
        if central is not None and central.lost:  # its holders close it on release; newcomers get a new one
            _LOGGER.info("%s: transport lost, opening it again", transport)
            centrals.pop(transport)
            central = None
        if central is None:
            central = BumbleCentral(transport)
            await central._open()
            centrals[transport] = central
        central._refs += 1
        return central


async def release_central(central: BumbleCentral) -> None:
    """Drop a reference; the last one closes the transport (peers then see a disconnection)."""
    async with _registry_lock():
        central._refs -= 1
        if central._refs > 0:
            return
        centrals = _centrals.get(asyncio.get_running_loop(), {})
        if centrals.get(central.transport) is central:
            centrals.pop(central.transport)
        await central._stack.aclose()


@contextlib.asynccontextmanager
async def hold_central(transport: str) -> AsyncIterator[BumbleCentral]:
    """Keep the central of `transport` open for a whole session (scan, connect, reconnect), then release it.

    Raises:
        TransportUnavailable: as `acquire_central`.
    """
    central = await acquire_central(transport)
    try:
        yield central
    finally:
        await release_central(central)
