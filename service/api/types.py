"""Field types shared by the routers' schemas."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, Field, PlainSerializer


def _check_timezone(name: str) -> str:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown IANA time zone {name!r}") from exc
    return name


def _to_utc(value: dt.datetime) -> dt.datetime:
    return value.astimezone(dt.UTC)


TimeZoneName = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_check_timezone)]
# Times cross the API as ISO 8601 with an offset; inside they are UTC.
UtcTime = Annotated[AwareDatetime, AfterValidator(_to_utc)]
Rating = Annotated[int, Field(ge=1, le=10)]
ShortText = Annotated[str, Field(min_length=1, max_length=200)]
LongText = Annotated[str, Field(max_length=20_000)]
Bpm = Annotated[int, Field(ge=25, le=240)]
IsoTime = Annotated[dt.datetime, PlainSerializer(lambda v: v.isoformat(), return_type=str)]
# Row ids are Integer columns, 32-bit on PostgreSQL: a larger number names nothing and cannot be bound.
DbId = Annotated[int, Field(ge=1, le=2**31 - 1)]
