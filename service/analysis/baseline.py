"""The user's own baselines: rest-time HRV per day with its normal band, and the usual HR and HRV per hour.

Daily value: ln RMSSD of quiet 5-minute windows (well covered by beats, few artefacts, a steady rate
close to the day's lowest), summarised by their median. The same windows' median heart rate is a resting
heart rate: a quarter of an hour lying or sitting still, steady and near the lowest rate, is how resting HR
is measured by hand, so it stands for the day's resting HR when too few minutes were worn for the minute
quantile (service/analysis/profile.py, an hour a day). Recovery status follows HRV4Training
(Altini & Plews): the 7-day mean of daily ln RMSSD is compared with a normal band of the 60-day
mean +/- 0.5 SD of the daily values; "below" is read as reduced recovery, "above" as unusually high.

Time-of-day baseline ("your usual", what stress is judged against): per hour of the local day, the
median of the rest windows' HR and ln RMSSD over prior days, with a robust spread (1.4826 x MAD). A
window is rest when it is well covered by clean beats and lies neither in exercise nor in the hour
after it (DESIGN: the baseline excludes exercise and the hour after it; heart rate stays raised and
HRV suppressed for a while after a workout, which is recovery, not the user's usual).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from service.analysis.errors import InvalidSeries
from service.analysis.hrv import WindowStats, window_stats

SECONDS_PER_DAY = 86_400
RecoveryLabel = Literal["within", "below", "above"]


@dataclass(frozen=True)
class QuietCriteria:
    """What makes a window quiet enough to read resting HRV from it."""

    min_coverage: float = 0.8  # share of the window spanned by RR intervals
    max_artifact_fraction: float = 0.05
    max_hr_sd_bpm: float = 3.0  # SD of 30-s mean HRs: no movement or posture change
    hr_margin_bpm: float = 10.0  # mean HR at most this far above the reference low HR
    low_hr_quantile: float = 0.1  # reference low HR: this quantile of the day's window HRs


@dataclass(frozen=True)
class DailyHrv:
    """Rest-time HRV per local day (days since the epoch, local calendar), only days with a value.

    ``rest_hr_bpm`` is the median mean HR of the same quiet windows (a resting HR read from them)."""

    day: npt.NDArray[np.int64]
    ln_rmssd: npt.NDArray[np.float64]
    n_windows: npt.NDArray[np.int64]
    rest_hr_bpm: npt.NDArray[np.float64]


@dataclass(frozen=True)
class RecoveryStatus:
    """The 7-day ln RMSSD against the 60-day normal band; ``status`` None when history is too short."""

    status: RecoveryLabel | None
    acute_ln_rmssd: float | None
    band_low: float | None
    band_high: float | None
    n_acute_days: int
    n_band_days: int


def local_days(
    start_s: npt.NDArray[np.float64], beat_t_s: npt.NDArray[np.float64], utc_offset_s: float | npt.ArrayLike
) -> npt.NDArray[np.int64]:
    """Local calendar day (days since 1970-01-01 local) of each window start.

    Args:
        start_s: window start times, UTC epoch seconds.
        beat_t_s: beat times the offsets belong to when ``utc_offset_s`` is an array.
        utc_offset_s: UTC offset in seconds, a scalar or one per beat (follows daylight saving).

    Returns:
        Day numbers as int64.

    Raises:
        InvalidSeries: an offset array whose length does not match the beats.
    """
    offset = np.asarray(utc_offset_s, dtype=np.float64)
    if offset.ndim:
        if offset.shape != beat_t_s.shape:
            raise InvalidSeries("utc_offset_s", "needs one offset per beat or a single value")
        offset = np.interp(start_s, beat_t_s, offset) if beat_t_s.size else np.zeros_like(start_s)
    return np.floor((start_s + offset) / SECONDS_PER_DAY).astype(np.int64)


def quiet_mask(
    stats: WindowStats,
    day: npt.NDArray[np.int64],
    *,
    window_s: int,
    resting_hr_bpm: float | None = None,
    criteria: QuietCriteria | None = None,
) -> npt.NDArray[np.bool_]:
    """Which windows are quiet rest: steady, clean, well covered and near the lowest HR.

    Args:
        stats: per-window statistics.
        day: local day of each window.
        window_s: window length the statistics were computed with.
        resting_hr_bpm: the user's resting HR; when None, each day's low quantile of window HRs.
        criteria: thresholds; defaults when None.

    Returns:
        Boolean mask over the windows.
    """
    c = criteria or QuietCriteria()
    ok = (
        (stats.covered_s >= c.min_coverage * window_s)
        & (stats.artifact_fraction <= c.max_artifact_fraction)
        & (stats.hr_sd_bpm <= c.max_hr_sd_bpm)
        & np.isfinite(stats.rmssd_ms)
    )
    if resting_hr_bpm is not None:
        reference = np.full(day.shape, float(resting_hr_bpm))
    else:
        reference = np.full(day.shape, np.nan)
        for d in np.unique(day[ok]):  # a loop over days, not beats
            sel = ok & (day == d)
            reference[day == d] = np.quantile(stats.mean_hr_bpm[sel], c.low_hr_quantile)
    with np.errstate(invalid="ignore"):
        return ok & (stats.mean_hr_bpm <= reference + c.hr_margin_bpm)


def daily_rest_hrv(
    beat_t_s: npt.ArrayLike,
    rr_ms: npt.ArrayLike,
    *,
    utc_offset_s: float | npt.ArrayLike,
    window_s: int = 300,
    resting_hr_bpm: float | None = None,
    min_windows: int = 3,
    criteria: QuietCriteria | None = None,
) -> DailyHrv:
    """Median ln RMSSD of each local day's quiet windows, for days with at least ``min_windows``.

    Args:
        beat_t_s: time of each beat (end of its RR interval), UTC epoch seconds, non-decreasing.
        rr_ms: RR intervals in ms, same length.
        utc_offset_s: UTC offset in seconds, one value or one per beat.
        window_s: window length in seconds (a multiple of 30).
        resting_hr_bpm: the user's resting HR, if known (see :func:`quiet_mask`).
        min_windows: quiet windows a day needs before it gets a value.
        criteria: quiet-window thresholds; defaults when None.

    Returns:
        One entry per day that has a value, in day order, with the quiet windows' median HR.

    Raises:
        InvalidSeries: mismatched or invalid arrays.
    """
    stats = window_stats(beat_t_s, rr_ms, window_s=window_s)
    t = np.asarray(beat_t_s, dtype=np.float64)
    day = local_days(stats.start_s, t, utc_offset_s)
    quiet = quiet_mask(stats, day, window_s=window_s, resting_hr_bpm=resting_hr_bpm, criteria=criteria)
    days, counts = np.unique(day[quiet], return_counts=True)
    keep = counts >= min_windows
    ln = stats.ln_rmssd
    values = np.array([np.median(ln[quiet & (day == d)]) for d in days[keep]], dtype=np.float64)
    rest_hr = np.array(
        [np.median(stats.mean_hr_bpm[quiet & (day == d)]) for d in days[keep]], dtype=np.float64
    )
    return DailyHrv(
        day=days[keep].astype(np.int64), ln_rmssd=values, n_windows=counts[keep].astype(np.int64),
        rest_hr_bpm=rest_hr,
    )  # fmt: skip


def recovery_status(
    day: npt.ArrayLike,
    ln_rmssd: npt.ArrayLike,
    *,
    on_day: int,
    acute_days: int = 7,
    band_days: int = 60,
    band_sd: float = 0.5,
    min_acute_days: int = 3,
    min_band_days: int = 14,
) -> RecoveryStatus:
    """Compare the recent ln RMSSD with the user's normal band, as HRV4Training does.

    Both windows end on ``on_day`` inclusive; days without a value are simply absent (or NaN).

    Args:
        day: day numbers of the daily values (any order, no duplicates).
        ln_rmssd: daily rest-time ln RMSSD.
        on_day: the day to judge.
        acute_days: length of the recent window whose mean is judged (7).
        band_days: length of the window giving the normal band (60).
        band_sd: half-width of the band in SDs (ddof=1) of the daily values (0.5).
        min_acute_days: values needed in the recent window.
        min_band_days: values needed in the band window.

    Returns:
        "within", "below" or "above" the band, or status None with too little history.

    Raises:
        InvalidSeries: ``day`` and ``ln_rmssd`` differ in shape.
    """
    d = np.asarray(day, dtype=np.int64)
    v = np.asarray(ln_rmssd, dtype=np.float64)
    if d.shape != v.shape or d.ndim != 1:
        raise InvalidSeries("ln_rmssd", "needs one value per day, as a 1-D array")
    valid = np.isfinite(v) & (d <= on_day)
    acute = v[valid & (d > on_day - acute_days)]
    band = v[valid & (d > on_day - band_days)]
    if acute.size < min_acute_days or band.size < max(min_band_days, 2):
        return RecoveryStatus(
            None, float(acute.mean()) if acute.size else None, None, None, int(acute.size), int(band.size)
        )
    centre, half = float(band.mean()), band_sd * float(band.std(ddof=1))
    acute_mean = float(acute.mean())
    low, high = centre - half, centre + half
    status: RecoveryLabel = "below" if acute_mean < low else "above" if acute_mean > high else "within"
    return RecoveryStatus(status, acute_mean, low, high, int(acute.size), int(band.size))


_EPS = float(np.finfo(np.float64).eps)
_TRUSTED_VARIANCE = 1e-11  # the running sums' rounding may be at most this share of a window's variance
_EDGE = 1e-9  # a 7-day mean this close to the band's edge is judged by `recovery_status` itself


@dataclass(frozen=True)
class RecoveryStatuses:
    """`RecoveryStatus` of many days as columns (one entry a day): a year of them without 365 objects."""

    status: list[RecoveryLabel | None]
    acute_ln_rmssd: list[float | None]
    band_low: list[float | None]
    band_high: list[float | None]
    n_acute_days: list[int]
    n_band_days: list[int]

    def __getitem__(self, i: int) -> RecoveryStatus:
        return RecoveryStatus(
            self.status[i], self.acute_ln_rmssd[i], self.band_low[i], self.band_high[i], self.n_acute_days[i],
            self.n_band_days[i],
        )  # fmt: skip


def recovery_statuses(
    day: npt.ArrayLike,
    ln_rmssd: npt.ArrayLike,
    *,
    on_days: npt.ArrayLike,
    acute_days: int = 7,
    band_days: int = 60,
    band_sd: float = 0.5,
    min_acute_days: int = 3,
    min_band_days: int = 14,
) -> RecoveryStatuses:
    """`recovery_status` on each of many days at once (a year of a dashboard's days), in O(n) numpy.

    Each window's sum and sum of squares are differences of running sums (of the values less their mean),
    not a pass per day: the same numbers as `recovery_status` day by day to 1e-12, and the same labels
    (tests/analysis/test_baseline.py). Where that difference cannot be trusted, a window whose spread is
    tiny against what the running sums carry (a steady or repeated reading: its SD, a square root, would
    take the rounding to 1e-8), or a 7-day mean within 1e-9 of the band's edge, the day is judged by
    `recovery_status` itself.
    """
    d = np.asarray(day, dtype=np.int64)
    v = np.asarray(ln_rmssd, dtype=np.float64)
    if d.shape != v.shape or d.ndim != 1:
        raise InvalidSeries("ln_rmssd", "needs one value per day, as a 1-D array")
    keep = np.isfinite(v)
    order = np.argsort(d[keep], kind="stable")
    d, v = d[keep][order], v[keep][order]
    on = np.asarray(on_days, dtype=np.int64).reshape(-1)
    shift = v.mean() if v.size else 0.0
    x = v - shift
    sums = np.concatenate(([0.0], np.cumsum(x)))
    squares = np.concatenate(([0.0], np.cumsum(x * x)))
    hi = np.searchsorted(d, on, side="right")

    def window(length: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64], npt.NDArray[np.float64],
                                      npt.NDArray[np.bool_]]:  # fmt: skip
        lo = np.searchsorted(d, on - length, side="right")
        n = hi - lo
        total = sums[hi] - sums[lo]
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = total / n
            var = (squares[hi] - squares[lo] - total * mean) / (n - 1)
            # cumsum adds in order: each running sum of squares carries up to x.size roundings of its total
            doubt = 4 * _EPS * x.size * squares[-1] / (n - 1)
        unsure = ~(doubt <= _TRUSTED_VARIANCE * var)  # also where var is 0 or undefined
        return n, mean + shift, np.sqrt(np.maximum(var, 0.0)), unsure

    n_acute, acute_mean, _, _ = window(acute_days)
    n_band, band_mean, band_std, unsure = window(band_days)
    out = RecoveryStatuses([], [], [], [], n_acute.tolist(), n_band.tolist())
    for on_day, na, nb, acute, centre, sd, doubtful in zip(
        on.tolist(),
        out.n_acute_days,
        out.n_band_days,
        acute_mean.tolist(),
        band_mean.tolist(),
        band_std.tolist(),
        unsure.tolist(),
        strict=True,
    ):
        status: RecoveryLabel | None = None
        low = high = None
        if na >= min_acute_days and nb >= max(min_band_days, 2):
            low, high = centre - band_sd * sd, centre + band_sd * sd
            if doubtful or min(abs(acute - low), abs(acute - high)) < _EDGE:
                exact = recovery_status(
                    d, v, on_day=on_day, acute_days=acute_days, band_days=band_days, band_sd=band_sd,
                    min_acute_days=min_acute_days, min_band_days=min_band_days,
                )  # fmt: skip
                acute, low, high = exact.acute_ln_rmssd, exact.band_low, exact.band_high
            status = "below" if acute < low else "above" if acute > high else "within"  # type: ignore[operator]
        out.status.append(status)
        out.acute_ln_rmssd.append(acute if na else None)
        out.band_low.append(low)
        out.band_high.append(high)
    return out


HOURS = 24
MAD_TO_SD = 1.4826
AFTER_EXERCISE_S = 3600.0  # DESIGN: "excludes exercise and the hour after it"


@dataclass(frozen=True)
class RestRules:
    """Which windows are rest: enough clean beats, not exercise, not the hour after exercise."""

    min_coverage: float = 0.5  # share of the window spanned by beats
    max_artifact_fraction: float = 0.2
    exercise_bpm: float | None = None  # a window at or above this mean HR is activity, not rest
    after_exercise_s: float = AFTER_EXERCISE_S


@dataclass(frozen=True)
class TimeOfDayBaseline:
    """Per local hour (index 0-23): median HR and ln RMSSD of rest windows, their spreads, counts."""

    hr_bpm: npt.NDArray[np.float64]
    ln_rmssd: npt.NDArray[np.float64]
    hr_spread_bpm: npt.NDArray[np.float64]
    ln_rmssd_spread: npt.NDArray[np.float64]
    n_windows: npt.NDArray[np.int64]


@dataclass(frozen=True)
class ExerciseWindows:
    """Masks over windows: overlapping exercise, and (not exercise) overlapping the time after it."""

    exercise: npt.NDArray[np.bool_]
    after: npt.NDArray[np.bool_]

    @property
    def any(self) -> npt.NDArray[np.bool_]:
        return self.exercise | self.after


def _spans(exercise_s: npt.ArrayLike | None) -> npt.NDArray[np.float64]:
    """Exercise spans as an (n, 2) array of [start, end) UTC epoch seconds, sorted by start."""
    spans = np.asarray([] if exercise_s is None else exercise_s, dtype=np.float64)
    if spans.size == 0:
        return np.zeros((0, 2))
    if spans.ndim != 2 or spans.shape[1] != 2:
        raise InvalidSeries("exercise_s", f"needs (start, end) pairs, shape (n, 2), got {spans.shape}")
    if not np.isfinite(spans).all() or (spans[:, 1] < spans[:, 0]).any():
        raise InvalidSeries("exercise_s", "each span needs finite times with end >= start")
    return spans[np.argsort(spans[:, 0], kind="stable")]


def _overlaps(
    start_s: npt.NDArray[np.float64], window_s: float, spans: npt.NDArray[np.float64]
) -> npt.NDArray[np.bool_]:
    """Windows [s, s + window_s) that share time with any span [a, b) (spans sorted by start)."""
    spans = spans[spans[:, 1] > spans[:, 0]]  # an empty span covers no time
    if not spans.size:
        return np.zeros(start_s.shape, dtype=bool)
    # Merged into disjoint spans, the last one starting before a window ends is the only candidate:
    # the window overlaps the exercise iff that span ends after the window starts.
    reach = np.maximum.accumulate(spans[:, 1])
    first = np.flatnonzero(np.r_[True, spans[1:, 0] > reach[:-1]])
    lo, hi = spans[first, 0], np.maximum.reduceat(spans[:, 1], first)
    k = np.searchsorted(lo, start_s + window_s, side="left") - 1
    return (k >= 0) & (hi[np.maximum(k, 0)] > start_s)


def exercise_windows(
    start_s: npt.ArrayLike,
    *,
    window_s: float,
    exercise_s: npt.ArrayLike | None,
    after_s: float = AFTER_EXERCISE_S,
) -> ExerciseWindows:
    """Which windows fall in exercise, and which (otherwise) in the ``after_s`` after an exercise ends.

    Args:
        start_s: window starts, UTC epoch seconds.
        window_s: the windows' length in seconds.
        exercise_s: exercise spans, (start, end) pairs in UTC epoch seconds (any order), or None.
        after_s: how long after each span's end a window is still post-exercise.

    Returns:
        Two boolean masks over the windows; a window touching both is exercise.

    Raises:
        InvalidSeries: spans that are not (start, end) pairs of finite times with end >= start.
    """
    start = np.asarray(start_s, dtype=np.float64)
    spans = _spans(exercise_s)
    during = _overlaps(start, window_s, spans)
    after = _overlaps(start, window_s, np.column_stack([spans[:, 1], spans[:, 1] + after_s]))
    return ExerciseWindows(during, after & ~during)


def window_offsets(
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


def hour_of_day(
    start_s: npt.NDArray[np.float64], window_s: int, offset_s: npt.NDArray[np.float64]
) -> npt.NDArray[np.intp]:
    """Local hour of day (0-23) of each window's midpoint, given the UTC offset of each window."""
    mid = start_s + window_s / 2.0
    return (np.floor(((mid + offset_s) % SECONDS_PER_DAY) / 3600.0).astype(np.intp)) % HOURS


def rest_mask(
    stats: WindowStats, window_s: int, rules: RestRules, exercise: ExerciseWindows
) -> npt.NDArray[np.bool_]:
    """Windows that hold enough clean beats at rest to be judged or to make the baseline."""
    ok = (
        (stats.covered_s >= rules.min_coverage * window_s)
        & (stats.artifact_fraction <= rules.max_artifact_fraction)
        & np.isfinite(stats.rmssd_ms)
        & (stats.rmssd_ms > 0)
        & ~exercise.any
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
    rules: RestRules | None = None,
    exercise_s: npt.ArrayLike | None = None,
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
        exercise_s: exercise spans, (start, end) pairs in UTC epoch seconds: they and the
            ``rules.after_exercise_s`` after each are left out.

    Returns:
        24 hourly values of each kind.

    Raises:
        InvalidSeries: mismatched or invalid arrays.
    """
    stats = window_stats(beat_t_s, rr_ms, window_s=window_s)
    offset = window_offsets(stats.start_s, window_s, np.asarray(beat_t_s, dtype=np.float64), utc_offset_s)
    return baseline_from_windows(
        stats, utc_offset_s=offset, window_s=window_s, min_windows=min_windows, rules=rules,
        exercise_s=exercise_s,
    )  # fmt: skip


def baseline_from_windows(
    stats: WindowStats,
    *,
    utc_offset_s: float | npt.ArrayLike,
    window_s: int = 300,
    min_windows: int = 6,
    rules: RestRules | None = None,
    exercise_s: npt.ArrayLike | None = None,
) -> TimeOfDayBaseline:
    """The time-of-day baseline from window statistics already computed (stored rollups, not raw beats).

    Same rules as :func:`time_of_day_baseline`, which is this applied to ``window_stats`` of the beats.

    Args:
        stats: per-window statistics of the history (prior days), e.g. read back from storage.
        utc_offset_s: UTC offset in seconds, one value or one per window.
        window_s: the windows' length in seconds.
        min_windows: rest windows an hour needs to have its own values.
        rules: which windows count as rest; defaults when None.
        exercise_s: exercise spans, (start, end) pairs in UTC epoch seconds: they and the
            ``rules.after_exercise_s`` after each are left out.

    Returns:
        24 hourly values of each kind.

    Raises:
        InvalidSeries: one offset per window was expected but the lengths differ; invalid spans.
    """
    r = rules or RestRules()
    offset = np.asarray(utc_offset_s, dtype=np.float64)
    if offset.ndim and offset.shape != stats.start_s.shape:
        raise InvalidSeries(
            "utc_offset_s", f"shape {offset.shape} does not match {stats.start_s.shape} windows"
        )
    offset = offset if offset.ndim else np.full(stats.start_s.shape, float(offset))
    active = exercise_windows(
        stats.start_s, window_s=window_s, exercise_s=exercise_s, after_s=r.after_exercise_s
    )
    rest = rest_mask(stats, window_s, r, active)
    hour = hour_of_day(stats.start_s, window_s, offset)[rest]
    hr, ln = stats.mean_hr_bpm[rest], stats.ln_rmssd[rest]
    counts = np.bincount(hour, minlength=HOURS).astype(np.int64)
    out = np.full((4, HOURS), np.nan)
    if hr.size:
        out[:, :] = np.array([*_median_spread(hr), *_median_spread(ln)])[:, None]
    for h in np.flatnonzero(counts >= min_windows):  # a loop over 24 hours
        sel = hour == h
        out[:, h] = [*_median_spread(hr[sel]), *_median_spread(ln[sel])]
    return TimeOfDayBaseline(out[0], out[2], out[1], out[3], counts)
