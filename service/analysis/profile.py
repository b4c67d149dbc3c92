"""A person's heart profile: resting HR and HRmax, and the Karvonen zone edges derived from them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from service.analysis.errors import InvalidProfile, InvalidSeries

# Heartbeat-up threshold and zone edges as fractions of heart-rate reserve (HRR). 40 % HRR is the lower
# bound of ACSM "moderate" intensity (ACSM's Guidelines for Exercise Testing and Prescription, 11th ed.,
# table 5.2); the 40-59 / 60-84 / >=85 % split and the x1 / x2 / x2 credit follow Fitbit Active Zone
# Minutes (help.fitbit.com "What are Active Zone Minutes", heart-rate-reserve zones).
MODERATE_HRR = 0.40
VIGOROUS_HRR = 0.60
PEAK_HRR = 0.85

# Outside these limits a "resting" or "maximum" heart rate is a typing error, not a person.
MIN_RESTING_BPM = 25.0
MAX_HR_CEILING_BPM = 240.0

# Resting-HR estimation defaults: a low quantile of well-covered minute means, per day, then the median
# of the last 14 daily estimates (DESIGN.md "Physiology").
RESTING_QUANTILE = 0.05
RESTING_MIN_MINUTES = 60
RESTING_WINDOW_DAYS = 14
RESTING_MIN_VALID_S = 45.0


@dataclass(frozen=True)
class HeartProfile:
    """Resting HR and HRmax in bpm; every intensity in the package is a fraction of their difference."""

    resting_hr: float
    max_hr: float

    def __post_init__(self) -> None:
        rest, top = float(self.resting_hr), float(self.max_hr)
        if not (np.isfinite(rest) and np.isfinite(top)):
            raise InvalidProfile(rest, top, "values must be finite")
        if not MIN_RESTING_BPM <= rest < top <= MAX_HR_CEILING_BPM:
            raise InvalidProfile(
                rest, top, f"need {MIN_RESTING_BPM:g} <= resting_hr < max_hr <= {MAX_HR_CEILING_BPM:g}"
            )

    @property
    def reserve_bpm(self) -> float:
        """Heart-rate reserve HRmax - HRrest, the Karvonen denominator."""
        return float(self.max_hr) - float(self.resting_hr)

    def bpm_at(self, fraction_hrr: float) -> float:
        """Heart rate (bpm) at a fraction of heart-rate reserve: rest + f * (max - rest) (Karvonen 1957)."""
        return float(self.resting_hr) + fraction_hrr * self.reserve_bpm

    @property
    def threshold_bpm(self) -> float:
        """Lowest heart rate of a heartbeat-up minute (40 % HRR)."""
        return self.bpm_at(MODERATE_HRR)

    @property
    def vigorous_bpm(self) -> float:
        """Lower edge of the vigorous zone (60 % HRR)."""
        return self.bpm_at(VIGOROUS_HRR)

    @property
    def peak_bpm(self) -> float:
        """Lower edge of the peak zone (85 % HRR)."""
        return self.bpm_at(PEAK_HRR)

    def intensity(self, bpm: ArrayLike) -> NDArray[np.float64]:
        """Karvonen intensity (HR - rest) / (HRmax - rest), unclipped, so callers see effort beyond HRmax.

        Args:
            bpm: heart rates in bpm, any shape.

        Returns:
            Array of the same shape, 0 at rest, 1 at HRmax.
        """
        return (np.asarray(bpm, dtype=np.float64) - float(self.resting_hr)) / self.reserve_bpm


def tanaka_max_hr(age_years: float) -> float:
    """Age-predicted HRmax, 208 - 0.7 * age (Tanaka, Monahan & Seals, JACC 2001;37:153-6).

    Args:
        age_years: age in years (10-100).

    Returns:
        Predicted HRmax in bpm.

    Raises:
        InvalidSeries: age outside 10-100 years.
    """
    if not 10.0 <= float(age_years) <= 100.0:
        raise InvalidSeries("age_years", f"{age_years} is outside 10-100")
    return 208.0 - 0.7 * float(age_years)


def estimate_max_hr(
    *, user_max_hr: float | None = None, age_years: float | None = None, observed_max_bpm: float | None = None
) -> float | None:
    """HRmax: the user's value, else Tanaka, raised to the highest clean value observed (DESIGN.md).

    Args:
        user_max_hr: the value the user entered; wins outright when given.
        age_years: age for the Tanaka prediction.
        observed_max_bpm: highest clean heart rate seen (e.g. ``MinuteTable.max_bpm`` over well-covered
            minutes, after ``clean_hr``).

    Returns:
        HRmax in bpm, or None when neither the user's value, an age nor an observation is available.
    """
    if user_max_hr is not None:
        return float(user_max_hr)
    candidates = [tanaka_max_hr(age_years)] if age_years is not None else []
    if observed_max_bpm is not None and np.isfinite(observed_max_bpm):
        candidates.append(float(observed_max_bpm))
    return max(candidates) if candidates else None


@dataclass(frozen=True)
class RestingEstimate:
    """Resting HR estimated from minute means: per-day estimates and their median over the window."""

    resting_hr: float | None
    daily_bpm: NDArray[np.float64]
    n_days_used: int


def estimate_resting_hr(
    minute_start_s: ArrayLike,
    mean_bpm: ArrayLike,
    valid_s: ArrayLike,
    day_edges_s: ArrayLike,
    *,
    quantile: float = RESTING_QUANTILE,
    min_minutes: int = RESTING_MIN_MINUTES,
    window_days: int = RESTING_WINDOW_DAYS,
    min_valid_s: float = RESTING_MIN_VALID_S,
) -> RestingEstimate:
    """Resting HR as the median over the last days of a low quantile of each day's minute means.

    Minute means (not raw samples) are used so a single artefact cannot set the rest value, and only
    minutes with at least ``min_valid_s`` of clean data count, so gaps never pull the estimate. A day
    needs ``min_minutes`` such minutes to yield an estimate (a strap worn only for a workout says little
    about rest). Pass the columns of a ``MinuteTable``.

    Args:
        minute_start_s: start of each minute (s).
        mean_bpm: mean valid HR of each minute (NaN where none).
        valid_s: seconds of valid data in each minute.
        day_edges_s: ascending local-midnight edges (s), D+1 edges for D days.
        quantile: the low quantile of a day's minute means taken as that day's resting HR.
        min_minutes: well-covered minutes a day needs to count.
        window_days: how many of the last days (of those given) the median is taken over.
        min_valid_s: seconds of valid data a minute needs to count.

    Returns:
        RestingEstimate with ``resting_hr`` None when no day qualifies; ``daily_bpm`` is NaN for days
        without an estimate.

    Raises:
        InvalidSeries: mismatched lengths, or day edges not strictly increasing.
    """
    starts = np.asarray(minute_start_s, dtype=np.float64)
    means = np.asarray(mean_bpm, dtype=np.float64)
    covered = np.asarray(valid_s, dtype=np.float64)
    edges = np.asarray(day_edges_s, dtype=np.float64)
    if not starts.shape == means.shape == covered.shape:
        raise InvalidSeries("minute columns", "must have the same length")
    if edges.ndim != 1 or edges.size < 2 or np.any(np.diff(edges) <= 0):
        raise InvalidSeries("day_edges_s", "need at least two strictly increasing edges")
    keep = (covered >= min_valid_s) & np.isfinite(means)
    day = np.searchsorted(edges, starts[keep], side="right") - 1
    inside = (day >= 0) & (day < edges.size - 1)
    day, values = day[inside], means[keep][inside]
    order = np.argsort(day, kind="stable")
    day, values = day[order], values[order]
    n_days = edges.size - 1
    counts = np.bincount(day, minlength=n_days)
    daily = np.full(n_days, np.nan)
    bounds = np.concatenate(([0], np.cumsum(counts)))
    for d in np.flatnonzero(counts >= min_minutes):  # one iteration per day, not per sample
        daily[d] = np.quantile(values[bounds[d] : bounds[d + 1]], quantile)
    recent = daily[-window_days:]
    used = recent[np.isfinite(recent)]
    resting = float(np.median(used)) if used.size else None
    return RestingEstimate(resting_hr=resting, daily_bpm=daily, n_days_used=int(used.size))


def build_profile(
    *,
    user_resting_hr: float | None = None,
    user_max_hr: float | None = None,
    age_years: float | None = None,
    estimated_resting_hr: float | None = None,
    observed_max_bpm: float | None = None,
    default_resting_hr: float = 60.0,
    default_max_hr: float = 190.0,
) -> HeartProfile:
    """Pick each value by precedence: the user's, else the data's (or age's), else a stated default.

    Args:
        user_resting_hr: resting HR the user entered.
        user_max_hr: HRmax the user entered.
        age_years: age for Tanaka's HRmax.
        estimated_resting_hr: e.g. ``estimate_resting_hr(...).resting_hr``.
        observed_max_bpm: highest clean HR observed.
        default_resting_hr: used when nothing else is known (60 bpm, a typical adult value).
        default_max_hr: used when there is no user value, age or observation (190 bpm = Tanaka at 25).

    Returns:
        A validated HeartProfile.

    Raises:
        InvalidProfile: the chosen values are inconsistent (e.g. resting above max).
    """
    rest = user_resting_hr if user_resting_hr is not None else estimated_resting_hr
    top = estimate_max_hr(user_max_hr=user_max_hr, age_years=age_years, observed_max_bpm=observed_max_bpm)
    return HeartProfile(
        resting_hr=float(rest if rest is not None else default_resting_hr),
        max_hr=float(top if top is not None else default_max_hr),
    )
