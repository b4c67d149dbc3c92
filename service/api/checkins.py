"""Daily confidence and mood check-ins."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, status
from pydantic import BaseModel, ConfigDict
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.api.common import within
from service.api.deps import ContextDep, CurrentUser, SessionDep
from service.api.pages import PAGE_RESPONSES, PageDep, page_of
from service.api.types import IsoTime, LongText, NotNull, Rating, TimeFrom, TimeTo, UtcTime
from service.core.models import CheckIn
from service.journal import get_owned, refuse_future

router = APIRouter(prefix="/checkins", tags=["checkins"])


class CheckInCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    at: UtcTime | None = None
    confidence: Rating
    mood: Rating | None = None
    note: LongText | None = None


class CheckInUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    at: Annotated[UtcTime | None, NotNull] = None
    confidence: Annotated[Rating | None, NotNull] = None
    mood: Rating | None = None
    note: LongText | None = None


class CheckInPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: IsoTime
    confidence: int
    mood: int | None
    note: str | None
    created_at: IsoTime


def get_owned_checkin(db: Session, user_id: int, checkin_id: int) -> CheckIn:
    """The check-in if it belongs to the user; another user's id answers 404, as if it did not exist."""
    return get_owned(db, CheckIn, user_id, checkin_id, "check-in")


@router.post("", status_code=status.HTTP_201_CREATED, response_model=CheckInPublic)
def create_checkin(body: CheckInCreate, user: CurrentUser, db: SessionDep, ctx: ContextDep) -> CheckIn:
    refuse_future(body.at, "at", ctx.settings.future_tolerance_s)
    checkin = CheckIn(
        user_id=user.id, **body.model_dump(exclude={"at"}), at=body.at or dt.datetime.now(dt.UTC)
    )
    db.add(checkin)
    db.commit()
    return checkin


@router.get("", response_model=list[CheckInPublic], responses=PAGE_RESPONSES)
def list_checkins(
    user: CurrentUser,
    db: SessionDep,
    page: PageDep,
    from_: TimeFrom = None,
    to: TimeTo = None,
) -> list[CheckInPublic]:
    """The newest page of the check-ins, in time order; Link names the page before it."""
    query = within(select(CheckIn).where(CheckIn.user_id == user.id), CheckIn.at, from_, to)
    return page_of(
        db,
        page,
        query=query,
        key=CheckIn.at,
        id_column=CheckIn.id,
        public=CheckInPublic,
    )


@router.get("/{checkin_id}", response_model=CheckInPublic)
def read_checkin(checkin_id: int, user: CurrentUser, db: SessionDep) -> CheckIn:
    return get_owned_checkin(db, user.id, checkin_id)


@router.patch("/{checkin_id}", response_model=CheckInPublic)
def update_checkin(
    checkin_id: int, body: CheckInUpdate, user: CurrentUser, db: SessionDep, ctx: ContextDep
) -> CheckIn:
    checkin = get_owned_checkin(db, user.id, checkin_id)
    refuse_future(body.at, "at", ctx.settings.future_tolerance_s)
    for key, value in body.model_dump(exclude_unset=True).items():
        setattr(checkin, key, value)
    db.commit()
    return checkin


@router.delete("/{checkin_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_checkin(checkin_id: int, user: CurrentUser, db: SessionDep) -> None:
    db.delete(get_owned_checkin(db, user.id, checkin_id))
    db.commit()
