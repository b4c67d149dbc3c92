"""Pure codec of the Bluetooth Heart Rate Service (HRS 1.0): 0x2A37 measurement, 0x2A38, 0x2A39.

No I/O, no clock, no logging: bytes in, frozen values out. Decoding is table-driven (one precomputed
layout per flags byte, precompiled structs) because it runs once per notification on every strap.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass, field

from devices.errors import InvalidMeasurement, MalformedMeasurement

__all__ = [
    "BATTERY_LEVEL_UUID", "BATTERY_SERVICE_UUID", "BODY_SENSOR_LOCATION_UUID", "CONTROL_POINT_NOT_SUPPORTED",
    "DEVICE_INFORMATION_SERVICE_UUID", "FIRMWARE_REVISION_UUID", "HEART_RATE_CONTROL_POINT_UUID",
    "HEART_RATE_MEASUREMENT_UUID", "HEART_RATE_SERVICE_UUID", "MANUFACTURER_NAME_UUID", "MODEL_NUMBER_UUID",
    "MS_PER_RR_UNIT", "SERIAL_NUMBER_UUID", "BodySensorLocation", "ControlPointOpcode", "Flag",
    "HeartRateMeasurement", "MalformedMeasurement", "Reason", "bluetooth_uuid", "decode_body_sensor_location",
    "decode_control_point", "decode_measurement", "encode_body_sensor_location", "encode_control_point",
    "encode_measurement",
]

# --- UUIDs (Bluetooth Assigned Numbers, 16-bit) ---------------------------------------------------
HEART_RATE_SERVICE_UUID = 0x180D
HEART_RATE_MEASUREMENT_UUID = 0x2A37
BODY_SENSOR_LOCATION_UUID = 0x2A38
HEART_RATE_CONTROL_POINT_UUID = 0x2A39
BATTERY_SERVICE_UUID = 0x180F
BATTERY_LEVEL_UUID = 0x2A19
DEVICE_INFORMATION_SERVICE_UUID = 0x180A
MODEL_NUMBER_UUID = 0x2A24
SERIAL_NUMBER_UUID = 0x2A25
FIRMWARE_REVISION_UUID = 0x2A26
MANUFACTURER_NAME_UUID = 0x2A29

_BASE_UUID_SUFFIX = "-0000-1000-8000-00805f9b34fb"


def bluetooth_uuid(uuid16: int) -> str:
    """Expand a 16-bit assigned number to the 128-bit string form bleak and the OS stacks use."""
    return f"0000{uuid16:04x}{_BASE_UUID_SUFFIX}"


# --- Heart Rate Measurement 0x2A37 ----------------------------------------------------------------

# RR intervals travel in 1/1024 s. 1000/1024 == 0.9765625 is exact in binary, so `units * MS_PER_RR_UNIT`
# rounds exactly like `units * 1000 / 1024` with one multiplication.
MS_PER_RR_UNIT = 1000 / 1024
_MAX_UINT16 = 0xFFFF


class Flag(enum.IntFlag):
    """Bits of the measurement's flags byte (bits 5-7 are reserved and ignored on decode)."""

    UINT16_BPM = 0x01
    CONTACT_DETECTED = 0x02
    CONTACT_SUPPORTED = 0x04
    ENERGY_EXPENDED = 0x08
    RR_INTERVALS = 0x10


class Reason(enum.StrEnum):
    """Why a payload was rejected; a `str`, so `MalformedMeasurement.reason` compares without parsing."""

    EMPTY = "empty payload"
    TRUNCATED_BPM = "truncated heart rate value"
    TRUNCATED_ENERGY = "truncated energy expended field"
    ODD_RR = "RR interval list ends with an odd byte"
    TRAILING_BYTES = "bytes after the last field although the RR-interval flag is clear"
    WRONG_LENGTH = "wrong length for this characteristic"
    RESERVED_LOCATION = "reserved body sensor location"
    UNSUPPORTED_OPCODE = "unsupported heart rate control point opcode"


@dataclass(frozen=True, slots=True)
class HeartRateMeasurement:
    """One 0x2A37 notification in our units; `uint16_bpm` only asks the encoder for the 16-bit format."""

    bpm: int
    sensor_contact: bool | None = None  # None: the strap does not support contact detection
    energy_expended_kj: int | None = None
    rr_intervals_ms: tuple[float, ...] = ()  # oldest first
    uint16_bpm: bool = field(default=False, compare=False)

    def __post_init__(self) -> None:
        """Refuse values the wire format cannot carry, so encoding never fails later."""
        if not 0 <= self.bpm <= _MAX_UINT16:
            raise InvalidMeasurement("bpm", self.bpm)
        if self.energy_expended_kj is not None and not 0 <= self.energy_expended_kj <= _MAX_UINT16:
            raise InvalidMeasurement("energy_expended_kj", self.energy_expended_kj)
        if not isinstance(self.rr_intervals_ms, tuple):
            object.__setattr__(self, "rr_intervals_ms", tuple(self.rr_intervals_ms))
        for rr_ms in self.rr_intervals_ms:
            if not 0 <= _rr_units(rr_ms) <= _MAX_UINT16:
                raise InvalidMeasurement("rr_intervals_ms", rr_ms)

    @classmethod
    def from_bytes(cls, data: bytes) -> HeartRateMeasurement:
        """Bumble-style alias of `decode_measurement`."""
        return decode_measurement(data)

    def __bytes__(self) -> bytes:
        """Bumble-style alias of `encode_measurement`."""
        return encode_measurement(self)


def _rr_units(rr_ms: float) -> int:
    """Milliseconds to 1/1024 s units, rounded to nearest so decode/encode round trips are exact."""
    return round(rr_ms * 1024 / 1000)


_U16 = struct.Struct("<H")
_HEAD_8 = struct.Struct("<BB")  # flags, bpm
_HEAD_16 = struct.Struct("<BH")
_HEAD_8_ENERGY = struct.Struct("<BBH")  # flags, bpm, energy
_HEAD_16_ENERGY = struct.Struct("<BHH")
_RR_STRUCTS = [struct.Struct(f"<{n}H") for n in range(256)]  # by count; longer lists built on demand
_CONTACT_BY_BITS = (None, None, False, True)  # bits 1-2: 0/1 not supported, 2 no contact, 3 contact


def _layout(flags: int) -> tuple[struct.Struct, bool | None, bool, bool, bool]:
    """Head struct, contact, has energy, has RR, uint16: everything decode needs from one flags byte."""
    uint16 = bool(flags & Flag.UINT16_BPM)
    energy = bool(flags & Flag.ENERGY_EXPENDED)
    if energy:
        head = _HEAD_16_ENERGY if uint16 else _HEAD_8_ENERGY
    else:
        head = _HEAD_16 if uint16 else _HEAD_8
    return head, _CONTACT_BY_BITS[(flags >> 1) & 0b11], energy, bool(flags & Flag.RR_INTERVALS), uint16


_LAYOUTS = tuple(_layout(flags) for flags in range(256))
# Slot descriptors set fields directly: a decoded value is in range by construction, so decode skips
# __init__/__post_init__ (a third of its time) without going around the frozen contract for callers.
_new = object.__new__
_set_bpm, _set_contact, _set_energy, _set_rr, _set_uint16 = (
    HeartRateMeasurement.__dict__[name].__set__
    for name in ("bpm", "sensor_contact", "energy_expended_kj", "rr_intervals_ms", "uint16_bpm")
)


def decode_measurement(payload: bytes) -> HeartRateMeasurement:
    """Decode one 0x2A37 value (bytes, bytearray or memoryview).

    Args:
        payload: the notification value exactly as the strap sent it.
    Returns:
        The measurement, RR intervals oldest first and converted from 1/1024 s to ms.
    Raises:
        MalformedMeasurement: empty, truncated, odd RR byte or stray bytes; `.reason` is a `Reason`.
    """
    try:
        head, contact, has_energy, has_rr, uint16 = _LAYOUTS[payload[0]]
        fields = head.unpack_from(payload)
    except IndexError:
        raise MalformedMeasurement(Reason.EMPTY, payload) from None
    except struct.error:
        reason = Reason.TRUNCATED_BPM if len(payload) < (3 if uint16 else 2) else Reason.TRUNCATED_ENERGY
        raise MalformedMeasurement(reason, bytes(payload)) from None
    extra = len(payload) - head.size
    if not extra:  # also RR flag set with no interval: Bumble's own encoder sends that for rr_intervals=()
        rr_ms: tuple[float, ...] = ()
    elif not has_rr:
        raise MalformedMeasurement(Reason.TRAILING_BYTES, bytes(payload))
    elif extra & 1:
        raise MalformedMeasurement(Reason.ODD_RR, bytes(payload))
    else:
        count = extra >> 1
        rr_struct = _RR_STRUCTS[count] if count < 256 else struct.Struct(f"<{count}H")
        rr_ms = tuple(map(MS_PER_RR_UNIT.__mul__, rr_struct.unpack_from(payload, head.size)))
    m = _new(HeartRateMeasurement)
    _set_bpm(m, fields[1])
    _set_contact(m, contact)
    _set_energy(m, fields[2] if has_energy else None)
    _set_rr(m, rr_ms)
    _set_uint16(m, uint16)
    return m


def encode_measurement(m: HeartRateMeasurement) -> bytes:
    """Encode a measurement for a simulated strap: uint16 when bpm > 255 or `m.uint16_bpm` asks for it.

    Args:
        m: the measurement; RR intervals are rounded to the nearest 1/1024 s.
    Returns:
        The 0x2A37 value, flags first; the RR flag is set only when there are intervals.
    """
    uint16 = m.uint16_bpm or m.bpm > 0xFF
    flags = Flag.UINT16_BPM if uint16 else 0
    if m.sensor_contact is not None:
        flags |= Flag.CONTACT_SUPPORTED | (Flag.CONTACT_DETECTED if m.sensor_contact else 0)
    parts = [_U16.pack(m.bpm) if uint16 else bytes((m.bpm,))]
    if m.energy_expended_kj is not None:
        flags |= Flag.ENERGY_EXPENDED
        parts.append(_U16.pack(m.energy_expended_kj))
    if m.rr_intervals_ms:
        flags |= Flag.RR_INTERVALS
        parts.append(struct.pack(f"<{len(m.rr_intervals_ms)}H", *map(_rr_units, m.rr_intervals_ms)))
    return bytes((int(flags),)) + b"".join(parts)


# --- Body Sensor Location 0x2A38 ------------------------------------------------------------------


class BodySensorLocation(enum.IntEnum):
    """Where the sensor sits (values 7-255 are reserved)."""

    OTHER = 0
    CHEST = 1
    WRIST = 2
    FINGER = 3
    HAND = 4
    EAR_LOBE = 5
    FOOT = 6


def decode_body_sensor_location(payload: bytes) -> BodySensorLocation:
    """Decode a 0x2A38 read.

    Raises:
        MalformedMeasurement: not exactly one byte, or a reserved value.
    """
    if len(payload) != 1:
        raise MalformedMeasurement(Reason.WRONG_LENGTH, bytes(payload))
    try:
        return BodySensorLocation(payload[0])
    except ValueError:
        raise MalformedMeasurement(Reason.RESERVED_LOCATION, bytes(payload)) from None


def encode_body_sensor_location(location: BodySensorLocation) -> bytes:
    """Encode a 0x2A38 value for a simulated strap."""
    return bytes((BodySensorLocation(location),))


# --- Heart Rate Control Point 0x2A39 --------------------------------------------------------------

CONTROL_POINT_NOT_SUPPORTED = 0x80  # ATT error a strap answers to any other opcode (HRS 1.0, 3.3.1)


class ControlPointOpcode(enum.IntEnum):
    """Opcodes a client may write to 0x2A39 (only one is defined)."""

    RESET_ENERGY_EXPENDED = 0x01


def encode_control_point(opcode: ControlPointOpcode = ControlPointOpcode.RESET_ENERGY_EXPENDED) -> bytes:
    """Encode a 0x2A39 write (the client side: ask the strap to restart its energy count)."""
    return bytes((ControlPointOpcode(opcode),))


def decode_control_point(payload: bytes) -> ControlPointOpcode:
    """Decode a 0x2A39 write on the strap side.

    Raises:
        MalformedMeasurement: not one byte, or an opcode other than reset; answer CONTROL_POINT_NOT_SUPPORTED.
    """
    if len(payload) != 1:
        raise MalformedMeasurement(Reason.WRONG_LENGTH, bytes(payload))
    try:
        return ControlPointOpcode(payload[0])
    except ValueError:
        raise MalformedMeasurement(Reason.UNSUPPORTED_OPCODE, bytes(payload)) from None
