"""Stress around interviews: HR and HRV in 5-minute windows against the user's baseline for the hour.

The orchestration behind the stress routes (service/api/stress.py, which parses and answers): what is
loaded, the baseline built from it, the judging by service.analysis.stress, and the answer's form.

Only what is needed is loaded: the samples from 3 h before to 6 h after the interview, and for the
baseline the stored 5-minute HRV windows (``hrv_windows``, written by the day's analysis) of the same
whole hours of the local day on each of the 14 days before: a few thousand rows, not a fortnight of samples.
Without strap data around the interview every value is null; without a baseline the series is shown
but nothing is judged.

Exercise is the user's stored workout sessions (``workout_sessions``, not deleted), not a rule on each
window's mean HR: a session is already the sustained stretch at or above the heartbeat-up threshold that
DESIGN calls a workout (held 5 minutes, back-dated over the warm-up, kept through the recoveries between
intervals by hysteresis), found from every sample, with or without RR intervals, and as the user
corrected it; a 5-minute window's mean HR would miss the warm-up, a short effort inside a window and the
slower minutes between intervals, and would disagree with the Sessions page. The sessions and the hour
after each are left out of the baseline and never judged. A window whose mean HR is at or above the
threshold outside any session (a run for the bus) is still not rest, as before, but it starts no hour.
Times are in the user's time zone, as on the day and session answers.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Literal
from zoneinfo import ZoneInfo

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, Field
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from service.analysis.baseline import TimeOfDayBaseline, baseline_from_windows, exercise_windows
from service.analysis.beats import beat_source, beats_from_samples
from service.analysis.errors import AnalysisError
from service.analysis.hrv import WindowStats, window_stats
from service.analysis.stress import (
    InterviewStress,
    StressEpisode,
    StressRules,
    interview_stress,
    stress_episodes,
)
from service.core import localtime
from service.core.models import HrvWindow, Interview, Sample, User, WorkoutSession
from service.errors import InvalidInput
from service.pipeline.days import HRV_WINDOW_S
from service.pipeline.minutes import profile_for

Activity = Literal["exercise", "after_exercise"]


class StressWindow(BaseModel):
    """One 5-minute window: null where it holds no rest-time data (or, for the baseline, none is known).

    ``activity`` says why a window with data is not judged: a workout, or the hour after one."""

    start: str
    hr_bpm: float | None
    rmssd_ms: float | None
    baseline_hr_bpm: float | None
    baseline_rmssd_ms: float | None
    stressed: bool
    activity: Activity | None = None


class StressEpisodePublic(BaseModel):
    start: str
    end: str
    duration_s: int
    hr_excess_bpm: float | None
    ln_rmssd_drop: float | None


class StressBaseline(BaseModel):
    days: int
    rest_windows: int


class ExerciseSpan(BaseModel):
    """A workout in the span shown, and the end of the hour after it that is not judged either."""

    start: str
    end: str
    excluded_until: str


class InterviewStressPublic(BaseModel):
    interview_id: int
    at: str
    from_: str = Field(serialization_alias="from")
    to: str
    window_s: int
    has_data: bool
    baseline: StressBaseline | None
    windows: list[StressWindow]
    exercise: list[ExerciseSpan] = []
    episodes: list[StressEpisodePublic]
    recovery_s: float | None
    back_to_baseline_at: str | None
    statement: str


WINDOW_S = HRV_WINDOW_S  # the stored windows are the ones judged and shown
BEFORE_S = 3 * 3600
AFTER_S = 6 * 3600
BASELINE_DAYS = 14
MIN_BEATS = 60  # fewer beats than a minute's worth: nothing to show
MAX_EPISODE_RANGE_S = 7 * 86_400


@dataclass(frozen=True)
class Beats:
    t_s: NDArray[np.float64]
    rr_ms: NDArray[np.float64]
    offset_s: NDArray[np.float64]  # the UTC offset of each beat's local day


def _load_beats(db: Session, user: User, spans: list[tuple[float, float]]) -> Beats:
    """Beats of the user's samples within the spans (UTC epoch seconds), in time order, in one query."""
    ranges = [and_(Sample.t_ms >= int(lo * 1000), Sample.t_ms < int(hi * 1000)) for lo, hi in spans]
    # Plain Core rows: building ORM rows for a fortnight of 1 Hz samples would cost more than the analysis.
    # The columns are fetch_samples' (t_ms, bpm, contact, rr_ms, device_id), the rows beat_source reads.
    columns = (Sample.t_ms, Sample.bpm, Sample.contact, Sample.rr_ms, Sample.device_id)
    query = (
        select(*columns)
        .where(Sample.user_id == user.id, Sample.rr_ms.is_not(None), or_(*ranges))
        .order_by(Sample.t_ms)
    )
    rows: list[tuple] = list(db.connection().execute(query))  # type: ignore[type-arg]  # Rows index as tuples
    t_s, rr = _one_device_per_window(rows)
    return Beats(t_s, rr, _span_offsets(user, spans, t_s))


def _one_device_per_window(rows: list[tuple]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:  # type: ignore[type-arg]
    """Each 5-minute window's beats from one device: the one with the most beats in it (beat_source).

    Two straps worn at once (or a live strap and an imported file of the same ride) send the same beats,
    so the day's HRV reads one device only; chaining both would count each beat twice and scramble the
    beat times. Stress chooses per window rather than per day or per interview: the window is what is
    judged (and what the stored baseline holds), so each judged window reads one strap, and where a strap
    stops or joins halfway the other still covers the windows it misses.

    Each device's beats are rebuilt from all its notifications (beats_from_samples, as the day does), and
    a beat goes with the window its time falls in, as in window_stats, so two devices never overlap; a beat
    in a window without notifications (the first beats of a recording, just before its first notification)
    goes with the next window's choice. With one device every beat is kept, as before.
    """
    if not rows:
        return np.zeros(0), np.zeros(0)
    t_ms = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    device = np.fromiter((r[4] for r in rows), dtype=np.int64, count=len(rows))
    window = t_ms // (WINDOW_S * 1000)  # rows are in time order: each window's rows are one slice
    starts = np.flatnonzero(np.diff(window, prepend=window[0] - 1))
    keys, ends = window[starts], np.append(starts[1:], len(rows))
    chosen = np.array([_window_source(rows[a:b]) for a, b in zip(starts, ends, strict=True)])
    t_parts: list[NDArray[np.float64]] = []
    rr_parts: list[NDArray[np.float64]] = []
    for dev in np.unique(device):
        mine = np.flatnonzero(device == dev)
        beat_t, rr = beats_from_samples(t_ms[mine], [rows[i][3] for i in mine])
        # A beat ends at or before the notification carrying it: its window is at most the last key.
        at = np.searchsorted(keys, np.floor(beat_t / WINDOW_S).astype(np.int64))
        keep = chosen[at] == dev
        t_parts.append(beat_t[keep])
        rr_parts.append(rr[keep])
    t_s, rr = np.concatenate(t_parts), np.concatenate(rr_parts)
    order = np.argsort(t_s, kind="stable")  # the devices' windows interleave
    return t_s[order], rr[order]


def _window_source(rows: list[tuple]) -> float:  # type: ignore[type-arg]
    """The device with the most beats among the rows, as a float (NaN for none, never equal to a device)."""
    device = beat_source(rows, np.ones(len(rows), dtype=bool))
    return np.nan if device is None else float(device)


def _load_windows(
    db: Session, user: User, spans: list[tuple[float, float]]
) -> tuple[WindowStats, NDArray[np.float64]]:
    """The user's stored HRV windows starting within the spans, in one query, and each one's UTC offset."""
    columns = (
        HrvWindow.start_s, HrvWindow.n_beats, HrvWindow.covered_s, HrvWindow.mean_hr_bpm,
        HrvWindow.rmssd_ms, HrvWindow.hr_sd_bpm, HrvWindow.artifact_fraction,
    )  # fmt: skip
    rows: list[tuple[float, ...]] = []
    if spans:
        # Integer starts: t >= lo iff t >= ceil(lo), and t < hi iff t < ceil(hi).
        ranges = [and_(HrvWindow.start_s >= math.ceil(a), HrvWindow.start_s < math.ceil(b)) for a, b in spans]
        query = select(*columns).where(HrvWindow.user_id == user.id, or_(*ranges)).order_by(HrvWindow.start_s)
        rows = [tuple(r) for r in db.connection().execute(query)]
    # A null RMSSD (no successive beats in the window) reads back as NaN, as window_stats gives it.
    cols = [np.array(c, dtype=np.float64) for c in zip(*rows, strict=True)] or [np.zeros(0)] * len(columns)
    stats = WindowStats(
        start_s=cols[0], n_beats=cols[1].astype(np.int64), covered_s=cols[2], mean_hr_bpm=cols[3],
        rmssd_ms=cols[4], hr_sd_bpm=cols[5], artifact_fraction=cols[6],
    )  # fmt: skip
    return stats, _span_offsets(user, spans, stats.start_s)


def _span_offsets(
    user: User, spans: list[tuple[float, float]], t_s: NDArray[np.float64]
) -> NDArray[np.float64]:
    """The UTC offset of the local day of the span that each time falls in."""
    if not spans:
        return np.zeros(t_s.size)
    tz = localtime.zone(user.timezone)
    edges = np.array([lo for lo, _ in spans])
    offsets = np.array([localtime.utc_offset_s(localtime.local_day(lo, tz), tz) for lo, _ in spans])
    return offsets[np.clip(np.searchsorted(edges, t_s, side="right") - 1, 0, len(spans) - 1)]


def baseline_spans(tz: ZoneInfo, lo_s: float, hi_s: float) -> list[tuple[float, float]]:
    """The same whole local hours on each of the 14 days before, across daylight saving too."""
    lo = dt.datetime.fromtimestamp(lo_s, tz).replace(minute=0, second=0, microsecond=0, tzinfo=None)
    hi = dt.datetime.fromtimestamp(hi_s - 1, tz).replace(minute=0, second=0, microsecond=0, tzinfo=None)
    hi += dt.timedelta(hours=1)
    spans = []
    for k in range(BASELINE_DAYS, 0, -1):
        a = (lo - dt.timedelta(days=k)).replace(tzinfo=tz).timestamp()
        b = (hi - dt.timedelta(days=k)).replace(tzinfo=tz).timestamp()
        spans.append((a, min(b, lo_s)))  # never overlaps the window judged
    return [(a, b) for a, b in spans if b > a]


def _rules(user: User) -> StressRules:
    """Windows at or above the heartbeat-up threshold are activity, not stress."""
    return StressRules(exercise_bpm=profile_for(user).threshold_bpm)


def _exercise(db: Session, user: User, lo_s: float, hi_s: float, rules: StressRules) -> NDArray[np.float64]:
    """The user's workout sessions whose span or following hour touches [lo_s, hi_s): (start, end) seconds."""
    query = select(WorkoutSession.start_ms, WorkoutSession.end_ms).where(
        WorkoutSession.user_id == user.id,
        WorkoutSession.deleted.is_(False),
        WorkoutSession.end_ms >= int((lo_s - rules.after_exercise_s) * 1000),
        WorkoutSession.start_ms < int(hi_s * 1000),
    )
    rows = list(db.execute(query.order_by(WorkoutSession.start_ms)))
    return np.array([(a / 1000, b / 1000) for a, b in rows], dtype=np.float64).reshape(-1, 2)


def _baseline(
    db: Session,
    user: User,
    spans: list[tuple[float, float]],
    rules: StressRules,
    exercise_s: NDArray[np.float64] | None = None,
) -> TimeOfDayBaseline | None:
    """The user's usual rest-time HR and HRV per hour of the day from the spans' stored windows; None without.

    Exercise and the hour after it are left out: by the sessions given, else those stored for the spans."""
    stats, offset_s = _load_windows(db, user, spans)
    if stats.n_beats.sum() < MIN_BEATS:
        return None
    if exercise_s is None:
        exercise_s = _exercise(db, user, spans[0][0], spans[-1][1], rules)
    try:
        base = baseline_from_windows(
            stats, utc_offset_s=offset_s, window_s=WINDOW_S, rules=rules, exercise_s=exercise_s
        )
    except AnalysisError:
        return None
    return base if np.isfinite(base.hr_bpm).any() else None


def _opt(x: float) -> float | None:
    return round(float(x), 2) if np.isfinite(x) else None


def _iso(t_s: float, tz: ZoneInfo) -> str:
    """An instant in the user's time zone, as the day and session answers give it."""
    return dt.datetime.fromtimestamp(t_s, tz).isoformat(timespec="seconds")


def _episode(e: StressEpisode, tz: ZoneInfo) -> StressEpisodePublic:
    return StressEpisodePublic(
        start=_iso(e.start_s, tz),
        end=_iso(e.end_s, tz),
        duration_s=round(e.end_s - e.start_s),
        hr_excess_bpm=_opt(e.hr_excess_bpm),
        ln_rmssd_drop=_opt(e.ln_rmssd_drop),
    )


def _unjudged_series(grid: NDArray[np.float64], beats: Beats) -> tuple[NDArray[np.float64], ...]:
    """HR and RMSSD per window without a baseline to judge them against."""
    hr, rmssd = np.full(grid.size, np.nan), np.full(grid.size, np.nan)
    if beats.t_s.size >= MIN_BEATS:
        stats = window_stats(beats.t_s, beats.rr_ms, window_s=WINDOW_S)
        pos = np.rint((stats.start_s - grid[0]) / WINDOW_S).astype(np.intp)
        keep = (pos >= 0) & (pos < grid.size)
        hr[pos[keep]], rmssd[pos[keep]] = stats.mean_hr_bpm[keep], stats.rmssd_ms[keep]
    return hr, rmssd


def _statement(result: InterviewStress | None, has_data: bool, has_baseline: bool, n_workouts: int) -> str:
    if not has_data:
        return (
            "No heart-rate data with RR intervals around this interview; wear the strap next time to see it."
        )
    if not has_baseline:
        return "Not enough rest-time data from the days before to know your usual level for these hours yet."
    assert result is not None
    minutes = sum(e.end_s - e.start_s for e in result.episodes) / 60
    stressed = (
        f"{len(result.episodes)} stress episode{'s' if len(result.episodes) != 1 else ''} "
        f"({minutes:.0f} min in all)"
        if result.episodes
        else "No stress episode"
    )
    back = (
        f"back to your usual level {result.recovery_s / 60:.0f} minutes after the interview"
        if result.recovery_s is not None
        else "no return to your usual level within the data"
    )
    workouts = (
        f" Your workout{'s' if n_workouts > 1 else ''} and the hour after {'each' if n_workouts > 1 else 'it'} "
        "are left out: a heart settling after exercise is recovering, not stressed."
        if n_workouts
        else ""
    )
    return f"{stressed}; {back}.{workouts}"


def _activity(exercise: NDArray[np.bool_], after: NDArray[np.bool_], i: int) -> Activity | None:
    return "exercise" if exercise[i] else "after_exercise" if after[i] else None


def _windows(
    grid: NDArray[np.float64],
    beats: Beats,
    result: InterviewStress | None,
    exercise_s: NDArray[np.float64],
    rules: StressRules,
    tz: ZoneInfo,
) -> list[StressWindow]:
    """The 5-minute series; without a judged result, the plain series and no baseline."""
    hr, rmssd = (result.hr_bpm, result.rmssd_ms) if result else _unjudged_series(grid, beats)
    nan = np.full(grid.size, np.nan)
    base_hr = result.baseline_hr_bpm if result else nan
    base_rmssd = result.baseline_rmssd_ms if result else nan
    stressed = result.stressed if result else np.zeros(grid.size, dtype=bool)
    active = exercise_windows(grid, window_s=WINDOW_S, exercise_s=exercise_s, after_s=rules.after_exercise_s)
    return [
        StressWindow(
            start=_iso(t, tz),
            hr_bpm=_opt(hr[i]),
            rmssd_ms=_opt(rmssd[i]),
            baseline_hr_bpm=_opt(base_hr[i]),
            baseline_rmssd_ms=_opt(base_rmssd[i]),
            stressed=bool(stressed[i]),
            activity=_activity(active.exercise, active.after, i),
        )
        for i, t in enumerate(grid)
    ]


def _exercise_public(exercise_s: NDArray[np.float64], rules: StressRules, tz: ZoneInfo) -> list[ExerciseSpan]:
    return [
        ExerciseSpan(start=_iso(a, tz), end=_iso(b, tz), excluded_until=_iso(b + rules.after_exercise_s, tz))
        for a, b in exercise_s
    ]


def interview_stress_report(db: Session, user: User, interview: Interview) -> InterviewStressPublic:
    """HR and HRV from 3 h before to 6 h after the interview, against the user's usual for the hour."""
    at_s = interview.at.timestamp()
    grid = np.arange(np.floor((at_s - BEFORE_S) / WINDOW_S) * WINDOW_S, at_s + AFTER_S, WINDOW_S)
    lo_s, hi_s = float(grid[0]), float(grid[-1] + WINDOW_S)
    beats = _load_beats(db, user, [(lo_s, hi_s + 60)])  # a sample's RR may end a little after its window
    has_data = beats.t_s.size >= MIN_BEATS
    rules = _rules(user)
    tz = localtime.zone(user.timezone)
    spans = baseline_spans(tz, lo_s, hi_s)
    # One query for the sessions of the fortnight before and of the span shown.
    sessions = _exercise(db, user, spans[0][0] if spans else lo_s, hi_s, rules)
    shown = sessions[(sessions[:, 1] + rules.after_exercise_s > lo_s) & (sessions[:, 0] < hi_s)]
    baseline = _baseline(db, user, spans, rules, sessions) if has_data and spans else None
    result = None
    if baseline is not None:
        result = interview_stress(
            beats.t_s, beats.rr_ms, interview_t_s=at_s, utc_offset_s=beats.offset_s, baseline=baseline,
            before_s=BEFORE_S, after_s=AFTER_S, window_s=WINDOW_S, rules=rules, exercise_s=shown,
        )  # fmt: skip
    recovery_s = result.recovery_s if result else None
    return InterviewStressPublic(
        interview_id=interview.id,
        at=interview.at.astimezone(tz).isoformat(),
        from_=_iso(lo_s, tz),
        to=_iso(hi_s, tz),
        window_s=WINDOW_S,
        has_data=has_data,
        baseline=None
        if baseline is None
        else StressBaseline(days=BASELINE_DAYS, rest_windows=int(baseline.n_windows.sum())),
        windows=_windows(grid, beats, result, shown, rules, tz),
        exercise=_exercise_public(shown, rules, tz),
        episodes=[_episode(e, tz) for e in result.episodes] if result else [],
        recovery_s=recovery_s,
        back_to_baseline_at=None if recovery_s is None else _iso(at_s + recovery_s, tz),
        statement=_statement(result, has_data, baseline is not None, len(shown)),
    )


def episodes_between(db: Session, user: User, lo_s: float, hi_s: float) -> list[StressEpisodePublic]:
    """Sustained rest-time stress episodes starting in [lo_s, hi_s) (at most 7 days), against the baseline
    of the whole days before the range; none falls in a workout or the hour after it.

    Raises:
        InvalidInput: the range is empty or longer than MAX_EPISODE_RANGE_S.
    """
    if hi_s <= lo_s:
        raise InvalidInput("`to` is not after `from`")
    if hi_s - lo_s > MAX_EPISODE_RANGE_S:
        raise InvalidInput("at most 7 days at a time")
    beats = _load_beats(db, user, [(lo_s, hi_s)])
    if beats.t_s.size < MIN_BEATS:
        return []
    rules = _rules(user)
    # Any hour may be judged: the baseline takes the whole days before the range, one span a day.
    spans = [(lo_s - k * 86_400.0, lo_s - (k - 1) * 86_400.0) for k in range(BASELINE_DAYS, 0, -1)]
    sessions = _exercise(db, user, spans[0][0], hi_s, rules)
    baseline = _baseline(db, user, spans, rules, sessions)
    if baseline is None:
        return []
    episodes = stress_episodes(
        beats.t_s, beats.rr_ms, utc_offset_s=beats.offset_s, baseline=baseline, window_s=WINDOW_S,
        rules=rules, exercise_s=sessions,
    )  # fmt: skip
    tz = localtime.zone(user.timezone)
    return [_episode(e, tz) for e in episodes if lo_s <= e.start_s < hi_s]
