"""Transport strings (`os`, `bumble:<spec>`, `virtual[:NAME]`) and the Bumble devices they open.

The virtual radio is a Bumble `LocalLink` shared, per event loop and name, by every Bumble device
opened on it in this process: the recorder's central and the simulated straps meet there.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import itertools
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from bumble.controller import Controller
from bumble.device import Device
from bumble.hci import Address
from bumble.host import Host
from bumble.link import LocalLink
from bumble.transport import open_transport
from bumble.transport.common import AsyncPipeSink

from devices.errors import UnknownTransport

DEFAULT_LINK_NAME = "default"


class TransportKind(enum.StrEnum):
    """Which Bluetooth stack carries the radio traffic."""

    OS = "os"
    BUMBLE = "bumble"
    VIRTUAL = "virtual"


@dataclass(frozen=True, slots=True)
class TransportSpec:
    """A parsed transport string; `bumble_spec` is Bumble's own transport name (e.g. `usb:0`)."""

    kind: TransportKind
    bumble_spec: str | None = None
    link_name: str = DEFAULT_LINK_NAME

    @property
    def uses_bumble(self) -> bool:
        """True when the Bumble bleak backend (not the OS stack) must be used."""
        return self.kind is not TransportKind.OS


def parse_transport(text: str) -> TransportSpec:
    """Parse a transport string once, at the edge, so the rest of the code matches on a kind.

    Raises:
        UnknownTransport: for anything else than `os`, `bumble:<spec>`, `virtual[:NAME]`.
    """
    head, _, tail = text.strip().partition(":")
    if head == "os" and not tail:
        return TransportSpec(TransportKind.OS)
    if head == "virtual":
        return TransportSpec(TransportKind.VIRTUAL, link_name=tail or DEFAULT_LINK_NAME)
    if head == "bumble" and tail:
        return TransportSpec(TransportKind.BUMBLE, bumble_spec=tail)
    raise UnknownTransport(text)


_links: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, LocalLink]] = (
    weakref.WeakKeyDictionary()
)
_address_counter = itertools.count(1)


def virtual_link(name: str = DEFAULT_LINK_NAME) -> LocalLink:
    """The in-process radio named `name` for the running loop (one per loop keeps tests isolated)."""
    links = _links.setdefault(asyncio.get_running_loop(), {})
    if name not in links:
        links[name] = LocalLink()
    return links[name]


def new_random_address(prefix: int = 0xC0) -> Address:
    """A process-unique static random address (two top bits set, as the Core spec requires)."""
    n = next(_address_counter)
    octets = [prefix | 0xC0, (n >> 32) & 0xFF, (n >> 24) & 0xFF, (n >> 16) & 0xFF, (n >> 8) & 0xFF, n & 0xFF]
    return Address(":".join(f"{b:02X}" for b in octets), Address.RANDOM_DEVICE_ADDRESS)


@asynccontextmanager
async def open_bumble_device(
    transport: str | TransportSpec, *, name: str, address: Address | None = None
) -> AsyncIterator[Device]:
    """Open a powered-on Bumble `Device` on a Bumble transport or the virtual link; closed on exit.

    Raises:
        UnknownTransport: for `os` (the OS stack is reached through bleak, not Bumble).
    """
    spec = transport if isinstance(transport, TransportSpec) else parse_transport(transport)
    address = address or new_random_address()
    if spec.kind is TransportKind.VIRTUAL:
        async with _virtual_device(spec.link_name, name, address) as device:
            yield device
    elif spec.kind is TransportKind.BUMBLE:
        assert spec.bumble_spec is not None
        async with await open_transport(spec.bumble_spec) as hci:
            device = Device.with_hci(name, address, hci.source, hci.sink)
            await device.power_on()
            try:
                yield device
            finally:
                await _quiesce(device)
    else:
        raise UnknownTransport(spec.kind.value)


@asynccontextmanager
async def _virtual_device(link_name: str, name: str, address: Address) -> AsyncIterator[Device]:
    """A Bumble controller on the named virtual link with a host and device on top."""
    link = virtual_link(link_name)
    controller = Controller(name, link=link, public_address=address.to_string(False))
    device = Device(name=name, address=address, host=Host(controller, AsyncPipeSink(controller)))
    await device.power_on()
    try:
        yield device
    finally:
        await _quiesce(device)
        link.remove_controller(controller)


async def _quiesce(device: Device) -> None:
    """Stop radio activity and drop links so peers see a real disconnection."""
    if device.is_advertising:
        await device.stop_advertising()
    if device.is_scanning:
        await device.stop_scanning()
    for connection in list(device.connections.values()):
        # The peer may already be gone: closing must go on regardless.
        with contextlib.suppress(Exception):
            await connection.disconnect()
    await device.power_off()
