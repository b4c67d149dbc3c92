"""Restore the non-sample parts of a Chin Up export into an account: profile, journal, session corrections.

Idempotent: an entry equal to one the account already holds is skipped, so importing an export twice
changes nothing. Every row is checked with the API's model first (service.account.rows). Samples go through the import pipeline like any other file.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.exc import StatementError
from sqlalchemy.orm import Session

from service.account import rows
from service.account.rows import Refusals, RowInvalid
from service.core.models import (
    Application,
    ApplicationStatusEvent,
    CheckIn,
    Feedback,
    Interview,
    PracticeSession,
    Reflection,
    User,
    WorkoutSession,
)
from service.importers.account import AccountArchive
from service.importers.base import Source
from service.importers.errors import CorruptFile
from service.importers.store import find_or_add_device

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
T = TypeVar("T")


@dataclass
class RestoreCounts:
    added: dict[str, int] = field(default_factory=dict)
    profile_changed: bool = False
    refused: Refusals = field(default_factory=Refusals)  # rows the API would refuse, left out


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


def _rows(archive: AccountArchive, part: str, file_name: str) -> list[Any]:
    rows = archive.journal.get(part, [])
    if not isinstance(rows, list):
        raise CorruptFile(file_name, f"{part}.json", "not a list of entries")
    return rows


@dataclass
class _Restore:
    db: Session
    user: User
    now: dt.datetime
    tolerance_s: int
    counts: RestoreCounts

    def each(self, file: str, rows: list[Any], check: Callable[[Any], T]) -> Iterator[tuple[Any, T]]:
        """The rows that pass `check` with their checked values; the others counted as refused."""
        for number, row in enumerate(rows, start=1):
            try:
                yield row, check(row)
            except RowInvalid as exc:
                self.counts.refused.add(file, number, exc.reason)

    def profile(self, profile: Any, file_name: str) -> None:
        if not isinstance(profile, dict):
            raise CorruptFile(file_name, "profile.json", "not a JSON object")
        for name in PROFILE_FIELDS:
            if name not in profile:
                continue
            try:
                value = rows.profile_field(name, profile[name])
            except RowInvalid as exc:
                self.counts.refused.add("profile.json", 0, exc.reason)
                continue
            if value is None and name in rows.NOT_NULL_PROFILE:
                continue  # as PATCH /me: null keeps the setting
            if getattr(self.user, name) != value:
                setattr(self.user, name, value)
                self.counts.profile_changed = True

    def interview(self, row: dict[str, Any], values: dict[str, Any]) -> int:
        db, user_id = self.db, self.user.id
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
            found = list(self.each("interviews.json reflection", [row["reflection"]],
                                   lambda r: rows.reflection(r, self.now)))  # fmt: skip
            if found:
                interview.reflection = Reflection(**found[0][1], user_id=user_id)
        feedback = row.get("feedback") or []
        for _, values_fb in self.each("interviews.json feedback", feedback if isinstance(feedback, list) else [feedback],
                                      rows.feedback):  # fmt: skip
            if not any(all(getattr(old, k) == v for k, v in values_fb.items()) for old in interview.feedback):
                interview.feedback.append(Feedback(**values_fb, user_id=user_id))
        return added


def _application(db: Session, user_id: int, values: dict[str, Any]) -> int:
    """Add the application with its status history unless the account holds an equal one; 1 if added."""
    history = values.pop("history")
    added = _add_unique(db, Application, user_id, values, ("company", "role", "applied_at", "status"))
    if added is None:
        return 0
    db.flush()
    if not history and values["status"] is not None:  # an export older than the history
        history = [{"status": values["status"], "at": values["applied_at"]}]
    for event in history:
        db.add(ApplicationStatusEvent(application_id=added.id, user_id=user_id, **event))
    return 1


def restore_account(
    db: Session, user: User, archive: AccountArchive, file_name: str, *, future_tolerance_s: int = 300
) -> RestoreCounts:
    """Apply an export's profile settings and add its journal and session corrections the account lacks.

    Every row is checked with the API's model for it (service.account.rows); one that fails is
    left out and counted in `refused`. An archive whose parts are not the lists and objects an export
    holds is refused whole.

    Raises:
        CorruptFile: a part is no list (or the profile no object), or the database refuses a row.
    """
    now = dt.datetime.now(dt.UTC)
    counts = RestoreCounts()
    run = _Restore(db, user, now, future_tolerance_s, counts)
    simple: dict[str, tuple[type, Callable[[Any], dict[str, Any]], tuple[str, ...]]] = {
        "checkins": (CheckIn, lambda r: rows.checkin(r, now, future_tolerance_s), ("at", "confidence", "mood", "note")),
        "practice": (PracticeSession, rows.practice, ("at", "self_rating", "notes")),
    }  # fmt: skip
    part = "devices"
    try:
        for _, device in run.each(
            "devices.json", archive.devices, rows.device
        ):  # devices without samples too
            find_or_add_device(db, user.id, Source(device["name"], device["address"], device["model"]))
        part = "profile"
        run.profile(archive.profile, file_name)
        for part, (model, check, key) in simple.items():
            found = run.each(f"{part}.json", _rows(archive, part, file_name), check)
            counts.added[part] = sum(_add_unique(db, model, user.id, v, key) is not None for _, v in found)
        part = "applications"
        found_apps = run.each(f"{part}.json", _rows(archive, part, file_name),
                              lambda r: rows.application(r, now, future_tolerance_s))  # fmt: skip
        counts.added[part] = sum(_application(db, user.id, v) for _, v in found_apps)
        part = "interviews"
        found = run.each("interviews.json", _rows(archive, part, file_name), rows.interview)
        counts.added[part] = sum(run.interview(r, v) for r, v in found)
        part = "sessions"
        if not isinstance(archive.sessions, list):
            raise CorruptFile(file_name, "sessions.json", "not a list of sessions")
        corrections = [s for s in archive.sessions
                       if not isinstance(s, dict) or s.get("source") != "detected" or s.get("deleted")]  # fmt: skip
        found = run.each("sessions.json", corrections, lambda s: rows.session(s, SESSION_FIELDS))
        key = ("start_ms", "end_ms", "source", "deleted")
        counts.added[part] = sum(
            _add_unique(db, WorkoutSession, user.id, v, key) is not None for _, v in found
        )
        db.commit()
    except StatementError as exc:
        db.rollback()
        raise CorruptFile(file_name, f"{part}.json", f"an entry cannot be restored: {exc.orig}") from exc
    except CorruptFile:
        db.rollback()
        raise
    return counts
