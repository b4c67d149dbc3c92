"""The slower analysis of one local day: sessions and recovery, resting HR, rest-time HRV, beat quality."""

from __future__ import annotations

import datetime as dt
import time

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from service.analysis.artifacts import correct
from service.analysis.baseline import daily_rest_hrv
from service.analysis.cleaning import clean_hr
from service.analysis.errors import AnalysisError
from service.analysis.hrv import window_stats
from service.analysis.minutes import minute_table
from service.analysis.profile import HeartProfile, estimate_resting_hr
from service.analysis.sessions import Session as DetectedSession
from service.analysis.sessions import find_sessions
from service.core import localtime
from service.core.models import DayRollup, HrvWindow, User, WorkoutSession
from service.pipeline.samples import fetch_samples, sample_arrays

# Sessions are found in the day plus this much on each side, so one that crosses midnight is whole.
SESSION_CONTEXT_S = 4 * 3600
MIN_HRV_BEATS = 300
HRV_WINDOW_S = 300  # the stored windows' length: the stress baseline reads them back
MIN_WINDOW_BEATS = 2  # one successive difference


MAX_SAMPLE_GAP_S = 2.5  # a longer silence between notifications breaks the beat sequence


def beats_from_samples(
    t_ms: NDArray[np.int64], rr_text: list[str | None]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Beat times and RR intervals, strictly increasing, from the stored notifications.

    Within a run of notifications without a gap, beats follow each other by their RR intervals and the
    run's last beat ends at its last notification's time (receive times jitter; RR intervals do not).
    """
    counts = np.array([len(text.split()) if text else 0 for text in rr_text], dtype=np.int64)
    if counts.sum() == 0:
        return np.zeros(0), np.zeros(0)
    rr = np.array([float(x) for text in rr_text if text for x in text.split()], dtype=np.float64)
    has = counts > 0
    sample_t = t_ms[has] / 1000.0
    run_of_sample = np.concatenate(([0], np.cumsum(np.diff(sample_t) > MAX_SAMPLE_GAP_S)))
    run = np.repeat(run_of_sample, counts[has])
    csum = np.cumsum(rr) / 1000.0
    last_beat = np.flatnonzero(np.append(run[1:] != run[:-1], True))  # last beat of each run
    run_end_t = sample_t[np.append(np.flatnonzero(np.diff(run_of_sample)), sample_t.size - 1)]
    beat_t = run_end_t[run] - (csum[last_beat][run] - csum)
    keep = np.concatenate(([True], np.diff(beat_t) > 0))
    keep &= beat_t > np.concatenate(([-np.inf], np.maximum.accumulate(beat_t)[:-1]))
    return beat_t[keep], rr[keep]


def update_day_details(
    db: Session, user: User, day: dt.date, profile: HeartProfile, *, now_s: float | None = None
) -> None:
    """Recompute one day's sessions, resting HR and HRV from its samples and store them on its rollup.

    ``now_s`` (default: the clock) is when the analysis runs: data up to then could have arrived, so a
    session reaching the newest sample within a hole's length of it is "in progress". The newest sample
    counts when it is later still (a phone whose clock runs ahead streams "future" samples live).
    """
    tz = localtime.zone(user.timezone)
    edges = localtime.day_edges_s(day, day, tz)
    rows = fetch_samples(
        db, user.id, edges[0] - SESSION_CONTEXT_S, edges[1] + SESSION_CONTEXT_S, with_rr=True
    )
    rollup = db.get(DayRollup, (user.id, day)) or DayRollup(user_id=user.id, day=day)
    if rows:
        data = sample_arrays(rows)
        t_s, bpm, contact = data.t_s, data.bpm, data.contact
        t_ms = np.round(t_s * 1000).astype(np.int64)
        valid = clean_hr(t_s, bpm, contact=contact).valid
        minutes = minute_table(t_s, bpm, valid, profile=profile, contact=contact)
        data_end_s = max(time.time() if now_s is None else now_s, float(t_s[-1]))
        found = find_sessions(t_s, bpm, valid, minutes, data_end_s=data_end_s)
        _replace_detected_sessions(db, user.id, edges[0], edges[1], found)
        resting = estimate_resting_hr(
            minutes.minute_start_s, minutes.mean_bpm, minutes.valid_s, edges, window_days=1
        )
        rollup.resting_hr = resting.resting_hr
        in_day = (t_s >= edges[0]) & (t_s < edges[1])
        device = beat_source(rows, in_day)
        keep = in_day & np.array([r[4] == device for r in rows], dtype=bool)
        beat_t, rr = beats_from_samples(t_ms[keep], [r[3] for r, k in zip(rows, keep, strict=True) if k])
        _update_hrv(rollup, beat_t, rr, localtime.utc_offset_s(day, tz), day, profile)
        _replace_hrv_windows(db, user.id, edges[0], edges[1], beat_t, rr)
    else:
        _replace_detected_sessions(db, user.id, edges[0], edges[1], [])
        _replace_hrv_windows(db, user.id, edges[0], edges[1], np.zeros(0), np.zeros(0))
    rollup.updated_at = dt.datetime.now(dt.UTC)
    db.add(rollup)


def beat_source(rows: list[tuple], in_day: NDArray[np.bool_]) -> int | None:  # type: ignore[type-arg]
    """The device whose RR intervals the day's HRV is read from: the one with the most beats that day.

    Two straps worn at once (or a live strap and an imported file of the same ride) send the same beats;
    mixing them would count each beat twice and scramble the beat times.
    """
    beats: dict[int, int] = {}
    for row, keep in zip(rows, in_day, strict=True):
        if keep and row[3]:
            beats[row[4]] = beats.get(row[4], 0) + row[3].count(" ") + 1
    return max(beats, key=beats.__getitem__) if beats else None


def _update_hrv(
    rollup: DayRollup,
    beat_t: NDArray[np.float64],
    rr: NDArray[np.float64],
    offset_s: float,
    day: dt.date,
    profile: HeartProfile,
) -> None:
    rollup.n_beats = int(rr.size)
    rollup.rmssd_ms = rollup.ln_rmssd = rollup.corrected_beat_pct = None
    if rr.size < MIN_HRV_BEATS:
        return
    try:
        corrected = correct(rr)
        rollup.corrected_beat_pct = round(100.0 * corrected.n_flagged / rr.size, 2)
        daily = daily_rest_hrv(beat_t, rr, utc_offset_s=offset_s, resting_hr_bpm=profile.resting_hr)
    except AnalysisError:
        return
    day_number = (day - dt.date(1970, 1, 1)).days
    hit = np.flatnonzero(daily.day == day_number)
    if hit.size:
        rollup.ln_rmssd = float(daily.ln_rmssd[hit[0]])
        rollup.rmssd_ms = float(np.exp(rollup.ln_rmssd))
        if rollup.resting_hr is None:  # under an hour worn, but a quiet rest reading: its rate is the rest HR
            rollup.resting_hr = round(float(daily.rest_hr_bpm[hit[0]]), 1)


def _replace_hrv_windows(
    db: Session, user_id: int, lo_s: float, hi_s: float, beat_t: NDArray[np.float64], rr: NDArray[np.float64]
) -> None:
    """The day's 5-minute HRV windows (those with beats) replace the stored ones, for baselines to read."""
    db.execute(
        delete(HrvWindow).where(
            HrvWindow.user_id == user_id, HrvWindow.start_s >= int(lo_s), HrvWindow.start_s < int(hi_s)
        )
    )
    if rr.size < MIN_WINDOW_BEATS:
        return
    try:
        stats = window_stats(beat_t, rr, window_s=HRV_WINDOW_S)
    except AnalysisError:
        return
    # A beat stamped just before midnight by a notification just after belongs to the day before's windows.
    keep = np.flatnonzero((stats.start_s >= lo_s) & (stats.start_s < hi_s))
    rows = [
        {
            "user_id": user_id,
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
    if rows:
        db.execute(insert(HrvWindow), rows)


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
