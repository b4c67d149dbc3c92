"""Today's nudges toward the heartbeat-up hour, for the Today page after a reload (the live stream says them first)."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter
from pydantic import BaseModel

from service.api.deps import CurrentUser, SessionDep
from service.coaching.nudges import todays_nudges

router = APIRouter(prefix="/nudges", tags=["nudges"])


class NudgePublic(BaseModel):
    kind: str
    date: dt.date
    message: str
    minutes: int
    target_minutes: int
    sent_at: dt.datetime


@router.get("/today", response_model=list[NudgePublic])
def read_todays_nudges(user: CurrentUser, db: SessionDep) -> list[NudgePublic]:
    """What was said today (`behind`, then maybe `met`), oldest first; empty with nudges off."""
    return [
        NudgePublic(
            kind=n.kind,
            date=n.day,
            message=n.message,
            minutes=n.minutes,
            target_minutes=n.target_minutes,
            sent_at=n.sent_at,
        )  # fmt: skip
        for n in todays_nudges(db, user, dt.datetime.now(dt.UTC))
    ]
