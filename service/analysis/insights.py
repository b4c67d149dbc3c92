"""Does exercise go with feeling more confident? Rank correlation with an honest interval and a sentence."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats

from service.analysis.errors import InvalidSeries
from service.analysis.minutes import target_met

MIN_PAIRED_DAYS = 14  # below this no correlation is claimed (DESIGN.md "Insights")
N_RESAMPLES = 2000


@dataclass(frozen=True)
class ExerciseInsight:
    """Exercise minutes vs a daily rating: Spearman's rho, bootstrap 95 % CI, group means and a sentence."""

    metric: str
    lag_days: int
    n_days: int
    rho: float | None
    ci95: tuple[float, float] | None
    p_value: float | None
    mean_when_target_met: float | None
    mean_when_target_missed: float | None
    statement: str


def _strength(rho: float) -> str:
    # Cohen's conventions for correlation size (Cohen, Statistical Power Analysis, 2nd ed., 1988).
    size = abs(rho)
    return "negligible" if size < 0.1 else "weak" if size < 0.3 else "moderate" if size < 0.5 else "strong"


def _spearman_rows(x: NDArray[np.float64], y: NDArray[np.float64], axis: int = -1) -> NDArray[np.float64]:
    """Spearman's rho along ``axis`` (Pearson's r of average ranks); NaN where a resample is constant."""
    rx = stats.rankdata(x, axis=axis)
    ry = stats.rankdata(y, axis=axis)
    rx = rx - rx.mean(axis=axis, keepdims=True)
    ry = ry - ry.mean(axis=axis, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(
            (rx * ry).sum(axis=axis) / np.sqrt((rx * rx).sum(axis=axis) * (ry * ry).sum(axis=axis)),
            dtype=np.float64,
        )


def _pairs(
    minutes: ArrayLike, rating: ArrayLike, target: ArrayLike, lag_days: int
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.bool_]]:
    """Minutes of day d with the rating of day d + lag, where both exist."""
    x = np.asarray(minutes, dtype=np.float64)
    y = np.asarray(rating, dtype=np.float64)
    if x.ndim != 1 or x.shape != y.shape:
        raise InvalidSeries("minutes_per_day / rating_per_day", "need two 1-D arrays of the same length")
    if lag_days not in (0, 1):
        raise InvalidSeries("lag_days", "must be 0 or 1")
    goal = np.broadcast_to(np.asarray(target, dtype=np.float64), x.shape)
    x, goal = x[: x.size - lag_days], goal[: x.size - lag_days]
    y = y[lag_days:]
    both = np.isfinite(x) & np.isfinite(y)
    return x[both], y[both], target_met(x[both], goal[both])


def exercise_vs_rating(
    minutes_per_day: ArrayLike,
    rating_per_day: ArrayLike,
    *,
    rng: np.random.Generator,
    target_minutes: ArrayLike = 60,
    lag_days: int = 0,
    metric: str = "confidence",
    min_days: int = MIN_PAIRED_DAYS,
    n_resamples: int = N_RESAMPLES,
) -> ExerciseInsight:
    """Spearman's rho between a day's heartbeat-up minutes and the rating of that day (or the next).

    The 95 % interval is a paired percentile bootstrap (scipy.stats.bootstrap) of rho, so it needs no
    normality; the p-value is scipy.stats.spearmanr's. Below ``min_days`` paired days, or when either
    series has not varied, rho, interval and p-value are None and the sentence says why.

    Args:
        minutes_per_day: heartbeat-up minutes of each local day (NaN where the strap was not worn).
        rating_per_day: mean rating (1-10) of each day, NaN where none was logged; same days.
        rng: seeded generator for the bootstrap (results repeat for the same seed).
        target_minutes: daily target, a scalar or one per day.
        lag_days: 0 pairs day d with day d; 1 pairs the minutes of day d with the rating of day d + 1.
        metric: name of the rating, used in the sentence ("confidence" or "mood").
        min_days: fewest paired days before any correlation is reported.
        n_resamples: bootstrap resamples.

    Returns:
        ExerciseInsight.

    Raises:
        InvalidSeries: arrays of different lengths, or lag_days other than 0 or 1.
    """
    x, y, met = _pairs(minutes_per_day, rating_per_day, target_minutes, lag_days)
    n = int(x.size)
    mean_met = float(y[met].mean()) if met.any() else None
    mean_missed = float(y[~met].mean()) if (~met).any() else None
    silent = ExerciseInsight(metric, lag_days, n, None, None, None, mean_met, mean_missed, statement="")
    if n < min_days:
        more = min_days - n
        text = (
            f"Not enough days yet: {n} day{'s' if n != 1 else ''} with both exercise and a {metric} rating; "
            f"{more} more {'are' if more > 1 else 'is'} needed before Chin Up says anything about a link."
        )
        return replace(silent, statement=text)
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        what = "exercise minutes" if np.ptp(x) == 0 else f"{metric} ratings"
        return replace(
            silent,
            statement=f"Your {what} have been the same on all {n} days, so no link can be measured yet.",
        )
    rho_p = stats.spearmanr(x, y)
    rho, p_value = float(rho_p.statistic), float(rho_p.pvalue)
    ci = _bootstrap_ci(x, y, rng, n_resamples)
    text = _sentence(metric, lag_days, n, rho, ci, mean_met, mean_missed, target_minutes)
    return replace(silent, rho=rho, ci95=ci, p_value=p_value, statement=text)


def _bootstrap_ci(
    x: NDArray[np.float64], y: NDArray[np.float64], rng: np.random.Generator, n_resamples: int
) -> tuple[float, float] | None:
    """Paired percentile bootstrap 95 % interval of rho; resamples without variation are left out."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        boot = stats.bootstrap(
            (x, y),
            _spearman_rows,
            paired=True,
            vectorized=True,
            n_resamples=n_resamples,
            confidence_level=0.95,
            method="percentile",
            rng=rng,
        )
    rhos = boot.bootstrap_distribution
    rhos = rhos[np.isfinite(rhos)]
    if rhos.size < 0.9 * n_resamples:  # too few differing days: the interval would be biased
        return None
    lo, hi = np.percentile(rhos, [2.5, 97.5])
    return float(lo), float(hi)


def _sentence(
    metric: str,
    lag_days: int,
    n: int,
    rho: float,
    ci: tuple[float, float] | None,
    mean_met: float | None,
    mean_missed: float | None,
    target_minutes: ArrayLike,
) -> str:
    """One plain sentence: the group means, then the size and direction of the link with its interval."""
    target = np.asarray(target_minutes)
    goal = "your hour in" if target.ndim == 0 and float(target) == 60 else "your target minutes"
    when = f"On days you got {goal}" if lag_days == 0 else f"On days after you got {goal}"
    if mean_met is not None and mean_missed is not None:
        head = f"{when}, your {metric} averaged {mean_met:.1f} vs {mean_missed:.1f} otherwise"
    elif mean_met is not None:
        head = f"You got {goal} on all {n} days and your {metric} averaged {mean_met:.1f}"
    else:
        head = f"You have not yet got {goal} on any of the {n} days; your {metric} averaged {mean_missed:.1f}"
    direction = "" if rho >= 0 else "inverse "
    interval = f", 95 % CI {ci[0]:.2f} to {ci[1]:.2f}" if ci else ", too few differing days for an interval"
    tail = f"; the {direction}link is {_strength(rho)} (rho {rho:.2f}{interval}, {n} days)"
    chance = " and could be chance, as the interval includes zero" if ci and ci[0] <= 0.0 <= ci[1] else ""
    return f"{head}{tail}{chance}."
