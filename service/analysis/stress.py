"""Stress at rest: windows of raised HR and suppressed HRV against the user's baseline for that hour.

The baseline per hour of the local day is the median of the user's rest-time window HR and ln RMSSD
over prior days, with a robust spread (1.4826 x MAD). A rest-time window is stressed when its HR is
above the hour's baseline by at least max(min_hr_rise_bpm, k x spread) and its ln RMSSD below by at
least max(min_ln_drop, k x spread). Runs of stressed windows are episodes. Around an interview the
same windows make the series for ``GET /interviews/{id}/stress``, and the time to return to baseline
is when the first run of ``settle_windows`` judged, unstressed windows begins.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from service.analysis.baseline import SECONDS_PER_DAY
from service.analysis.errors import InvalidSeries
from service.analysis.hrv import WindowStats, window_stats

HOURS = 24
MAD_TO_SD = 1.4826


@dataclass(frozen=True)
class StressRules:
    """Thresholds for rest-time windows and for calling one stressed."""

    min_coverage: float = 0.5  # share of the window spanned by beats
    max_artifact_fraction: float = 0.2
    exercise_bpm: float | None = None  # windows at or above this mean HR are activity, not rest
    spread_k: float = 1.0
    min_hr_rise_bpm: float = 3.0
    min_ln_drop: float = 0.1


@dataclass(frozen=True)
class TimeOfDayBaseline:
    """Per local hour (index 0-23): median HR and ln RMSSD of rest windows, their spreads, counts."""

    hr_bpm: npt.NDArray[np.float64]
    ln_rmssd: npt.NDArray[np.float64]
    hr_spread_bpm: npt.NDArray[np.float64]
    ln_rmssd_spread: npt.NDArray[np.float64]
    n_windows: npt.NDArray[np.int64]


@dataclass(frozen=True)
class StressEpisode:
    """A run of stressed windows: UTC epoch bounds and its size (mean excess over the baseline)."""

    start_s: float
    end_s: float
    hr_excess_bpm: float
    ln_rmssd_drop: float


@dataclass(frozen=True)
class InterviewStress:
    """Windows from ``before_s`` before to ``after_s`` after an interview (NaN where no rest data)."""

    start_s: npt.NDArray[np.float64]
    hr_bpm: npt.NDArray[np.float64]
    rmssd_ms: npt.NDArray[np.float64]
    baseline_hr_bpm: npt.NDArray[np.float64]
    baseline_rmssd_ms: npt.NDArray[np.float64]
    stressed: npt.NDArray[np.bool_]
    episodes: tuple[StressEpisode, ...]
    recovery_s: float | None


def _window_offsets(
    start_s: npt.NDArray[np.float64],
    window_s: int,
    beat_t_s: npt.NDArray[np.float64],
    utc_offset_s: float | npt.ArrayLike,
) -> npt.NDArray[np.float64]:
    """The UTC offset at each window's midpoint, from one value or one per beat."""
    offset = np.asarray(utc_offset_s, dtype=np.float64)
    if offset.ndim:
        mid = start_s + window_s / 2.0
        return np.interp(mid, beat_t_s, offset) if beat_t_s.size else np.zeros_like(mid)
    return np.full(start_s.shape, float(offset))


def _hour_of_day(
    start_s: npt.NDArray[np.float64], window_s: int, offset_s: npt.NDArray[np.float64]
) -> npt.NDArray[np.intp]:
    """Local hour of day (0-23) of each window's midpoint, given the UTC offset of each window."""
    mid = start_s + window_s / 2.0
    return (np.floor(((mid + offset_s) % SECONDS_PER_DAY) / 3600.0).astype(np.intp)) % HOURS


def _local_hour(
    start_s: npt.NDArray[np.float64],
    window_s: int,
    beat_t_s: npt.NDArray[np.float64],
    utc_offset_s: float | npt.ArrayLike,
) -> npt.NDArray[np.intp]:
    """Local hour of day (0-23) of each window's midpoint."""
    return _hour_of_day(start_s, window_s, _window_offsets(start_s, window_s, beat_t_s, utc_offset_s))


def _rest(stats: WindowStats, window_s: int, rules: StressRules) -> npt.NDArray[np.bool_]:
    """Windows that hold enough clean beats at rest to be judged."""
    ok = (
        (stats.covered_s >= rules.min_coverage * window_s)
        & (stats.artifact_fraction <= rules.max_artifact_fraction)
        & np.isfinite(stats.rmssd_ms)
        & (stats.rmssd_ms > 0)
    )
    if rules.exercise_bpm is not None:
        ok &= stats.mean_hr_bpm < rules.exercise_bpm
    return ok


def _median_spread(values: npt.NDArray[np.float64]) -> tuple[float, float]:
    """Median and robust SD (1.4826 x MAD) of a sample."""
    med = float(np.median(values))
    return med, MAD_TO_SD * float(np.median(np.abs(values - med)))


def time_of_day_baseline(
    beat_t_s: npt.ArrayLike,
    rr_ms: npt.ArrayLike,
    *,
    utc_offset_s: float | npt.ArrayLike,
    window_s: int = 300,
    min_windows: int = 6,
    rules: StressRules | None = None,
) -> TimeOfDayBaseline:
    """The user's typical rest-time HR and ln RMSSD for each hour of the local day.

    Hours with fewer than ``min_windows`` rest windows take the values pooled over all hours; with
    no rest window at all every value is NaN (nothing can then be called stressed).

    Args:
        beat_t_s: beat times of the history (prior days), UTC epoch seconds, non-decreasing.
        rr_ms: RR intervals in ms, same length.
        utc_offset_s: UTC offset in seconds, one value or one per beat.
        window_s: window length in seconds (a multiple of 30).
        min_windows: rest windows an hour needs to have its own values.
        rules: which windows count as rest; defaults when None.

    Returns:
        24 hourly values of each kind.

    Raises:
        InvalidSeries: mismatched or invalid arrays.
    """
    stats = window_stats(beat_t_s, rr_ms, window_s=window_s)
    offset = _window_offsets(stats.start_s, window_s, np.asarray(beat_t_s, dtype=np.float64), utc_offset_s)
    return baseline_from_windows(
        stats, utc_offset_s=offset, window_s=window_s, min_windows=min_windows, rules=rules
    )


def baseline_from_windows(
    stats: WindowStats,
    *,
    utc_offset_s: float | npt.ArrayLike,
    window_s: int = 300,
    min_windows: int = 6,
    rules: StressRules | None = None,
) -> TimeOfDayBaseline:
    """The time-of-day baseline from window statistics already computed (stored rollups, not raw beats).

    Same rules as :func:`time_of_day_baseline`, which is this applied to ``window_stats`` of the beats.

    Args:
        stats: per-window statistics of the history (prior days), e.g. read back from storage.
        utc_offset_s: UTC offset in seconds, one value or one per window.
        window_s: the windows' length in seconds.
        min_windows: rest windows an hour needs to have its own values.
        rules: which windows count as rest; defaults when None.

    Returns:
        24 hourly values of each kind.

    Raises:
        InvalidSeries: one offset per window was expected but the lengths differ.
    """
    r = rules or StressRules()
    offset = np.asarray(utc_offset_s, dtype=np.float64)
    if offset.ndim and offset.shape != stats.start_s.shape:
        raise InvalidSeries(
            "utc_offset_s", f"shape {offset.shape} does not match {stats.start_s.shape} windows"
        )
    offset = offset if offset.ndim else np.full(stats.start_s.shape, float(offset))
    rest = _rest(stats, window_s, r)
    hour = _hour_of_day(stats.start_s, window_s, offset)[rest]
    hr, ln = stats.mean_hr_bpm[rest], stats.ln_rmssd[rest]
    counts = np.bincount(hour, minlength=HOURS).astype(np.int64)
    out = np.full((4, HOURS), np.nan)
    if hr.size:
        out[:, :] = np.array([*_median_spread(hr), *_median_spread(ln)])[:, None]
    for h in np.flatnonzero(counts >= min_windows):  # a loop over 24 hours
        sel = hour == h
        out[:, h] = [*_median_spread(hr[sel]), *_median_spread(ln[sel])]
    return TimeOfDayBaseline(out[0], out[2], out[1], out[3], counts)


def _judge(
    stats: WindowStats,
    hour: npt.NDArray[np.intp],
    window_s: int,
    baseline: TimeOfDayBaseline,
    rules: StressRules,
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """(judged, stressed) masks over the windows."""
    judged = _rest(stats, window_s, rules) & np.isfinite(baseline.hr_bpm[hour])
    hr_rise = np.maximum(rules.min_hr_rise_bpm, rules.spread_k * baseline.hr_spread_bpm[hour])
    ln_drop = np.maximum(rules.min_ln_drop, rules.spread_k * baseline.ln_rmssd_spread[hour])
    with np.errstate(invalid="ignore"):
        stressed = (
            judged
            & (stats.mean_hr_bpm >= baseline.hr_bpm[hour] + hr_rise)
            & (stats.ln_rmssd <= baseline.ln_rmssd[hour] - ln_drop)
        )
    return judged, stressed


def _episodes(
    start_s: npt.NDArray[np.float64],
    window_s: int,
    stressed: npt.NDArray[np.bool_],
    hr_excess: npt.NDArray[np.float64],
    ln_drop: npt.NDArray[np.float64],
) -> tuple[StressEpisode, ...]:
    """Runs of stressed windows that follow each other in time, with their mean excess."""
    idx = np.flatnonzero(stressed)
    if idx.size == 0:
        return ()
    new_run = np.diff(start_s[idx], prepend=-np.inf) > window_s
    run = np.cumsum(new_run) - 1
    n = np.bincount(run)
    firsts, lasts = idx[new_run], idx[np.r_[new_run[1:], True]]
    hr_mean = np.bincount(run, weights=hr_excess[idx]) / n
    ln_mean = np.bincount(run, weights=ln_drop[idx]) / n
    return tuple(
        StressEpisode(float(start_s[a]), float(start_s[b] + window_s), float(h), float(d))
        for a, b, h, d in zip(firsts, lasts, hr_mean, ln_mean, strict=True)
    )


def stress_episodes(
    beat_t_s: npt.ArrayLike,
    rr_ms: npt.ArrayLike,
    *,
    utc_offset_s: float | npt.ArrayLike,
    baseline: TimeOfDayBaseline,
    window_s: int = 300,
    rules: StressRules | None = None,
) -> tuple[StressEpisode, ...]:
    """Rest-time episodes of raised HR and suppressed HRV against the baseline for the hour.

    Args:
        beat_t_s: beat times, UTC epoch seconds, non-decreasing.
        rr_ms: RR intervals in ms, same length.
        utc_offset_s: UTC offset in seconds, one value or one per beat.
        baseline: the user's time-of-day baseline from prior days.
        window_s: window length in seconds (a multiple of 30).
        rules: thresholds; defaults when None.

    Returns:
        Episodes in time order.

    Raises:
        InvalidSeries: mismatched or invalid arrays.
    """
    r = rules or StressRules()
    stats = window_stats(beat_t_s, rr_ms, window_s=window_s)
    hour = _local_hour(stats.start_s, window_s, np.asarray(beat_t_s, dtype=np.float64), utc_offset_s)
    _, stressed = _judge(stats, hour, window_s, baseline, r)
    return _episodes(
        stats.start_s,
        window_s,
        stressed,
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
        settle_windows: consecutive judged, unstressed windows that count as back at baseline.
        rules: thresholds; defaults when None.

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
    judged, stressed = _judge(stats, hour, window_s, baseline, r)
    pos = np.rint((stats.start_s - grid[0]) / window_s).astype(np.intp)
    hr, rmssd = np.full(grid.size, np.nan), np.full(grid.size, np.nan)
    hr[pos[judged]], rmssd[pos[judged]] = stats.mean_hr_bpm[judged], stats.rmssd_ms[judged]
    on_grid = np.zeros(grid.size, dtype=bool)
    on_grid[pos[stressed]] = True
    grid_hour = _local_hour(grid, window_s, t[sel], offset)
    base_hr, base_ln = baseline.hr_bpm[grid_hour], baseline.ln_rmssd[grid_hour]
    episodes = _episodes(grid, window_s, on_grid, hr - base_hr, base_ln - np.log(rmssd))
    settled = np.isfinite(hr) & ~on_grid
    return InterviewStress(
        grid,
        hr,
        rmssd,
        base_hr,
        np.exp(base_ln),
        on_grid,
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
