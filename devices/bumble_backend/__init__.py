"""A bleak backend on Google Bumble: `BleakScanner(backend=BleakScannerBumble, bumble={"transport": T})`."""

from devices.bumble_backend.client import BleakClientBumble
from devices.bumble_backend.manager import (
    DEFAULT_BUMBLE_TRANSPORT,
    BumbleArgs,
    BumbleCentral,
    BumbleDetails,
    acquire_central,
    hold_central,
    release_central,
)
from devices.bumble_backend.scanner import BleakScannerBumble

__all__ = [
    "DEFAULT_BUMBLE_TRANSPORT",
    "BleakClientBumble",
    "BleakScannerBumble",
    "BumbleArgs",
    "BumbleCentral",
    "BumbleDetails",
    "acquire_central",
    "hold_central",
    "release_central",
]
