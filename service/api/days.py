"""Day summaries from the rollups (never from raw samples): minutes toward the target, zones, HRV, sessions."""

from __future__ import annotations

import datetime as dt
import time
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Query
from sqlalchemy import Row, inspect, select
from sqlalchemy.orm import Session

from service.analysis.baseline import recovery_status
from service.analysis.minutes import DayTotals, target_met, week_summary
from service.api.deps import ContextDep, CurrentUser, SessionDep
from service.core import localtime
from service.core.models import CheckIn, DayRollup, User, WorkoutSession
from service.errors import InvalidInput
from service.web.fields import Day
from service.web.query import FastJSON
from service.web.views import EncodedJSON, LocalClock, session_dict, session_rows

router = APIRouter(prefix="/days", tags=["days"])

MAX_RANGE_DAYS = 400
EPOCH = dt.date(1970, 1, 1)


_ROLLUP_COLUMNS = [getattr(DayRollup, a.key) for a in inspect(DayRollup).column_attrs]
_CHECKIN_COLUMNS = [CheckIn.id, CheckIn.at, CheckIn.confidence, CheckIn.mood, CheckIn.note]


def _rollups(db: Session, user_id: int, first: dt.date, last: dt.date) -> dict[dt.date, Row[Any]]:
    """The stored day rollups of first..last as plain rows of their columns (no ORM object per day)."""
    rows = db.execute(
        select(*_ROLLUP_COLUMNS).where(
            DayRollup.user_id == user_id, DayRollup.day >= first, DayRollup.day <= last
        )
    )
    return {r.day: r for r in rows}


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


HRV_HISTORY_DAYS = 60


def _hrv_history(db: Session, user_id: int, first: dt.date, last: dt.date) -> list[tuple[int, float]]:
    """(day number, ln RMSSD) of every day with rest HRV that the band of a day in first..last reads."""
    rows = db.execute(
        select(DayRollup.day, DayRollup.ln_rmssd)
        .where(
            DayRollup.user_id == user_id,
            DayRollup.ln_rmssd.is_not(None),
            DayRollup.day <= last,
            DayRollup.day > first - dt.timedelta(days=HRV_HISTORY_DAYS),
        )
        .order_by(DayRollup.day)
    ).all()
    return [((r.day - EPOCH).days, float(r.ln_rmssd)) for r in rows]


def _hrv(
    day: dt.date, rollup: DayRollup | Row[Any] | None, history: list[tuple[int, float]]
) -> dict[str, Any] | None:
    """The day's rest HRV against the personal band of the 60 days up to it (the same for one day or a list)."""
    n = (day - EPOCH).days
    window = [(d, v) for d, v in history if n - HRV_HISTORY_DAYS < d <= n]
    if rollup is None or (rollup.ln_rmssd is None and not window):
        return None
    status = recovery_status([d for d, _ in window], [v for _, v in window], on_day=n)
    return {
        "rmssd_ms": rollup.rmssd_ms,
        "ln_rmssd": rollup.ln_rmssd,
        "status": status.status,
        "acute_ln_rmssd": status.acute_ln_rmssd,
        "band_low": status.band_low,
        "band_high": status.band_high,
    }


_STATUS = recovery_status.__kwdefaults__  # the windows and thresholds `recovery_status` judges by


def _hrv_days(
    days: list[dt.date], rollups: dict[dt.date, Row[Any]], history: list[tuple[int, float]]
) -> dict[dt.date, dict[str, Any] | None]:
    """`_hrv` of every day of a range at once: the same numbers as `recovery_status` day by day.

    `history` is in day order, so each day's windows are slices of it; the slices of one length are averaged
    together as the rows of one array, which numpy sums row by row as it sums one slice (the same floats;
    tests/service/test_dashboard_speed.py compares the answers). A year costs a few numpy calls, not 365."""
    if len(_STATUS) != 5 or _STATUS["band_days"] != HRV_HISTORY_DAYS:
        return {d: _hrv(d, rollups.get(d), history) for d in days}
    hist_d = np.array([d for d, _ in history], dtype=np.int64)
    hist_v = np.array([v for _, v in history], dtype=np.float64)
    if not np.isfinite(hist_v).all():  # recovery_status leaves such values out: let it
        return {d: _hrv(d, rollups.get(d), history) for d in days}
    n = np.array([(d - EPOCH).days for d in days], dtype=np.int64)
    hi = np.searchsorted(hist_d, n, side="right")
    band_lo = np.searchsorted(hist_d, n - _STATUS["band_days"], side="right")
    acute_lo = np.searchsorted(hist_d, n - _STATUS["acute_days"], side="right")
    acute_mean = _row_stats(hist_v, acute_lo, hi - acute_lo, std=False)[0]
    band_mean, band_std = _row_stats(hist_v, band_lo, hi - band_lo, std=True)
    min_band = max(_STATUS["min_band_days"], 2)
    out: dict[dt.date, dict[str, Any] | None] = {}
    for i, day in enumerate(days):
        rollup = rollups.get(day)
        if rollup is None or (rollup.ln_rmssd is None and hi[i] == band_lo[i]):
            out[day] = None
            continue
        acute = acute_mean[i]
        status, low, high = None, None, None
        if hi[i] - acute_lo[i] >= _STATUS["min_acute_days"] and hi[i] - band_lo[i] >= min_band:
            centre, half = band_mean[i], _STATUS["band_sd"] * band_std[i]
            low, high = centre - half, centre + half
            status = "below" if acute < low else "above" if acute > high else "within"  # type: ignore[operator]
        out[day] = {
            "rmssd_ms": rollup.rmssd_ms,
            "ln_rmssd": rollup.ln_rmssd,
            "status": status,
            "acute_ln_rmssd": acute,
            "band_low": low,
            "band_high": high,
        }
    return out


def _row_stats(
    values: np.ndarray, starts: np.ndarray, lengths: np.ndarray, *, std: bool
) -> tuple[list[float | None], list[float | None]]:
    """Mean (and SD, ddof=1, of those with 2 or more) of values[start:start + length] for each pair."""
    means: list[float | None] = [None] * len(starts)
    sds: list[float | None] = [None] * len(starts)
    for length in np.unique(lengths):
        if length == 0:
            continue
        rows = np.flatnonzero(lengths == length)
        block = values[starts[rows, None] + np.arange(length)]
        for row, mean in zip(rows.tolist(), block.mean(axis=1).tolist(), strict=True):
            means[row] = mean
        if std and length >= 2:
            for row, sd in zip(rows.tolist(), block.std(axis=1, ddof=1).tolist(), strict=True):
                sds[row] = sd
    return means, sds


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
    db: Session, user: User, first: dt.date, last: dt.date
) -> tuple[dict[dt.date, list[Row[Any]]], dict[dt.date, list[Row[Any]]]]:
    """Sessions and check-ins of a range of local days, in two queries, grouped by local day (plain rows)."""
    tz = localtime.zone(user.timezone)
    edges = localtime.day_edges_s(first, last, tz)
    clock = LocalClock(tz)
    lo_ms, hi_ms = int(edges[0] * 1000), int(edges[-1] * 1000)
    sessions = db.execute(
        session_rows()
        .where(
            WorkoutSession.user_id == user.id,
            WorkoutSession.deleted.is_(False),
            WorkoutSession.start_ms >= lo_ms,
            WorkoutSession.start_ms < hi_ms,
        )
        .order_by(WorkoutSession.start_ms)
    ).all()
    checkins = db.execute(
        select(*_CHECKIN_COLUMNS)
        .where(
            CheckIn.user_id == user.id,
            CheckIn.at >= dt.datetime.fromtimestamp(edges[0], dt.UTC),
            CheckIn.at < dt.datetime.fromtimestamp(edges[-1], dt.UTC),
        )
        .order_by(CheckIn.at)
    ).all()
    by_session: dict[dt.date, list[Row[Any]]] = {}
    for s in sessions:
        by_session.setdefault(clock.date(s.start_ms / 1000), []).append(s)
    by_checkin: dict[dt.date, list[Row[Any]]] = {}
    for c in checkins:
        by_checkin.setdefault(clock.date(c.at.timestamp()), []).append(c)
    return by_session, by_checkin


def day_summary(
    user: User,
    day: dt.date,
    rollup: DayRollup | Row[Any] | None,
    sessions: list[WorkoutSession] | list[Row[Any]],
    checkins: list[CheckIn] | list[Row[Any]],
    hrv: dict[str, Any] | None,
    pending: bool = False,
    *,
    clock: LocalClock | None = None,
    now_ms: int | None = None,
) -> dict[str, Any]:
    """The contract's day summary from a rollup and the day's journal.

    `analysis_pending` is true while samples of the day are stored but not yet counted (or its sessions and
    HRV not yet analysed): its numbers may still grow, so a client can say "counting…" rather than show a
    false 0. `counted_until` is the end of the newest minute holding a sample that the totals include.
    A list of days passes one `clock` (the user's zone, its offsets and dates cached) and one `now_ms`.
    """
    clock = clock or LocalClock(localtime.zone(user.timezone))
    minutes = rollup.heartbeat_up_minutes if rollup else 0
    counted = rollup.counted_until_s if rollup else None
    return {
        "date": day.isoformat(),
        "timezone": user.timezone,
        "heartbeat_up_minutes": minutes,
        "target_minutes": user.daily_target_minutes,
        "target_met": target_met(minutes, user.daily_target_minutes),
        "analysis_pending": pending,
        "counted_until": None
        if counted is None
        else clock.iso_s(counted)
        if isinstance(counted, int)
        else dt.datetime.fromtimestamp(counted, dt.UTC).astimezone(clock.tz).isoformat(),
        "target_met_at": clock.iso(rollup.target_met_at) if rollup and rollup.target_met_at else None,
        "zone_minutes": {
            "moderate": rollup.moderate_minutes if rollup else 0,
            "vigorous": rollup.vigorous_minutes if rollup else 0,
            "peak": rollup.peak_minutes if rollup else 0,
            "active_zone_points": rollup.active_zone_points if rollup else 0,
        },
        "resting_hr": rollup.resting_hr if rollup else None,
        "hrv": hrv,
        "data_quality": {
            "valid_minutes": rollup.valid_minutes if rollup else 0,
            "lost_contact_minutes": rollup.lost_contact_minutes if rollup else 0,
            "corrected_beat_pct": rollup.corrected_beat_pct if rollup else None,
        },
        "sessions": [session_dict(s, clock, now_ms=now_ms) for s in sessions],
        "checkins": [
            {
                "id": c.id,
                "at": clock.iso(c.at),
                "confidence": c.confidence,
                "mood": c.mood,
                "note": c.note,
            }
            for c in checkins
        ],
    }


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
    rollups = _rollups(db, user.id, from_, to)
    sessions, checkins = _journal_by_day(db, user, from_, to)
    days = [from_ + dt.timedelta(days=i) for i in range((to - from_).days + 1)]
    pending = ctx.rollups.pending_days(user.id, days, user.timezone)
    hrv = _hrv_days(days, rollups, _hrv_history(db, user.id, from_, to))
    clock, now_ms = LocalClock(localtime.zone(user.timezone)), int(time.time() * 1000)
    return EncodedJSON(
        [
            day_summary(
                user, d, rollups.get(d), sessions.get(d, []), checkins.get(d, []),
                hrv[d], d in pending, clock=clock, now_ms=now_ms,
            )
            for d in days
        ]
    )  # fmt: skip


@router.get("/{date}", response_class=FastJSON)
def read_day(date: Day, user: CurrentUser, db: SessionDep, ctx: ContextDep) -> FastJSON:
    """One day in full: with the streak, the week against the WHO band and HRV against the personal band."""
    rollup = db.get(DayRollup, (user.id, date))
    sessions, checkins = _journal_by_day(db, user, date, date)
    hrv = _hrv(date, rollup, _hrv_history(db, user.id, date, date))
    pending = date in ctx.rollups.pending_days(user.id, [date], user.timezone)
    summary = day_summary(user, date, rollup, sessions.get(date, []), checkins.get(date, []), hrv, pending)
    summary["streak_days"] = _streak(db, user, date)
    summary["week"] = _week(db, user.id, date)
    return EncodedJSON(summary)
