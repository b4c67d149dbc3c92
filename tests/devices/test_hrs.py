"""The HRS codec against the specification's traps and against Bumble's independent encoder and decoder."""

from __future__ import annotations

import struct

import pytest
from bleak.uuids import normalize_uuid_16
from bumble import gatt
from bumble.core import UUID
from bumble.profiles.heart_rate_service import HeartRateService
from hypothesis import given, settings
from hypothesis import strategies as st

from devices import hrs
from devices.errors import DeviceError, InvalidMeasurement
from devices.hrs import (
    BodySensorLocation,
    ControlPointOpcode,
    HeartRateMeasurement,
    MalformedMeasurement,
    Reason,
    decode_measurement,
    encode_measurement,
)

BumbleMeasurement = HeartRateService.HeartRateMeasurement
TICK_MS = 1000 / 1024  # one RR unit

units16 = st.integers(0, 0xFFFF)
measurements = st.builds(
    HeartRateMeasurement,
    bpm=units16,
    sensor_contact=st.sampled_from([None, False, True]),
    energy_expended_kj=st.none() | units16,
    rr_intervals_ms=st.lists(units16, max_size=9).map(lambda us: tuple(u * 1000 / 1024 for u in us)),
    uint16_bpm=st.booleans(),
)


def wire(flags: int, bpm: int, energy: int | None = None, rr_units: tuple[int, ...] = ()) -> bytes:
    """Build a payload by hand from the specification's field order, independent of the code under test."""
    body = struct.pack("<H" if flags & 0x01 else "<B", bpm)
    if flags & 0x08:
        body += struct.pack("<H", energy or 0)
    return bytes([flags]) + body + struct.pack(f"<{len(rr_units)}H", *rr_units)


def rr_close(ours_ms: tuple[float, ...], bumble_s: object) -> bool:
    """RR lists agree within one 1/1024 s tick (Bumble works in seconds, we in ms)."""
    theirs_ms = [s * 1000 for s in (bumble_s or ())]  # type: ignore[attr-defined]
    if len(ours_ms) != len(theirs_ms):
        return False
    return all(abs(a - b) <= TICK_MS for a, b in zip(ours_ms, theirs_ms, strict=True))


# --- cross-checks with Bumble ------------------------------------------------------------------------

@settings(max_examples=400)
@given(measurements)
def test_our_encoder_is_read_identically_by_bumbles_decoder(m: HeartRateMeasurement) -> None:
    theirs = BumbleMeasurement.from_bytes(encode_measurement(m))
    assert theirs.heart_rate == m.bpm
    assert theirs.sensor_contact_detected == m.sensor_contact
    assert theirs.energy_expended == m.energy_expended_kj
    assert rr_close(m.rr_intervals_ms, theirs.rr_intervals)


@settings(max_examples=400)
@given(
    bpm=units16,
    contact=st.sampled_from([None, False, True]),
    energy=st.none() | units16,
    rr_units=st.none() | st.lists(st.integers(0, 0xFFFF), max_size=9),
)
def test_bumbles_encoder_is_read_identically_by_our_decoder(
    bpm: int, contact: bool | None, energy: int | None, rr_units: list[int] | None
) -> None:
    rr_s = None if rr_units is None else [u / 1024 for u in rr_units]
    payload = bytes(BumbleMeasurement(bpm, contact, energy, rr_s))
    ours = decode_measurement(payload)
    assert (ours.bpm, ours.sensor_contact, ours.energy_expended_kj) == (bpm, contact, energy)
    assert rr_close(ours.rr_intervals_ms, rr_s)


@settings(max_examples=600)
@given(flags=st.integers(0, 255), bpm=units16, energy=units16, rr_units=st.lists(units16, max_size=9))
def test_every_flags_byte_decodes_like_bumble(flags: int, bpm: int, energy: int, rr_units: list[int]) -> None:
    rr = tuple(rr_units) if flags & 0x10 else ()
    payload = wire(flags, bpm if flags & 0x01 else bpm & 0xFF, energy, rr)
    ours, theirs = decode_measurement(payload), BumbleMeasurement.from_bytes(payload)
    assert ours.bpm == theirs.heart_rate
    assert ours.sensor_contact == theirs.sensor_contact_detected
    assert ours.energy_expended_kj == theirs.energy_expended
    assert rr_close(ours.rr_intervals_ms, theirs.rr_intervals)
    assert ours.uint16_bpm == bool(flags & 0x01)


@pytest.mark.parametrize("flags", range(256))
def test_each_of_the_256_flags_bytes_decodes_and_re_encodes_canonically(flags: int) -> None:
    payload = wire(flags, 300 if flags & 0x01 else 72, 513, (800, 1023) if flags & 0x10 else ())
    m = decode_measurement(payload)
    canonical = flags & 0x1F  # reserved bits 5-7 dropped
    if canonical & 0b110 == 0b010:  # "contact detected" without "supported" means not supported
        canonical &= ~0b010
    assert encode_measurement(m) == bytes([canonical]) + payload[1:]


@settings(max_examples=400)
@given(measurements)
def test_our_round_trip_is_exact(m: HeartRateMeasurement) -> None:
    back = decode_measurement(encode_measurement(m))
    assert back == m
    assert back.uint16_bpm == (m.uint16_bpm or m.bpm > 255)
    assert bytes(HeartRateMeasurement.from_bytes(bytes(m))) == bytes(m)


@given(st.lists(st.floats(0, 63_999.0), max_size=9))
def test_any_rr_in_ms_is_encoded_to_the_nearest_tick(rr_ms: list[float]) -> None:
    back = decode_measurement(encode_measurement(HeartRateMeasurement(60, rr_intervals_ms=tuple(rr_ms))))
    assert all(abs(a - b) <= TICK_MS / 2 for a, b in zip(back.rr_intervals_ms, rr_ms, strict=True))


def test_rr_conversion_is_units_times_1000_over_1024() -> None:
    m = decode_measurement(wire(0x10, 60, rr_units=(1024, 1, 0, 0xFFFF)))
    assert m.rr_intervals_ms == (1000.0, 0.9765625, 0.0, 0xFFFF * 1000 / 1024)


# --- traps real straps set -----------------------------------------------------------------------------

def test_several_rr_intervals_in_one_notification_come_oldest_first() -> None:
    m = decode_measurement(wire(0x16, 75, rr_units=(820, 800, 780, 760)))
    assert m.rr_intervals_ms == tuple(u * 1000 / 1024 for u in (820, 800, 780, 760))


@pytest.mark.parametrize("payload", [wire(0x06, 75), wire(0x16, 75)], ids=["flag-clear", "flag-set-empty"])
def test_notifications_without_rr_intervals(payload: bytes) -> None:
    m = decode_measurement(payload)
    assert (m.bpm, m.rr_intervals_ms) == (75, ())


def test_energy_field_shifts_the_rr_list() -> None:
    m = decode_measurement(wire(0x18, 140, energy=0x0201, rr_units=(512,)))
    assert (m.bpm, m.energy_expended_kj, m.rr_intervals_ms) == (140, 0x0201, (500.0,))
    # The same bytes read without the energy flag would be three RR values; they must not be.
    assert len(decode_measurement(bytes([0x10]) + m.__bytes__()[1:]).rr_intervals_ms) == 2


@pytest.mark.parametrize(
    ("flags", "contact"),
    [(0x00, None), (0x02, None), (0x04, False), (0x06, True)],
    ids=["not-supported", "detected-bit-without-support", "no-contact", "contact"],
)
def test_contact_bits_not_supported_is_none_and_no_contact_is_false(flags: int, contact: bool | None) -> None:
    assert decode_measurement(wire(flags, 70)).sensor_contact is contact


def test_uint16_format_for_a_small_bpm_is_read_and_kept() -> None:
    payload = wire(0x17, 62, rr_units=(1000,))
    m = decode_measurement(payload)
    assert (m.bpm, m.uint16_bpm) == (62, True)
    assert encode_measurement(m) == payload
    assert m == HeartRateMeasurement(62, True, None, (1000 * 1000 / 1024,))  # format is not part of equality


def test_reserved_bits_are_ignored() -> None:
    assert decode_measurement(wire(0xE6, 80)) == decode_measurement(wire(0x06, 80))


@pytest.mark.parametrize("kind", [bytes, bytearray, memoryview])
def test_bleak_buffer_types_are_accepted(kind: type) -> None:
    assert decode_measurement(kind(wire(0x10, 70, rr_units=(900,)))).bpm == 70


def test_encoder_chooses_uint16_above_255() -> None:
    assert encode_measurement(HeartRateMeasurement(256)) == b"\x01\x00\x01"
    assert encode_measurement(HeartRateMeasurement(255)) == b"\x00\xff"
    assert encode_measurement(HeartRateMeasurement(255, uint16_bpm=True)) == b"\x01\xff\x00"


# --- malformed payloads --------------------------------------------------------------------------------

MALFORMED = [
    (b"", Reason.EMPTY),
    (b"\x00", Reason.TRUNCATED_BPM),
    (b"\x01\x48", Reason.TRUNCATED_BPM),
    (b"\x1f", Reason.TRUNCATED_BPM),
    (b"\x08\x48", Reason.TRUNCATED_ENERGY),
    (b"\x08\x48\x01", Reason.TRUNCATED_ENERGY),
    (b"\x09\x48\x00\x01", Reason.TRUNCATED_ENERGY),
    (b"\x10\x48\x01", Reason.ODD_RR),
    (b"\x10\x48\x00\x04\x00", Reason.ODD_RR),
    (b"\x18\x48\x01\x00\x00\x04\x05", Reason.ODD_RR),
    (b"\x00\x48\x00", Reason.TRAILING_BYTES),
    (b"\x08\x48\x00\x00\x00\x04", Reason.TRAILING_BYTES),
    (b"\xe1\x48\x00\x00", Reason.TRAILING_BYTES),
]


@pytest.mark.parametrize(("payload", "reason"), MALFORMED, ids=[p.hex() or "empty" for p, _ in MALFORMED])
def test_malformed_payloads_are_rejected_with_their_reason(payload: bytes, reason: Reason) -> None:
    with pytest.raises(MalformedMeasurement) as caught:
        decode_measurement(bytearray(payload))
    assert caught.value.reason is reason
    assert caught.value.payload == payload and type(caught.value.payload) is bytes
    assert isinstance(caught.value, ValueError) and isinstance(caught.value, DeviceError)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"bpm": -1}, "bpm"),
        ({"bpm": 65536}, "bpm"),
        ({"bpm": 60, "energy_expended_kj": 65536}, "energy_expended_kj"),
        ({"bpm": 60, "rr_intervals_ms": (-1.0,)}, "rr_intervals_ms"),
        ({"bpm": 60, "rr_intervals_ms": (64000.0,)}, "rr_intervals_ms"),
    ],
)
def test_unencodable_measurements_are_refused_on_construction(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidMeasurement) as caught:
        HeartRateMeasurement(**kwargs)  # type: ignore[arg-type]
    assert caught.value.field == field


def test_rr_list_is_frozen_into_a_tuple() -> None:
    assert HeartRateMeasurement(60, rr_intervals_ms=[1000.0]).rr_intervals_ms == (1000.0,)  # type: ignore[arg-type]


# --- body sensor location, control point, UUIDs ---------------------------------------------------------

@pytest.mark.parametrize("location", list(BodySensorLocation))
def test_body_sensor_location_round_trip_matches_bumble(location: BodySensorLocation) -> None:
    payload = hrs.encode_body_sensor_location(location)
    assert hrs.decode_body_sensor_location(payload) is location
    assert HeartRateService.BodySensorLocation(payload[0]).name == location.name


@pytest.mark.parametrize(
    ("payload", "reason"),
    [(b"", Reason.WRONG_LENGTH), (b"\x01\x01", Reason.WRONG_LENGTH), (b"\x07", Reason.RESERVED_LOCATION),
     (b"\xff", Reason.RESERVED_LOCATION)],
)
def test_body_sensor_location_rejects(payload: bytes, reason: Reason) -> None:
    with pytest.raises(MalformedMeasurement) as caught:
        hrs.decode_body_sensor_location(payload)
    assert caught.value.reason is reason


def test_control_point_reset_matches_bumble() -> None:
    assert hrs.encode_control_point() == bytes([HeartRateService.RESET_ENERGY_EXPENDED])
    assert hrs.decode_control_point(b"\x01") is ControlPointOpcode.RESET_ENERGY_EXPENDED
    assert hrs.CONTROL_POINT_NOT_SUPPORTED == HeartRateService.CONTROL_POINT_NOT_SUPPORTED


@pytest.mark.parametrize(
    ("payload", "reason"),
    [(b"", Reason.WRONG_LENGTH), (b"\x01\x00", Reason.WRONG_LENGTH), (b"\x00", Reason.UNSUPPORTED_OPCODE),
     (b"\x02", Reason.UNSUPPORTED_OPCODE)],
)
def test_control_point_rejects(payload: bytes, reason: Reason) -> None:
    with pytest.raises(MalformedMeasurement) as caught:
        hrs.decode_control_point(payload)
    assert caught.value.reason is reason


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (hrs.HEART_RATE_SERVICE_UUID, gatt.GATT_HEART_RATE_SERVICE),
        (hrs.HEART_RATE_MEASUREMENT_UUID, gatt.GATT_HEART_RATE_MEASUREMENT_CHARACTERISTIC),
        (hrs.BODY_SENSOR_LOCATION_UUID, gatt.GATT_BODY_SENSOR_LOCATION_CHARACTERISTIC),
        (hrs.HEART_RATE_CONTROL_POINT_UUID, gatt.GATT_HEART_RATE_CONTROL_POINT_CHARACTERISTIC),
        (hrs.BATTERY_SERVICE_UUID, gatt.GATT_BATTERY_SERVICE),
        (hrs.BATTERY_LEVEL_UUID, gatt.GATT_BATTERY_LEVEL_CHARACTERISTIC),
        (hrs.DEVICE_INFORMATION_SERVICE_UUID, gatt.GATT_DEVICE_INFORMATION_SERVICE),
        (hrs.MANUFACTURER_NAME_UUID, gatt.GATT_MANUFACTURER_NAME_STRING_CHARACTERISTIC),
        (hrs.MODEL_NUMBER_UUID, gatt.GATT_MODEL_NUMBER_STRING_CHARACTERISTIC),
        (hrs.SERIAL_NUMBER_UUID, gatt.GATT_SERIAL_NUMBER_STRING_CHARACTERISTIC),
        (hrs.FIRMWARE_REVISION_UUID, gatt.GATT_FIRMWARE_REVISION_STRING_CHARACTERISTIC),
    ],
)
def test_uuid_constants_match_bumble_and_bleak(ours: int, theirs: UUID) -> None:
    assert UUID.from_16_bits(ours) == theirs
    assert hrs.bluetooth_uuid(ours) == normalize_uuid_16(ours)
