"""Bumble advertisements as bleak's `AdvertisementData`: converted once per report, shared by all scanners."""

from __future__ import annotations

import uuid

from bleak.backends.scanner import AdvertisementData
from bumble.core import AdvertisingData
from bumble.device import Advertisement

_UUID_LIST_WIDTHS = {  # AD type -> bytes per UUID
    AdvertisingData.INCOMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS: 2,
    AdvertisingData.COMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS: 2,
    AdvertisingData.INCOMPLETE_LIST_OF_32_BIT_SERVICE_CLASS_UUIDS: 4,
    AdvertisingData.COMPLETE_LIST_OF_32_BIT_SERVICE_CLASS_UUIDS: 4,
    AdvertisingData.INCOMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS: 16,
    AdvertisingData.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS: 16,
}
_BLUETOOTH_BASE_SUFFIX = "-0000-1000-8000-00805f9b34fb"


def _uuid_from_le(raw: bytes) -> str:
    """Bleak's UUID string from little-endian advertising bytes.

    Parsed here rather than through Bumble's UUID objects, whose registry lookup is linear in the
    number of known UUIDs: with dozens of straps advertising, that alone saturated a core.
    """
    if len(raw) == 16:
        return str(uuid.UUID(bytes=raw[::-1]))
    return f"{int.from_bytes(raw, 'little'):08x}{_BLUETOOTH_BASE_SUFFIX}"


def service_uuids(data: AdvertisingData) -> list[str]:
    """Every service UUID listed in the advertisement (and scan response), in order, once each."""
    found: list[str] = []
    for ad_type, width in _UUID_LIST_WIDTHS.items():
        for payload in data.get_all(ad_type, raw=True):
            for offset in range(0, len(payload) - width + 1, width):
                value = _uuid_from_le(payload[offset : offset + width])
                if value not in found:
                    found.append(value)
    return found


def advertisement_data(advertisement: Advertisement) -> AdvertisementData:
    """Bleak's view of one (accumulated) Bumble advertisement."""
    data = advertisement.data
    name = data.get(AdvertisingData.COMPLETE_LOCAL_NAME) or data.get(AdvertisingData.SHORTENED_LOCAL_NAME)
    manufacturer = {
        int.from_bytes(raw[:2], "little"): bytes(raw[2:])
        for raw in data.get_all(AdvertisingData.MANUFACTURER_SPECIFIC_DATA, raw=True)
        if len(raw) >= 2
    }
    service_data = {
        _uuid_from_le(raw[:2]): bytes(raw[2:])
        for raw in data.get_all(AdvertisingData.SERVICE_DATA_16_BIT_UUID, raw=True)
        if len(raw) >= 2
    }
    tx_power = data.get(AdvertisingData.TX_POWER_LEVEL)
    return AdvertisementData(
        local_name=str(name) if name is not None else None,
        manufacturer_data=manufacturer,
        service_data=service_data,
        service_uuids=service_uuids(data),
        tx_power=int(tx_power) if tx_power is not None else None,
        rssi=advertisement.rssi,
        platform_data=(advertisement,),
    )
