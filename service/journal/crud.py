"""The journal's writes and lists, once for every kind of item: a router parses the request, calls these and
answers.

Check-ins, interviews, applications and practice sessions are alike: a row the user owns, created from a
request model, listed newest page first within a time range, patched field by field and deleted. A `Kind`
names what differs (the table, the word in a 404, the time lists go by, the fields that cannot be in the
future); what only one kind does (an application's status history, a practice span, feedback's order)
is a hook the route passes or a function below.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import InstrumentedAttribute, Session

from service.core.models import (
    Application,
    ApplicationStatusEvent,
    Base,
    CheckIn,
    Feedback,
    Interview,
    PracticeSession,
    Reflection,
)
from service.errors import InvalidInput
from service.journal.ownership import FEEDBACK_TIME, get_owned, refuse_future
from service.journal.schemas import FeedbackPublic, Lesson, ReflectionPut, check_feedback_order, span_problem
from service.web.pages import PageQuery, page_of
from service.web.query import within

R = TypeVar("R", bound=Base)
P = TypeVar("P", bound=BaseModel)


@dataclass(frozen=True)
class Kind(Generic[R]):
    """One kind of journal item: its table, its name in "<what> not found", the time its lists are ordered
    and ranged by, and the fields that say when something already happened (so not in the future)."""

    model: type[R]
    what: str
    time: InstrumentedAttribute[dt.datetime]
    past: tuple[str, ...] = ()


CHECKINS = Kind(CheckIn, "check-in", CheckIn.at, ("at",))
# An interview may be booked ahead: its time is not checked against the clock.
INTERVIEWS = Kind(Interview, "interview", Interview.at)
APPLICATIONS = Kind(Application, "application", Application.applied_at, ("applied_at",))
PRACTICE = Kind(PracticeSession, "practice session", PracticeSession.at, ("at", "started_at", "ended_at"))


def owned(db: Session, kind: Kind[R], user_id: int, item_id: int) -> R:
    """The user's item of that kind; another user's id answers 404, as one that does not exist."""
    return get_owned(db, kind.model, user_id, item_id, kind.what)


def _refuse_future(kind: Kind[R], values: Mapping[str, Any], tolerance_s: int | None) -> None:
    if kind.past:
        assert tolerance_s is not None, f"{kind.what}: its times are checked against the clock"
        for name in kind.past:
            refuse_future(values.get(name), name, tolerance_s)


def create(
    db: Session,
    kind: Kind[R],
    user_id: int,
    values: Mapping[str, Any],
    *,
    tolerance_s: int | None = None,
    then: Callable[[Session, R], None] | None = None,
) -> R:
    """Store a new item of the user's from the request's values, committed.

    `tolerance_s` is the clock tolerance (settings.future_tolerance_s) for a kind with times in the past;
    `then` adds rows that name the new item (it has its id by then) in the same transaction."""
    _refuse_future(kind, values, tolerance_s)
    item = kind.model(user_id=user_id, **values)
    db.add(item)
    if then is not None:
        db.flush()
        then(db, item)
    db.commit()
    return item


def list_page(
    db: Session,
    kind: Kind[Any],
    user_id: int,
    page: PageQuery,
    public: type[P],
    from_: str | None,
    to: str | None,
) -> list[P]:
    """The newest page of the user's items with from <= time < to, in time order, as `public` forms."""
    model: Any = kind.model
    query = within(select(model).where(model.user_id == user_id), kind.time, from_, to)
    return page_of(db, page, query=query, key=kind.time, id_column=model.id, public=public)


def update(
    db: Session,
    kind: Kind[R],
    item: R,
    changes: Mapping[str, Any],
    *,
    tolerance_s: int | None = None,
    before: Callable[[Session, R, Mapping[str, Any]], None] | None = None,
) -> R:
    """Apply a PATCH's fields (those it set) to the item, committed.

    `before` sees the item still as stored and the changes: it may refuse them (raise) or record what
    changed (an application's status event)."""
    _refuse_future(kind, changes, tolerance_s)
    if before is not None:
        before(db, item, changes)
    _write(db, item, changes)
    return item


def delete(db: Session, item: Base) -> None:
    """Forget the item (and what the schema deletes with it: an interview's reflection and feedback)."""
    db.delete(item)
    db.commit()


def _write(db: Session, item: Base, changes: Mapping[str, Any]) -> None:
    for key, value in changes.items():
        setattr(item, key, value)
    db.commit()


# --- applications: the status history ------------------------------------------------------------------


def add_status_event(db: Session, application: Application, status: str, at: dt.datetime) -> None:
    """Record that the application took `status` at `at` (the caller commits)."""
    db.add(
        ApplicationStatusEvent(
            application_id=application.id, user_id=application.user_id, status=status, at=at
        )
    )


def first_status(db: Session, application: Application) -> None:
    """A new application's first status is the one it was sent with (a `create` hook)."""
    if application.status is not None:
        add_status_event(db, application, application.status, application.applied_at)


def record_status_change(db: Session, application: Application, changes: Mapping[str, Any]) -> None:
    """Keep a status the PATCH changes as an event (an `update` hook); an application stored before events
    were kept gets its old status first, at its applied_at (no backfill beyond that)."""
    new_status = changes.get("status")
    if new_status is None or new_status == application.status:
        return
    had_events = db.scalar(
        select(ApplicationStatusEvent.id)
        .where(ApplicationStatusEvent.application_id == application.id)
        .limit(1)
    )
    if had_events is None and application.status is not None:  # keep where it started
        add_status_event(
            db, application, application.status, changes.get("applied_at", application.applied_at)
        )
    add_status_event(db, application, new_status, dt.datetime.now(dt.UTC))


# --- practice: the timed span ------------------------------------------------------------------------------


def check_practice_span(db: Session, practice: PracticeSession, changes: Mapping[str, Any]) -> None:
    """The span after the PATCH, one end given and the other as stored, must still hold (an `update` hook)."""
    problem = span_problem(
        changes.get("started_at", practice.started_at), changes.get("ended_at", practice.ended_at)
    )
    if problem is not None:
        raise InvalidInput(problem)


# --- an interview's reflection and feedback ----------------------------------------------------------------


def put_reflection(db: Session, interview: Interview, body: ReflectionPut) -> Reflection:
    """Replace the interview's reflection (written if there was none), committed."""
    reflection = interview.reflection or Reflection(interview_id=interview.id, user_id=interview.user_id)
    write_reflection(reflection=reflection, body=body, now=dt.datetime.now(dt.UTC))
    db.add(reflection)
    db.commit()
    return reflection


def write_reflection(*, reflection: Reflection, body: ReflectionPut, now: dt.datetime) -> None:
    """Replace the reflection, keeping when each list first became non-empty (cleared when emptied)."""
    reflection.went_well = list(body.went_well)
    reflection.went_poorly = list(body.went_poorly)
    reflection.lessons = [
        (item if isinstance(item, Lesson) else Lesson(lesson=item)).model_dump() for item in body.lessons
    ]
    reflection.outsider_view = body.outsider_view
    reflection.went_well_at = _first_written(reflection.went_well, reflection.went_well_at, now)
    reflection.went_poorly_at = _first_written(reflection.went_poorly, reflection.went_poorly_at, now)
    if body.moved_on is not None:
        reflection.moved_on_at = (reflection.moved_on_at or now) if body.moved_on else None
    reflection.updated_at = now


def _first_written(items: list[Any], since: dt.datetime | None, now: dt.datetime) -> dt.datetime | None:
    return (since or now) if items else None


def add_feedback(db: Session, interview: Interview, values: Mapping[str, Any]) -> Feedback:
    """Store a feedback record under the interview, committed."""
    feedback = Feedback(interview_id=interview.id, user_id=interview.user_id, **values)
    db.add(feedback)
    db.commit()
    return feedback


def feedback_page(db: Session, interview: Interview, page: PageQuery) -> list[FeedbackPublic]:
    """The newest page of the interview's feedback, in the order of feedback_in_time_order."""
    return page_of(
        db,
        page,
        query=select(Feedback).where(Feedback.interview_id == interview.id),
        key=FEEDBACK_TIME,
        id_column=Feedback.id,
        public=FeedbackPublic,
    )


def update_feedback(db: Session, feedback: Feedback, changes: Mapping[str, Any]) -> Feedback:
    """Apply a PATCH, refused (422) if the reply would come before the request, committed."""
    try:
        check_feedback_order(
            changes.get("requested_at", feedback.requested_at),
            changes.get("received_at", feedback.received_at),
        )
    except ValueError as exc:
        raise InvalidInput(str(exc)) from exc
    _write(db, feedback, changes)
    return feedback
