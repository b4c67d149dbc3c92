"""Job applications sent: the plan's "don't stop" step counts those made since an interview."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.api.checkins import NotNull, TimeFrom, TimeTo, refuse_future, within
from service.api.deps import ContextDep, CurrentUser, SessionDep
from service.api.pages import PAGE_RESPONSES, PageDep, page_of
from service.api.types import IsoTime, ShortText, UtcTime
from service.errors import NotFound
from service.models import Application

router = APIRouter(prefix="/applications", tags=["applications"])

Status = Annotated[str, Field(min_length=1, max_length=100)]


class ApplicationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    company: ShortText
    role: ShortText
    applied_at: UtcTime
    status: Status | None = None


class ApplicationUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    company: Annotated[ShortText | None, NotNull] = None
    role: Annotated[ShortText | None, NotNull] = None
    applied_at: Annotated[UtcTime | None, NotNull] = None
    status: Status | None = None


class ApplicationPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    company: str
    role: str
    applied_at: IsoTime
    status: str | None
    created_at: IsoTime


def get_owned_application(db: Session, user_id: int, application_id: int) -> Application:
    """The application if it belongs to the user; another user's id answers 404."""
    application = db.get(Application, application_id)
    if application is None or application.user_id != user_id:
        raise NotFound("application not found")
    return application


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ApplicationPublic)
def create_application(
    body: ApplicationCreate, user: CurrentUser, db: SessionDep, ctx: ContextDep
) -> Application:
    refuse_future(body.applied_at, "applied_at", ctx.settings.future_tolerance_s)
    application = Application(user_id=user.id, **body.model_dump())
    db.add(application)
    db.commit()
    return application


@router.get("", response_model=list[ApplicationPublic], responses=PAGE_RESPONSES)
def list_applications(
    user: CurrentUser,
    db: SessionDep,
    page: PageDep,
    from_: TimeFrom = None,
    to: TimeTo = None,
) -> list[ApplicationPublic]:
    """The newest page of the applications, in time order; Link names the page before it."""
    query = within(
        select(Application).where(Application.user_id == user.id), Application.applied_at, from_, to
    )
    return page_of(
        db,
        page,
        query=query,
        key=Application.applied_at,
        id_column=Application.id,
        public=ApplicationPublic,
    )


@router.get("/{application_id}", response_model=ApplicationPublic)
def read_application(application_id: int, user: CurrentUser, db: SessionDep) -> Application:
    return get_owned_application(db, user.id, application_id)


@router.patch("/{application_id}", response_model=ApplicationPublic)
def update_application(
    application_id: int, body: ApplicationUpdate, user: CurrentUser, db: SessionDep, ctx: ContextDep
) -> Application:
    application = get_owned_application(db, user.id, application_id)
    refuse_future(body.applied_at, "applied_at", ctx.settings.future_tolerance_s)
    for key, value in body.model_dump(exclude_unset=True).items():
        setattr(application, key, value)
    db.commit()
    return application


@router.delete("/{application_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_application(application_id: int, user: CurrentUser, db: SessionDep) -> None:
    db.delete(get_owned_application(db, user.id, application_id))
    db.commit()
