"""Everything that talks to a heart-rate strap. Re-exports the light, pure core only; import
`devices.uploader`, `devices.strap` and the rest from their modules (they pull in httpx, bleak, Bumble)."""

from devices.errors import (
    DeviceError,
    InvalidMeasurement,
    MalformedMeasurement,
    SpoolError,
    SpoolFull,
    UploadError,
    UploadRefused,
    UploadUnavailable,
)
from devices.hrs import (
    BodySensorLocation,
    ControlPointOpcode,
    HeartRateMeasurement,
    decode_measurement,
    encode_measurement,
)
from devices.spool import Spool, SpooledSample

__all__ = [
    "BodySensorLocation", "ControlPointOpcode", "DeviceError", "HeartRateMeasurement", "InvalidMeasurement",
    "MalformedMeasurement", "Spool", "SpoolError", "SpoolFull", "SpooledSample", "UploadError",
    "UploadRefused", "UploadUnavailable", "decode_measurement", "encode_measurement",
]
