"""A heart-rate peripheral made only of Bumble's own parts, run as its own process by the cross-process tests.

Bumble's `HeartRateService` profile (not Chin Up's simulator) on a Bumble transport: it advertises 0x180D,
notifies while a central is subscribed, advertises again after each disconnection, and appends every
notification it sent to a log file (one JSON line each, and one per disconnection), so a test can compare
what was sent with what was stored. Run: `python -m tests.devices.bumble_hrs_peripheral TRANSPORT ADDRESS NAME LOG [PERIOD_S]`.
"""

from __future__ import annotations

import asyncio
import json
import struct
import sys
import time
from pathlib import Path

from bumble.core import AdvertisingData
from bumble.device import Connection, Device
from bumble.hci import Address
from bumble.profiles.heart_rate_service import HeartRateService
from bumble.transport import open_transport
from bumble.transport.common import Transport

OPEN_ATTEMPTS = 50
OPEN_RETRY_S = 0.2


def measurement(k: int) -> HeartRateService.HeartRateMeasurement:
    """The k-th notification: bpm cycling 60..179, one RR interval exact in 1/1024 s units."""
    bpm = 60 + k % 120
    rr_ticks = round(60 * 1024 / bpm)
    return HeartRateService.HeartRateMeasurement(
        heart_rate=bpm, sensor_contact_detected=True, rr_intervals=(rr_ticks / 1024,)
    )


def advertising_data(name: str) -> bytes:
    """Flags, the Heart Rate service UUID and the complete local name."""
    return bytes(
        AdvertisingData(
            [
                (AdvertisingData.FLAGS, bytes([0x06])),
                (AdvertisingData.COMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS, struct.pack("<H", 0x180D)),
                (AdvertisingData.COMPLETE_LOCAL_NAME, name.encode()),
            ]
        )
    )


async def open_with_retry(spec: str) -> Transport:
    """The controller process may still be binding its port: retry a refused connection for a while."""
    for _ in range(OPEN_ATTEMPTS):
        try:
            return await open_transport(spec)
        except OSError:
            await asyncio.sleep(OPEN_RETRY_S)
    return await open_transport(spec)


async def serve(spec: str, address: str, name: str, log_path: Path, period_s: float) -> None:
    """Advertise, notify subscribers every `period_s`, log each notification, until killed."""
    async with await open_with_retry(spec) as hci:
        device = Device.with_hci(name, Address(address, Address.RANDOM_DEVICE_ADDRESS), hci.source, hci.sink)
        service = HeartRateService(
            read_heart_rate_measurement=lambda _connection: measurement(0),
            body_sensor_location=HeartRateService.BodySensorLocation.CHEST,
        )
        device.add_service(service)
        await asyncio.wait_for(device.power_on(), 10)
        log = log_path.open("a", encoding="utf-8")
        connection_count = 0

        def write(record: dict[str, object]) -> None:
            log.write(json.dumps({**record, "t": time.monotonic()}) + "\n")
            log.flush()

        def on_connection(connection: Connection) -> None:
            nonlocal connection_count
            connection_count += 1
            number = connection_count
            connection.on("disconnection", lambda _reason: write({"disconnected": number}))

        device.on("connection", on_connection)
        await device.start_advertising(advertising_data=advertising_data(name), auto_restart=True)
        print("advertising", flush=True)
        characteristic = service.heart_rate_measurement_characteristic
        k = 0
        while True:
            await asyncio.sleep(period_s)
            subscribed = sum(
                1 for cccds in device.gatt_server.subscribers.values()
                if cccds.get(characteristic.handle, b"\0\0")[0] & 1
            )  # fmt: skip
            if not subscribed:
                continue
            value = measurement(k)
            await device.notify_subscribers(characteristic, value)
            rr_ticks = [round(r * 1024) for r in value.rr_intervals or ()]
            for _ in range(subscribed):
                write({"k": k, "connection": connection_count, "bpm": value.heart_rate, "rr_ticks": rr_ticks})
            k += 1


def main() -> None:
    spec, address, name, log = sys.argv[1:5]
    period_s = float(sys.argv[5]) if len(sys.argv) > 5 else 0.25
    asyncio.run(serve(spec, address, name, Path(log), period_s))


if __name__ == "__main__":
    main()
