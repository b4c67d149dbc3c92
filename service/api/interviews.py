"""Interviews and what the recovery plan is built from: the reflection on each and the feedback asked for."""

from __future__ import annotations

from fastapi import APIRouter, status

from service.api.deps import CurrentUser, SessionDep
from service.core.models import Feedback, Interview
from service.errors import NotFound
from service.journal import crud, get_owned_feedback, get_owned_interview
from service.journal.answers import interview_detail
from service.journal.crud import INTERVIEWS
from service.journal.schemas import (
    FeedbackCreate,
    FeedbackPublic,
    FeedbackUpdate,
    InterviewCreate,
    InterviewDetail,
    InterviewPublic,
    InterviewUpdate,
    ReflectionPublic,
    ReflectionPut,
)
from service.web.fields import TimeFrom, TimeTo
from service.web.pages import PAGE_RESPONSES, PageDep

router = APIRouter(prefix="/interviews", tags=["interviews"])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=InterviewPublic)
def create_interview(body: InterviewCreate, user: CurrentUser, db: SessionDep) -> Interview:
    return crud.create(db, INTERVIEWS, user.id, body.model_dump())


@router.get("", response_model=list[InterviewPublic], responses=PAGE_RESPONSES)
def list_interviews(
    user: CurrentUser,
    db: SessionDep,
    page: PageDep,
    from_: TimeFrom = None,
    to: TimeTo = None,
) -> list[InterviewPublic]:
    """The newest page of the interviews, in time order; Link names the page before it."""
    return crud.list_page(db, INTERVIEWS, user.id, page, InterviewPublic, from_, to)


@router.get("/{interview_id}", response_model=InterviewDetail)
def read_interview(interview_id: int, user: CurrentUser, db: SessionDep) -> InterviewDetail:
    return interview_detail(get_owned_interview(db, user.id, interview_id))


@router.patch("/{interview_id}", response_model=InterviewPublic)
def update_interview(
    interview_id: int, body: InterviewUpdate, user: CurrentUser, db: SessionDep
) -> Interview:
    interview = get_owned_interview(db, user.id, interview_id)
    return crud.update(db, INTERVIEWS, interview, body.model_dump(exclude_unset=True))


@router.delete("/{interview_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_interview(interview_id: int, user: CurrentUser, db: SessionDep) -> None:
    """Forget the interview with its reflection and feedback."""
    crud.delete(db, get_owned_interview(db, user.id, interview_id))


@router.put("/{interview_id}/reflection", response_model=ReflectionPublic)
def put_reflection(
    interview_id: int, body: ReflectionPut, user: CurrentUser, db: SessionDep
) -> ReflectionPublic:
    interview = get_owned_interview(db, user.id, interview_id)
    return ReflectionPublic.of(crud.put_reflection(db, interview, body))


@router.get("/{interview_id}/reflection", response_model=ReflectionPublic)
def read_reflection(interview_id: int, user: CurrentUser, db: SessionDep) -> ReflectionPublic:
    interview = get_owned_interview(db, user.id, interview_id)
    if interview.reflection is None:
        raise NotFound("no reflection written for this interview yet")
    return ReflectionPublic.of(interview.reflection)


@router.post("/{interview_id}/feedback", status_code=status.HTTP_201_CREATED, response_model=FeedbackPublic)
def create_feedback(interview_id: int, body: FeedbackCreate, user: CurrentUser, db: SessionDep) -> Feedback:
    interview = get_owned_interview(db, user.id, interview_id)
    return crud.add_feedback(db, interview, body.model_dump())


@router.get("/{interview_id}/feedback", response_model=list[FeedbackPublic], responses=PAGE_RESPONSES)
def list_feedback(
    interview_id: int, user: CurrentUser, db: SessionDep, page: PageDep
) -> list[FeedbackPublic]:
    """The newest page of the interview's feedback, in the order of feedback_in_time_order."""
    return crud.feedback_page(db, get_owned_interview(db, user.id, interview_id), page)


@router.patch("/{interview_id}/feedback/{feedback_id}", response_model=FeedbackPublic)
def update_feedback(
    interview_id: int, feedback_id: int, body: FeedbackUpdate, user: CurrentUser, db: SessionDep
) -> Feedback:
    feedback = get_owned_feedback(db, user.id, interview_id, feedback_id)
    return crud.update_feedback(db, feedback, body.model_dump(exclude_unset=True))


@router.delete("/{interview_id}/feedback/{feedback_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_feedback(interview_id: int, feedback_id: int, user: CurrentUser, db: SessionDep) -> None:
    crud.delete(db, get_owned_feedback(db, user.id, interview_id, feedback_id))
