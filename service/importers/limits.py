"""How much one import may unpack and how large one piece of it may be, and a reader that holds to it.

Issue 15: a 2 MB zip unpacking to 2 GiB of whitespace, a 1 GiB XML text node or attribute and a 1 GiB
`manifest.json` each took the server past 1.2 GB (the attribute never answered). Every decompressed
stream is counted as it is read and refused once it passes its limit, so memory stays flat and the
refusal comes when the limit is reached, not when the bomb has gone off. The defaults live in
service.config.Settings (CHINUP_IMPORT_MAX_*), which the API turns into an ImportLimits.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import BinaryIO

from service.importers.errors import ImportFailed


@dataclass(frozen=True)
class ImportLimits:
    expanded_bytes: int = 4 * 2**30  # one gunzipped file, one zip member, and all members of a zip together
    zip_members: int = 10_000
    xml_token_bytes: int = 2**20  # one tag with its attributes, one text node, comment or declaration
    export_json_bytes: int = 64 * 2**20  # one JSON part of a Chin Up export (read whole, so bounded)


DEFAULT_LIMITS = ImportLimits()


class TooLarge(ImportFailed):
    """A part of the file passes one of the ImportLimits; `limit` names the setting."""

    status = 413

    def __init__(self, file_name: str, place: str, reason: str, limit: str = "") -> None:
        super().__init__(file_name, place, f"{reason} ({limit})" if limit else reason)
        self.limit = limit


def size_text(n_bytes: int) -> str:
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n_bytes >= 1 << shift and n_bytes % (1 << shift) == 0:
            return f"{n_bytes >> shift} {unit}"
    return f"{n_bytes} bytes"


class BoundedReader(io.RawIOBase):
    """A stream read through that refuses to give more than `limit` bytes (a zip member, a gzip stream)."""

    def __init__(self, raw: BinaryIO, limit: int, refuse: TooLarge) -> None:
        self.raw, self.limit, self.refuse, self.count = raw, limit, refuse, 0

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        if not self.closed:
            self.raw.close()
        super().close()

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.raw.read(len(buffer))
        self.count += len(data)
        if self.count > self.limit:
            raise self.refuse
        buffer[: len(data)] = data
        return len(data)
