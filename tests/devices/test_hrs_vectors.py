"""Shared 0x2A37 vectors: payloads and what devices.hrs decodes from them, read by the Python and JS suites.

`python -m tests.devices.test_hrs_vectors` writes tests/vectors/hrs_measurements.json; under pytest the
file must equal what the Python codec gives now, so the JavaScript decoder (dashboards/static/js/hrs.js,
tested by tests/js/hrs.test.mjs on the same file) can never drift from it unnoticed. Every valid payload
Bumble can express is produced by Bumble's own encoder, an implementation independent of ours.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

from bumble.profiles.heart_rate_service import HeartRateService

from devices.hrs import MalformedMeasurement, Reason, decode_measurement, encode_measurement

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "hrs_measurements.json"
BumbleMeasurement = HeartRateService.HeartRateMeasurement
RR_UNITS = (820, 1024, 0, 0xFFFF, 1, 512, 700, 900, 1100)  # 1/1024 s, exact in ms after conversion

# name -> Bumble constructor arguments (heart_rate, contact, energy_kj, rr in seconds or None)
BUMBLE_CASES: dict[str, tuple[int, bool | None, int | None, list[float] | None]] = {
    "uint8 72, contact not supported": (72, None, None, None),
    "uint8 0 bpm (strap lost the beat)": (0, None, None, None),
    "uint8 255, the largest 8-bit value": (255, None, None, None),
    "uint16 256, the smallest value needing 16 bits": (256, None, None, None),
    "uint16 65535": (0xFFFF, None, None, None),
    "contact supported and detected": (140, True, None, None),
    "contact supported, lost (not detected)": (0, False, None, None),
    "energy expended 0 kJ": (90, True, 0, None),
    "energy expended 65535 kJ": (90, True, 0xFFFF, None),
    "uint16 with energy and contact": (300, True, 513, None),
    "RR flag set with no interval (Bumble's rr=[])": (75, True, None, []),
    **{
        f"{n} RR interval{'s' if n != 1 else ''}": (60 + n, True, None, [u / 1024 for u in RR_UNITS[:n]])
        for n in range(1, 10)
    },
    "everything: uint16, contact lost, energy, 9 RR": (
        0x1234,
        False,
        4000,
        [u / 1024 for u in RR_UNITS],
    ),
}
# Valid payloads Bumble's encoder never writes, built by hand from the specification's field order.
HAND_CASES: dict[str, bytes] = {
    "uint16 format for a small value (72)": bytes([0x01]) + struct.pack("<H", 72),
    "contact-detected bit without supported: not supported": bytes([0x02, 80]),
    "reserved bits 5-7 set are ignored": bytes([0xE6, 99]),
    "uint8 with energy, no contact, 2 RR": bytes([0x18, 66]) + struct.pack("<HHH", 10, 800, 810),
}
# Payloads the specification does not allow: the decoder must refuse each, for this reason.
MALFORMED_CASES: dict[str, tuple[bytes, Reason]] = {
    "empty payload": (b"", Reason.EMPTY),
    "flags only": (bytes([0x00]), Reason.TRUNCATED_BPM),
    "uint16 flag with one value byte": (bytes([0x01, 72]), Reason.TRUNCATED_BPM),
    "energy flag, energy missing": (bytes([0x08, 72]), Reason.TRUNCATED_ENERGY),
    "energy flag, one energy byte": (bytes([0x09, 0x2C, 0x01, 0x05]), Reason.TRUNCATED_ENERGY),
    "RR list ends with an odd byte": (bytes([0x10, 72, 0x34, 0x03, 0x20]), Reason.ODD_RR),
    "bytes after bpm with the RR flag clear": (bytes([0x06, 72, 0x00]), Reason.TRAILING_BYTES),
}


def _decoded(payload: bytes) -> dict[str, Any]:
    m = decode_measurement(payload)
    return {
        "bpm": m.bpm,
        "sensor_contact": m.sensor_contact,
        "energy_expended_kj": m.energy_expended_kj,
        "rr_intervals_ms": list(m.rr_intervals_ms),
        "uint16_bpm": m.uint16_bpm,
    }


def _bumble_agrees(payload: bytes, decoded: dict[str, Any]) -> None:
    """Bumble's decoder reads the same values (RR in seconds there, exact in 1/1024 s units)."""
    theirs = BumbleMeasurement.from_bytes(payload)
    assert theirs.heart_rate == decoded["bpm"], payload.hex()
    assert theirs.sensor_contact_detected == decoded["sensor_contact"], payload.hex()
    assert theirs.energy_expended == decoded["energy_expended_kj"], payload.hex()
    assert [s * 1000 for s in theirs.rr_intervals or ()] == decoded["rr_intervals_ms"], payload.hex()


def build_vectors() -> dict[str, Any]:
    """Every case with its payload hex and what devices.hrs makes of it, cross-checked against Bumble."""
    cases: list[dict[str, Any]] = []
    for name, (bpm, contact, energy, rr_s) in BUMBLE_CASES.items():
        payload = bytes(BumbleMeasurement(bpm, contact, energy, rr_s))
        decoded = _decoded(payload)
        _bumble_agrees(payload, decoded)
        if rr_s != []:  # ours clears the RR flag when there is no interval; otherwise byte for byte equal
            assert encode_measurement(decode_measurement(payload)) == payload, name
        cases.append({"name": name, "source": "bumble", "payload": payload.hex(), "decoded": decoded})
    for name, payload in HAND_CASES.items():
        decoded = _decoded(payload)
        _bumble_agrees(payload, decoded)
        cases.append({"name": name, "source": "specification", "payload": payload.hex(), "decoded": decoded})
    for name, (payload, reason) in MALFORMED_CASES.items():
        try:
            decode_measurement(payload)
        except MalformedMeasurement as exc:
            assert exc.reason == reason, name
        else:
            raise AssertionError(f"{name}: decoded although malformed")
        error = {"reason_class": reason.name, "reason": reason.value}
        cases.append({"name": name, "source": "specification", "payload": payload.hex(), "error": error})
    return {
        "about": "0x2A37 Heart Rate Measurement payloads (hex) and their values as devices.hrs decodes them; "
        "rr_intervals_ms = units * 1000 / 1024. Regenerate: python -m tests.devices.test_hrs_vectors",
        "cases": cases,
    }


def render(vectors: dict[str, Any]) -> str:
    return json.dumps(vectors, indent=1) + "\n"


def test_the_shared_vectors_equal_what_the_python_codec_gives_now() -> None:
    assert VECTORS.is_file(), "run: python -m tests.devices.test_hrs_vectors"
    assert VECTORS.read_text() == render(build_vectors()), "vectors drifted: regenerate them"


def test_the_vectors_cover_the_format() -> None:
    cases = json.loads(VECTORS.read_text())["cases"]
    valid = [c["decoded"] for c in cases if "decoded" in c]
    assert {len(d["rr_intervals_ms"]) for d in valid} == set(range(10))
    assert {d["sensor_contact"] for d in valid} == {None, True, False}
    assert {d["uint16_bpm"] for d in valid} == {True, False}
    assert {d["energy_expended_kj"] is None for d in valid} == {True, False}
    measurement_reasons = {"EMPTY", "TRUNCATED_BPM", "TRUNCATED_ENERGY", "ODD_RR", "TRAILING_BYTES"}
    assert {c["error"]["reason_class"] for c in cases if "error" in c} == measurement_reasons


if __name__ == "__main__":
    VECTORS.parent.mkdir(parents=True, exist_ok=True)
    VECTORS.write_text(render(build_vectors()))
    print(f"wrote {VECTORS}")
