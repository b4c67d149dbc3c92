"""Practice sessions: interview questions answered aloud and self-rated, for the plan's "practise" step.

A session may carry the span it was timed over (`started_at`, `ended_at`); its `heart` figures are then
computed from the user's samples in that span at every read, so a strap upload that arrives later, or a
profile whose resting rate moves, is reflected without rewriting the session.
"""

from __future__ import annotations

from fastapi import APIRouter, status

from service.api.deps import ContextDep, CurrentUser, SessionDep
from service.journal import crud
from service.journal.answers import practice_public, with_heart
from service.journal.crud import PRACTICE
from service.journal.schemas import PracticeCreate, PracticePublic, PracticeUpdate
from service.web.fields import TimeFrom, TimeTo
from service.web.pages import PAGE_RESPONSES, PageDep

router = APIRouter(prefix="/practice", tags=["practice"])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=PracticePublic)
def create_practice(
    body: PracticeCreate, user: CurrentUser, db: SessionDep, ctx: ContextDep
) -> PracticePublic:
    tolerance_s = ctx.settings.future_tolerance_s
    practice = crud.create(db, PRACTICE, user.id, body.model_dump(), tolerance_s=tolerance_s)
    return practice_public(db, user, practice)


@router.get("", response_model=list[PracticePublic], responses=PAGE_RESPONSES)
def list_practice(
    user: CurrentUser,
    db: SessionDep,
    page: PageDep,
    from_: TimeFrom = None,
    to: TimeTo = None,
) -> list[PracticePublic]:
    """The newest page of the practice sessions, in time order; Link names the page before it."""
    return with_heart(db, user, crud.list_page(db, PRACTICE, user.id, page, PracticePublic, from_, to))


@router.get("/{practice_id}", response_model=PracticePublic)
def read_practice(practice_id: int, user: CurrentUser, db: SessionDep) -> PracticePublic:
    return practice_public(db, user, crud.owned(db, PRACTICE, user.id, practice_id))


@router.patch("/{practice_id}", response_model=PracticePublic)
def update_practice(
    practice_id: int, body: PracticeUpdate, user: CurrentUser, db: SessionDep, ctx: ContextDep
) -> PracticePublic:
    practice = crud.owned(db, PRACTICE, user.id, practice_id)
    changes = body.model_dump(exclude_unset=True)
    tolerance_s = ctx.settings.future_tolerance_s
    crud.update(db, PRACTICE, practice, changes, tolerance_s=tolerance_s, before=crud.check_practice_span)
    return practice_public(db, user, practice)


@router.delete("/{practice_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_practice(practice_id: int, user: CurrentUser, db: SessionDep) -> None:
    crud.delete(db, crud.owned(db, PRACTICE, user.id, practice_id))
