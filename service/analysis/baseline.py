"""Rest-time HRV per day and the recovery status against the user's own rolling baseline.

Daily value: ln RMSSD of quiet 5-minute windows (well covered by beats, few artefacts, a steady rate
close to the day's lowest), summarised by their median. Recovery status follows HRV4Training
(Altini & Plews): the 7-day mean of daily ln RMSSD is compared with a normal band of the 60-day
mean +/- 0.5 SD of the daily values; "below" is read as reduced recovery, "above" as unusually high.
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
    """Rest-time HRV per local day (days since the epoch, local calendar), only days with a value."""

    day: npt.NDArray[np.int64]
    ln_rmssd: npt.NDArray[np.float64]
    n_windows: npt.NDArray[np.int64]


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
        One entry per day that has a value, in day order.

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
    return DailyHrv(day=days[keep].astype(np.int64), ln_rmssd=values, n_windows=counts[keep].astype(np.int64))


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
