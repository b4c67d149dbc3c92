"""API forms more than one router answers with, built here so that no router imports another: a workout
session as the sessions and days routes show it, an application's status history (applications, export)."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import msgspec
from pydantic import BaseModel
from sqlalchemy import Select, inspect, select
from sqlalchemy.orm import Session

from service.analysis.recovery import NOTE_NO_DATA, NOTE_PENDING
from service.analysis.sessions import MAX_HOLE_S
from service.core.models import ApplicationStatusEvent, WorkoutSession
from service.web.fields import IsoTime
from service.web.query import FastJSON


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


class EncodedJSON(FastJSON):
    """Plain JSON-able data (dicts, lists, str, numbers, None) encoded by msgspec in C: the big answers (a year
    of days, a month of sessions, a session's samples) cost a fraction of `json.dumps` (bench/dashboard.py).

    Routes keep their `response_model` for the OpenAPI document and return this already encoded answer, so
    FastAPI neither builds nor validates a model per row."""

    def render(self, content: Any) -> bytes:
        return msgspec.json.encode(content)


class LocalClock:
    """ISO 8601 local times in one zone: the same strings as `datetime.fromtimestamp(t, tz).isoformat()`,
    at a fraction of its cost on long lists, from the zone's offset cached per UTC day and the date per day.

    A UTC day's offset is probed every 6 hours (no zone changes its offset twice within 6 hours); a day whose
    probes differ (a DST change in it) is rendered by `datetime` itself. One clock serves one request: its
    caches grow with the days it has rendered."""

    _PROBES = (0, 21_600, 43_200, 64_800, 86_399)

    def __init__(self, tz: ZoneInfo) -> None:
        self.tz = tz
        self._utc_days: dict[int, tuple[int, str] | None] = {}
        self._dates: dict[int, str] = {}

    def _offset(self, utc_day: int) -> tuple[int, str] | None:
        """The offset (seconds, and "+HH:MM" as isoformat writes it) of all of a UTC day, or None if it changes."""
        start = utc_day * 86_400
        first = dt.datetime.fromtimestamp(start, self.tz)
        offset = first.utcoffset()
        constant = offset is not None and not offset.microseconds
        for probe in self._PROBES[1:]:
            constant = constant and dt.datetime.fromtimestamp(start + probe, self.tz).utcoffset() == offset
        found = (
            (int(offset.total_seconds()), first.isoformat()[19:]) if constant and offset is not None else None
        )
        self._utc_days[utc_day] = found
        return found

    def iso_s(self, t_s: int) -> str:
        """Whole epoch seconds as local time to the second."""
        utc_day = t_s // 86_400
        found = self._utc_days[utc_day] if utc_day in self._utc_days else self._offset(utc_day)
        if found is None:
            return dt.datetime.fromtimestamp(t_s, self.tz).isoformat(timespec="seconds")
        local = t_s + found[0]
        day, sec = divmod(local, 86_400)
        date = self._dates.get(day)
        if date is None:
            date = self._dates[day] = dt.date.fromordinal(_EPOCH_ORDINAL + day).isoformat()
        return f"{date}T{_HH_MM[sec // 60]}:{_SS[sec % 60]}{found[1]}"

    def date(self, t_s: float) -> dt.date:
        """The local calendar day of an epoch time (as `localtime.local_day`)."""
        utc_day = int(t_s // 86_400)
        found = self._utc_days[utc_day] if utc_day in self._utc_days else self._offset(utc_day)
        if found is None:
            return dt.datetime.fromtimestamp(t_s, self.tz).date()
        return dt.date.fromordinal(_EPOCH_ORDINAL + int((t_s + found[0]) // 86_400))

    def iso_ms(self, t_ms: int) -> str:
        """Epoch milliseconds as local time to the second (the milliseconds dropped, as isoformat's "seconds")."""
        return self.iso_s(t_ms // 1000)

    def iso(self, at: dt.datetime) -> str:
        """An aware datetime in this zone, as `at.astimezone(tz).isoformat()` writes it."""
        if at.tzinfo is None or at.microsecond:
            return at.astimezone(self.tz).isoformat()
        return self.iso_s(int(at.timestamp()))


_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()
_HH_MM = [f"{h:02d}:{m:02d}" for h in range(24) for m in range(60)]
_SS = [f"{s:02d}" for s in range(60)]


class SessionRow(Protocol):
    """A stored session: the model, or a row of its columns (session_rows)."""

    id: int
    start_ms: int
    end_ms: int
    source: str
    avg_bpm: float | None
    max_bpm: float | None
    heartbeat_up_minutes: int
    moderate_minutes: int
    vigorous_minutes: int
    peak_minutes: int
    trimp: float | None
    hrr60_bpm: float | None
    hrr120_bpm: float | None
    end_of_effort_ms: int | None
    hr_end_of_effort: float | None
    recovery_tau_s: float | None
    recovery_fit_r2: float | None
    fit_hr0: float | None
    fit_hr_asymptote: float | None
    fit_t0_ms: int | None
    fit_duration_s: float | None
    in_progress: bool | None
    recovery_note: str | None


def session_rows() -> Select[Any]:
    """A select of every column of the sessions, as plain rows: no ORM object per session (a year of
    them is read for one /days answer)."""
    return select(*(getattr(WorkoutSession, a.key) for a in inspect(WorkoutSession).column_attrs))


def session_dict(s: SessionRow, clock: LocalClock, *, now_ms: int | None = None) -> dict[str, Any]:
    """The API form of a stored session, as plain JSON-able data (what `SessionPublic` dumps to: its float
    columns are floats as stored, on SQLite and PostgreSQL alike).

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
        fit = {
            "t0": clock.iso_ms(s.fit_t0_ms),
            "hr0": s.fit_hr0,
            "hr_asymptote": s.fit_hr_asymptote or 0.0,
            "tau_s": s.recovery_tau_s,
            "r2": s.recovery_fit_r2,
            "duration_s": s.fit_duration_s,
        }
    return {
        "id": s.id,
        "start": clock.iso_ms(s.start_ms),
        "end": clock.iso_ms(s.end_ms),
        "duration_s": (s.end_ms - s.start_ms) / 1000,
        "avg_bpm": s.avg_bpm,
        "max_bpm": s.max_bpm,
        "heartbeat_up_minutes": s.heartbeat_up_minutes,
        "zone_minutes": {
            "moderate": s.moderate_minutes,
            "vigorous": s.vigorous_minutes,
            "peak": s.peak_minutes,
        },
        "trimp": s.trimp,
        "hrr60_bpm": s.hrr60_bpm,
        "hrr120_bpm": s.hrr120_bpm,
        "recovery_tau_s": s.recovery_tau_s,
        "source": s.source,
        "recovery": {
            "end_of_effort": clock.iso_ms(s.end_of_effort_ms) if s.end_of_effort_ms is not None else None,
            "hr_end_of_effort": s.hr_end_of_effort,
            "fit": fit,
        },
        "in_progress": in_progress,
        "recovery_note": note,
        "recovery_fit_r2": s.recovery_fit_r2 if s.recovery_tau_s is not None else None,
    }


def session_public(s: SessionRow, tz: ZoneInfo, *, now_ms: int | None = None) -> SessionPublic:
    """The API form of a stored session as the model (for the routes answering one session)."""
    return SessionPublic.model_validate(session_dict(s, LocalClock(tz), now_ms=now_ms))


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
