"""bleak client backend on Bumble: connect, discover, read, write and notify through a Bumble central."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from bleak.args import SizedBuffer
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient, NotifyCallback
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.device import BLEDevice
from bleak.exc import BleakError
from bumble.core import BaseBumbleError
from bumble.device import Connection, Peer
from bumble.gatt import GATT_CLIENT_CHARACTERISTIC_CONFIGURATION_DESCRIPTOR

from devices.bumble_backend.gatt import bleak_error, discover_services
from devices.bumble_backend.manager import (
    BumbleArgs,
    BumbleCentral,
    BumbleDetails,
    acquire_central,
    release_central,
    transport_from_args,
)
from devices.errors import TransportUnavailable

_LOGGER = logging.getLogger(__name__)

DISCONNECT_TIMEOUT_S = 5.0
ATT_HEADER_BYTES = 3
"""Opcode and handle of an ATT write command: the MTU minus this is the payload room."""


class BleakClientBumble(BaseBleakClient):
    """Client backend: pass `backend=BleakClientBumble, bumble={"transport": T}` to `BleakClient`.

    The shared central is held from `connect()` until `disconnect()`, as a file is held until closed.
    """

    def __init__(
        self,
        address_or_ble_device: BLEDevice | str,
        *,
        disconnected_callback: Callable[[], None] | None,
        timeout: float,
        services: set[str] | None = None,
        bumble: BumbleArgs | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(address_or_ble_device, disconnected_callback=disconnected_callback, timeout=timeout)
        details = getattr(address_or_ble_device, "details", None)
        self._details = details if isinstance(details, BumbleDetails) else None
        default = self._details.transport if self._details else None
        self._transport = transport_from_args(bumble) if bumble or not default else default
        self._name = getattr(address_or_ble_device, "name", None) or self.address.replace(":", "-")
        self._service_uuids = services
        self._central: BumbleCentral | None = None
        self._connection: Connection | None = None
        self._peer: Peer | None = None
        self._subscribers: dict[int, Callable[[bytes], None]] = {}

    @property
    def name(self) -> str:
        """The advertised name, else the address with dashes (bleak's convention)."""
        return self._name

    @property
    def mtu_size(self) -> int:
        """The negotiated ATT MTU (23 until an exchange happens)."""
        return self._connection.att_mtu if self._connection else 23

    @property
    def is_connected(self) -> bool:
        """True while the LE link is up."""
        return self._connection is not None

    async def connect(self, pair: bool, **kwargs: Any) -> None:
        """Connect, then discover services into bleak's objects; a failure leaves nothing open."""
        timeout_s = float(kwargs.get("timeout", self._timeout))
        try:
            # Opening the transport is part of connecting: a controller that never answers must end in
            # this timeout, not in the caller's much longer safety net.
            async with asyncio.timeout(timeout_s):
                if self._central is None:
                    self._central = await acquire_central(self._transport)
                await self._connect(self._central, pair, timeout_s)
        except TransportUnavailable as exc:
            await self._close()
            raise BleakError(str(exc)) from exc
        except BaseException:
            await self._close()
            raise

    async def _connect(self, central: BumbleCentral, pair: bool, timeout_s: float) -> None:
        """The connection steps proper, under the caller's timeout."""
        address = self._details.address if self._details else await central.find_address(self.address)
        try:
            connection = await central.connect(address, timeout_s)
            self._connection = connection
            connection.on(Connection.EVENT_DISCONNECTION, self._on_disconnection)
            self._peer = Peer(connection)
            if pair:
                await connection.pair()
            max_write = connection.att_mtu - ATT_HEADER_BYTES
            self.services = await discover_services(self._peer, self._service_uuids, max_write)
        except BaseBumbleError as exc:
            raise bleak_error(exc) from exc
        _LOGGER.debug("%s (%s): connected", self._name, self.address)

    def _on_disconnection(self, reason: int) -> None:
        """The link went down: forget it, and tell the owner if it did not ask for it."""
        _LOGGER.debug("%s (%s): disconnected, reason 0x%02X", self._name, self.address, reason)
        was_connected = self._connection is not None
        self._forget_link()
        if was_connected and self._disconnected_callback is not None:
            self._disconnected_callback()

    def _forget_link(self) -> None:
        """Drop every object that belongs to the finished connection."""
        self._connection = None
        self._peer = None
        self.services = None
        self._subscribers.clear()

    async def disconnect(self) -> None:
        """Disconnect (no callback: it was asked for) and release the shared central."""
        await self._close()

    async def _close(self) -> None:
        """Close the link if up, then give back the central reference."""
        connection = self._connection
        self._forget_link()
        if connection is not None:
            try:
                async with asyncio.timeout(DISCONNECT_TIMEOUT_S):  # a controller gone answers nothing
                    await connection.disconnect()
            except (BaseBumbleError, TimeoutError) as exc:
                _LOGGER.debug("%s (%s): disconnect: %s", self._name, self.address, type(exc).__name__)
        central, self._central = self._central, None
        if central is not None:
            await release_central(central)

    async def pair(self, *args: Any, **kwargs: Any) -> None:
        """Pair over the current connection (Bumble's security manager)."""
        await self._call(self._require_connection().pair())

    async def unpair(self) -> None:
        """Not offered: Bumble keeps no bond store unless configured with one."""
        raise BleakError("unpair is not supported by the Bumble backend")

    async def read_gatt_char(
        self, characteristic: BleakGATTCharacteristic, *, use_cached: bool = False, **kwargs: Any
    ) -> bytearray:
        """Read a characteristic value from the peer."""
        return bytearray(await self._call(self._require_peer().read_value(characteristic.obj)))

    async def read_gatt_descriptor(
        self, descriptor: BleakGATTDescriptor, *, use_cached: bool = False, **kwargs: Any
    ) -> bytearray:
        """Read a descriptor value from the peer."""
        return bytearray(await self._call(self._require_peer().read_value(descriptor.obj)))

    async def write_gatt_char(
        self, characteristic: BleakGATTCharacteristic, data: SizedBuffer, response: bool
    ) -> None:
        """Write a characteristic, as a request (`response=True`) or a command."""
        await self._call(self._require_peer().write_value(characteristic.obj, bytes(data), response))

    async def write_gatt_descriptor(self, descriptor: BleakGATTDescriptor, data: SizedBuffer) -> None:
        """Write a descriptor (always with response, as the ATT spec wants)."""
        await self._call(self._require_peer().write_value(descriptor.obj, bytes(data), True))

    async def start_notify(
        self, characteristic: BleakGATTCharacteristic, callback: NotifyCallback, **kwargs: Any
    ) -> None:
        """Enable notifications (indications if that is all the characteristic offers)."""

        def subscriber(value: bytes) -> None:
            callback(bytearray(value))

        self._subscribers[characteristic.handle] = subscriber
        await self._call(self._require_peer().subscribe(characteristic.obj, subscriber))

    async def stop_notify(self, characteristic: BleakGATTCharacteristic) -> None:
        """Disable notifications on a characteristic, losing none the peer sent before it was told.

        The CCCD is written first, with the callback still in place: ATT is ordered, so every notification
        the peer sent before it saw the write arrives before the answer. Bumble's own `unsubscribe` drops
        the callback before it writes, and a notification in flight then is lost.
        """
        peer = self._require_peer()
        cccd = characteristic.obj.get_descriptor(GATT_CLIENT_CHARACTERISTIC_CONFIGURATION_DESCRIPTOR)
        if cccd is not None:
            await self._call(peer.write_value(cccd, b"\x00\x00", with_response=True))
        subscriber = self._subscribers.pop(characteristic.handle, None)
        await self._call(peer.unsubscribe(characteristic.obj, subscriber))

    def _require_connection(self) -> Connection:
        """The live connection, or bleak's error for using a closed client."""
        if self._connection is None:
            raise BleakError("Not connected")
        return self._connection

    def _require_peer(self) -> Peer:
        """The GATT peer of the live connection."""
        self._require_connection()
        assert self._peer is not None
        return self._peer

    async def _call(self, operation: Awaitable[Any]) -> Any:
        """Await a Bumble operation, translating its errors to bleak's."""
        try:
            return await operation
        except BaseBumbleError as exc:
            raise bleak_error(exc) from exc
