"""Job applications sent: the plan's "don't stop" step counts those made since an interview.

Each status an application takes is kept as an event (the status given at create, then every change by
PATCH), so the answer's `history` shows how it moved: applied, screen, onsite, offer or rejected.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.api.common import within
from service.api.deps import ContextDep, CurrentUser, SessionDep
from service.api.pages import PAGE_RESPONSES, PageDep, page_of
from service.api.types import IsoTime, NotNull, ShortText, TimeFrom, TimeTo, UtcTime
from service.api.views import StatusEventPublic, histories
from service.core.models import Application, ApplicationStatusEvent
from service.journal import get_owned, refuse_future

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
    history: list[StatusEventPublic] = Field(
        default_factory=list, description="every status the application took, oldest first"
    )


def _public(db: Session, application: Application) -> ApplicationPublic:
    answer = ApplicationPublic.model_validate(application)
    answer.history = histories(db, [application])[application.id]
    return answer


def add_status_event(db: Session, application: Application, status: str, at: dt.datetime) -> None:
    """Record that the application took `status` at `at` (the caller commits)."""
    db.add(
        ApplicationStatusEvent(
            application_id=application.id, user_id=application.user_id, status=status, at=at
        )
    )


def get_owned_application(db: Session, user_id: int, application_id: int) -> Application:
    """The application if it belongs to the user; another user's id answers 404."""
    return get_owned(db, Application, user_id, application_id, "application")


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ApplicationPublic)
def create_application(
    body: ApplicationCreate, user: CurrentUser, db: SessionDep, ctx: ContextDep
) -> ApplicationPublic:
    refuse_future(body.applied_at, "applied_at", ctx.settings.future_tolerance_s)
    application = Application(user_id=user.id, **body.model_dump())
    db.add(application)
    db.flush()
    if body.status is not None:  # the first status is the one it was sent with
        add_status_event(db, application, body.status, body.applied_at)
    db.commit()
    return _public(db, application)


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
    items = page_of(
        db,
        page,
        query=query,
        key=Application.applied_at,
        id_column=Application.id,
        public=ApplicationPublic,
    )
    found = histories(db, items)
    for item in items:
        item.history = found[item.id]
    return items


@router.get("/{application_id}", response_model=ApplicationPublic)
def read_application(application_id: int, user: CurrentUser, db: SessionDep) -> ApplicationPublic:
    return _public(db, get_owned_application(db, user.id, application_id))


@router.patch("/{application_id}", response_model=ApplicationPublic)
def update_application(
    application_id: int, body: ApplicationUpdate, user: CurrentUser, db: SessionDep, ctx: ContextDep
) -> ApplicationPublic:
    application = get_owned_application(db, user.id, application_id)
    refuse_future(body.applied_at, "applied_at", ctx.settings.future_tolerance_s)
    changes = body.model_dump(exclude_unset=True)
    new_status = changes.get("status")
    if new_status is not None and new_status != application.status:
        had_events = db.scalar(
            select(ApplicationStatusEvent.id)
            .where(ApplicationStatusEvent.application_id == application.id)
            .limit(1)
        )
        if had_events is None and application.status is not None:  # keep where it started (no backfill)
            add_status_event(
                db, application, application.status, changes.get("applied_at", application.applied_at)
            )
        add_status_event(db, application, new_status, dt.datetime.now(dt.UTC))
    for key, value in changes.items():
        setattr(application, key, value)
    db.commit()
    return _public(db, application)


@router.delete("/{application_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_application(application_id: int, user: CurrentUser, db: SessionDep) -> None:
    db.delete(get_owned_application(db, user.id, application_id))
    db.commit()
