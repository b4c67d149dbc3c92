"""What every reader yields: wire samples tagged with the device they came from, and a report of the read."""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass
from typing import Any

# A sample as the ingest endpoint takes it: {t, bpm, rr_ms?, contact?}. Readers translate syntax only;
# service.ingest.validate_batch decides what is valid, so an import and a live upload obey the same rules.
Item = dict[str, Any]
ADDRESS_MAX = 64


@dataclass(frozen=True, slots=True)
class Source:
    """The device a file's samples came from; the address keeps a re-import on the same device."""

    name: str
    address: str | None  # None only for a restored device that had none
    model: str | None = None


Entry = tuple[Source, Item]


@dataclass
class ReadReport:
    """Filled in while a file is read: where it ended early, if it did."""

    file_name: str
    format: str
    truncated_at: str | None = None


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
