"""Polar HRM text files (Polar's "HRM file format"): [Params] with the start, then [HRData] rows.

`Interval=238` means the rows are RR intervals in ms (each beat at the start plus the intervals so far);
any other interval is seconds between rows whose first column is heart rate. HRM times have no UTC offset:
they are read as UTC (as GPX and TCX times without one are), unless the import gives its own start.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterator
from typing import BinaryIO

from service.importers.base import Entry, ReadReport, Source, source_address, whole_number
from service.importers.errors import CorruptFile, NoHeartRate

RR_INTERVAL = 238
MAX_BYTES = 64 * 2**20  # HRM files are a few hundred kB at most


def _sections(text: str) -> dict[str, list[str]]:
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("[") and stripped.endswith("]"):
            current = sections.setdefault(stripped[1:-1], [])
        elif current is not None:
            current.append(stripped)
    return sections


def is_hrm(head: bytes) -> bool:
    return head.lstrip(b"\xef\xbb\xbf \r\n\t").startswith(b"[Params]")


def _start_ms(params: dict[str, str], report: ReadReport) -> int:
    try:
        day = dt.datetime.strptime(params.get("Date", ""), "%Y%m%d").date()
        clock = dt.time.fromisoformat(params.get("StartTime", "00:00:00").split(".")[0].zfill(8))
    except ValueError as exc:
        raise CorruptFile(report.file_name, "[Params]", f"no readable Date and StartTime: {exc}") from exc
    return round(dt.datetime.combine(day, clock, dt.UTC).timestamp() * 1000)


def read_hrm(fh: BinaryIO, report: ReadReport, start_ms: int | None = None) -> Iterator[Entry]:
    """One sample per RR interval (Interval=238) or per row (first column heart rate)."""
    text = io.TextIOWrapper(io.BytesIO(fh.read(MAX_BYTES)), encoding="latin-1").read()
    sections = _sections(text)
    params = dict(line.split("=", 1) for line in sections.get("Params", []) if "=" in line)
    rows = [line.split() for line in sections.get("HRData", []) if line]
    if not rows:
        raise NoHeartRate(report.file_name, "[HRData]", "no [HRData] rows")
    if start_ms is None:
        start_ms = _start_ms(params, report)
        report.warnings.append("Polar HRM times have no UTC offset: read as UTC")
    monitor = params.get("Monitor", "?")
    source = Source(name=f"Polar HRM (monitor {monitor})"[:120], address=source_address("hrm", monitor),
                    model=f"Polar monitor {monitor}"[:120])  # fmt: skip
    interval = whole_number(params.get("Interval", "1"))
    t_ms = float(start_ms)
    for number, cells in enumerate(rows, start=1):
        value = whole_number(cells[0])
        if isinstance(value, str):
            yield source, {"t": f"[HRData] row {number}: {value[:20]!r}", "bpm": None}  # ingest refuses it
            continue
        if interval == RR_INTERVAL:
            t_ms += max(float(value), 0.0)
            bpm = round(60_000 / value) if value > 0 else 0
            yield source, {"t": round(t_ms), "bpm": bpm, "rr_ms": [value]}
        else:
            step = float(interval) if not isinstance(interval, str) else 1.0
            yield source, {"t": round(start_ms + (number - 1) * step * 1000), "bpm": value}
