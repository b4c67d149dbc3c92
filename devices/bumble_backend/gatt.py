"""Bumble's discovered GATT proxies, and its errors, turned into bleak's objects."""

from __future__ import annotations

from collections.abc import Iterable

from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection
from bleak.exc import BleakError, BleakGATTProtocolError
from bleak.uuids import normalize_uuid_str
from bumble import att, core
from bumble.device import Peer
from bumble.gatt import Characteristic
from bumble.gatt_client import CharacteristicProxy

_PROPERTY_NAMES = {
    Characteristic.Properties.BROADCAST: "broadcast",
    Characteristic.Properties.READ: "read",
    Characteristic.Properties.WRITE_WITHOUT_RESPONSE: "write-without-response",
    Characteristic.Properties.WRITE: "write",
    Characteristic.Properties.NOTIFY: "notify",
    Characteristic.Properties.INDICATE: "indicate",
    Characteristic.Properties.AUTHENTICATED_SIGNED_WRITES: "authenticated-signed-writes",
    Characteristic.Properties.EXTENDED_PROPERTIES: "extended-properties",
}


def bleak_uuid(uuid: core.UUID) -> str:
    """Bleak's form of a UUID: 128-bit, lower case, dashed."""
    return normalize_uuid_str(uuid.to_hex_str("-") if len(uuid.uuid_bytes) == 16 else uuid.to_hex_str())


def property_names(properties: Characteristic.Properties) -> list[str]:
    """Bleak's property names for Bumble's property flags."""
    return [name for flag, name in _PROPERTY_NAMES.items() if properties & flag]


async def discover_services(
    peer: Peer, service_uuids: Iterable[str] | None, max_write_size: int
) -> BleakGATTServiceCollection:
    """Discover services, characteristics and descriptors into a bleak service collection."""
    wanted = [core.UUID(u) for u in service_uuids] if service_uuids else ()
    collection = BleakGATTServiceCollection()
    for service_proxy in await peer.discover_services(wanted):
        service = BleakGATTService(service_proxy, service_proxy.handle, bleak_uuid(service_proxy.uuid))
        collection.add_service(service)
        for char_proxy in await peer.discover_characteristics(service=service_proxy):
            await _add_characteristic(peer, collection, service, char_proxy, max_write_size)
    return collection


async def _add_characteristic(
    peer: Peer,
    collection: BleakGATTServiceCollection,
    service: BleakGATTService,
    char_proxy: CharacteristicProxy[bytes],
    max_write_size: int,
) -> None:
    """Add one characteristic and its descriptors."""
    characteristic = BleakGATTCharacteristic(
        char_proxy,
        char_proxy.handle,
        bleak_uuid(char_proxy.uuid),
        property_names(char_proxy.properties),  # type: ignore[arg-type]
        lambda: max_write_size,
        service,
    )
    collection.add_characteristic(characteristic)
    for desc_proxy in await peer.discover_descriptors(characteristic=char_proxy):
        collection.add_descriptor(
            BleakGATTDescriptor(desc_proxy, desc_proxy.handle, bleak_uuid(desc_proxy.type), characteristic)
        )


def bleak_error(exc: Exception) -> BleakError:
    """Translate a Bumble error at the backend boundary (ATT errors keep their code)."""
    if isinstance(exc, att.ATT_Error):
        return BleakGATTProtocolError(exc.error_code)
    return BleakError(f"{type(exc).__name__}: {exc}")
