"""The user's calendar at the edge: local days as UTC instants, so the pure analysis never sees a zone."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import numpy as np
from numpy.typing import NDArray


def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def local_midnight_s(day: dt.date, tz: ZoneInfo) -> float:
    """The UTC instant (epoch seconds) at which the local calendar day begins."""
    return dt.datetime.combine(day, dt.time(), tzinfo=tz).timestamp()


def day_edges_s(first: dt.date, last: dt.date, tz: ZoneInfo) -> NDArray[np.float64]:
    """Edges of the local days first..last inclusive: len = days + 1; days of 23 or 25 hours included."""
    n = (last - first).days + 1
    return np.array(
        [local_midnight_s(first + dt.timedelta(days=i), tz) for i in range(n + 1)], dtype=np.float64
    )


def local_day(t_s: float, tz: ZoneInfo) -> dt.date:
    return dt.datetime.fromtimestamp(t_s, tz).date()


def days_between(t0_s: float, t1_s: float, tz: ZoneInfo) -> list[dt.date]:
    """Every local day that the closed interval [t0_s, t1_s] touches."""
    first, last = local_day(t0_s, tz), local_day(t1_s, tz)
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


def utc_offset_s(day: dt.date, tz: ZoneInfo) -> float:
    """The offset at local noon of the day (for time-of-day features; DST days are rare enough)."""
    noon = dt.datetime.combine(day, dt.time(12), tzinfo=tz)
    offset = noon.utcoffset()
    return offset.total_seconds() if offset is not None else 0.0


def today(tz: ZoneInfo, now: dt.datetime | None = None) -> dt.date:
    return (now or dt.datetime.now(dt.UTC)).astimezone(tz).date()
