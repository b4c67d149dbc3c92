"""bleak scanner backend on Bumble: advertisements from the shared central, as bleak reports them."""

from __future__ import annotations

from typing import Any, Literal

from bleak.backends.scanner import AdvertisementData, AdvertisementDataCallback, BaseBleakScanner
from bumble.core import AdvertisingData
from bumble.device import Advertisement

from devices.bumble_backend.gatt import bleak_uuid
from devices.bumble_backend.manager import (
    BumbleArgs,
    BumbleCentral,
    BumbleDetails,
    acquire_central,
    release_central,
    transport_from_args,
)

_UUID_LIST_TYPES = (
    AdvertisingData.INCOMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS,
    AdvertisingData.COMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS,
    AdvertisingData.INCOMPLETE_LIST_OF_32_BIT_SERVICE_CLASS_UUIDS,
    AdvertisingData.COMPLETE_LIST_OF_32_BIT_SERVICE_CLASS_UUIDS,
    AdvertisingData.INCOMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
    AdvertisingData.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
)


def advertisement_data(advertisement: Advertisement) -> AdvertisementData:
    """Bleak's view of one (accumulated) Bumble advertisement."""
    data = advertisement.data
    name = data.get(AdvertisingData.COMPLETE_LOCAL_NAME) or data.get(AdvertisingData.SHORTENED_LOCAL_NAME)
    uuids: list[str] = []
    for ad_type in _UUID_LIST_TYPES:
        for uuid_list in data.get_all(ad_type):
            uuids.extend(u for u in map(bleak_uuid, uuid_list) if u not in uuids)
    manufacturer = {
        company: bytes(payload)
        for company, payload in data.get_all(AdvertisingData.MANUFACTURER_SPECIFIC_DATA)
    }
    service_data = {
        bleak_uuid(uuid): bytes(payload)
        for uuid, payload in data.get_all(AdvertisingData.SERVICE_DATA_16_BIT_UUID)
    }
    tx_power = data.get(AdvertisingData.TX_POWER_LEVEL)
    return AdvertisementData(
        local_name=str(name) if name is not None else None,
        manufacturer_data=manufacturer,
        service_data=service_data,
        service_uuids=uuids,
        tx_power=int(tx_power) if tx_power is not None else None,
        rssi=advertisement.rssi,
        platform_data=(advertisement,),
    )


class BleakScannerBumble(BaseBleakScanner):
    """Scanner backend: pass `backend=BleakScannerBumble, bumble={"transport": T}` to `BleakScanner`."""

    def __init__(
        self,
        detection_callback: AdvertisementDataCallback | None,
        service_uuids: list[str] | None,
        scanning_mode: Literal["active", "passive"] = "active",
        *,
        bumble: BumbleArgs | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(detection_callback, service_uuids)
        self._transport = transport_from_args(bumble)
        self._active = scanning_mode == "active"
        self._central: BumbleCentral | None = None

    async def start(self) -> None:
        """Start scanning: clears what was seen, as bleak's contract asks."""
        self.seen_devices = {}
        self._central = await acquire_central(self._transport)
        await self._central.start_scanning(self, self._on_advertisement, active=self._active)

    async def stop(self) -> None:
        """Stop scanning and release the shared central."""
        central, self._central = self._central, None
        if central is not None:
            await central.stop_scanning(self)
            await release_central(central)

    def _on_advertisement(self, advertisement: Advertisement) -> None:
        """Filter on service UUIDs, record the device, call the detection callbacks."""
        adv = advertisement_data(advertisement)
        if not self.is_allowed_uuid(adv.service_uuids):
            return
        address = advertisement.address.to_string(False)
        details = BumbleDetails(self._transport, advertisement.address)
        device = self.create_or_update_device(address, address, adv.local_name, details, adv)
        self.call_detection_callbacks(device, adv)
