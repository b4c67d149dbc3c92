"""bleak scanner backend on Bumble: advertisements from the shared central, as bleak reports them."""

from __future__ import annotations

from typing import Any, Literal

from bleak.backends.scanner import AdvertisementData, AdvertisementDataCallback, BaseBleakScanner
from bleak.exc import BleakError
from bumble.device import Advertisement

from devices.bumble_backend.manager import (
    BumbleArgs,
    BumbleCentral,
    BumbleDetails,
    acquire_central,
    release_central,
    transport_from_args,
)
from devices.errors import TransportUnavailable


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
        try:
            self._central = await acquire_central(self._transport)
        except TransportUnavailable as exc:
            raise BleakError(str(exc)) from exc
        await self._central.start_scanning(self, self._on_advertisement, active=self._active)

    async def stop(self) -> None:
        """Stop scanning and release the shared central."""
        central, self._central = self._central, None
        if central is not None:
            await central.stop_scanning(self)
            await release_central(central)

    def _on_advertisement(self, advertisement: Advertisement, adv: AdvertisementData) -> None:
        """Filter on service UUIDs, record the device, call the detection callbacks."""
        if not self.is_allowed_uuid(adv.service_uuids):
            return
        address = advertisement.address.to_string(False)
        details = BumbleDetails(self._transport, advertisement.address)
        device = self.create_or_update_device(address, address, adv.local_name, details, adv)
        self.call_detection_callbacks(device, adv)
