"""Small helpers the routers share: query-string times, ISO rendering of epoch milliseconds."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from fastapi import Response

from service.errors import InvalidInput
from service.ingest import parse_time_ms


def query_time_ms(value: str, name: str) -> int:
    """A query parameter that is ISO 8601 with an offset or epoch milliseconds."""
    text = value.strip()
    try:
        return parse_time_ms(int(text) if text.lstrip("-").isdigit() else text)
    except ValueError as exc:
        raise InvalidInput(f"{name}: {exc}") from exc


def iso_ms(t_ms: int) -> str:
    return dt.datetime.fromtimestamp(t_ms / 1000, dt.UTC).isoformat(timespec="milliseconds")


class FastJSON(Response):
    """Already plain JSON-able data (dicts, lists, str, numbers): `json.dumps` it directly.

    Large answers (a year of days, a session's samples) skip FastAPI's per-field encoder, which would
    cost more than the query behind them (bench/dashboard.py)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return json.dumps(content, separators=(",", ":"), allow_nan=False).encode()
