"""What every reader yields: wire samples tagged with the device they came from, and a report of the read."""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import re
from dataclasses import dataclass, field
from typing import Any

from service.importers.limits import DEFAULT_LIMITS, ImportLimits
from service.pipeline.ingest import EPOCH_MS_FLOOR

# A sample as the ingest endpoint takes it: {t, bpm, rr_ms?, contact?}. Readers translate syntax only;
# service.pipeline.ingest.validate_batch decides what is valid, so an import and a live upload obey the same rules.
Item = dict[str, Any]
ADDRESS_MAX = 64


@dataclass(frozen=True, slots=True)
class Source:
    """The device a file's samples came from; the address keeps a re-import on the same device."""

    name: str
    address: str | None  # None only for a restored device that had none
    model: str | None = None


Entry = tuple[Source, Item]


@dataclass(frozen=True, slots=True)
class Skipped:
    """A stretch of a file left out of an import: where it starts (message index, byte offset) and why."""

    reason: str
    message_index: int | None = None
    byte_offset: int | None = None

    @property
    def place(self) -> str:
        parts = [f"message {self.message_index}" if self.message_index is not None else "",
                 f"byte {self.byte_offset}" if self.byte_offset is not None else ""]  # fmt: skip
        return ", ".join(p for p in parts if p) or "the file"


@dataclass
class ReadReport:
    """Filled in while a file is read: where it ended early, what was left out, what looked wrong.

    `strict` asks a reader to refuse a damaged file whole (naming the damage) instead of salvaging it.
    """

    file_name: str
    format: str
    truncated_at: str | None = None
    strict: bool = False
    skipped: list[Skipped] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    limits: ImportLimits = DEFAULT_LIMITS

    @property
    def damaged(self) -> bool:
        return self.truncated_at is not None or bool(self.skipped)


def source_address(kind: str, *parts: object) -> str:
    """A stable device address for an import source, at most 64 characters."""
    text = ":".join(["import", kind, *(re.sub(r"[^\w.-]+", "-", str(p)).strip("-").lower() for p in parts)])
    if len(text) <= ADDRESS_MAX:
        return text
    digest = hashlib.sha256(text.encode()).hexdigest()[:12]
    return f"{text[: ADDRESS_MAX - 13]}~{digest}"


def whole_number(text: str) -> Any:
    """A cell as an int when it is a whole number, a float when a number, else the text for ingest to refuse."""
    text = text.strip()
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        return text
    if not math.isfinite(value):
        return text  # "inf", "nan": not a reading
    return int(value) if value.is_integer() else value


def utc_ms(text: str) -> int | str:
    """ISO 8601 time in epoch ms; without an offset it is UTC (GPX 1.1 and TCX define their times so).

    Text that is no time comes back as it is, for ingest to refuse with its reason (one counted rejection).
    """
    value = text.strip()
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return text
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    try:
        t_ms = round(parsed.timestamp() * 1000)
    except (OverflowError, ValueError, OSError):
        return text
    return t_ms if t_ms >= EPOCH_MS_FLOOR else text  # ingest names an old time for what it is
