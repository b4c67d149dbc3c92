"""Field types shared by the routers' schemas."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Annotated, TypeVar

from fastapi import Query
from pydantic import AfterValidator, AwareDatetime, Field, PlainSerializer

from service.core.security import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, password_problem

T = TypeVar("T")


def _check_timezone(name: str) -> str:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown IANA time zone {name!r}") from exc
    return name


# Journal times and the days asked about lie in a person's life: this span keeps every conversion (local
# days, UTC, offsets up to +-23:59) inside what datetime and the databases can hold.
FIRST_DAY, LAST_DAY = dt.date(1900, 1, 1), dt.date(2100, 12, 31)


def _to_utc(value: dt.datetime) -> dt.datetime:
    try:
        utc = value.astimezone(dt.UTC)
    except OverflowError as exc:  # year 1 or 9999 with an extreme offset
        raise ValueError(f"time must lie between {FIRST_DAY} and {LAST_DAY}") from exc
    if not FIRST_DAY <= utc.date() <= LAST_DAY:
        raise ValueError(f"time must lie between {FIRST_DAY} and {LAST_DAY}")
    return utc


def _check_day(value: dt.date) -> dt.date:
    if not FIRST_DAY <= value <= LAST_DAY:
        raise ValueError(f"date must lie between {FIRST_DAY} and {LAST_DAY}")
    return value


TimeZoneName = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_check_timezone)]
# Times cross the API as ISO 8601 with an offset; inside they are UTC.
UtcTime = Annotated[AwareDatetime, AfterValidator(_to_utc)]
Day = Annotated[dt.date, AfterValidator(_check_day)]
Rating = Annotated[int, Field(ge=1, le=10)]
ShortText = Annotated[str, Field(min_length=1, max_length=200)]
LongText = Annotated[str, Field(max_length=20_000)]
Bpm = Annotated[int, Field(ge=25, le=240)]
IsoTime = Annotated[dt.datetime, PlainSerializer(lambda v: v.isoformat(), return_type=str)]
BirthYear = Annotated[int, Field(ge=1900, le=2100)]
Target = Annotated[int, Field(ge=1, le=1440)]  # a daily heartbeat-up target, in minutes
NudgeTime = Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")]
# Row ids are Integer columns, 32-bit on PostgreSQL: a larger number names nothing and cannot be bound.
DbId = Annotated[int, Field(ge=1, le=2**31 - 1)]


def _policy(password: str) -> str:
    problem = password_problem(password)
    if problem is not None:
        raise ValueError(problem)
    return password


# A new password: at least 10 characters and not a common one (service.core.security.password_problem).
Password = Annotated[
    str,
    Field(min_length=MIN_PASSWORD_LENGTH, max_length=MAX_PASSWORD_LENGTH),
    AfterValidator(_policy),
]
# The password the account has now: any length it was set with (older accounts may have 8).
CurrentPassword = Annotated[str, Field(min_length=1, max_length=MAX_PASSWORD_LENGTH)]


def _present(value: T | None) -> T:
    if value is None:
        raise ValueError("may be left out but not set to null")
    return value


# For PATCH bodies: a field that may be omitted (left unchanged) but not cleared.
NotNull = AfterValidator(_present)
# The bounds of a journal list's time range, as query parameters (service.web.query.within applies them).
TimeFrom = Annotated[
    str | None, Query(alias="from", description="ISO 8601 with an offset, or epoch ms; inclusive")
]
TimeTo = Annotated[str | None, Query(description="ISO 8601 with an offset, or epoch ms; exclusive")]
