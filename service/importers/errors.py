"""One error root for imports; every leaf names the file and the place in it where reading stopped."""

from __future__ import annotations

from service.errors import ChinUpError


class ImportFailed(ChinUpError, ValueError):
    """A file that cannot be imported; nothing of it was stored."""

    status = 422

    def __init__(self, file_name: str, place: str, reason: str) -> None:
        super().__init__(f"{file_name}: {reason} (at {place})")
        self.file_name = file_name
        self.place = place
        self.reason = reason


class UnknownFormat(ImportFailed):
    """Not FIT, TCX, GPX, CSV, RR text, Apple Health or a Chin Up export."""

    status = 415


class WrongFormat(ImportFailed):
    """The content is not what the file's name says it is."""

    status = 415


class CorruptFile(ImportFailed):
    """The file is damaged from the start (or its checksum fails), so no record of it can be trusted."""


class NoHeartRate(ImportFailed):
    """A readable file that holds no heart rate."""


class MissingStart(ImportFailed):
    """Times relative to the start of a recording, and no start time given to place them."""


class TruncatedFile(ImportFailed):
    """Strict mode: the file ended before its last record, so it is refused whole."""
