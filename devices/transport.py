"""Transport strings (`os`, `bumble:<spec>`, `virtual[:NAME]`) and the Bumble devices they open.

The virtual radio is a Bumble `LocalLink` shared, per event loop and name, by every Bumble device
opened on it in this process: the recorder's central and the simulated straps meet there.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import hashlib
import logging
import secrets
import weakref
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from bumble import hci as bumble_hci
from bumble.controller import Controller
from bumble.core import BaseBumbleError
from bumble.device import Device
from bumble.hci import Address
from bumble.host import Host
from bumble.link import LocalLink
from bumble.transport import open_transport
from bumble.transport.common import AsyncPipeSink, Transport, TransportSpecError

from devices.errors import TransportUnavailable, UnknownTransport

_LOGGER = logging.getLogger(__name__)

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

READY_TIMEOUT_S = 10.0  # how long opening a Bumble transport may wait for its controller to answer
PROBE_TIMEOUT_S = 1.0  # one HCI_Reset without an answer: the packet was dropped, try again
OPEN_RETRY_S = 0.25  # between two attempts to open (or probe) a transport
QUIESCE_TIMEOUT_S = 5.0  # closing a device: stop advertising, scanning, links, power off
_SERVER_TRANSPORTS = ("tcp-server:", "ws-server:", "unix-server:")  # the controller connects to us


def virtual_link(name: str = DEFAULT_LINK_NAME) -> LocalLink:
    """The in-process radio named `name` for the running loop (one per loop keeps tests isolated)."""
    links = _links.setdefault(asyncio.get_running_loop(), {})
    if name not in links:
        links[name] = LocalLink()
    return links[name]


def new_random_address(seed: str | None = None) -> Address:
    """A static random address (two top bits set, as the Core spec, Vol 6 Part B 1.3.2.1, requires).

    Random for every call, so two processes or two straps never share one; derived from `seed` when
    given, so a strap keeps its address across restarts and the service files it as the same device.
    """
    raw = hashlib.sha256(f"chinup:{seed}".encode()).digest()[:6] if seed is not None else secrets.token_bytes(6)
    octets = bytearray(raw)
    octets[0] |= 0xC0
    if octets[1:] == b"\x00" * 5 or octets[1:] == b"\xff" * 5:  # all-zero / all-one random part is invalid
        octets[5] ^= 0x01
    return Address(":".join(f"{b:02X}" for b in octets), Address.RANDOM_DEVICE_ADDRESS)


@asynccontextmanager
async def open_bumble_device(
    transport: str | TransportSpec,
    *,
    name: str,
    address: Address | None = None,
    ready_timeout_s: float | None = READY_TIMEOUT_S,
    on_waiting: Callable[[str], None] | None = None,
) -> AsyncIterator[Device]:
    """Open a powered-on Bumble `Device` on a Bumble transport or the virtual link; closed on exit.

    Opening waits for the controller to answer (`ready_timeout_s`, None for as long as it takes):
    a `tcp-server` transport has no controller until one connects, and a TCP controller that is still
    handling its previous client's departure drops the new client's packets, so an unanswered reset
    means "open again", not "wait forever". `on_waiting` hears, once, what is being waited for.

    Raises:
        UnknownTransport: for `os` (the OS stack is reached through bleak, not Bumble).
        TransportUnavailable: the transport cannot be opened, or its controller never answered.
    """
    spec = transport if isinstance(transport, TransportSpec) else parse_transport(transport)
    address = address or new_random_address()
    if spec.kind is TransportKind.VIRTUAL:
        async with _virtual_device(spec.link_name, name, address) as device:
            yield device
    elif spec.kind is TransportKind.BUMBLE:
        assert spec.bumble_spec is not None
        hci, device = await _open_ready(spec.bumble_spec, name, address, ready_timeout_s, on_waiting)
        _hci_of[device] = hci
        try:
            yield device
        finally:
            try:
                await _quiesce(device)
            finally:
                await hci.close()
    else:
        raise UnknownTransport(spec.kind.value)


_hci_of: weakref.WeakKeyDictionary[Device, Transport] = weakref.WeakKeyDictionary()


def transport_lost(device: Device) -> bool:
    """True when the HCI transport under a device opened here went away (controller gone, dongle pulled)."""
    hci = _hci_of.get(device)
    terminated = getattr(hci.source, "terminated", None) if hci is not None else None
    return terminated is not None and terminated.done()


async def _open_ready(
    bumble_spec: str,
    name: str,
    address: Address,
    ready_timeout_s: float | None,
    on_waiting: Callable[[str], None] | None,
) -> tuple[Transport, Device]:
    """Open the transport and power a device on once its controller answers a reset, within the timeout."""
    loop = asyncio.get_running_loop()
    deadline = None if ready_timeout_s is None else loop.time() + ready_timeout_s
    told = False
    last_error = "no answer from the controller"
    while True:
        remaining = None if deadline is None else deadline - loop.time()
        if remaining is not None and remaining <= 0:
            raise TransportUnavailable(bumble_spec, last_error)
        try:
            async with asyncio.timeout(remaining):
                opened = await _open_once(bumble_spec, name, address, deadline, on_waiting)
        except TimeoutError:
            raise TransportUnavailable(bumble_spec, last_error) from None
        except TransportSpecError as exc:  # a typo waits in vain
            raise TransportUnavailable(bumble_spec, f"{type(exc).__name__}: {exc}") from exc
        except (OSError, BaseBumbleError) as exc:  # refused, reset by the peer: the controller may come
            last_error = f"{type(exc).__name__}: {exc}"
            opened = None
        except Exception as exc:  # a bad spec, a USB driver error: waiting will not help
            raise TransportUnavailable(bumble_spec, f"{type(exc).__name__}: {exc}") from exc
        if opened is not None:
            return opened
        if not told and on_waiting is not None:
            on_waiting(f"waiting for the controller on {bumble_spec} ({last_error})")
            told = True
        _LOGGER.debug("%s: not ready (%s), trying again", bumble_spec, last_error)
        await asyncio.sleep(OPEN_RETRY_S)


async def _open_once(
    bumble_spec: str,
    name: str,
    address: Address,
    deadline: float | None,
    on_waiting: Callable[[str], None] | None,
) -> tuple[Transport, Device] | None:
    """One transport opened and probed; None (transport closed again) when the controller did not answer."""
    hci = await open_transport(bumble_spec)
    try:
        device = Device.with_hci(name, address, hci.source, hci.sink)
        if await _controller_answers(bumble_spec, hci, device, deadline, on_waiting):
            await device.power_on()
            return hci, device
    except BaseException:
        await hci.close()
        raise
    await hci.close()
    return None


async def _controller_answers(
    bumble_spec: str,
    hci: Transport,
    device: Device,
    deadline: float | None,
    on_waiting: Callable[[str], None] | None,
) -> bool:
    """Probe with HCI_Reset. A server transport keeps waiting on the same socket for a controller to connect;
    a client transport whose reset went unanswered is given up, to be opened anew."""
    server = bumble_spec.startswith(_SERVER_TRANSPORTS)
    loop = asyncio.get_running_loop()
    told = False
    while True:
        # A server transport's sink has no peer until a controller connects: do not send into the void.
        connected = getattr(hci.sink, "transport", True) is not None
        if server and not connected and not told and on_waiting is not None:
            on_waiting(f"waiting for a controller to connect to {bumble_spec}")
            told = True
        if not server or connected:
            try:
                await device.host.send_sync_command(bumble_hci.HCI_Reset_Command(), response_timeout=PROBE_TIMEOUT_S)
                return True
            except TimeoutError:
                if not server:
                    return False
        if deadline is not None and loop.time() >= deadline:
            return False
        await asyncio.sleep(OPEN_RETRY_S)


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
    """Stop radio activity and drop links so peers see a real disconnection.

    Bounded by QUIESCE_TIMEOUT_S: a controller that went away answers nothing, and closing (at the end of
    a recording, at the service's shutdown) must finish all the same.
    """
    try:
        async with asyncio.timeout(QUIESCE_TIMEOUT_S):
            if device.is_advertising:
                await device.stop_advertising()
            if device.is_scanning:
                await device.stop_scanning()
            for connection in list(device.connections.values()):
                # The peer may already be gone: closing must go on regardless.
                with contextlib.suppress(Exception):
                    await connection.disconnect()
            await device.power_off()
    except (TimeoutError, BaseBumbleError, OSError) as exc:
        _LOGGER.info("%s: closed without a clean goodbye to the controller (%s)", device.name,
                     type(exc).__name__)  # fmt: skip
