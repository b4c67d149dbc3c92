"""Day summaries from the rollups (never from raw samples): minutes toward the target, zones, HRV, sessions."""

from __future__ import annotations

import datetime as dt
import time
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Query
from sqlalchemy import Row, bindparam, select
from sqlalchemy.orm import Session

from service.analysis.baseline import recovery_statuses
from service.analysis.minutes import DayTotals, target_met, week_summary
from service.api.deps import ContextDep, CurrentUser, SessionDep
from service.core import localtime
from service.core.models import CheckIn, DayRollup, User, WorkoutSession
from service.errors import InvalidInput
from service.web.fields import Day
from service.web.query import FastJSON
from service.web.views import EncodedJSON, LocalClock, session_dicts, session_rows

router = APIRouter(prefix="/days", tags=["days"])

MAX_RANGE_DAYS = 400
EPOCH = dt.date(1970, 1, 1)


_DAY_FIELDS = (
    "day", "heartbeat_up_minutes", "counted_until_s", "target_met_at", "moderate_minutes", "vigorous_minutes",
    "peak_minutes", "active_zone_points", "resting_hr", "valid_minutes", "lost_contact_minutes",
    "corrected_beat_pct", "rmssd_ms", "ln_rmssd",
)  # fmt: skip
"""The rollup columns a day summary (and its week and HRV) reads, in the order `day_summaries` unpacks (the
last two, rest HRV, are read by position)."""
# The range reads, built once: a statement built per request costs more than its rows (its expression and
# its cache key; a prebuilt one memoises its key), and Core rows skip the ORM session's result layer.
_ROLLUPS_IN = (
    select(*(getattr(DayRollup, f) for f in _DAY_FIELDS))
    .where(DayRollup.user_id == bindparam("user"), DayRollup.day >= bindparam("lo"), DayRollup.day <= bindparam("hi"))
    .order_by(DayRollup.day)
)  # fmt: skip
_SESSIONS_IN = (
    session_rows()
    .where(
        WorkoutSession.user_id == bindparam("user"),
        WorkoutSession.deleted.is_(False),
        WorkoutSession.start_ms >= bindparam("lo"),
        WorkoutSession.start_ms < bindparam("hi"),
    )
    .order_by(WorkoutSession.start_ms)
)
_CHECKINS_IN = (
    select(CheckIn.id, CheckIn.at, CheckIn.confidence, CheckIn.mood, CheckIn.note)
    .where(CheckIn.user_id == bindparam("user"), CheckIn.at >= bindparam("lo"), CheckIn.at < bindparam("hi"))
    .order_by(CheckIn.at)
)  # fmt: skip


def _rollups(db: Session, user_id: int, first: dt.date, last: dt.date) -> dict[dt.date, Row[Any]]:
    """The stored day rollups of first..last as plain rows of _DAY_FIELDS (no ORM object per day), in order."""
    rows = (
        db.connection().execute(_ROLLUPS_IN, {"user": user_id, "lo": first, "hi": last}).all()
    )  # fetchall: faster
    return {r[0]: r for r in rows}


def _streak(db: Session, user: User, day: dt.date) -> int:
    """Days in a row, ending on `day` (or the day before, while `day` is still young), with the target met."""
    rows = db.execute(
        select(DayRollup.day, DayRollup.heartbeat_up_minutes)
        .where(
            DayRollup.user_id == user.id, DayRollup.day <= day, DayRollup.day > day - dt.timedelta(days=400)
        )
        .order_by(DayRollup.day.desc())
    ).all()
    met = {r.day for r in rows if target_met(r.heartbeat_up_minutes, user.daily_target_minutes)}
    cursor = day if day in met else day - dt.timedelta(days=1)
    streak = 0
    while cursor in met:
        streak += 1
        cursor -= dt.timedelta(days=1)
    return streak


HRV_HISTORY_DAYS: int = recovery_statuses.__kwdefaults__["band_days"]  # the band: the oldest day it reads


def _rollups_with_band(db: Session, user_id: int, first: dt.date, last: dt.date) -> dict[dt.date, Row[Any]]:
    """The rollups of first..last and of the 59 days before, which the HRV band of `first` reads: one read
    serves the days' summaries and their bands (a summary looks up its own day only)."""
    return _rollups(db, user_id, first - dt.timedelta(days=HRV_HISTORY_DAYS - 1), last)


def _hrv_days(days: list[dt.date], rollups: dict[dt.date, Row[Any]]) -> dict[dt.date, dict[str, Any] | None]:
    """Each day's rest HRV against the personal band of the 60 days up to it (`recovery_statuses`: a year in a
    few numpy calls, not 365), from rollups reaching 59 days before the first (`_rollups_with_band`); None for
    a day with no rollup, or with neither HRV nor any in its band."""
    with_hrv = [(day, r[-1]) for day, r in rollups.items() if r[-1] is not None]
    statuses = recovery_statuses(
        [(day - EPOCH).days for day, _ in with_hrv],
        [v for _, v in with_hrv],
        on_days=[(d - EPOCH).days for d in days],
    )
    out: dict[dt.date, dict[str, Any] | None] = {}
    for day, n_band, status, acute, low, high in zip(
        days, statuses.n_band_days, statuses.status, statuses.acute_ln_rmssd, statuses.band_low,
        statuses.band_high, strict=True,
    ):  # fmt: skip
        rollup = rollups.get(day)
        rmssd_ms, ln_rmssd = (None, None) if rollup is None else rollup[-2:]
        if rollup is None or (ln_rmssd is None and n_band == 0):
            out[day] = None
            continue
        out[day] = {
            "rmssd_ms": rmssd_ms,
            "ln_rmssd": ln_rmssd,
            "status": status,
            "acute_ln_rmssd": acute,
            "band_low": low,
            "band_high": high,
        }
    return out


def _week(db: Session, user_id: int, day: dt.date) -> dict[str, Any]:
    rows = _rollups(db, user_id, day - dt.timedelta(days=6), day).values()

    def col(name: str) -> Any:
        return np.array([getattr(r, name) for r in rows], dtype=np.int32)

    totals = DayTotals(
        day_start_s=col("heartbeat_up_minutes").astype(float),
        heartbeat_up_minutes=col("heartbeat_up_minutes"),
        moderate_minutes=col("moderate_minutes"),
        vigorous_minutes=col("vigorous_minutes"),
        peak_minutes=col("peak_minutes"),
        active_zone_points=col("active_zone_points"),
        valid_minutes=col("valid_minutes"),
        lost_contact_minutes=col("lost_contact_minutes"),
    )
    week = week_summary(totals)
    return {
        "heartbeat_up_minutes": week.heartbeat_up_minutes,
        "equivalent_minutes": week.equivalent_minutes,
        "who_band": [week.band_low_min, week.band_high_min],
        "status": week.status,
    }


def _journal_by_day(
    db: Session, user: User, first: dt.date, last: dt.date, clock: LocalClock, now_ms: int
) -> tuple[dict[str, list[dict[str, Any]]], dict[str, list[dict[str, Any]]]]:
    """Sessions and check-ins of a range of local days, in two queries, in their API form by local day
    (its ISO date: the start, or the time, as written in the user's zone begins with it)."""
    lo_s = localtime.local_midnight_s(first, clock.tz)  # the range's two edges, not every day's
    hi_s = localtime.local_midnight_s(last + dt.timedelta(days=1), clock.tz)
    lo_ms, hi_ms = int(lo_s * 1000), int(hi_s * 1000)
    connection = db.connection()
    sessions = connection.execute(_SESSIONS_IN, {"user": user.id, "lo": lo_ms, "hi": hi_ms}).all()
    checkins = connection.execute(
        _CHECKINS_IN,
        {
            "user": user.id,
            "lo": dt.datetime.fromtimestamp(lo_s, dt.UTC),
            "hi": dt.datetime.fromtimestamp(hi_s, dt.UTC),
        },
    ).all()
    by_session: dict[str, list[dict[str, Any]]] = {}
    for public in session_dicts(sessions, clock, now_ms=now_ms):
        by_session.setdefault(public["start"][:10], []).append(public)  # its local date, as written
    by_checkin: dict[str, list[dict[str, Any]]] = {}
    times = clock.iso_many([c[1] for c in checkins])
    for (id_, _, confidence, mood, note), at in zip(checkins, times, strict=True):
        public = {"id": id_, "at": at, "confidence": confidence, "mood": mood, "note": note}
        by_checkin.setdefault(at[:10], []).append(public)  # type: ignore[index]
    return by_session, by_checkin


def day_summaries(
    user: User,
    days: list[dt.date],
    rollups: dict[dt.date, Row[Any]],
    sessions: dict[str, list[dict[str, Any]]],
    checkins: dict[str, list[dict[str, Any]]],
    hrv: dict[dt.date, dict[str, Any] | None],
    pending: set[dt.date],
    clock: LocalClock,
) -> list[dict[str, Any]]:
    """The contract's day summary of each day, from its rollup (a row of _DAY_FIELDS) and its journal.

    `analysis_pending` is true while samples of the day are stored but not yet counted (or its sessions and
    HRV not yet analysed): its numbers may still grow, so a client can say "counting…" rather than show a
    false 0. `counted_until` is the end of the newest minute holding a sample that the totals include.
    """
    target = user.daily_target_minutes
    found = [rollups.get(d) for d in days]
    counted = clock.iso_s_many([None if r is None else r[2] for r in found])
    met_at = clock.iso_many([None if r is None else r[3] for r in found])
    met = target_met(
        np.array([0 if r is None else r[1] for r in found]), target
    ).tolist()  # one call, not 365
    out = []
    for day, rollup, counted_until, target_met_today, target_met_at in zip(
        days, found, counted, met, met_at, strict=True
    ):
        if rollup is None:
            minutes = moderate = vigorous = peak = points = valid = lost = 0
            resting_hr = corrected = None
        else:
            (_, minutes, _, _, moderate, vigorous, peak, points, resting_hr, valid, lost, corrected, _,
             _) = rollup  # fmt: skip
        date = day.isoformat()
        out.append({
            "date": date,
            "timezone": user.timezone,
            "heartbeat_up_minutes": minutes,
            "target_minutes": target,
            "target_met": target_met_today,
            "analysis_pending": day in pending,
            "counted_until": counted_until,
            "target_met_at": target_met_at,
            "zone_minutes": {"moderate": moderate, "vigorous": vigorous, "peak": peak, "active_zone_points": points},
            "resting_hr": resting_hr,
            "hrv": hrv[day],
            "data_quality": {"valid_minutes": valid, "lost_contact_minutes": lost, "corrected_beat_pct": corrected},
            "sessions": sessions.get(date, []),
            "checkins": checkins.get(date, []),
        })  # fmt: skip
    return out


@router.get("", response_class=FastJSON)
def list_days(
    user: CurrentUser,
    db: SessionDep,
    ctx: ContextDep,
    from_: Annotated[Day, Query(alias="from")],
    to: Annotated[Day, Query()],
) -> FastJSON:
    """Every local day from `from` to `to` inclusive, days without data included (as zeros)."""
    if to < from_:
        raise InvalidInput("`to` is before `from`")
    if (to - from_).days >= MAX_RANGE_DAYS:
        raise InvalidInput(f"at most {MAX_RANGE_DAYS} days at a time")
    rollups = _rollups_with_band(db, user.id, from_, to)
    clock, now_ms = LocalClock(localtime.zone(user.timezone)), int(time.time() * 1000)
    sessions, checkins = _journal_by_day(db, user, from_, to, clock, now_ms)
    days = [from_ + dt.timedelta(days=i) for i in range((to - from_).days + 1)]
    pending = ctx.rollups.pending_days(user.id, days, user.timezone)
    hrv = _hrv_days(days, rollups)
    return EncodedJSON(day_summaries(user, days, rollups, sessions, checkins, hrv, pending, clock))


@router.get("/{date}", response_class=FastJSON)
def read_day(date: Day, user: CurrentUser, db: SessionDep, ctx: ContextDep) -> FastJSON:
    """One day in full: with the streak, the week against the WHO band and HRV against the personal band."""
    rollups = _rollups_with_band(db, user.id, date, date)
    clock, now_ms = LocalClock(localtime.zone(user.timezone)), int(time.time() * 1000)
    sessions, checkins = _journal_by_day(db, user, date, date, clock, now_ms)
    hrv = _hrv_days([date], rollups)
    pending = ctx.rollups.pending_days(user.id, [date], user.timezone)
    (summary,) = day_summaries(user, [date], rollups, sessions, checkins, hrv, pending, clock)
    summary["streak_days"] = _streak(db, user, date)
    summary["week"] = _week(db, user.id, date)
    return EncodedJSON(summary)
