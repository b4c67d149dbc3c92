"""The user's own rows: the "is it theirs, else 404" lookup and the rules that more than one router applies
when it writes the journal (dates that cannot be in the future, the device cap, the per-user lock).

Routers never import each other (an import-linter contract in pyproject.toml); what two of them share lives
in service.journal, in service.web.fields / common / views, or in another service module."""

from __future__ import annotations

import datetime as dt
from typing import Any, TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.core.models import Base, Device, Feedback, Interview, User, WorkoutSession
from service.errors import Conflict, InvalidInput, NotFound

M = TypeVar("M", bound=Base)


def get_owned(db: Session, model: type[M], user_id: int, item_id: int, what: str) -> M:
    """The row of `model` with that id if it belongs to the user; otherwise "<what> not found" (404), so
    another user's id answers exactly as one that does not exist."""
    row = db.get(model, item_id)
    owner: Any = getattr(row, "user_id", None)
    if row is None or owner != user_id:
        raise NotFound(f"{what} not found")
    return row


def get_owned_device(db: Session, user_id: int, device_id: int) -> Device:
    """The user's device (samples, imports and the device routes all name one by id)."""
    return get_owned(db, Device, user_id, device_id, "device")


def get_owned_interview(db: Session, user_id: int, interview_id: int) -> Interview:
    """The user's interview (the interview routes, its recovery plan and its stress window)."""
    return get_owned(db, Interview, user_id, interview_id, "interview")


def get_owned_session(db: Session, user_id: int, session_id: int) -> WorkoutSession:
    """The user's workout session; one the user deleted is kept (so detection does not bring it back) but
    answers 404 like one that never existed."""
    found = get_owned(db, WorkoutSession, user_id, session_id, "session")
    if found.deleted:
        raise NotFound("session not found")
    return found


def get_owned_feedback(db: Session, user_id: int, interview_id: int, feedback_id: int) -> Feedback:
    """A feedback record of the user's interview; one under another interview answers 404 too."""
    interview = get_owned_interview(db, user_id, interview_id)
    feedback = db.get(Feedback, feedback_id)
    if feedback is None or feedback.interview_id != interview.id:
        raise NotFound("feedback not found")
    return feedback


def refuse_future(value: dt.datetime | None, name: str, tolerance_s: int) -> None:
    """Something that already happened cannot be dated later than now (plus the clock tolerance)."""
    if value is not None and value > dt.datetime.now(dt.UTC) + dt.timedelta(seconds=tolerance_s):
        raise InvalidInput(f"{name}: is in the future")


# The time a feedback record is ordered by, in SQL: the same as feedback_in_time_order's key.
FEEDBACK_TIME = func.coalesce(Feedback.requested_at, Feedback.received_at, Feedback.created_at)


def feedback_in_time_order(interview: Interview) -> list[Feedback]:
    """Ordered by when each was asked for (else received, else logged)."""
    return sorted(interview.feedback, key=lambda f: (f.requested_at or f.received_at or f.created_at, f.id))


def lock_user(db: Session, user_id: int) -> None:
    """Serialise this user's additions within the transaction (PostgreSQL: a row lock on the user, across
    workers), so a cap counted now still holds at commit. SQLite admits one writer: `writer_lock` does it."""
    db.execute(select(User.id).where(User.id == user_id).with_for_update())


STRAP_ADDRESS_SPACE = 0x43485553  # the advisory-lock namespace of strap addresses being paired


def lock_strap_address(db: Session, address: str) -> None:
    """Serialise pairings of one strap address across users and processes within the transaction, so that
    "one account per strap" holds without a key unique across users (which a schema distributed by user
    cannot have). PostgreSQL: an advisory transaction lock, across processes; SQLite is served by one process
    (`--workers` above 1 is refused there), whose `writer_lock` admits one pairing at a time."""
    if db.get_bind().dialect.name == "postgresql":
        db.execute(select(func.pg_advisory_xact_lock(STRAP_ADDRESS_SPACE, func.hashtext(address))))


def check_device_cap(db: Session, user_id: int, cap: int) -> None:
    """Refuse a new device past the user's cap (max_devices_per_user): one account, one person's devices;
    thousands of fake ones would each cost a recorder, a spool and rows. Call it after `lock_user`."""
    count = db.scalar(select(func.count()).select_from(Device).where(Device.user_id == user_id)) or 0
    if count >= cap:
        raise Conflict(
            f"you have {count} devices, the most one account may have (max_devices_per_user = {cap}); "
            "delete one you no longer use first"
        )
