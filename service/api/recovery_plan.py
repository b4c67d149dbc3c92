"""The interview recovery plan: service.coaching.plan loads what each step reads and judges it; this
router answers with the steps."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel

from service.api.deps import CurrentUser, SessionDep
from service.coaching.plan import Step, load_inputs, recovery_plan
from service.journal import get_owned_interview

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


def _public(step: Step) -> PlanStepPublic:
    return PlanStepPublic(
        step=step.step, title=step.title, done=step.done, evidence={"summary": step.summary, **step.facts}
    )


@router.get("/{interview_id}/recovery-plan", response_model=RecoveryPlanPublic)
def read_recovery_plan(interview_id: int, user: CurrentUser, db: SessionDep) -> RecoveryPlanPublic:
    """The seven steps in order, each done or not with the evidence behind it."""
    interview = get_owned_interview(db, user.id, interview_id)
    steps = recovery_plan(load_inputs(db, user, interview))
    return RecoveryPlanPublic(
        interview_id=interview.id,
        steps=[_public(s) for s in steps],
        done_count=sum(s.done for s in steps),
        total=len(steps),
    )
