"""One local day: its totals (counted from the stored minutes, on every ingest) and its slower analysis
(sessions and recovery, resting HR, rest-time HRV, beat quality, once uploads are quiet).

Stateless: the scheduler (service.pipeline.scheduler) decides when and holds the locks. The slow analysis
comes in three steps so no lock is held over its numpy work: read_day_samples (a read), day_details (pure
computation), store_day_details (the writes, under the writer lock).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session, sessionmaker

from service.analysis.artifacts import correct
from service.analysis.baseline import daily_rest_hrv
from service.analysis.beats import beat_source, beats_from_samples
from service.analysis.cleaning import clean_hr
from service.analysis.errors import AnalysisError
from service.analysis.hrv import window_stats
from service.analysis.minutes import UP_MIN_S, minute_table, target_met, zone_points
from service.analysis.profile import HeartProfile, estimate_resting_hr
from service.analysis.sessions import Session as DetectedSession
from service.analysis.sessions import find_sessions
from service.core import localtime
from service.core.models import DayRollup, HrvWindow, MinuteRollup, User, WorkoutSession
from service.pipeline.live import LiveHub
from service.pipeline.minutes import MINUTE_S
from service.pipeline.samples import fetch_samples, sample_arrays

# Sessions are found in the day plus this much on each side, so one that crosses midnight is whole.
SESSION_CONTEXT_S = 4 * 3600
MIN_HRV_BEATS = 300
HRV_WINDOW_S = 300  # the stored windows' length: the stress baseline reads them back
MIN_WINDOW_BEATS = 2  # one successive difference


def retotal_days(db: Session, user: User, days: Iterable[dt.date]) -> dict[dt.date, DayRollup]:
    """Day totals counted in the database from the stored minutes (each stored with its zone);
    returns the days whose target was met by this update. In the caller's transaction, under its writer lock."""
    tz = localtime.zone(user.timezone)
    newly_met: dict[dt.date, DayRollup] = {}
    m = MinuteRollup
    for day in days:
        lo, hi = localtime.day_edges_s(day, day, tz)
        in_day = (m.user_id == user.id, m.minute_s >= lo, m.minute_s < hi)
        up, moderate, vigorous, peak, valid, lost, top, newest = db.execute(
            select(
                func.count().filter(m.zone > 0), func.count().filter(m.zone == 1),
                func.count().filter(m.zone == 2), func.count().filter(m.zone == 3),
                func.count().filter(m.valid_s >= UP_MIN_S), func.count().filter(m.lost_contact_s >= UP_MIN_S),
                func.max(m.max_bpm).filter(m.valid_s >= UP_MIN_S), func.max(m.minute_s).filter(m.n_samples > 0),
            ).where(*in_day)
        ).one()  # fmt: skip
        rollup = db.get(DayRollup, (user.id, day)) or DayRollup(user_id=user.id, day=day)
        rollup.heartbeat_up_minutes, rollup.moderate_minutes = up, moderate
        rollup.vigorous_minutes, rollup.peak_minutes = vigorous, peak
        rollup.active_zone_points = int(zone_points(moderate, vigorous, peak))
        rollup.valid_minutes, rollup.lost_contact_minutes, rollup.max_bpm = valid, lost, top
        rollup.counted_until_s = None if newest is None else int(newest) + MINUTE_S
        met_at = None
        if target_met(up, user.daily_target_minutes):
            # the end of the minute in which the day's count reached the target
            reached = db.scalar(
                select(m.minute_s).where(*in_day, m.zone > 0).order_by(m.minute_s)
                .offset(user.daily_target_minutes - 1).limit(1)
            )  # fmt: skip
            met_at = dt.datetime.fromtimestamp(reached + MINUTE_S, dt.UTC)
        if met_at is not None and rollup.target_met_at is None:
            newly_met[day] = rollup
        rollup.target_met_at = met_at
        rollup.updated_at = dt.datetime.now(dt.UTC)
        db.add(rollup)
    return newly_met


def stored_days(db: Session, user_id: int) -> Sequence[dt.date]:
    """Every day the user has a rollup for (what a change of daily target re-totals)."""
    return db.scalars(select(DayRollup.day).where(DayRollup.user_id == user_id)).all()


def publish_days(
    sessions: sessionmaker[Session],
    live: LiveHub,
    user_id: int,
    days: list[dt.date],
    met: dict[dt.date, DayRollup],
) -> None:
    """The days' new totals (and a target just met) to the user's live stream, as committed."""
    with sessions() as db:
        for day in days:
            rollup = db.get(DayRollup, (user_id, day))
            user = db.get(User, user_id)
            if rollup is None or user is None:
                continue
            live.publish(user_id, {
                "type": "minutes", "date": day.isoformat(),
                "heartbeat_up_minutes": rollup.heartbeat_up_minutes,
                "target_minutes": user.daily_target_minutes,
            })  # fmt: skip
            if day in met and rollup.target_met_at is not None:
                live.publish(
                    user_id,
                    {
                        "type": "target_met",
                        "date": day.isoformat(),
                        "at": rollup.target_met_at.isoformat(),
                    },
                )


@dataclass(frozen=True)
class DayHrv:
    """The rest-time HRV figures stored on the day's rollup."""

    n_beats: int
    rmssd_ms: float | None = None
    ln_rmssd: float | None = None
    corrected_beat_pct: float | None = None
    rest_hr_bpm: float | None = None  # the quiet rest reading's rate: the day's resting HR when none is known


@dataclass(frozen=True)
class DayDetails:
    """What the slow analysis found in one day's samples, computed with no database (and no lock) at hand."""

    sessions: list[DetectedSession]
    resting_hr: float | None
    hrv: DayHrv
    hrv_windows: list[dict[str, object]]  # HrvWindow rows, without their user


def read_day_samples(db: Session, user: User, day: dt.date) -> list[tuple]:  # type: ignore[type-arg]
    """The samples (with RR intervals and device) the day's analysis reads: the day and SESSION_CONTEXT_S
    on each side. A read only: on SQLite it takes no writer lock and begins no transaction."""
    edges = localtime.day_edges_s(day, day, localtime.zone(user.timezone))
    return fetch_samples(
        db, user.id, edges[0] - SESSION_CONTEXT_S, edges[1] + SESSION_CONTEXT_S, with_rr=True
    )


def day_details(
    rows: list[tuple],  # type: ignore[type-arg]
    day: dt.date,
    tz_name: str,
    profile: HeartProfile,
    *,
    now_s: float | None = None,
) -> DayDetails | None:
    """One day's sessions, resting HR and HRV from its samples (read_day_samples); None when it has none.

    ``now_s`` (default: the clock) is when the analysis runs: data up to then could have arrived, so a
    session reaching the newest sample within a hole's length of it is "in progress". The newest sample
    counts when it is later still (a phone whose clock runs ahead streams "future" samples live).
    """
    if not rows:
        return None
    tz = localtime.zone(tz_name)
    edges = localtime.day_edges_s(day, day, tz)
    data = sample_arrays(rows)
    t_s, bpm, contact = data.t_s, data.bpm, data.contact
    t_ms = np.round(t_s * 1000).astype(np.int64)
    valid = clean_hr(t_s, bpm, contact=contact).valid
    minutes = minute_table(t_s, bpm, valid, profile=profile, contact=contact)
    data_end_s = max(time.time() if now_s is None else now_s, float(t_s[-1]))
    found = find_sessions(t_s, bpm, valid, minutes, data_end_s=data_end_s)
    resting = estimate_resting_hr(
        minutes.minute_start_s, minutes.mean_bpm, minutes.valid_s, edges, window_days=1
    )
    in_day = (t_s >= edges[0]) & (t_s < edges[1])
    device = beat_source(rows, in_day)
    keep = in_day & np.array([r[4] == device for r in rows], dtype=bool)
    beat_t, rr = beats_from_samples(t_ms[keep], [r[3] for r, k in zip(rows, keep, strict=True) if k])
    return DayDetails(
        sessions=found,
        resting_hr=resting.resting_hr,
        hrv=_day_hrv(beat_t, rr, localtime.utc_offset_s(day, tz), day, profile),
        hrv_windows=_hrv_window_rows(edges[0], edges[1], beat_t, rr),
    )


def store_day_details(db: Session, user: User, day: dt.date, details: DayDetails | None) -> None:
    """The day's findings replace the stored ones (in the caller's transaction, under its writer lock).

    A day without samples keeps its resting HR and HRV figures; its detected sessions and windows go.
    """
    edges = localtime.day_edges_s(day, day, localtime.zone(user.timezone))
    rollup = db.get(DayRollup, (user.id, day)) or DayRollup(user_id=user.id, day=day)
    _replace_detected_sessions(db, user.id, edges[0], edges[1], details.sessions if details else [])
    db.execute(
        delete(HrvWindow).where(
            HrvWindow.user_id == user.id,
            HrvWindow.start_s >= int(edges[0]),
            HrvWindow.start_s < int(edges[1]),
        )
    )
    if details is not None:
        if details.hrv_windows:
            db.execute(insert(HrvWindow), [{"user_id": user.id, **row} for row in details.hrv_windows])
        hrv = details.hrv
        rollup.resting_hr = details.resting_hr
        rollup.n_beats = hrv.n_beats
        rollup.rmssd_ms, rollup.ln_rmssd, rollup.corrected_beat_pct = (
            hrv.rmssd_ms,
            hrv.ln_rmssd,
            hrv.corrected_beat_pct,
        )
        if rollup.resting_hr is None and hrv.rest_hr_bpm is not None:
            rollup.resting_hr = hrv.rest_hr_bpm
    rollup.updated_at = dt.datetime.now(dt.UTC)
    db.add(rollup)


def _day_hrv(
    beat_t: NDArray[np.float64], rr: NDArray[np.float64], offset_s: float, day: dt.date, profile: HeartProfile
) -> DayHrv:
    """The day's rest-time HRV and its share of corrected beats (None where too few beats say nothing)."""
    if rr.size < MIN_HRV_BEATS:
        return DayHrv(n_beats=int(rr.size))
    corrected_pct = None
    try:
        corrected = correct(rr)
        corrected_pct = round(100.0 * corrected.n_flagged / rr.size, 2)
        daily = daily_rest_hrv(beat_t, rr, utc_offset_s=offset_s, resting_hr_bpm=profile.resting_hr)
    except AnalysisError:
        return DayHrv(n_beats=int(rr.size), corrected_beat_pct=corrected_pct)
    day_number = (day - dt.date(1970, 1, 1)).days
    hit = np.flatnonzero(daily.day == day_number)
    if not hit.size:
        return DayHrv(n_beats=int(rr.size), corrected_beat_pct=corrected_pct)
    ln_rmssd = float(daily.ln_rmssd[hit[0]])
    if not np.isfinite(ln_rmssd):  # RMSSD 0 (beats at a fixed rate: a pacer, a replayed file) says nothing
        return DayHrv(n_beats=int(rr.size), corrected_beat_pct=corrected_pct)
    return DayHrv(
        n_beats=int(rr.size),
        rmssd_ms=float(np.exp(ln_rmssd)),
        ln_rmssd=ln_rmssd,
        corrected_beat_pct=corrected_pct,
        # under an hour worn, but a quiet rest reading: its rate is the rest HR
        rest_hr_bpm=round(float(daily.rest_hr_bpm[hit[0]]), 1),
    )


def _hrv_window_rows(
    lo_s: float, hi_s: float, beat_t: NDArray[np.float64], rr: NDArray[np.float64]
) -> list[dict[str, object]]:
    """The day's 5-minute HRV windows (those with beats), stored for the baselines to read."""
    if rr.size < MIN_WINDOW_BEATS:
        return []
    try:
        stats = window_stats(beat_t, rr, window_s=HRV_WINDOW_S)
    except AnalysisError:
        return []
    # A beat stamped just before midnight by a notification just after belongs to the day before's windows.
    keep = np.flatnonzero((stats.start_s >= lo_s) & (stats.start_s < hi_s))
    return [
        {
            "start_s": int(stats.start_s[i]),
            "n_beats": int(stats.n_beats[i]),
            "covered_s": float(stats.covered_s[i]),
            "mean_hr_bpm": float(stats.mean_hr_bpm[i]),
            "rmssd_ms": _finite(float(stats.rmssd_ms[i])),
            "hr_sd_bpm": float(stats.hr_sd_bpm[i]),
            "artifact_fraction": float(stats.artifact_fraction[i]),
        }
        for i in keep
    ]


def _replace_detected_sessions(
    db: Session, user_id: int, lo_s: float, hi_s: float, found: list[DetectedSession]
) -> None:
    """Detected sessions starting in the day are replaced; the user's corrections are kept and win."""
    lo_ms, hi_ms = int(lo_s * 1000), int(hi_s * 1000)
    db.execute(
        delete(WorkoutSession).where(
            WorkoutSession.user_id == user_id,
            WorkoutSession.source == "detected",
            WorkoutSession.deleted.is_(False),
            WorkoutSession.start_ms >= lo_ms,
            WorkoutSession.start_ms < hi_ms,
        )
    )
    corrections = db.execute(
        select(WorkoutSession.start_ms, WorkoutSession.end_ms).where(
            WorkoutSession.user_id == user_id,
            (WorkoutSession.source != "detected") | WorkoutSession.deleted.is_(True),
            WorkoutSession.end_ms > lo_ms - SESSION_CONTEXT_S * 1000,
            WorkoutSession.start_ms < hi_ms + SESSION_CONTEXT_S * 1000,
        )
    ).all()
    for session in found:
        start_ms, end_ms = int(round(session.start_s * 1000)), int(round(session.end_s * 1000))
        if not lo_ms <= start_ms < hi_ms:
            continue
        if any(start_ms < c_end and c_start < end_ms for c_start, c_end in corrections):
            continue
        db.add(WorkoutSession(user_id=user_id, source="detected", **session_columns(session)))


def session_columns(session: DetectedSession) -> dict[str, object]:
    """The stored columns of a session found or re-summarised by the analysis."""
    fit = session.recovery_fit
    return {
        "start_ms": int(round(session.start_s * 1000)),
        "end_ms": int(round(session.end_s * 1000)),
        "avg_bpm": _finite(session.avg_bpm),
        "max_bpm": _finite(session.max_bpm),
        "heartbeat_up_minutes": int(session.heartbeat_up_minutes),
        "moderate_minutes": int(session.moderate_minutes),
        "vigorous_minutes": int(session.vigorous_minutes),
        "peak_minutes": int(session.peak_minutes),
        "trimp": _finite(session.trimp),
        "hrr60_bpm": _finite(session.hrr60_bpm),
        "hrr120_bpm": _finite(session.hrr120_bpm),
        "end_of_effort_ms": None
        if session.end_of_effort_s is None
        else int(round(session.end_of_effort_s * 1000)),
        # The measured HR where the drops start (never above the session's highest), not the fit's hr0,
        # which extrapolates (the demo showed "starting from 154 bpm" on a session whose highest was 145).
        "hr_end_of_effort": _finite(session.end_of_effort_bpm),
        "recovery_tau_s": _finite(session.recovery_tau_s),
        "recovery_fit_r2": _finite(session.recovery_fit_r2),
        "fit_hr0": _finite(fit.hr0_bpm) if fit else None,
        "fit_hr_asymptote": _finite(fit.hr_end_bpm) if fit else None,
        "fit_t0_ms": int(round(fit.t0_s * 1000)) if fit else None,
        "fit_duration_s": _finite(fit.duration_s) if fit else None,
        "in_progress": bool(session.in_progress),
        "recovery_note": session.recovery_note[:200] if session.recovery_note else None,  # the column's size
    }


def _finite(x: float | None) -> float | None:
    return None if x is None or not np.isfinite(x) else float(x)
