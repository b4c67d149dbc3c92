"""Insights: does exercise go with feeling more confident, for this user, with honest statistics.

Minutes come from the day rollups (never raw samples); a day counts only when the strap was worn
(valid minutes > 0): a day without data is unknown, not a day of zero exercise. Ratings are the mean
of the day's check-ins, grouped by the user's local day.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

import numpy as np
from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.analysis.insights import MIN_PAIRED_DAYS, exercise_vs_rating
from service.api.deps import CurrentUser, SessionDep
from service.core import localtime
from service.core.models import CheckIn, DayRollup, User
from service.errors import InvalidInput
from service.web.fields import Day

router = APIRouter(prefix="/insights", tags=["insights"])

DEFAULT_DAYS = 90
MAX_RANGE_DAYS = 400
# A fixed seed: the same data always give the same bootstrap interval.
BOOTSTRAP_SEED = 20_240_305

Metric = Literal["confidence", "mood"]


class InsightPoint(BaseModel):
    """One paired day of the scatter: the minutes of `date` against the rating of `rating_date`."""

    date: dt.date
    rating_date: dt.date
    minutes: int
    rating: float


class ExerciseInsightPublic(BaseModel):
    """The contract's answer, with what the dashboard draws and explains it with."""

    n_days: int
    rho: float | None
    ci95: tuple[float, float] | None
    p_value: float | None
    mean_when_target_met: float | None
    mean_when_target_missed: float | None
    statement: str
    lag_days: int
    metric: Metric
    from_: dt.date = Field(serialization_alias="from")
    to: dt.date
    target_minutes: int
    min_days: int
    days_with_strap: int
    days_with_rating: int
    points: list[InsightPoint]


def _minutes_by_day(db: Session, user_id: int, first: dt.date, last: dt.date) -> dict[dt.date, int]:
    """Heartbeat-up minutes of the days the strap was worn."""
    rows = db.execute(
        select(DayRollup.day, DayRollup.heartbeat_up_minutes).where(
            DayRollup.user_id == user_id,
            DayRollup.day >= first,
            DayRollup.day <= last,
            DayRollup.valid_minutes > 0,
        )
    ).all()
    return {r.day: int(r.heartbeat_up_minutes) for r in rows}


def _ratings_by_day(
    db: Session, user: User, metric: Metric, first: dt.date, last: dt.date
) -> dict[dt.date, float]:
    """Mean rating of each local day that has one."""
    tz = localtime.zone(user.timezone)
    edges = localtime.day_edges_s(first, last, tz)
    column = CheckIn.confidence if metric == "confidence" else CheckIn.mood
    rows = db.execute(
        select(CheckIn.at, column).where(
            CheckIn.user_id == user.id,
            CheckIn.at >= dt.datetime.fromtimestamp(edges[0], dt.UTC),
            CheckIn.at < dt.datetime.fromtimestamp(edges[-1], dt.UTC),
            column.is_not(None),
        )
    ).all()
    sums: dict[dt.date, list[float]] = {}
    for at, value in rows:
        if value is not None:
            sums.setdefault(at.astimezone(tz).date(), []).append(float(value))
    return {day: float(np.mean(values)) for day, values in sums.items()}


def _range(user: User, from_: dt.date | None, to: dt.date | None) -> tuple[dt.date, dt.date]:
    last = to or localtime.today(localtime.zone(user.timezone))
    first = from_ or last - dt.timedelta(days=DEFAULT_DAYS - 1)
    if last < first:
        raise InvalidInput("`to` is before `from`")
    if (last - first).days >= MAX_RANGE_DAYS:
        raise InvalidInput(f"at most {MAX_RANGE_DAYS} days at a time")
    return first, last


@router.get("/exercise-vs-confidence", response_model=ExerciseInsightPublic)
def exercise_vs_confidence(
    user: CurrentUser,
    db: SessionDep,
    lag_days: Annotated[int, Query(ge=0, le=1, description="0: same day; 1: the rating of the next day")] = 0,
    metric: Annotated[Metric, Query()] = "confidence",
    from_: Annotated[Day | None, Query(alias="from", description="first local day of the minutes")] = None,
    to: Annotated[Day | None, Query(description="last local day (default: today)")] = None,
) -> ExerciseInsightPublic:
    """Spearman's rho of a day's heartbeat-up minutes against that day's (or the next day's) rating."""
    first, last = _range(user, from_, to)
    days = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
    minutes = _minutes_by_day(db, user.id, first, last)
    ratings = _ratings_by_day(db, user, metric, first, last)
    x = np.array([minutes.get(d, np.nan) for d in days], dtype=np.float64)
    y = np.array([ratings.get(d, np.nan) for d in days], dtype=np.float64)
    insight = exercise_vs_rating(
        x,
        y,
        rng=np.random.default_rng(BOOTSTRAP_SEED),
        target_minutes=user.daily_target_minutes,
        lag_days=lag_days,
        metric=metric,
    )
    lag = dt.timedelta(days=lag_days)
    points = [
        InsightPoint(date=d, rating_date=d + lag, minutes=minutes[d], rating=ratings[d + lag])
        for d in days
        if d in minutes and d + lag in ratings and d + lag <= last
    ]
    return ExerciseInsightPublic(
        n_days=insight.n_days,
        rho=insight.rho,
        ci95=insight.ci95 if insight.rho is not None else None,
        p_value=insight.p_value,
        mean_when_target_met=insight.mean_when_target_met,
        mean_when_target_missed=insight.mean_when_target_missed,
        statement=insight.statement,
        lag_days=lag_days,
        metric=metric,
        from_=first,
        to=last,
        target_minutes=user.daily_target_minutes,
        min_days=MIN_PAIRED_DAYS,
        days_with_strap=len(minutes),
        days_with_rating=len(ratings),
        points=points,
    )
