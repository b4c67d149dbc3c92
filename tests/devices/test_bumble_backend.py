"""The Bumble bleak backend, driven only through bleak's public API against a simulated strap."""

from __future__ import annotations

import asyncio

import pytest
from bleak import BleakClient, BleakScanner
from bleak.exc import BleakGATTProtocolError

from devices import hrs
from devices.bumble_backend import BleakClientBumble, BleakScannerBumble
from devices.simulator import StrapProfile, Tick, VirtualStrap

pytestmark = pytest.mark.anyio

VIRTUAL = {"transport": "virtual"}
HRS = hrs.bluetooth_uuid(hrs.HEART_RATE_SERVICE_UUID)
BATTERY = hrs.bluetooth_uuid(hrs.BATTERY_SERVICE_UUID)
DEVICE_INFO = hrs.bluetooth_uuid(hrs.DEVICE_INFORMATION_SERVICE_UUID)
MEASUREMENT = hrs.bluetooth_uuid(hrs.HEART_RATE_MEASUREMENT_UUID)
CCCD = hrs.bluetooth_uuid(0x2902)
STEADY = [Tick(i * 1.0, 70 + i % 5, (857.0,)) for i in range(600)]


async def _find(name: str):
    return await BleakScanner.find_device_by_name(name, timeout=5, backend=BleakScannerBumble, bumble=VIRTUAL)


async def test_scan_reports_name_rssi_uuids_and_manufacturer_data() -> None:
    async with VirtualStrap("virtual", STEADY, name="Scan Me", speed=50):
        found = await BleakScanner.discover(
            timeout=0.3, return_adv=True, service_uuids=[HRS], backend=BleakScannerBumble, bumble=VIRTUAL
        )
    [(device, adv)] = found.values()
    assert (device.name, adv.local_name) == ("Scan Me", "Scan Me")
    assert isinstance(adv.rssi, int) and -127 < adv.rssi < 20
    assert HRS in adv.service_uuids and BATTERY in adv.service_uuids
    assert adv.manufacturer_data == {0xFFFF: bytes([0, 1, 1])}  # 8-bit, RR, contact


async def test_service_uuid_filter_drops_other_advertisers() -> None:
    cycling_power = hrs.bluetooth_uuid(0x1818)
    async with VirtualStrap("virtual", STEADY, name="Not a power meter", speed=50):
        found = await BleakScanner.discover(
            timeout=0.3, service_uuids=[cycling_power], backend=BleakScannerBumble, bumble=VIRTUAL
        )
    assert found == []


async def test_discovery_builds_bleak_gatt_objects_and_reads() -> None:
    async with VirtualStrap("virtual", STEADY, name="Gatt", speed=50):
        device = await _find("Gatt")
        async with BleakClient(device, backend=BleakClientBumble) as client:
            assert client.is_connected and client.mtu_size >= 23
            uuids = {service.uuid for service in client.services}
            assert {HRS, BATTERY, DEVICE_INFO} <= uuids
            measurement = client.services.get_characteristic(MEASUREMENT)
            assert measurement.properties == ["notify"]
            assert [d.uuid for d in measurement.descriptors] == [CCCD]
            assert await client.read_gatt_char(hrs.bluetooth_uuid(hrs.BATTERY_LEVEL_UUID)) == bytearray([87])
            location = await client.read_gatt_char(hrs.bluetooth_uuid(hrs.BODY_SENSOR_LOCATION_UUID))
            assert hrs.decode_body_sensor_location(location) is hrs.BodySensorLocation.CHEST
            model = await client.read_gatt_char(hrs.bluetooth_uuid(hrs.MODEL_NUMBER_UUID))
            assert model.decode() == "Virtual Strap"
            assert await client.read_gatt_descriptor(measurement.descriptors[0].handle) == bytearray(2)


async def test_control_point_write_and_att_error() -> None:
    async with VirtualStrap("virtual", STEADY, name="Cp", speed=50) as strap:
        async with BleakClient(await _find("Cp"), backend=BleakClientBumble) as client:
            control_point = hrs.bluetooth_uuid(hrs.HEART_RATE_CONTROL_POINT_UUID)
            await client.write_gatt_char(control_point, hrs.encode_control_point(), response=True)
            with pytest.raises(BleakGATTProtocolError) as caught:
                await client.write_gatt_char(control_point, b"\x02", response=True)
    assert caught.value.code == hrs.CONTROL_POINT_NOT_SUPPORTED
    assert strap.counters.energy_resets == 1


async def test_notifications_start_and_stop() -> None:
    async with VirtualStrap("virtual", STEADY, name="Notify", speed=50) as strap:
        async with BleakClient(await _find("Notify"), backend=BleakClientBumble) as client:
            received: asyncio.Queue[bytearray] = asyncio.Queue()
            await client.start_notify(MEASUREMENT, lambda _c, data: received.put_nowait(data))
            first = [hrs.decode_measurement(await received.get()) for _ in range(3)]
            await client.stop_notify(MEASUREMENT)
            sent_at_stop = strap.counters.notifications_sent
            await asyncio.sleep(0.1)
            assert strap.counters.notifications_sent == sent_at_stop
    assert first == strap.counters.sent[:3]
    assert all(m.rr_intervals_ms == (857.421875,) and m.sensor_contact for m in first)


async def test_disconnected_callback_on_link_drop_and_client_by_address() -> None:
    async with VirtualStrap("virtual", STEADY, name="Drop", speed=50) as strap:
        dropped = asyncio.Event()
        client = BleakClient(
            strap.address, lambda _c: dropped.set(), backend=BleakClientBumble, bumble=VIRTUAL, timeout=5
        )
        await client.connect()
        assert client.is_connected
        assert await strap.drop_link() == 1
        async with asyncio.timeout(2):
            await dropped.wait()
        assert not client.is_connected
        await client.disconnect()  # harmless after a drop; releases the shared central


async def test_two_straps_share_the_link_and_the_central() -> None:
    profiles = (StrapProfile(), StrapProfile(uint16_bpm=True, sends_rr=False, contact_supported=False))
    async with (
        VirtualStrap("virtual", STEADY, name="Left", speed=50, profile=profiles[0]),
        VirtualStrap("virtual", STEADY, name="Right", speed=50, profile=profiles[1]),
    ):
        left, right = await asyncio.gather(_find("Left"), _find("Right"))
        assert left.address != right.address
        async with (
            BleakClient(left, backend=BleakClientBumble) as a,
            BleakClient(right, backend=BleakClientBumble) as b,
        ):
            queues: tuple[asyncio.Queue[bytes], asyncio.Queue[bytes]] = (asyncio.Queue(), asyncio.Queue())
            await a.start_notify(MEASUREMENT, lambda _c, d: queues[0].put_nowait(bytes(d)))
            await b.start_notify(MEASUREMENT, lambda _c, d: queues[1].put_nowait(bytes(d)))
            left_m = hrs.decode_measurement(await queues[0].get())
            right_raw = await queues[1].get()
    assert left_m.sensor_contact is True and left_m.rr_intervals_ms
    assert right_raw[0] & hrs.Flag.UINT16_BPM and not right_raw[0] & hrs.Flag.RR_INTERVALS
    assert hrs.decode_measurement(right_raw).sensor_contact is None
