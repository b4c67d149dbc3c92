"""Job applications sent: the plan's "don't stop" step counts those made since an interview.

Each status an application takes is kept as an event (the status given at create, then every change by
PATCH), so the answer's `history` shows how it moved: applied, screen, onsite, offer or rejected.
"""

from __future__ import annotations

from fastapi import APIRouter, status

from service.api.deps import ContextDep, CurrentUser, SessionDep
from service.journal import crud
from service.journal.answers import application_public, with_histories
from service.journal.crud import APPLICATIONS
from service.journal.schemas import ApplicationCreate, ApplicationPublic, ApplicationUpdate
from service.web.fields import TimeFrom, TimeTo
from service.web.pages import PAGE_RESPONSES, PageDep

router = APIRouter(prefix="/applications", tags=["applications"])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ApplicationPublic)
def create_application(
    body: ApplicationCreate, user: CurrentUser, db: SessionDep, ctx: ContextDep
) -> ApplicationPublic:
    tolerance_s = ctx.settings.future_tolerance_s
    application = crud.create(
        db, APPLICATIONS, user.id, body.model_dump(), tolerance_s=tolerance_s, then=crud.first_status
    )
    return application_public(db, application)


@router.get("", response_model=list[ApplicationPublic], responses=PAGE_RESPONSES)
def list_applications(
    user: CurrentUser,
    db: SessionDep,
    page: PageDep,
    from_: TimeFrom = None,
    to: TimeTo = None,
) -> list[ApplicationPublic]:
    """The newest page of the applications, in time order; Link names the page before it."""
    return with_histories(db, crud.list_page(db, APPLICATIONS, user.id, page, ApplicationPublic, from_, to))


@router.get("/{application_id}", response_model=ApplicationPublic)
def read_application(application_id: int, user: CurrentUser, db: SessionDep) -> ApplicationPublic:
    return application_public(db, crud.owned(db, APPLICATIONS, user.id, application_id))


@router.patch("/{application_id}", response_model=ApplicationPublic)
def update_application(
    application_id: int, body: ApplicationUpdate, user: CurrentUser, db: SessionDep, ctx: ContextDep
) -> ApplicationPublic:
    application = crud.owned(db, APPLICATIONS, user.id, application_id)
    changes = body.model_dump(exclude_unset=True)
    tolerance_s = ctx.settings.future_tolerance_s
    crud.update(
        db, APPLICATIONS, application, changes, tolerance_s=tolerance_s, before=crud.record_status_change
    )
    return application_public(db, application)


@router.delete("/{application_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_application(application_id: int, user: CurrentUser, db: SessionDep) -> None:
    crud.delete(db, crud.owned(db, APPLICATIONS, user.id, application_id))
