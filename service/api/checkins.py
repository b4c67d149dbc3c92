"""Daily confidence and mood check-ins; also the small helpers the other journal routers share."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Query, status
from pydantic import AfterValidator, BaseModel, ConfigDict
from sqlalchemy import Select, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from service.api.common import query_time_ms
from service.api.deps import ContextDep, CurrentUser, SessionDep
from service.api.pages import PAGE_RESPONSES, PageDep, page_of
from service.api.types import IsoTime, LongText, Rating, UtcTime
from service.errors import InvalidInput, NotFound
from service.models import CheckIn

router = APIRouter(prefix="/checkins", tags=["checkins"])

T = TypeVar("T")
S = TypeVar("S", bound=Select[Any])


def _present(value: T | None) -> T:
    if value is None:
        raise ValueError("may be left out but not set to null")
    return value


# For PATCH bodies: a field that may be omitted (left unchanged) but not cleared.
NotNull = AfterValidator(_present)
TimeFrom = Annotated[
    str | None, Query(alias="from", description="ISO 8601 with an offset, or epoch ms; inclusive")
]
TimeTo = Annotated[str | None, Query(description="ISO 8601 with an offset, or epoch ms; exclusive")]


def within(query: S, column: InstrumentedAttribute[dt.datetime], from_: str | None, to: str | None) -> S:
    """Restrict a query to from <= column < to, with the bounds given as query-string times."""
    if from_ is not None:
        query = query.where(column >= _query_datetime(from_, "from"))
    if to is not None:
        query = query.where(column < _query_datetime(to, "to"))
    return query


_QUERY_FIRST_MS = int(dt.datetime(1900, 1, 1, tzinfo=dt.UTC).timestamp() * 1000)
_QUERY_LAST_MS = int(dt.datetime(2101, 1, 1, tzinfo=dt.UTC).timestamp() * 1000)


def _query_datetime(value: str, name: str) -> dt.datetime:
    """A bound of a range query; beyond the journal's span (service.api.types) it means "from the start"
    or "to the end", so it is clamped there rather than refused."""
    t_ms = min(max(query_time_ms(value, name), _QUERY_FIRST_MS), _QUERY_LAST_MS)
    return dt.datetime.fromtimestamp(t_ms / 1000, dt.UTC)


def refuse_future(value: dt.datetime | None, name: str, tolerance_s: int) -> None:
    """Something that already happened cannot be dated later than now (plus the clock tolerance)."""
    if value is not None and value > dt.datetime.now(dt.UTC) + dt.timedelta(seconds=tolerance_s):
        raise InvalidInput(f"{name}: is in the future")


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
    checkin = db.get(CheckIn, checkin_id)
    if checkin is None or checkin.user_id != user_id:
        raise NotFound("check-in not found")
    return checkin


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
