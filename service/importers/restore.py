"""Restore the non-sample parts of a Chin Up export into an account: profile, journal, session corrections.

Idempotent: an entry equal to one the account already holds is skipped, so importing an export twice
changes nothing. Samples go through the import pipeline like any other file.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import StatementError
from sqlalchemy.orm import Session

from service.importers.account import AccountArchive, device_source
from service.importers.errors import CorruptFile
from service.importers.store import find_or_add_device
from service.models import (
    Application,
    CheckIn,
    Feedback,
    Interview,
    PracticeSession,
    Reflection,
    User,
    WorkoutSession,
)

PROFILE_FIELDS = (
    "timezone",
    "birth_year",
    "resting_hr",
    "max_hr",
    "daily_target_minutes",
    "nudge_time",
    "nudges_enabled",
)
SESSION_FIELDS = tuple(c.name for c in WorkoutSession.__table__.columns if c.name not in ("id", "user_id"))
REFLECTION_TIMES = ("went_well_at", "went_poorly_at", "moved_on_at", "updated_at")


@dataclass
class RestoreCounts:
    added: dict[str, int] = field(default_factory=dict)
    profile_changed: bool = False


def _time(value: Any) -> dt.datetime | None:
    if value is None:
        return None
    parsed = dt.datetime.fromisoformat(str(value))
    if parsed.tzinfo is None:
        raise ValueError(f"time {value!r} has no UTC offset")
    return parsed.astimezone(dt.UTC)


def _fields(row: dict[str, Any], names: tuple[str, ...], times: tuple[str, ...]) -> dict[str, Any]:
    return {n: (_time(row.get(n)) if n in times else row.get(n)) for n in names}


def _add_unique(
    db: Session, model: type, user_id: int, values: dict[str, Any], key: tuple[str, ...]
) -> Any | None:
    """A new row unless the user has one equal on `key`; returns the existing or new row, or None if skipped."""
    query: Any = select(model).where(model.user_id == user_id)  # type: ignore[attr-defined]
    for name in key:
        column = getattr(model, name)
        query = query.where(column.is_(None) if values[name] is None else column == values[name])
    if db.scalars(query.limit(1)).first() is not None:
        return None
    row = model(user_id=user_id, **values)
    db.add(row)
    return row


def _interview(db: Session, user_id: int, row: dict[str, Any]) -> int:
    values = _fields(row, ("company", "role", "at", "stage", "outcome"), ("at",))
    interview = db.scalars(
        select(Interview).where(
            Interview.user_id == user_id, Interview.company == values["company"],
            Interview.role == values["role"], Interview.at == values["at"],
        )
    ).first()  # fmt: skip
    added = 0
    if interview is None:
        interview = Interview(user_id=user_id, **values)
        db.add(interview)
        db.flush()
        added = 1
    if row.get("reflection") and interview.reflection is None:
        r = row["reflection"]
        names = ("went_well", "went_poorly", "lessons", "outsider_view")
        interview.reflection = Reflection(**_fields(r, names + REFLECTION_TIMES, REFLECTION_TIMES))
    for fb in row.get("feedback") or []:
        values_fb = _fields(fb, ("requested_at", "received_at", "notes"), ("requested_at", "received_at"))
        if not any(all(getattr(old, k) == v for k, v in values_fb.items()) for old in interview.feedback):
            interview.feedback.append(Feedback(**values_fb))
    return added


def restore_account(db: Session, user: User, archive: AccountArchive, file_name: str) -> RestoreCounts:
    """Apply an export's profile settings and add its journal and session corrections the account lacks."""
    counts = RestoreCounts()
    simple: dict[str, tuple[type, tuple[str, ...], tuple[str, ...]]] = {
        "checkins": (CheckIn, ("at", "confidence", "mood", "note"), ("at",)),
        "practice": (PracticeSession, ("at", "questions", "self_rating", "notes"), ("at",)),
        "applications": (Application, ("company", "role", "applied_at", "status"), ("applied_at",)),
    }
    part = "devices"
    try:
        for device in archive.devices:  # devices without samples too
            find_or_add_device(db, user.id, device_source(device))
        part = "profile"
        for name in PROFILE_FIELDS:
            if name in archive.profile and getattr(user, name) != archive.profile[name]:
                setattr(user, name, archive.profile[name])
                counts.profile_changed = True
        for part, (model, names, times) in simple.items():
            rows = [_fields(r, names, times) for r in archive.journal.get(part, [])]
            key = tuple(n for n in names if n != "questions")
            counts.added[part] = sum(_add_unique(db, model, user.id, v, key) is not None for v in rows)
        part = "interviews"
        counts.added[part] = sum(_interview(db, user.id, r) for r in archive.journal.get(part, []))
        part = "sessions"
        corrections = [s for s in archive.sessions if s.get("source") != "detected" or s.get("deleted")]
        counts.added[part] = sum(
            _add_unique(
                db,
                WorkoutSession,
                user.id,
                _fields(s, SESSION_FIELDS, ()),
                ("start_ms", "end_ms", "source", "deleted"),
            )
            is not None
            for s in corrections
        )
        db.commit()
    except (ValueError, TypeError, KeyError, AttributeError, StatementError) as exc:
        db.rollback()
        raise CorruptFile(file_name, f"{part}.json", f"an entry cannot be restored: {exc}") from exc
    return counts
