"""Small helpers the routers share: query-string times and ranges, ISO rendering of epoch milliseconds."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, TypeVar

from fastapi.responses import JSONResponse
from sqlalchemy import Select
from sqlalchemy.orm import InstrumentedAttribute

from service.errors import InvalidInput
from service.pipeline.ingest import parse_time_ms

MAX_TIME_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z

S = TypeVar("S", bound=Select[Any])


def query_time_ms(value: str, name: str) -> int:
    """A query parameter that is ISO 8601 with an offset or epoch milliseconds."""
    text = value.strip()
    try:
        # a query may start before anything stored ("from 1990"): only samples have the 2000 floor
        t_ms = parse_time_ms(int(text) if text.lstrip("-").isdigit() else text, iso_floor_ms=None)
    except ValueError as exc:
        raise InvalidInput(f"{name}: {exc}") from exc
    if t_ms > MAX_TIME_MS:  # beyond any date (and any 64-bit column): refused, not bound into a query
        raise InvalidInput(f"{name}: after the year 9999")
    return t_ms


def within(query: S, column: InstrumentedAttribute[dt.datetime], from_: str | None, to: str | None) -> S:
    """Restrict a query to from <= column < to, with the bounds given as query-string times."""
    if from_ is not None:
        query = query.where(column >= _query_datetime(from_, "from"))
    if to is not None:
        query = query.where(column < _query_datetime(to, "to"))
    return query


_QUERY_FIRST_MS = int(dt.datetime(1900, 1, 1, tzinfo=dt.UTC).timestamp() * 1000)
_QUERY_LAST_MS = int(dt.datetime(2101, 1, 1, tzinfo=dt.UTC).timestamp() * 1000)


def _query_datetime(value: str, name: str) -> dt.datetime:
    """A bound of a range query; beyond the journal's span (service.web.fields) it means "from the start"
    or "to the end", so it is clamped there rather than refused."""
    t_ms = min(max(query_time_ms(value, name), _QUERY_FIRST_MS), _QUERY_LAST_MS)
    return dt.datetime.fromtimestamp(t_ms / 1000, dt.UTC)


def iso_ms(t_ms: int) -> str:
    return dt.datetime.fromtimestamp(t_ms / 1000, dt.UTC).isoformat(timespec="milliseconds")


class FastJSON(JSONResponse):
    """Already plain JSON-able data (dicts, lists, str, numbers): `json.dumps` it directly.

    Large answers (a year of days, a session's samples) skip FastAPI's per-field encoder, which would
    cost more than the query behind them (bench/dashboard.py). A JSONResponse subclass, so the OpenAPI
    document shows the route's response model rather than a string."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, separators=(",", ":"), allow_nan=False).encode()
