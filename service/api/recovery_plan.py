"""The interview recovery plan: loads what each step reads, leaves the judging to service.coaching.plan."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.analysis.minutes import target_met
from service.api.deps import CurrentUser, SessionDep
from service.coaching.plan import PlanInputs, Step, recovery_plan
from service.core import localtime
from service.core.models import Application, DayRollup, Interview, PracticeSession, User
from service.journal import feedback_in_time_order, get_owned_interview

router = APIRouter(prefix="/interviews", tags=["interviews"])


class PlanStepPublic(BaseModel):
    step: str
    title: str
    done: bool
    evidence: dict[str, Any]


class RecoveryPlanPublic(BaseModel):
    interview_id: int
    steps: list[PlanStepPublic]
    done_count: int
    total: int


def _since(db: Session, user: User, interview: Interview) -> tuple[list[PracticeSession], list[Application]]:
    practice = db.scalars(
        select(PracticeSession)
        .where(PracticeSession.user_id == user.id, PracticeSession.at >= interview.at)
        .order_by(PracticeSession.at, PracticeSession.id)
    ).all()
    applications = db.scalars(
        select(Application)
        .where(Application.user_id == user.id, Application.applied_at >= interview.at)
        .order_by(Application.applied_at, Application.id)
    ).all()
    return list(practice), list(applications)


def _targets_met(db: Session, user: User, first: dt.date, last: dt.date) -> list[tuple[dt.date, dt.datetime]]:
    """Days whose target (the user's current one, service.analysis.minutes.target_met) was met, and when."""
    rows = db.execute(
        select(DayRollup.day, DayRollup.target_met_at, DayRollup.heartbeat_up_minutes).where(
            DayRollup.user_id == user.id,
            DayRollup.day >= first,
            DayRollup.day <= last,
            DayRollup.target_met_at.is_not(None),
        )
    ).all()
    return [
        (r.day, r.target_met_at)
        for r in rows
        if target_met(r.heartbeat_up_minutes, user.daily_target_minutes)
    ]


def _public(step: Step) -> PlanStepPublic:
    return PlanStepPublic(
        step=step.step, title=step.title, done=step.done, evidence={"summary": step.summary, **step.facts}
    )


@router.get("/{interview_id}/recovery-plan", response_model=RecoveryPlanPublic)
def read_recovery_plan(interview_id: int, user: CurrentUser, db: SessionDep) -> RecoveryPlanPublic:
    """The seven steps in order, each done or not with the evidence behind it."""
    interview = get_owned_interview(db, user.id, interview_id)
    tz = localtime.zone(user.timezone)
    today = localtime.today(tz)
    practice, applications = _since(db, user, interview)
    first_day = interview.at.astimezone(tz).date()
    steps = recovery_plan(
        PlanInputs(
            interview=interview,
            reflection=interview.reflection,
            feedback=feedback_in_time_order(interview),
            practice=practice,
            applications=applications,
            target_met_at=_targets_met(db, user, first_day, today),
            today=today,
            tz=tz,
        )
    )
    return RecoveryPlanPublic(
        interview_id=interview.id,
        steps=[_public(s) for s in steps],
        done_count=sum(s.done for s in steps),
        total=len(steps),
    )
