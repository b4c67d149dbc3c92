"""Stress at rest: sustained runs of raised HR and suppressed HRV against the user's usual for that hour.

The usual is the time-of-day baseline of :mod:`service.analysis.baseline` (rest windows of prior days,
exercise and the hour after it left out). A rest-time window is raised when its HR is above the hour's
baseline by at least max(min_hr_rise_bpm, k x spread) and its ln RMSSD below by at least
max(min_ln_drop, k x spread). An episode is a run of at least ``min_episode_windows`` raised windows
that follow each other: one raised window alone is a moment, not a sustained rise. Exercise and the
hour after it are never rest, so no episode can fall there: a heart still slowing down after a workout
is recovering, not stressed (DESIGN: "never inside a post-exercise window"). Around an interview the
same windows make the series for ``GET /interviews/{id}/stress``, and the time to return to baseline
is when the first run of ``settle_windows`` judged windows, none of them raised, begins.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from service.analysis.baseline import (
    ExerciseWindows,
    RestRules,
    TimeOfDayBaseline,
    exercise_windows,
    hour_of_day,
    rest_mask,
    window_offsets,
)
from service.analysis.hrv import WindowStats, window_stats


@dataclass(frozen=True)
class StressRules(RestRules):
    """Which windows are rest (see RestRules), and the thresholds for calling rest stressed."""

    spread_k: float = 1.0
    min_hr_rise_bpm: float = 3.0
    min_ln_drop: float = 0.1
    min_episode_windows: int = 2  # 10 minutes of 5-minute windows: a sustained rise


@dataclass(frozen=True)
class StressEpisode:
    """A run of stressed windows: UTC epoch bounds and its size (mean excess over the baseline)."""

    start_s: float
    end_s: float
    hr_excess_bpm: float
    ln_rmssd_drop: float


@dataclass(frozen=True)
class InterviewStress:
    """Windows from ``before_s`` before to ``after_s`` after an interview (NaN where no rest data).

    ``exercise`` and ``after_exercise`` mark the windows left out as exercise or the hour after it.
    """

    start_s: npt.NDArray[np.float64]
    hr_bpm: npt.NDArray[np.float64]
    rmssd_ms: npt.NDArray[np.float64]
    baseline_hr_bpm: npt.NDArray[np.float64]
    baseline_rmssd_ms: npt.NDArray[np.float64]
    stressed: npt.NDArray[np.bool_]
    exercise: npt.NDArray[np.bool_]
    after_exercise: npt.NDArray[np.bool_]
    episodes: tuple[StressEpisode, ...]
    recovery_s: float | None


def _local_hour(
    start_s: npt.NDArray[np.float64],
    window_s: int,
    beat_t_s: npt.NDArray[np.float64],
    utc_offset_s: float | npt.ArrayLike,
) -> npt.NDArray[np.intp]:
    """Local hour of day (0-23) of each window's midpoint."""
    return hour_of_day(start_s, window_s, window_offsets(start_s, window_s, beat_t_s, utc_offset_s))


def _judge(
    stats: WindowStats,
    hour: npt.NDArray[np.intp],
    window_s: int,
    baseline: TimeOfDayBaseline,
    rules: StressRules,
    active: ExerciseWindows,
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """(judged, raised) masks over the windows: rest with a baseline, and of those the raised ones."""
    judged = rest_mask(stats, window_s, rules, active) & np.isfinite(baseline.hr_bpm[hour])
    hr_rise = np.maximum(rules.min_hr_rise_bpm, rules.spread_k * baseline.hr_spread_bpm[hour])
    ln_drop = np.maximum(rules.min_ln_drop, rules.spread_k * baseline.ln_rmssd_spread[hour])
    with np.errstate(invalid="ignore"):
        raised = (
            judged
            & (stats.mean_hr_bpm >= baseline.hr_bpm[hour] + hr_rise)
            & (stats.ln_rmssd <= baseline.ln_rmssd[hour] - ln_drop)
        )
    return judged, raised


def _runs(
    start_s: npt.NDArray[np.float64], window_s: int, raised: npt.NDArray[np.bool_], min_windows: int
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """First and last index of each run of raised windows that follow each other, long enough to count."""
    idx = np.flatnonzero(raised)
    if idx.size == 0:
        return idx, idx
    new_run = np.diff(start_s[idx], prepend=-np.inf) > window_s
    firsts, lasts = idx[new_run], idx[np.r_[new_run[1:], True]]
    n = np.diff(np.r_[np.flatnonzero(new_run), idx.size])
    keep = n >= max(min_windows, 1)
    return firsts[keep], lasts[keep]


def _in_runs(size: int, firsts: npt.NDArray[np.intp], lasts: npt.NDArray[np.intp]) -> npt.NDArray[np.bool_]:
    """Mask of the windows from each first to its last, inclusive."""
    edges = np.zeros(size + 1, dtype=np.int64)
    np.add.at(edges, firsts, 1)
    np.add.at(edges, lasts + 1, -1)
    return np.cumsum(edges[:-1]) > 0


def _episodes(
    start_s: npt.NDArray[np.float64],
    window_s: int,
    runs: tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]],
    hr_excess: npt.NDArray[np.float64],
    ln_drop: npt.NDArray[np.float64],
) -> tuple[StressEpisode, ...]:
    """The runs as episodes, each with its mean excess over the baseline."""
    return tuple(
        StressEpisode(
            float(start_s[a]),
            float(start_s[b] + window_s),
            float(np.mean(hr_excess[a : b + 1])),
            float(np.mean(ln_drop[a : b + 1])),
        )
        for a, b in zip(*runs, strict=True)
    )


def stress_episodes(
    beat_t_s: npt.ArrayLike,
    rr_ms: npt.ArrayLike,
    *,
    utc_offset_s: float | npt.ArrayLike,
    baseline: TimeOfDayBaseline,
    window_s: int = 300,
    rules: StressRules | None = None,
    exercise_s: npt.ArrayLike | None = None,
) -> tuple[StressEpisode, ...]:
    """Sustained rest-time episodes of raised HR and suppressed HRV against the baseline for the hour.

    Args:
        beat_t_s: beat times, UTC epoch seconds, non-decreasing.
        rr_ms: RR intervals in ms, same length.
        utc_offset_s: UTC offset in seconds, one value or one per beat.
        baseline: the user's time-of-day baseline from prior days.
        window_s: window length in seconds (a multiple of 30).
        rules: thresholds; defaults when None.
        exercise_s: exercise spans, (start, end) pairs in UTC epoch seconds: no episode falls in one
            or in the ``rules.after_exercise_s`` after it.

    Returns:
        Episodes in time order.

    Raises:
        InvalidSeries: mismatched or invalid arrays.
    """
    r = rules or StressRules()
    stats = window_stats(beat_t_s, rr_ms, window_s=window_s)
    hour = _local_hour(stats.start_s, window_s, np.asarray(beat_t_s, dtype=np.float64), utc_offset_s)
    active = exercise_windows(
        stats.start_s, window_s=window_s, exercise_s=exercise_s, after_s=r.after_exercise_s
    )
    _, raised = _judge(stats, hour, window_s, baseline, r, active)
    return _episodes(
        stats.start_s,
        window_s,
        _runs(stats.start_s, window_s, raised, r.min_episode_windows),
        stats.mean_hr_bpm - baseline.hr_bpm[hour],
        baseline.ln_rmssd[hour] - stats.ln_rmssd,
    )


def interview_stress(
    beat_t_s: npt.ArrayLike,
    rr_ms: npt.ArrayLike,
    *,
    interview_t_s: float,
    utc_offset_s: float | npt.ArrayLike,
    baseline: TimeOfDayBaseline,
    before_s: float = 3 * 3600.0,
    after_s: float = 6 * 3600.0,
    window_s: int = 300,
    settle_windows: int = 2,
    rules: StressRules | None = None,
    exercise_s: npt.ArrayLike | None = None,
) -> InterviewStress:
    """HR and HRV around an interview against the baseline, its stress episodes and time to recover.

    Args:
        beat_t_s: beat times covering (at least) the span, UTC epoch seconds, non-decreasing.
        rr_ms: RR intervals in ms, same length.
        interview_t_s: interview time, UTC epoch seconds.
        utc_offset_s: UTC offset in seconds, one value or one per beat.
        baseline: the user's time-of-day baseline from prior days.
        before_s: span shown before the interview.
        after_s: span shown after the interview.
        window_s: window length in seconds (a multiple of 30).
        settle_windows: consecutive judged windows, none raised, that count as back at baseline.
        rules: thresholds; defaults when None.
        exercise_s: exercise spans, (start, end) pairs in UTC epoch seconds: they and the
            ``rules.after_exercise_s`` after each are not judged.

    Returns:
        One entry per window of the span (values NaN where the window is not rest or has no data);
        ``recovery_s`` is seconds from the interview to the start of the first settled run at or
        after the interview's window (0 when already settled), None when none falls in the span.

    Raises:
        InvalidSeries: mismatched or invalid arrays.
    """
    r = rules or StressRules()
    t = np.asarray(beat_t_s, dtype=np.float64)
    first = np.floor((interview_t_s - before_s) / window_s) * window_s
    grid = np.arange(first, interview_t_s + after_s, window_s, dtype=np.float64)
    sel = (t >= grid[0]) & (t < grid[-1] + window_s)
    stats = window_stats(t[sel], np.asarray(rr_ms, dtype=np.float64)[sel], window_s=window_s)
    offset = np.asarray(utc_offset_s, dtype=np.float64)
    offset = offset[sel] if offset.ndim else offset
    hour = _local_hour(stats.start_s, window_s, t[sel], offset)
    active = exercise_windows(
        stats.start_s, window_s=window_s, exercise_s=exercise_s, after_s=r.after_exercise_s
    )
    judged, raised = _judge(stats, hour, window_s, baseline, r, active)
    pos = np.rint((stats.start_s - grid[0]) / window_s).astype(np.intp)
    hr, rmssd = np.full(grid.size, np.nan), np.full(grid.size, np.nan)
    hr[pos[judged]], rmssd[pos[judged]] = stats.mean_hr_bpm[judged], stats.rmssd_ms[judged]
    raised_grid = np.zeros(grid.size, dtype=bool)
    raised_grid[pos[raised]] = True
    grid_hour = _local_hour(grid, window_s, t[sel], offset)
    base_hr, base_ln = baseline.hr_bpm[grid_hour], baseline.ln_rmssd[grid_hour]
    runs = _runs(grid, window_s, raised_grid, r.min_episode_windows)
    episodes = _episodes(grid, window_s, runs, hr - base_hr, base_ln - np.log(rmssd))
    grid_active = exercise_windows(grid, window_s=window_s, exercise_s=exercise_s, after_s=r.after_exercise_s)
    settled = np.isfinite(hr) & ~raised_grid
    return InterviewStress(
        grid,
        hr,
        rmssd,
        base_hr,
        np.exp(base_ln),
        _in_runs(grid.size, *runs),
        grid_active.exercise,
        grid_active.after,
        episodes,
        _recovery_s(grid, settled, interview_t_s, window_s, settle_windows),
    )


def _recovery_s(
    grid: npt.NDArray[np.float64],
    settled: npt.NDArray[np.bool_],
    interview_t_s: float,
    window_s: int,
    settle_windows: int,
) -> float | None:
    """Seconds from the interview to the first run of settled windows, None if there is none."""
    n = max(settle_windows, 1)
    if settled.size < n:
        return None
    runs = np.lib.stride_tricks.sliding_window_view(settled, n).all(axis=1)
    after = grid[: runs.size] > interview_t_s - window_s
    hits = np.flatnonzero(runs & after)
    if hits.size == 0:
        return None
    return max(0.0, float(grid[hits[0]] - interview_t_s))
