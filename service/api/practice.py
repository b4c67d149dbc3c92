"""Practice sessions: interview questions answered aloud and self-rated, for the plan's "practise" step."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.api.checkins import NotNull, TimeFrom, TimeTo, refuse_future, within
from service.api.deps import ContextDep, CurrentUser, SessionDep
from service.api.pages import PAGE_RESPONSES, PageDep, page_of
from service.api.types import IsoTime, LongText, Rating, UtcTime
from service.errors import NotFound
from service.models import PracticeSession

router = APIRouter(prefix="/practice", tags=["practice"])

# A session is a handful of questions, each a sentence or two. The bound keeps one record small (it was
# 200 x 2000 characters, 400 kB: issue 15), so a page of them stays small too (service/api/pages.py).
MAX_QUESTIONS, MAX_QUESTION_CHARS = 50, 500
Questions = Annotated[
    list[Annotated[str, Field(min_length=1, max_length=MAX_QUESTION_CHARS)]], Field(max_length=MAX_QUESTIONS)
]


class PracticeCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    at: UtcTime
    questions: Questions
    self_rating: Rating
    notes: LongText | None = None


class PracticeUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    at: Annotated[UtcTime | None, NotNull] = None
    questions: Annotated[Questions | None, NotNull] = None
    self_rating: Annotated[Rating | None, NotNull] = None
    notes: LongText | None = None


class PracticePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: IsoTime
    questions: list[str]
    self_rating: int
    notes: str | None
    created_at: IsoTime


def get_owned_practice(db: Session, user_id: int, practice_id: int) -> PracticeSession:
    """The practice session if it belongs to the user; another user's id answers 404."""
    practice = db.get(PracticeSession, practice_id)
    if practice is None or practice.user_id != user_id:
        raise NotFound("practice session not found")
    return practice


@router.post("", status_code=status.HTTP_201_CREATED, response_model=PracticePublic)
def create_practice(
    body: PracticeCreate, user: CurrentUser, db: SessionDep, ctx: ContextDep
) -> PracticeSession:
    refuse_future(body.at, "at", ctx.settings.future_tolerance_s)
    practice = PracticeSession(user_id=user.id, **body.model_dump())
    db.add(practice)
    db.commit()
    return practice


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
    return page_of(
        db,
        page,
        query=query,
        key=PracticeSession.at,
        id_column=PracticeSession.id,
        public=PracticePublic,
    )


@router.get("/{practice_id}", response_model=PracticePublic)
def read_practice(practice_id: int, user: CurrentUser, db: SessionDep) -> PracticeSession:
    return get_owned_practice(db, user.id, practice_id)


@router.patch("/{practice_id}", response_model=PracticePublic)
def update_practice(
    practice_id: int, body: PracticeUpdate, user: CurrentUser, db: SessionDep, ctx: ContextDep
) -> PracticeSession:
    practice = get_owned_practice(db, user.id, practice_id)
    refuse_future(body.at, "at", ctx.settings.future_tolerance_s)
    for key, value in body.model_dump(exclude_unset=True).items():
        setattr(practice, key, value)
    db.commit()
    return practice


@router.delete("/{practice_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_practice(practice_id: int, user: CurrentUser, db: SessionDep) -> None:
    db.delete(get_owned_practice(db, user.id, practice_id))
    db.commit()
