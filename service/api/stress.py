"""Stress around interviews: HR and HRV in 5-minute windows against the user's baseline for the hour, and
the stress episodes of a range. What is loaded and how it is judged is service.coaching.stress."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from service.api.deps import CurrentUser, SessionDep
from service.coaching.stress import (
    InterviewStressPublic,
    StressEpisodePublic,
    episodes_between,
    interview_stress_report,
)
from service.journal import get_owned_interview
from service.web.query import query_time_ms

router = APIRouter(tags=["stress"])


@router.get("/interviews/{interview_id}/stress", response_model=InterviewStressPublic)
def read_interview_stress(interview_id: int, user: CurrentUser, db: SessionDep) -> InterviewStressPublic:
    """HR and HRV from 3 h before to 6 h after the interview, against the user's usual for the hour."""
    return interview_stress_report(db, user, get_owned_interview(db, user.id, interview_id))


@router.get("/stress/episodes", response_model=list[StressEpisodePublic])
def list_stress_episodes(
    user: CurrentUser,
    db: SessionDep,
    from_: Annotated[str, Query(alias="from", description="ISO 8601 with an offset, or epoch ms")],
    to: Annotated[str, Query(description="ISO 8601 with an offset, or epoch ms; at most 7 days after from")],
) -> list[StressEpisodePublic]:
    """Sustained rest-time stress episodes in a range, against the baseline of the days before the range.

    None falls in a workout or the hour after it."""
    lo_s, hi_s = query_time_ms(from_, "from") / 1000, query_time_ms(to, "to") / 1000
    return episodes_between(db, user, lo_s, hi_s)
