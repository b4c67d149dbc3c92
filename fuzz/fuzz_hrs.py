"""atheris: the strap codec (devices/hrs.py) on any bytes; a value that re-encodes and decodes the same, or
MalformedMeasurement. Run: .venv/bin/python fuzz/fuzz_hrs.py -max_total_time=600 (see fuzz/README.md)."""

from __future__ import annotations

import _harness

with _harness.instrumented():
    from devices.hrs import MalformedMeasurement, decode_measurement, encode_measurement


def target(data: bytes) -> None:
    try:
        measurement = decode_measurement(data)
    except MalformedMeasurement:
        return
    again = decode_measurement(encode_measurement(measurement))
    if again != measurement:
        raise AssertionError(f"round trip changed {measurement} into {again}")


if __name__ == "__main__":
    _harness.run(target, "hrs")
