"""Interviews and what the recovery plan is built from: the reflection on each and the feedback asked for."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, status
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.api.common import within
from service.api.deps import CurrentUser, SessionDep
from service.api.pages import PAGE_RESPONSES, PageDep, page_of
from service.api.types import IsoTime, LongText, NotNull, ShortText, TimeFrom, TimeTo, UtcTime
from service.core.models import Feedback, Interview, Reflection
from service.errors import InvalidInput, NotFound
from service.journal import FEEDBACK_TIME, feedback_in_time_order, get_owned_interview

router = APIRouter(prefix="/interviews", tags=["interviews"])

Label = Annotated[str, Field(min_length=1, max_length=100)]
Item = Annotated[str, Field(min_length=1, max_length=2000)]
Items = Annotated[list[Item], Field(max_length=100)]


class InterviewCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    company: ShortText
    role: ShortText
    at: UtcTime
    stage: Label | None = None
    outcome: Label | None = None


class InterviewUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    company: Annotated[ShortText | None, NotNull] = None
    role: Annotated[ShortText | None, NotNull] = None
    at: Annotated[UtcTime | None, NotNull] = None
    stage: Label | None = None
    outcome: Label | None = None


class InterviewPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    company: str
    role: str
    at: IsoTime
    stage: str | None
    outcome: str | None
    created_at: IsoTime


class Lesson(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lesson: Item
    next_time: Item | None = None


class ReflectionPut(BaseModel):
    """The whole reflection; `moved_on` alone is a switch: left out, the recorded moment is kept."""

    model_config = ConfigDict(extra="forbid")

    went_well: Items
    went_poorly: Items
    # A plain string is a lesson without a plan for next time.
    lessons: Annotated[list[Lesson | Item], Field(max_length=100)]
    outsider_view: LongText | None = None
    moved_on: bool | None = None


class ReflectionPublic(BaseModel):
    interview_id: int
    went_well: list[str]
    went_poorly: list[str]
    lessons: list[Lesson]
    outsider_view: str | None
    went_well_at: IsoTime | None
    went_poorly_at: IsoTime | None
    moved_on: bool
    moved_on_at: IsoTime | None
    updated_at: IsoTime

    @classmethod
    def of(cls, reflection: Reflection) -> ReflectionPublic:
        return cls(
            interview_id=reflection.interview_id,
            went_well=reflection.went_well,
            went_poorly=reflection.went_poorly,
            lessons=[Lesson.model_validate(item) for item in reflection.lessons],
            outsider_view=reflection.outsider_view,
            went_well_at=reflection.went_well_at,
            went_poorly_at=reflection.went_poorly_at,
            moved_on=reflection.moved_on_at is not None,
            moved_on_at=reflection.moved_on_at,
            updated_at=reflection.updated_at,
        )


class FeedbackCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    requested_at: UtcTime | None = None
    received_at: UtcTime | None = None
    notes: LongText | None = None

    @model_validator(mode="after")
    def _received_after_requested(self) -> FeedbackCreate:
        _check_order(self.requested_at, self.received_at)
        return self


class FeedbackUpdate(BaseModel):
    """Fields left out are kept; the reply usually arrives days after the request."""

    model_config = ConfigDict(extra="forbid")

    requested_at: UtcTime | None = None
    received_at: UtcTime | None = None
    notes: LongText | None = None


class FeedbackPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    interview_id: int
    requested_at: IsoTime | None
    received_at: IsoTime | None
    notes: str | None
    created_at: IsoTime


class InterviewDetail(InterviewPublic):
    reflection: ReflectionPublic | None
    feedback: list[FeedbackPublic]


def _check_order(requested_at: dt.datetime | None, received_at: dt.datetime | None) -> None:
    if requested_at is not None and received_at is not None and received_at < requested_at:
        raise ValueError("received_at is before requested_at")


def get_owned_feedback(db: Session, user_id: int, interview_id: int, feedback_id: int) -> Feedback:
    """A feedback record of the user's interview; one under another interview answers 404 too."""
    interview = get_owned_interview(db, user_id, interview_id)
    feedback = db.get(Feedback, feedback_id)
    if feedback is None or feedback.interview_id != interview.id:
        raise NotFound("feedback not found")
    return feedback


def interview_detail(interview: Interview) -> InterviewDetail:
    return InterviewDetail(
        **InterviewPublic.model_validate(interview).model_dump(),
        reflection=ReflectionPublic.of(interview.reflection) if interview.reflection else None,
        feedback=[FeedbackPublic.model_validate(f) for f in feedback_in_time_order(interview)],
    )


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


@router.post("", status_code=status.HTTP_201_CREATED, response_model=InterviewPublic)
def create_interview(body: InterviewCreate, user: CurrentUser, db: SessionDep) -> Interview:
    interview = Interview(user_id=user.id, **body.model_dump())
    db.add(interview)
    db.commit()
    return interview


@router.get("", response_model=list[InterviewPublic], responses=PAGE_RESPONSES)
def list_interviews(
    user: CurrentUser,
    db: SessionDep,
    page: PageDep,
    from_: TimeFrom = None,
    to: TimeTo = None,
) -> list[InterviewPublic]:
    """The newest page of the interviews, in time order; Link names the page before it."""
    query = within(select(Interview).where(Interview.user_id == user.id), Interview.at, from_, to)
    return page_of(
        db,
        page,
        query=query,
        key=Interview.at,
        id_column=Interview.id,
        public=InterviewPublic,
    )


@router.get("/{interview_id}", response_model=InterviewDetail)
def read_interview(interview_id: int, user: CurrentUser, db: SessionDep) -> InterviewDetail:
    return interview_detail(get_owned_interview(db, user.id, interview_id))


@router.patch("/{interview_id}", response_model=InterviewPublic)
def update_interview(
    interview_id: int, body: InterviewUpdate, user: CurrentUser, db: SessionDep
) -> Interview:
    interview = get_owned_interview(db, user.id, interview_id)
    for key, value in body.model_dump(exclude_unset=True).items():
        setattr(interview, key, value)
    db.commit()
    return interview


@router.delete("/{interview_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_interview(interview_id: int, user: CurrentUser, db: SessionDep) -> None:
    """Forget the interview with its reflection and feedback."""
    db.delete(get_owned_interview(db, user.id, interview_id))
    db.commit()


@router.put("/{interview_id}/reflection", response_model=ReflectionPublic)
def put_reflection(
    interview_id: int, body: ReflectionPut, user: CurrentUser, db: SessionDep
) -> ReflectionPublic:
    interview = get_owned_interview(db, user.id, interview_id)
    reflection = interview.reflection or Reflection(interview_id=interview.id)
    write_reflection(reflection=reflection, body=body, now=dt.datetime.now(dt.UTC))
    db.add(reflection)
    db.commit()
    return ReflectionPublic.of(reflection)


@router.get("/{interview_id}/reflection", response_model=ReflectionPublic)
def read_reflection(interview_id: int, user: CurrentUser, db: SessionDep) -> ReflectionPublic:
    interview = get_owned_interview(db, user.id, interview_id)
    if interview.reflection is None:
        raise NotFound("no reflection written for this interview yet")
    return ReflectionPublic.of(interview.reflection)


@router.post("/{interview_id}/feedback", status_code=status.HTTP_201_CREATED, response_model=FeedbackPublic)
def create_feedback(interview_id: int, body: FeedbackCreate, user: CurrentUser, db: SessionDep) -> Feedback:
    interview = get_owned_interview(db, user.id, interview_id)
    feedback = Feedback(interview_id=interview.id, **body.model_dump())
    db.add(feedback)
    db.commit()
    return feedback


@router.get("/{interview_id}/feedback", response_model=list[FeedbackPublic], responses=PAGE_RESPONSES)
def list_feedback(
    interview_id: int, user: CurrentUser, db: SessionDep, page: PageDep
) -> list[FeedbackPublic]:
    """The newest page of the interview's feedback, in the order of feedback_in_time_order."""
    interview = get_owned_interview(db, user.id, interview_id)
    return page_of(
        db,
        page,
        query=select(Feedback).where(Feedback.interview_id == interview.id),
        key=FEEDBACK_TIME,
        id_column=Feedback.id,
        public=FeedbackPublic,
    )


@router.patch("/{interview_id}/feedback/{feedback_id}", response_model=FeedbackPublic)
def update_feedback(
    interview_id: int, feedback_id: int, body: FeedbackUpdate, user: CurrentUser, db: SessionDep
) -> Feedback:
    feedback = get_owned_feedback(db, user.id, interview_id, feedback_id)
    changes = body.model_dump(exclude_unset=True)
    try:
        _check_order(
            changes.get("requested_at", feedback.requested_at),
            changes.get("received_at", feedback.received_at),
        )
    except ValueError as exc:
        raise InvalidInput(str(exc)) from exc
    for key, value in changes.items():
        setattr(feedback, key, value)
    db.commit()
    return feedback


@router.delete("/{interview_id}/feedback/{feedback_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_feedback(interview_id: int, feedback_id: int, user: CurrentUser, db: SessionDep) -> None:
    db.delete(get_owned_feedback(db, user.id, interview_id, feedback_id))
    db.commit()
