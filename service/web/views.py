"""API forms more than one router answers with, built here so that no router imports another: a workout
session as the sessions and days routes show it, an application's status history (applications, export)."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import msgspec
import numpy as np
from pydantic import BaseModel
from sqlalchemy import Select, select
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
    FastAPI neither builds nor validates a model per row. The JSON is the same as `json.dumps` would give
    once parsed, not byte for byte: text is UTF-8 rather than ASCII escapes, floats are in msgspec's shortest
    form (0.000032, not 3.2e-05), and a non-finite float, which `json.dumps(allow_nan=False)` refused
    with a 500, is null."""

    def render(self, content: Any) -> bytes:
        return msgspec.json.encode(content)


_ZONE_DAYS: dict[ZoneInfo, dict[int, tuple[int, str] | None]] = {}  # LocalClock._offset by zone and UTC day
# At most _ZONE_DAYS_KEPT days (about 11 years) of each of at most _ZONES_KEPT zones: 220 B a day, 14 MB.
_ZONE_DAYS_KEPT = 4_000
_ZONES_KEPT = 16  # the users' zones are a handful; far more is someone trying them all


class LocalClock:
    """ISO 8601 local times in one zone: the same strings as `datetime.fromtimestamp(t, tz).isoformat()`,
    at a fraction of its cost on long lists, from the zone's offset cached per UTC day and the date per day.

    A UTC day's offset is probed every 6 hours (no zone changes its offset twice within 6 hours); a day whose
    probes differ (a DST change in it) is rendered by `datetime` itself. The offsets depend on the zone only,
    so the clocks of one zone share them across requests (a year of days costs 1.4 ms to probe, more than the
    rest of a /days answer's times), bounded (_ZONE_DAYS_KEPT). One clock serves one request: its
    cache of dates grows with the days it has rendered."""

    _PROBES = (0, 21_600, 43_200, 64_800, 86_399)

    def __init__(self, tz: ZoneInfo) -> None:
        self.tz = tz
        if tz not in _ZONE_DAYS and len(_ZONE_DAYS) >= _ZONES_KEPT:
            _ZONE_DAYS.clear()
        self._utc_days = _ZONE_DAYS.setdefault(tz, {})
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
        if len(self._utc_days) >= _ZONE_DAYS_KEPT:  # full: start again (a clock holding the old one keeps it)
            self._utc_days = _ZONE_DAYS[self.tz] = {}
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

    def iso_s_many(self, t_s: Sequence[int | None]) -> list[str | None]:
        """`iso_s` of each of many times (None stays None), written by numpy: a microsecond a time less."""
        known = [t for t in t_s if t is not None]
        if len(known) < len(t_s):
            texts = iter(self.iso_s_many(known))
            return [None if t is None else next(texts) for t in t_s]
        if not known:
            return []
        t = np.array(known, dtype=np.int64)
        utc_days, which = np.unique(t // 86_400, return_inverse=True)
        offsets = [self._utc_days[d] if d in self._utc_days else self._offset(d) for d in utc_days.tolist()]
        shift = np.array([o[0] if o else 0 for o in offsets], dtype=np.int64)[which]
        stamps = np.datetime_as_string((t + shift).astype("datetime64[s]"), unit="s").tolist()
        suffixes = [o[1] if o else None for o in offsets]  # None: the offset changes that day
        return [
            stamp + suffix if (suffix := suffixes[k]) is not None else self.iso_s(when)
            for stamp, k, when in zip(stamps, which.tolist(), known, strict=True)
        ]

    def iso_ms_many(self, t_ms: Sequence[int | None]) -> list[str | None]:
        """`iso_ms` of each of many times (None stays None)."""
        return self.iso_s_many([None if t is None else t // 1000 for t in t_ms])

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

    def iso_many(self, ats: Sequence[dt.datetime | None]) -> list[str | None]:
        """`iso` of each of many aware datetimes (None stays None): the whole seconds by `iso_s_many`."""
        whole = [None if a is None or a.tzinfo is None or a.microsecond else int(a.timestamp()) for a in ats]
        return [
            text if text is not None or a is None else a.astimezone(self.tz).isoformat()
            for text, a in zip(self.iso_s_many(whole), ats, strict=True)
        ]


_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()
_HH_MM = [f"{h:02d}:{m:02d}" for h in range(24) for m in range(60)]
_SS = [f"{s:02d}" for s in range(60)]


SESSION_FIELDS = (
    "id", "start_ms", "end_ms", "source", "avg_bpm", "max_bpm", "heartbeat_up_minutes", "moderate_minutes",
    "vigorous_minutes", "peak_minutes", "trimp", "hrr60_bpm", "hrr120_bpm", "end_of_effort_ms",
    "hr_end_of_effort", "recovery_tau_s", "recovery_fit_r2", "fit_hr0", "fit_hr_asymptote", "fit_t0_ms",
    "fit_duration_s", "in_progress", "recovery_note",
)  # fmt: skip
"""The stored columns a session's API form is built from, in the order `session_rows` selects them."""
_START, _END, _EFFORT, _FIT_T0 = (
    SESSION_FIELDS.index(f) for f in ("start_ms", "end_ms", "end_of_effort_ms", "fit_t0_ms")
)


def session_rows() -> Select[Any]:
    """A select of the sessions' SESSION_FIELDS, as plain rows: no ORM object per session (a year of them is
    read for one /days answer)."""
    return select(*(getattr(WorkoutSession, f) for f in SESSION_FIELDS))


def session_dicts(
    rows: Sequence[Sequence[Any]], clock: LocalClock, *, now_ms: int | None = None
) -> list[dict[str, Any]]:
    """The API form of stored sessions (rows of SESSION_FIELDS), as plain JSON-able data: what `SessionPublic`
    dumps to (its float columns are floats as stored, on SQLite and PostgreSQL alike).

    Built a list at a time: the times of all the sessions are written by one `LocalClock.iso_ms_many`, and
    each row is unpacked once (a row's attribute costs a quarter of a microsecond, and a year of sessions
    has 15,000 of them). A session stored "in progress" stays so only while data could still extend it: once
    no sample has come for longer than a hole (2 minutes) after its end, it ended there, and its pending
    recovery has no data after the stop (the analysis runs again only when new samples arrive, so it cannot
    say so itself).
    """
    if not rows:
        return []
    now = time.time() * 1000 if now_ms is None else now_ms
    columns = list(zip(*rows, strict=True))
    n = len(rows)  # the four time columns written in one call, then cut apart
    texts = clock.iso_ms_many(columns[_START] + columns[_END] + columns[_EFFORT] + columns[_FIT_T0])
    times = zip(texts[:n], texts[n : 2 * n], texts[2 * n : 3 * n], texts[3 * n :], strict=True)
    out = []
    for row, (start, end, effort, fit_t0) in zip(rows, times, strict=True):
        (id_, start_ms, end_ms, source, avg_bpm, max_bpm, minutes, moderate, vigorous, peak, trimp, hrr60, hrr120,
         _, hr_effort, tau_s, r2, hr0, asymptote, _, fit_duration_s, stored_in_progress, note) = row  # fmt: skip
        in_progress = bool(stored_in_progress) and now - end_ms <= MAX_HOLE_S * 1000
        if stored_in_progress and not in_progress and note == NOTE_PENDING:
            note = NOTE_NO_DATA
        fit = None
        if fit_t0 is not None and hr0 is not None and tau_s is not None:
            fit = {
                "t0": fit_t0,
                "hr0": hr0,
                "hr_asymptote": asymptote or 0.0,
                "tau_s": tau_s,
                "r2": r2,
                "duration_s": fit_duration_s,
            }
        out.append({
            "id": id_,
            "start": start,
            "end": end,
            "duration_s": (end_ms - start_ms) / 1000,
            "avg_bpm": avg_bpm,
            "max_bpm": max_bpm,
            "heartbeat_up_minutes": minutes,
            "zone_minutes": {"moderate": moderate, "vigorous": vigorous, "peak": peak},
            "trimp": trimp,
            "hrr60_bpm": hrr60,
            "hrr120_bpm": hrr120,
            "recovery_tau_s": tau_s,
            "source": source,
            "recovery": {"end_of_effort": effort, "hr_end_of_effort": hr_effort, "fit": fit},
            "in_progress": in_progress,
            "recovery_note": note,
            "recovery_fit_r2": r2 if tau_s is not None else None,
        })  # fmt: skip
    return out


def session_public(s: WorkoutSession, tz: ZoneInfo, *, now_ms: int | None = None) -> SessionPublic:
    """The API form of a stored session as the model (for the routes answering one session)."""
    row = tuple(getattr(s, f) for f in SESSION_FIELDS)
    return SessionPublic.model_validate(session_dicts([row], LocalClock(tz), now_ms=now_ms)[0])


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
