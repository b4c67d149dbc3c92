"""Sample validation and idempotent storage: the one path every sample takes (live, upload, import)."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, insert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from service.models import Sample

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
    stored: list[CleanSample] = field(default_factory=list)


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


def validate_batch(
    items: Sequence[Any], now_ms: int, future_tolerance_ms: int
) -> tuple[list[CleanSample], list[Rejection], int]:
    """Valid samples in batch order (first of a repeated time kept), rejections, and repeats inside the batch."""
    seen: set[int] = set()
    clean: list[CleanSample] = []
    rejected: list[Rejection] = []
    repeats = 0
    for index, item in enumerate(items):
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


def format_rr(rr_ms: tuple[float, ...]) -> str | None:
    return " ".join(f"{rr:g}" for rr in rr_ms) if rr_ms else None


def parse_rr(text: str | None) -> list[float]:
    return [float(x) for x in text.split()] if text else []


def _insert_ignoring_conflicts(engine: Engine) -> Any:
    if engine.dialect.name == "postgresql":
        return pg_insert(Sample).on_conflict_do_nothing(index_elements=["device_id", "t_ms"])
    if engine.dialect.name == "sqlite":
        return sqlite_insert(Sample).on_conflict_do_nothing(index_elements=["device_id", "t_ms"])
    return insert(Sample).prefix_with("IGNORE")


def store_samples(db: Session, *, user_id: int, device_id: int, samples: Sequence[CleanSample]) -> list[CleanSample]:
    """Insert, ignoring (device, t) already stored; returns the samples that were new."""
    if not samples:
        return []
    rows = [
        {
            "device_id": device_id,
            "t_ms": s.t_ms,
            "user_id": user_id,
            "bpm": s.bpm,
            "rr_ms": format_rr(s.rr_ms),
            "contact": s.contact,
        }
        for s in samples
    ]
    statement = _insert_ignoring_conflicts(db.get_bind()).returning(Sample.t_ms)  # type: ignore[arg-type]
    inserted = set(db.scalars(statement, rows).all())
    return [s for s in samples if s.t_ms in inserted]
