"""Practice sessions: interview questions answered aloud and self-rated, for the plan's "practise" step.

A session may carry the span it was timed over (`started_at`, `ended_at`); its `heart` figures are then
computed from the user's samples in that span at every read, so a strap upload that arrives later, or a
profile whose resting rate moves, is reflected without rewriting the session.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, status
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.analysis.cleaning import clean_hr
from service.analysis.practice import practice_heart
from service.api.common import within
from service.api.deps import ContextDep, CurrentUser, SessionDep
from service.api.pages import PAGE_RESPONSES, PageDep, page_of
from service.api.types import IsoTime, LongText, NotNull, Rating, TimeFrom, TimeTo, UtcTime
from service.core.models import PracticeSession, User
from service.errors import InvalidInput
from service.journal import get_owned, refuse_future
from service.pipeline.rollups import profile_for
from service.pipeline.samples import load_samples

router = APIRouter(prefix="/practice", tags=["practice"])

# A session is a handful of questions, each a sentence or two. The bound keeps one record small (it was
# 200 x 2000 characters, 400 kB: issue 15), so a page of them stays small too (service/api/pages.py).
MAX_QUESTIONS, MAX_QUESTION_CHARS = 50, 500
Questions = Annotated[
    list[Annotated[str, Field(min_length=1, max_length=MAX_QUESTION_CHARS)]], Field(max_length=MAX_QUESTIONS)
]

# A practice session is a mock interview at most: six hours bounds a forgotten timer and the samples read.
MAX_PRACTICE_S = 6 * 3600


def span_problem(started_at: dt.datetime | None, ended_at: dt.datetime | None) -> str | None:
    """Why a practice span cannot hold, or None: both or neither, ended after started, at most 6 hours."""
    if (started_at is None) != (ended_at is None):
        return "started_at and ended_at: give both or neither"
    if started_at is not None and ended_at is not None:
        if ended_at <= started_at:
            return "ended_at: must be after started_at"
        if (ended_at - started_at).total_seconds() > MAX_PRACTICE_S:
            return "ended_at: a practice session lasts at most 6 hours"
    return None


class PracticeCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    at: UtcTime
    questions: Questions
    self_rating: Rating
    notes: LongText | None = None
    started_at: UtcTime | None = None
    ended_at: UtcTime | None = None

    @model_validator(mode="after")
    def _span(self) -> PracticeCreate:
        problem = span_problem(self.started_at, self.ended_at)
        if problem is not None:
            raise ValueError(problem)
        return self


class PracticeUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    at: Annotated[UtcTime | None, NotNull] = None
    questions: Annotated[Questions | None, NotNull] = None
    self_rating: Annotated[Rating | None, NotNull] = None
    notes: LongText | None = None
    # null clears the span (give both null); one of them alone is checked against the stored other.
    started_at: UtcTime | None = None
    ended_at: UtcTime | None = None


class PracticeHeartPublic(BaseModel):
    """Heart figures of a timed session; arousal is the mean above the user's resting heart rate."""

    mean_bpm: float
    peak_bpm: float
    n_samples: int
    arousal_bpm: float
    arousal_pct_hrr: float = Field(description="arousal as a percent of the heart-rate reserve (max - rest)")


class PracticePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: IsoTime
    questions: list[str]
    self_rating: int
    notes: str | None
    created_at: IsoTime
    started_at: IsoTime | None = None
    ended_at: IsoTime | None = None
    heart: PracticeHeartPublic | None = Field(
        default=None, description="from the user's samples in the span; null without a span or samples"
    )


def heart_of(
    db: Session, user: User, started_at: dt.datetime | None, ended_at: dt.datetime | None
) -> PracticeHeartPublic | None:
    """The heart figures of the user's samples (all devices) in [started_at, ended_at), artefacts left out."""
    if started_at is None or ended_at is None:
        return None
    data = load_samples(db, user.id, started_at.timestamp(), ended_at.timestamp())
    if data.t_s.size == 0:
        return None
    valid = clean_hr(data.t_s, data.bpm, contact=data.contact).valid
    figures = practice_heart(data.bpm, profile=profile_for(user), valid=valid)
    if figures is None:
        return None
    return PracticeHeartPublic(
        mean_bpm=round(figures.mean_bpm, 1),
        peak_bpm=round(figures.peak_bpm, 1),
        n_samples=figures.n_samples,
        arousal_bpm=round(figures.arousal_bpm, 1),
        arousal_pct_hrr=round(figures.arousal_pct_hrr, 1),
    )


def _public(db: Session, user: User, practice: PracticeSession) -> PracticePublic:
    answer = PracticePublic.model_validate(practice)
    answer.heart = heart_of(db, user, practice.started_at, practice.ended_at)
    return answer


def get_owned_practice(db: Session, user_id: int, practice_id: int) -> PracticeSession:
    """The practice session if it belongs to the user; another user's id answers 404."""
    return get_owned(db, PracticeSession, user_id, practice_id, "practice session")


@router.post("", status_code=status.HTTP_201_CREATED, response_model=PracticePublic)
def create_practice(
    body: PracticeCreate, user: CurrentUser, db: SessionDep, ctx: ContextDep
) -> PracticePublic:
    for name in ("at", "started_at", "ended_at"):
        refuse_future(getattr(body, name), name, ctx.settings.future_tolerance_s)
    practice = PracticeSession(user_id=user.id, **body.model_dump())
    db.add(practice)
    db.commit()
    return _public(db, user, practice)


@router.get("", response_model=list[PracticePublic], responses=PAGE_RESPONSES)
def list_practice(
    user: CurrentUser,
    db: SessionDep,
    page: PageDep,
    from_: TimeFrom = None,
    to: TimeTo = None,
) -> list[PracticePublic]:
    """The newest page of the practice sessions, in time order; Link names the page before it."""
    query = within(
        select(PracticeSession).where(PracticeSession.user_id == user.id), PracticeSession.at, from_, to
    )
    items = page_of(
        db,
        page,
        query=query,
        key=PracticeSession.at,
        id_column=PracticeSession.id,
        public=PracticePublic,
    )
    for item in items:  # a page is bounded (service/api/pages.py), and so is each span (MAX_PRACTICE_S)
        item.heart = heart_of(db, user, item.started_at, item.ended_at)
    return items


@router.get("/{practice_id}", response_model=PracticePublic)
def read_practice(practice_id: int, user: CurrentUser, db: SessionDep) -> PracticePublic:
    return _public(db, user, get_owned_practice(db, user.id, practice_id))


@router.patch("/{practice_id}", response_model=PracticePublic)
def update_practice(
    practice_id: int, body: PracticeUpdate, user: CurrentUser, db: SessionDep, ctx: ContextDep
) -> PracticePublic:
    practice = get_owned_practice(db, user.id, practice_id)
    for name in ("at", "started_at", "ended_at"):
        refuse_future(getattr(body, name), name, ctx.settings.future_tolerance_s)
    changes = body.model_dump(exclude_unset=True)
    problem = span_problem(
        changes.get("started_at", practice.started_at), changes.get("ended_at", practice.ended_at)
    )
    if problem is not None:
        raise InvalidInput(problem)
    for key, value in changes.items():
        setattr(practice, key, value)
    db.commit()
    return _public(db, user, practice)


@router.delete("/{practice_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_practice(practice_id: int, user: CurrentUser, db: SessionDep) -> None:
    db.delete(get_owned_practice(db, user.id, practice_id))
    db.commit()
