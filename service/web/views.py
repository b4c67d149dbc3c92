"""API forms more than one router answers with, built here so that no router imports another: a workout
session as the sessions and days routes show it, an application's status history (applications, export)."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence
from typing import Protocol
from zoneinfo import ZoneInfo

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.analysis.recovery import NOTE_NO_DATA, NOTE_PENDING
from service.analysis.sessions import MAX_HOLE_S
from service.core.models import ApplicationStatusEvent, WorkoutSession
from service.web.fields import IsoTime


class RecoveryFitPublic(BaseModel):
    t0: str
    hr0: float
    hr_asymptote: float
    tau_s: float
    r2: float | None
    duration_s: float | None


class RecoveryPublic(BaseModel):
    end_of_effort: str | None
    hr_end_of_effort: float | None
    fit: RecoveryFitPublic | None


class SessionPublic(BaseModel):
    id: int
    start: str
    end: str
    duration_s: float
    avg_bpm: float | None
    max_bpm: float | None
    heartbeat_up_minutes: int
    zone_minutes: dict[str, int]
    trimp: float | None
    hrr60_bpm: float | None
    hrr120_bpm: float | None
    recovery_tau_s: float | None
    source: str
    recovery: RecoveryPublic
    in_progress: bool = False  # still receiving data: the end is the latest sample, recovery pending
    recovery_note: str | None = None  # why a recovery value is missing or reads low, for the page to show
    recovery_fit_r2: float | None = None  # quality of the fit behind recovery_tau_s (shown only with it)


def _local_iso(t_ms: int, tz: ZoneInfo) -> str:
    return dt.datetime.fromtimestamp(t_ms / 1000, tz).isoformat(timespec="seconds")


def session_public(s: WorkoutSession, tz: ZoneInfo, *, now_ms: int | None = None) -> SessionPublic:
    """The API form of a stored session.

    A session stored "in progress" stays so only while data could still extend it: once no sample has come
    for longer than a hole (2 minutes) after its end, it ended there, and its pending recovery has no data
    after the stop (the analysis runs again only when new samples arrive, so it cannot say so itself).
    """
    now = time.time() * 1000 if now_ms is None else now_ms
    in_progress = bool(s.in_progress) and now - s.end_ms <= MAX_HOLE_S * 1000
    note = s.recovery_note
    if s.in_progress and not in_progress and note == NOTE_PENDING:
        note = NOTE_NO_DATA
    fit = None
    if s.fit_t0_ms is not None and s.fit_hr0 is not None and s.recovery_tau_s is not None:
        fit = RecoveryFitPublic(
            t0=_local_iso(s.fit_t0_ms, tz),
            hr0=s.fit_hr0,
            hr_asymptote=s.fit_hr_asymptote or 0.0,
            tau_s=s.recovery_tau_s,
            r2=s.recovery_fit_r2,
            duration_s=s.fit_duration_s,
        )
    return SessionPublic(
        id=s.id,
        start=_local_iso(s.start_ms, tz),
        end=_local_iso(s.end_ms, tz),
        duration_s=(s.end_ms - s.start_ms) / 1000,
        avg_bpm=s.avg_bpm,
        max_bpm=s.max_bpm,
        heartbeat_up_minutes=s.heartbeat_up_minutes,
        zone_minutes={"moderate": s.moderate_minutes, "vigorous": s.vigorous_minutes, "peak": s.peak_minutes},
        trimp=s.trimp,
        hrr60_bpm=s.hrr60_bpm,
        hrr120_bpm=s.hrr120_bpm,
        recovery_tau_s=s.recovery_tau_s,
        source=s.source,
        recovery=RecoveryPublic(
            end_of_effort=_local_iso(s.end_of_effort_ms, tz) if s.end_of_effort_ms is not None else None,
            hr_end_of_effort=s.hr_end_of_effort,
            fit=fit,
        ),
        in_progress=in_progress,
        recovery_note=note,
        recovery_fit_r2=s.recovery_fit_r2 if s.recovery_tau_s is not None else None,
    )


class StatusEventPublic(BaseModel):
    status: str
    at: IsoTime


class HasStatus(Protocol):
    """An application, stored or in its API form: what its history is built from."""

    @property
    def id(self) -> int: ...
    @property
    def status(self) -> str | None: ...
    @property
    def applied_at(self) -> dt.datetime: ...


def histories(db: Session, applications: Sequence[HasStatus]) -> dict[int, list[StatusEventPublic]]:
    """The status events of the applications, oldest first, by application id (one query).

    An application stored before events were kept (or by a path that adds none) shows its current status
    as one entry at applied_at, so no history is empty while a status is set."""
    ids = [a.id for a in applications]
    found: dict[int, list[StatusEventPublic]] = {i: [] for i in ids}
    if ids:
        query = (
            select(ApplicationStatusEvent)
            .where(ApplicationStatusEvent.application_id.in_(ids))
            .order_by(ApplicationStatusEvent.at, ApplicationStatusEvent.id)
        )
        for event in db.scalars(query):
            found[event.application_id].append(StatusEventPublic(status=event.status, at=event.at))
    for application in applications:
        if not found[application.id] and application.status is not None:
            found[application.id] = [StatusEventPublic(status=application.status, at=application.applied_at)]
    return found
