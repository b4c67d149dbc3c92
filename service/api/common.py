"""Small helpers the routers share: query-string times, ISO rendering of epoch milliseconds."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from fastapi.responses import JSONResponse

from service.errors import InvalidInput
from service.ingest import parse_time_ms

MAX_TIME_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z


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


def iso_ms(t_ms: int) -> str:
    return dt.datetime.fromtimestamp(t_ms / 1000, dt.UTC).isoformat(timespec="milliseconds")


class FastJSON(JSONResponse):
    """Already plain JSON-able data (dicts, lists, str, numbers): `json.dumps` it directly.

    Large answers (a year of days, a session's samples) skip FastAPI's per-field encoder, which would
    cost more than the query behind them (bench/dashboard.py). A JSONResponse subclass, so the OpenAPI
    document shows the route's response model rather than a string."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, separators=(",", ":"), allow_nan=False).encode()
