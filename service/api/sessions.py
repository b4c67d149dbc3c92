"""Workout sessions: list, read, their samples, and the user's corrections (edit, merge, delete, add)."""

from __future__ import annotations

import time
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Query, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.analysis.cleaning import clean_hr
from service.analysis.sessions import summarise_session
from service.api.deps import CurrentUser, SessionDep
from service.core import localtime
from service.core.models import Sample, User, WorkoutSession
from service.errors import InvalidInput
from service.journal import get_owned_session
from service.journal.schemas import MAX_SESSION_S, SessionSpan
from service.pipeline.days import session_columns
from service.pipeline.minutes import profile_for
from service.pipeline.samples import load_samples
from service.web.errors import error_responses
from service.web.fields import DbId
from service.web.query import FastJSON, query_time_ms
from service.web.views import (
    EncodedJSON,
    LocalClock,
    SessionPublic,
    session_dicts,
    session_public,
    session_rows,
)

router = APIRouter(prefix="/sessions", tags=["sessions"])

RECOVERY_AFTER_S = 600  # samples after a corrected session's end, so its recovery can be measured


def _owned(db: Session, user: User, session_id: int) -> WorkoutSession:
    return get_owned_session(db, user.id, session_id)


class SessionMerge(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ids: list[DbId] = Field(min_length=2, max_length=20)


def _summarise(db: Session, user: User, start_ms: int, end_ms: int) -> dict[str, Any]:
    data = load_samples(db, user.id, start_ms / 1000, end_ms / 1000 + RECOVERY_AFTER_S)
    valid = clean_hr(data.t_s, data.bpm, contact=data.contact).valid
    summary = summarise_session(
        data.t_s, data.bpm, start_ms / 1000, end_ms / 1000, profile=profile_for(user), valid=valid
    )
    columns = session_columns(summary)
    columns["start_ms"], columns["end_ms"] = start_ms, end_ms
    return columns


def _span_ms(span: SessionSpan) -> tuple[int, int]:
    return int(span.start.timestamp() * 1000), int(span.end.timestamp() * 1000)


@router.get("", response_model=list[SessionPublic])
def list_sessions(
    user: CurrentUser,
    db: SessionDep,
    from_: Annotated[str | None, Query(alias="from")] = None,
    to: Annotated[str | None, Query()] = None,
) -> EncodedJSON:
    # built from plain rows and encoded at once; `response_model` still documents them (no docstring: the
    # OpenAPI document stays as it was)
    query = session_rows().where(WorkoutSession.user_id == user.id, WorkoutSession.deleted.is_(False))
    if from_ is not None:
        query = query.where(WorkoutSession.end_ms >= query_time_ms(from_, "from"))
    if to is not None:
        query = query.where(WorkoutSession.start_ms < query_time_ms(to, "to"))
    clock, now_ms = LocalClock(localtime.zone(user.timezone)), int(time.time() * 1000)
    rows = db.connection().execute(query.order_by(WorkoutSession.start_ms).limit(5000))  # Core rows: faster
    return EncodedJSON(session_dicts(rows.all(), clock, now_ms=now_ms))


@router.post("", status_code=status.HTTP_201_CREATED, response_model=SessionPublic)
def add_session(body: SessionSpan, user: CurrentUser, db: SessionDep) -> SessionPublic:
    """A workout the strap missed or recorded badly, added by hand; its statistics come from any samples."""
    start_ms, end_ms = _span_ms(body)
    added = WorkoutSession(user_id=user.id, source="manual", **_summarise(db, user, start_ms, end_ms))
    db.add(added)
    db.commit()
    return session_public(added, localtime.zone(user.timezone))


@router.post("/merge", response_model=SessionPublic, responses=error_responses(404))
def merge_sessions(body: SessionMerge, user: CurrentUser, db: SessionDep) -> SessionPublic:
    """Several sessions become one spanning them all (the others are kept as deletions)."""
    found = [_owned(db, user, i) for i in sorted(set(body.ids))]
    if len(found) < 2:
        raise InvalidInput("give at least two different sessions")
    start_ms, end_ms = min(s.start_ms for s in found), max(s.end_ms for s in found)
    if end_ms - start_ms > MAX_SESSION_S * 1000:
        raise InvalidInput("a merged session would last more than 24 hours")
    for s in found:
        s.deleted = True
    merged = WorkoutSession(user_id=user.id, source="merged", **_summarise(db, user, start_ms, end_ms))
    db.add(merged)
    db.commit()
    return session_public(merged, localtime.zone(user.timezone))


@router.get("/{session_id}", response_model=SessionPublic)
def read_session(session_id: int, user: CurrentUser, db: SessionDep) -> SessionPublic:
    return session_public(_owned(db, user, session_id), localtime.zone(user.timezone))


@router.patch("/{session_id}", response_model=SessionPublic)
def edit_session(session_id: int, body: SessionSpan, user: CurrentUser, db: SessionDep) -> SessionPublic:
    """New start and end set by the user; statistics recomputed, and detection will not overwrite it."""
    found = _owned(db, user, session_id)
    start_ms, end_ms = _span_ms(body)
    for key, value in _summarise(db, user, start_ms, end_ms).items():
        setattr(found, key, value)
    if found.source == "detected":
        found.source = "edited"
    db.commit()
    return session_public(found, localtime.zone(user.timezone))


@router.delete("/{session_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_session(session_id: int, user: CurrentUser, db: SessionDep) -> None:
    """Kept as a deletion, so the next recomputation does not detect it again."""
    found = _owned(db, user, session_id)
    found.deleted = True
    db.commit()


@router.get("/{session_id}/samples", response_class=FastJSON)
def session_samples(session_id: int, user: CurrentUser, db: SessionDep, recovery: bool = False) -> FastJSON:
    """The session's heart rate; with `recovery=true` also the ten minutes after it, for the recovery chart."""
    found = _owned(db, user, session_id)
    after_ms = RECOVERY_AFTER_S * 1000 if recovery else 0
    rows = db.execute(
        select(Sample.t_ms, Sample.bpm)
        .where(
            Sample.user_id == user.id,
            Sample.t_ms >= found.start_ms,
            Sample.t_ms <= found.end_ms + after_ms,
        )
        .order_by(Sample.t_ms)
    ).all()
    if not rows:
        return EncodedJSON([])
    t_ms, bpm = zip(*rows, strict=True)
    # the strings of service.web.query.iso_ms, all at once: numpy writes UTC to the millisecond, no offset
    times = np.datetime_as_string(np.array(t_ms, dtype="datetime64[ms]"), unit="ms").tolist()
    return EncodedJSON([{"t": t + "+00:00", "bpm": b} for t, b in zip(times, bpm, strict=True)])
