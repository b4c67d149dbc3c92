"""Small helpers the routers share: query-string times, ISO rendering of epoch milliseconds."""

from __future__ import annotations

import datetime as dt

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
