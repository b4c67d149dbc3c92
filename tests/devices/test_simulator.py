"""The virtual strap: recordings and workouts it plays, and every fault, observed through bleak."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from bleak import BleakClient, BleakScanner

from devices import hrs
from devices.bumble_backend import BleakClientBumble, BleakScannerBumble
from devices.errors import MalformedMeasurement, UnknownTransport
from devices.simulator import (
    StrapProfile,
    Tick,
    VirtualStrap,
    generate_workout,
    load_recording,
    run_strap,
    ticks_from_rr,
)

MEASUREMENT = hrs.bluetooth_uuid(hrs.HEART_RATE_MEASUREMENT_UUID)
STEADY = [Tick(i * 1.0, 120, (500.0, 500.0)) for i in range(600)]


# --- scripts (pure) -------------------------------------------------------------------------------


def test_csv_seconds_with_rr(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text("t,bpm,rr_ms\n0,60,1000\n1.5,61,980 990\n3,62,\n")
    assert load_recording(path) == [Tick(0, 60, (1000.0,)), Tick(1.5, 61, (980.0, 990.0)), Tick(3, 62, ())]


def test_csv_iso_and_epoch_ms_times_are_relative(tmp_path: Path) -> None:
    iso = tmp_path / "iso.csv"
    iso.write_text("t,bpm\n2024-05-01T10:00:00+02:00,70\n2024-05-01T08:00:02Z,71\n")
    epoch = tmp_path / "epoch.csv"
    epoch.write_text("t,bpm\n1714550400000,70\n1714550400500,71\n")
    assert [t.t_s for t in load_recording(iso)] == [0.0, 2.0]
    assert [t.t_s for t in load_recording(epoch)] == [0.0, 0.5]


def test_rr_text_groups_beats_per_second(tmp_path: Path) -> None:
    path = tmp_path / "rr.txt"
    path.write_text("\n".join(["500"] * 8) + "\n")
    ticks = load_recording(path)
    assert [t.rr_ms for t in ticks] == [(500.0, 500.0)] * 4
    assert [t.bpm for t in ticks] == [120] * 4 and [t.t_s for t in ticks] == [1.0, 2.0, 3.0, 4.0]


def test_empty_recording_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_text("t,bpm\n")
    with pytest.raises(ValueError, match="no heart-rate rows"):
        load_recording(path)


def test_shared_recordings_load(shared_data: Path) -> None:
    fit = load_recording(shared_data / "fitparse_fenix2_run.csv")
    assert (
        len(fit) >= 2800
        and fit[0].t_s == 0
        and 69 <= min(t.bpm for t in fit)
        and max(t.bpm for t in fit) <= 178
    )
    assert all(b.t_s > a.t_s for a, b in zip(fit, fit[1:], strict=False))
    rest = load_recording(shared_data / "hrv_supine_rest_rri.txt")
    assert sum(len(t.rr_ms) for t in rest) >= 900 and all(45 <= t.bpm <= 80 for t in rest)
    cycling = load_recording(shared_data / "hrv_submax_cycling_rri.hrm")
    assert 40 * 60 < cycling[-1].t_s < 45 * 60


def test_generated_workout_is_plausible() -> None:
    ticks = generate_workout(seed=3)
    bpm = [t.bpm for t in ticks]
    assert 55 <= min(bpm) <= 70 and 155 <= max(bpm) <= 180
    assert bpm[0] < 70 and bpm[-1] < 95  # starts at rest, ends recovering
    for tick in ticks:
        assert tick.rr_ms and abs(60000 / (sum(tick.rr_ms) / len(tick.rr_ms)) - tick.bpm) <= 1
    assert [t.t_s for t in ticks] == [float(i) for i in range(1, len(ticks) + 1)]  # 1 Hz, like a strap
    assert generate_workout(seed=3) == ticks and generate_workout(seed=4) != ticks


def test_ticks_from_rr_notifies_each_second_and_drops_an_incomplete_last_one() -> None:
    assert ticks_from_rr([400.0, 400.0, 400.0]) == [Tick(1.0, 150, (400.0, 400.0))]
    assert ticks_from_rr([400.0]) == []
    beats_at_06_21_25_s = [600.0, 1500.0, 400.0]  # no beat between 1 and 2 s: bpm kept, no RR
    assert ticks_from_rr(beats_at_06_21_25_s) == [Tick(1.0, 100, (600.0,)), Tick(2.0, 100, ())]


def test_os_transport_cannot_host_a_strap() -> None:
    with pytest.raises(UnknownTransport):
        VirtualStrap("os")


# --- faults over the air --------------------------------------------------------------------------


async def _connected(strap: VirtualStrap):
    device = await BleakScanner.find_device_by_name(
        strap.name, timeout=5, backend=BleakScannerBumble, bumble={"transport": "virtual"}
    )
    client = BleakClient(device, backend=BleakClientBumble)
    await client.connect()
    received: asyncio.Queue[bytes] = asyncio.Queue()
    await client.start_notify(MEASUREMENT, lambda _c, d: received.put_nowait(bytes(d)))
    return client, received


@pytest.mark.anyio
async def test_faults_are_seen_by_the_central() -> None:
    async with VirtualStrap("virtual", STEADY, name="Faulty", speed=20) as strap:
        client, received = await _connected(strap)
        try:
            async with asyncio.timeout(10):
                assert hrs.decode_measurement(await received.get()).bpm == 120
                strap.set_profile(uint16_bpm=True, energy_expended=True)
                raw = await received.get()
                m = hrs.decode_measurement(raw)
                assert raw[0] & hrs.Flag.UINT16_BPM and m.bpm == 120 and m.energy_expended_kj is not None
                assert len(m.rr_intervals_ms) == 2  # several RR intervals in one notification
                strap.set_off_body()
                m = hrs.decode_measurement(await received.get())
                assert (m.bpm, m.sensor_contact, m.rr_intervals_ms) == (0, False, ())
                strap.set_off_body(False)
                strap.inject_malformed()
                with pytest.raises(MalformedMeasurement):
                    hrs.decode_measurement(await received.get())
                assert hrs.decode_measurement(await received.get()).sensor_contact is True
        finally:
            await client.disconnect()
    assert strap.counters.malformed_sent == 1
    assert strap.counters.notifications_sent == len(strap.counters.sent) >= 4


@pytest.mark.anyio
async def test_speed_factor_paces_the_script() -> None:
    ticks = [Tick(i * 1.0, 60) for i in range(1000)]
    async with VirtualStrap(
        "virtual", ticks, name="Fast", speed=50, profile=StrapProfile(sends_rr=False)
    ) as strap:
        _client, received = await _connected(strap)
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(5):
            await received.get()
            start = loop.time()
            await received.get()
            await received.get()
        elapsed_s = loop.time() - start
        await _client.disconnect()
    assert 0.02 <= elapsed_s <= 0.2  # two ticks of 1 s at 50x: 0.04 s


@pytest.mark.anyio
async def test_run_strap_stops_on_request(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text("t,bpm\n" + "".join(f"{i},{70 + i}\n" for i in range(100)))
    stop = asyncio.Event()
    task = asyncio.create_task(run_strap("virtual", path, 10.0, "Cli Strap", stop))
    device = await BleakScanner.find_device_by_name(
        "Cli Strap", timeout=5, backend=BleakScannerBumble, bumble={"transport": "virtual"}
    )
    assert device is not None
    stop.set()
    async with asyncio.timeout(2):
        await task
