"""Sample validation and idempotent storage: the one path every sample takes (live, upload, import)."""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Required

from pydantic import Field, TypeAdapter, ValidationError
from sqlalchemy.orm import Session
from typing_extensions import TypedDict

BPM_MIN, BPM_MAX = 25, 240
RR_MIN_MS, RR_MAX_MS = 200.0, 3000.0
# Epoch-ms values below this are taken for seconds by mistake and refused rather than guessed at.
EPOCH_MS_FLOOR = 946_684_800_000  # 2000-01-01


@dataclass(frozen=True, slots=True)
class Rejection:
    index: int
    reason: str


@dataclass(frozen=True, slots=True)
class CleanSample:
    t_ms: int
    bpm: int
    rr_ms: tuple[float, ...]
    contact: bool | None


@dataclass
class IngestResult:
    accepted: int = 0
    duplicates: int = 0
    rejected: list[Rejection] = field(default_factory=list)


def parse_time_ms(value: Any) -> int:
    """ISO 8601 with an offset, or epoch milliseconds; anything else is a ValueError with a reason."""
    if isinstance(value, bool):
        raise ValueError("time must be ISO 8601 with an offset or epoch milliseconds, not a boolean")
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise ValueError("time is not a finite number")
        if value < EPOCH_MS_FLOOR:
            raise ValueError("epoch time must be in milliseconds (after 2000-01-01)")
        return round(value)
    if isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value.strip())
        except ValueError as exc:
            raise ValueError(f"malformed time {value[:40]!r}") from exc
        if parsed.tzinfo is None:
            raise ValueError("time has no UTC offset")
        return round(parsed.timestamp() * 1000)
    raise ValueError("time is missing or of the wrong type")


def _parse_rr(value: Any) -> tuple[float, ...]:
    if value is None:
        return ()
    if not isinstance(value, list | tuple):
        raise ValueError("rr_ms must be a list of numbers")
    out = []
    for rr in value:
        if isinstance(rr, bool) or not isinstance(rr, int | float) or not math.isfinite(rr):
            raise ValueError("rr_ms must hold numbers")
        if not RR_MIN_MS <= rr <= RR_MAX_MS:
            raise ValueError(f"RR interval {rr} ms outside {RR_MIN_MS:g}-{RR_MAX_MS:g} ms")
        out.append(float(rr))
    return tuple(out)


def validate_sample(item: Any, now_ms: int, future_tolerance_ms: int) -> CleanSample:
    """One item of a batch, checked against the rules of the ingest contract; ValueError says why not."""
    if not isinstance(item, dict):
        raise ValueError("sample must be an object")
    t_ms = parse_time_ms(item.get("t"))
    if t_ms > now_ms + future_tolerance_ms:
        raise ValueError("time is more than 5 minutes in the future")
    contact = item.get("contact")
    if contact is not None and not isinstance(contact, bool):
        raise ValueError("contact must be true, false or null")
    bpm = item.get("bpm")
    if isinstance(bpm, bool) or not isinstance(bpm, int | float) or not math.isfinite(bpm) or bpm != int(bpm):
        raise ValueError("bpm must be a whole number")
    bpm = int(bpm)
    if bpm == 0 and contact is False:
        pass  # lost contact is stored, flagged, and never counted
    elif not BPM_MIN <= bpm <= BPM_MAX:
        raise ValueError(f"bpm {bpm} outside {BPM_MIN}-{BPM_MAX}")
    return CleanSample(t_ms=t_ms, bpm=bpm, rr_ms=_parse_rr(item.get("rr_ms")), contact=contact)


def _fast_path(item: Any, max_t_ms: int) -> CleanSample | None:
    """The common well-formed item, checked with plain comparisons; None sends it to the full check."""
    if type(item) is not dict:
        return None
    t, bpm, contact, rr = item.get("t"), item.get("bpm"), item.get("contact"), item.get("rr_ms")
    if type(t) is not int or type(bpm) is not int or not (EPOCH_MS_FLOOR <= t <= max_t_ms):
        return None
    if not (BPM_MIN <= bpm <= BPM_MAX) or not (contact is None or contact is True or contact is False):
        return None
    if rr is None:
        return CleanSample(t, bpm, (), contact)
    if type(rr) is not list:
        return None
    for value in rr:
        if (type(value) is not float and type(value) is not int) or not (RR_MIN_MS <= value <= RR_MAX_MS):
            return None
    return CleanSample(t, bpm, tuple(map(float, rr)), contact)


def validate_batch(
    items: Sequence[Any], now_ms: int, future_tolerance_ms: int
) -> tuple[list[CleanSample], list[Rejection], int]:
    """Valid samples in batch order (first of a repeated time kept), rejections, and repeats inside the batch."""
    seen: set[int] = set()
    clean: list[CleanSample] = []
    rejected: list[Rejection] = []
    repeats = 0
    max_t_ms = now_ms + future_tolerance_ms
    for index, item in enumerate(items):
        sample = _fast_path(item, max_t_ms)
        if sample is None:
            try:
                sample = validate_sample(item, now_ms, future_tolerance_ms)
            except ValueError as exc:
                rejected.append(Rejection(index, str(exc)))
                continue
        if sample.t_ms in seen:
            repeats += 1
            continue
        seen.add(sample.t_ms)
        clean.append(sample)
    return clean, rejected, repeats


class _WireSample(TypedDict, total=False):
    t: Required[Annotated[int, Field(strict=True, ge=EPOCH_MS_FLOOR)]]
    bpm: Required[Annotated[int, Field(strict=True, ge=BPM_MIN, le=BPM_MAX)]]
    rr_ms: list[Annotated[float, Field(ge=RR_MIN_MS, le=RR_MAX_MS, allow_inf_nan=False)]] | None
    contact: bool | None


class _WireBatch(TypedDict):
    samples: list[_WireSample]


# The common, well-formed batch is parsed and checked in one pass by pydantic-core; anything else takes the
# item-by-item path, which names each bad item (bench/ingest.py measures the difference).
_FAST_BATCH = TypeAdapter(_WireBatch)


class MalformedBatch(ValueError):
    """The body is not a JSON object with a list of samples."""


def parse_batch(
    body: bytes, now_ms: int, future_tolerance_ms: int, max_items: int
) -> tuple[list[CleanSample], list[Rejection], int]:
    """A raw JSON body to valid samples, rejections and in-batch repeats (see validate_batch)."""
    try:
        batch = _FAST_BATCH.validate_json(body, strict=False)
    except ValidationError:
        batch = None
    if batch is not None:
        if len(batch["samples"]) > max_items:
            raise BatchTooLarge(max_items)
        fast = _from_checked(batch["samples"], now_ms + future_tolerance_ms)
        if fast is not None:
            return fast
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedBatch(f"body is not valid JSON: {exc}") from exc
    if not isinstance(document, dict) or not isinstance(document.get("samples"), list):
        raise MalformedBatch("body must be an object with a list `samples`")
    if len(document["samples"]) > max_items:
        raise BatchTooLarge(max_items)
    return validate_batch(document["samples"], now_ms, future_tolerance_ms)


def _from_checked(
    items: list[_WireSample], max_t_ms: int
) -> tuple[list[CleanSample], list[Rejection], int] | None:
    """Samples already checked by pydantic-core; None when one lies in the future (the slow path names it)."""
    seen: set[int] = set()
    clean: list[CleanSample] = []
    repeats = 0
    for item in items:
        t_ms = item["t"]
        if t_ms > max_t_ms:
            return None
        if t_ms in seen:
            repeats += 1
            continue
        seen.add(t_ms)
        rr = item.get("rr_ms")
        clean.append(CleanSample(t_ms, item["bpm"], tuple(rr) if rr else (), item.get("contact")))
    return clean, [], repeats


class BatchTooLarge(ValueError):
    def __init__(self, max_items: int) -> None:
        super().__init__(f"at most {max_items} samples per batch")
        self.max_items = max_items


def format_rr(rr_ms: tuple[float, ...]) -> str | None:
    return " ".join(map(repr, rr_ms)) if rr_ms else None


def parse_rr(text: str | None) -> list[float]:
    return [float(x) for x in text.split()] if text else []


_INSERT_SQL = {
    "sqlite": "INSERT INTO samples (device_id, t_ms, user_id, bpm, rr_ms, contact) VALUES (?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (device_id, t_ms) DO NOTHING",
    "postgresql": "INSERT INTO samples (device_id, t_ms, user_id, bpm, rr_ms, contact) VALUES (%s, %s, %s, %s, %s, %s)"
    " ON CONFLICT (device_id, t_ms) DO NOTHING",
}


def store_samples(db: Session, *, user_id: int, device_id: int, samples: Sequence[CleanSample]) -> int:
    """Insert, ignoring (device, t) already stored; returns how many rows were new.

    A driver-level executemany: both sqlite3 and psycopg 3 report the summed row count of the batch, and the
    ORM layer would cost more than the insert itself (bench/ingest.py).
    """
    if not samples:
        return 0
    rows = [(device_id, s.t_ms, user_id, s.bpm, format_rr(s.rr_ms), s.contact) for s in samples]
    result = db.connection().exec_driver_sql(_INSERT_SQL[db.get_bind().dialect.name], rows)
    return int(result.rowcount)
