"""Daily confidence and mood check-ins."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, status

from service.api.deps import ContextDep, CurrentUser, SessionDep
from service.core.models import CheckIn
from service.journal import crud
from service.journal.crud import CHECKINS
from service.journal.schemas import CheckInCreate, CheckInPublic, CheckInUpdate
from service.web.fields import TimeFrom, TimeTo
from service.web.pages import PAGE_RESPONSES, PageDep

router = APIRouter(prefix="/checkins", tags=["checkins"])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=CheckInPublic)
def create_checkin(body: CheckInCreate, user: CurrentUser, db: SessionDep, ctx: ContextDep) -> CheckIn:
    values = {**body.model_dump(), "at": body.at or dt.datetime.now(dt.UTC)}  # no time given: now
    return crud.create(db, CHECKINS, user.id, values, tolerance_s=ctx.settings.future_tolerance_s)


@router.get("", response_model=list[CheckInPublic], responses=PAGE_RESPONSES)
def list_checkins(
    user: CurrentUser,
    db: SessionDep,
    page: PageDep,
    from_: TimeFrom = None,
    to: TimeTo = None,
) -> list[CheckInPublic]:
    """The newest page of the check-ins, in time order; Link names the page before it."""
    return crud.list_page(db, CHECKINS, user.id, page, CheckInPublic, from_, to)


@router.get("/{checkin_id}", response_model=CheckInPublic)
def read_checkin(checkin_id: int, user: CurrentUser, db: SessionDep) -> CheckIn:
    return crud.owned(db, CHECKINS, user.id, checkin_id)


@router.patch("/{checkin_id}", response_model=CheckInPublic)
def update_checkin(
    checkin_id: int, body: CheckInUpdate, user: CurrentUser, db: SessionDep, ctx: ContextDep
) -> CheckIn:
    checkin = crud.owned(db, CHECKINS, user.id, checkin_id)
    changes = body.model_dump(exclude_unset=True)
    return crud.update(db, CHECKINS, checkin, changes, tolerance_s=ctx.settings.future_tolerance_s)


@router.delete("/{checkin_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_checkin(checkin_id: int, user: CurrentUser, db: SessionDep) -> None:
    crud.delete(db, crud.owned(db, CHECKINS, user.id, checkin_id))
