"""One error root for everything that talks to a strap or moves its data; leaves carry data."""

from __future__ import annotations


class DeviceError(Exception):
    """Root of every error raised by the `devices` package, so callers can catch one type."""


# --- codec (devices/hrs.py) -----------------------------------------------------------------------


class MalformedMeasurement(DeviceError, ValueError):
    """A characteristic value the Bluetooth specification does not allow; counted and skipped, never fatal."""

    def __init__(self, reason: str, payload: bytes) -> None:
        super().__init__(f"{reason} (payload {payload.hex() or 'empty'})")
        self.reason = reason
        self.payload = bytes(payload)


class InvalidMeasurement(DeviceError, ValueError):
    """A measurement built in Python with a field the wire format cannot carry (e.g. bpm above 65535)."""

    def __init__(self, field: str, value: object) -> None:
        super().__init__(f"{field}={value!r} cannot be encoded")
        self.field = field
        self.value = value


# --- spool (devices/spool.py) ---------------------------------------------------------------------


class SpoolError(DeviceError, OSError):
    """The spool file cannot be opened or written (I/O error, not a spool, newer schema)."""


class SpoolFull(SpoolError):
    """The spool cannot take more samples (its bound or the disk); nothing already stored was touched."""

    def __init__(self, path: str, max_bytes: int | None, *, disk_full: bool) -> None:
        where = "the disk is full" if disk_full else f"it reached its bound of {max_bytes} bytes"
        super().__init__(f"spool {path} is full: {where}; let it upload or free space, then retry")
        self.path = path
        self.max_bytes = max_bytes
        self.disk_full = disk_full


# --- uploader (devices/uploader.py) ---------------------------------------------------------------


class UploadError(DeviceError):
    """Root of the uploader's errors."""


class UploadRefused(UploadError):
    """The service refused the batch for a reason retrying cannot fix (bad token, unknown device)."""

    def __init__(self, status_code: int, url: str, detail: str) -> None:
        super().__init__(f"{url} answered {status_code}: {detail}")
        self.status_code = status_code
        self.url = url
        self.detail = detail


class UploadUnavailable(UploadError):
    """The service could not take the batch now (down, overloaded, timed out); retry later."""

    def __init__(self, url: str, detail: str, *, status_code: int | None = None,
                 retry_after_s: float | None = None) -> None:
        super().__init__(f"{url} unavailable: {detail}")
        self.url = url
        self.detail = detail
        self.status_code = status_code
        self.retry_after_s = retry_after_s


# --- radio (devices/transport.py, devices/strap.py) -----------------------------------------------


class UnknownTransport(DeviceError, ValueError):
    """A transport string that is neither `os`, `bumble:<bumble transport>` nor `virtual[:NAME]`."""

    def __init__(self, text: str) -> None:
        super().__init__(f"unknown transport {text!r}: expected os, bumble:<bumble transport> or virtual")
        self.text = text


class StrapNotFound(DeviceError, LookupError):
    """No strap advertising the Heart Rate service matched (address, name, or any) within the scan."""

    def __init__(self, transport: str, *, address: str | None, name: str | None, timeout_s: float) -> None:
        wanted = address or (f"named {name!r}" if name else "advertising 0x180D")
        super().__init__(f"no heart-rate strap {wanted} found on {transport} within {timeout_s:g} s")
        self.transport = transport
        self.address = address
        self.name = name
        self.timeout_s = timeout_s


class TransportUnavailable(DeviceError, ConnectionError):
    """A Bumble transport could not be opened, or its controller never answered; names the transport."""

    def __init__(self, transport: str, reason: str) -> None:
        super().__init__(f"cannot open Bluetooth transport {transport!r}: {reason}")
        self.transport = transport
        self.reason = reason


class StackUnavailable(DeviceError, OSError):
    """The OS Bluetooth stack cannot be used here; `missing` says what, `hint` what to do about it."""

    def __init__(self, missing: str, hint: str) -> None:
        super().__init__(f"{missing}: {hint}")
        self.missing = missing
        self.hint = hint
