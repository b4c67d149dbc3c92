"""Recording CSV (`t,bpm[,rr_ms][,contact]` with a header, or the usual other names for those columns) and
plain RR text (one interval in ms a line)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any, BinaryIO

from service.importers.base import Entry, Item, ReadReport, Source, source_address, whole_number
from service.importers.errors import CorruptFile, MissingStart, NoHeartRate
from service.pipeline.ingest import EPOCH_MS_FLOOR

CSV_SOURCE = Source(name="CSV import", address=source_address("csv"), model="CSV")
RR_SOURCE = Source(name="RR import", address=source_address("rr"), model="RR text")
CONTACT = {"": None, "true": True, "1": True, "false": False, "0": False}


def _lines(fh: BinaryIO) -> Iterator[tuple[int, str, bool]]:
    """(line number, text without its end, whether the line was ended) for every line of the file."""
    text = io.TextIOWrapper(fh, encoding="utf-8-sig", errors="replace", newline="")
    try:
        for number, line in enumerate(text, start=1):
            stripped = line.rstrip("\r\n")
            yield number, stripped, stripped != line
    finally:
        if not fh.closed:  # a reader abandoned after its file was closed has nothing left to hand back
            text.detach()  # the caller owns fh


# Column names other tools write for the same things (fitdecode/fitparse CSV exports, spreadsheets).
ALIASES = {
    "t": ("t", "timestamp_utc", "timestamp", "time", "datetime", "elapsed_s"),
    "bpm": ("bpm", "heart_rate_bpm", "heart_rate", "heartrate", "hr"),
    "rr_ms": ("rr_ms", "rr_interval_ms", "rr"),
    "contact": ("contact", "sensor_contact"),
}


def header_columns(line: str) -> list[str]:
    return [c.strip().strip('"').lower() for c in line.split(",")]


def column_index(columns: list[str]) -> dict[str, int]:
    """Where each of t, bpm, rr_ms, contact is, by its own name or the first alias present."""
    index: dict[str, int] = {}
    for name, aliases in ALIASES.items():
        found = next((a for a in aliases if a in columns), None)
        if found is not None:
            index[name] = columns.index(found)
    return index


def is_csv_header(line: str) -> bool:
    index = column_index(header_columns(line))
    return "t" in index and "bpm" in index


def _time(cell: str, start_ms: int | None) -> Any:
    """Epoch ms or ISO text as they are (ingest checks them); seconds from the start placed at `start_ms`."""
    value = whole_number(cell)
    if isinstance(value, str) or value >= EPOCH_MS_FLOOR:
        return value
    if start_ms is None:
        raise LookupError
    return start_ms + round(value * 1000)


def _row(cells: list[str], index: dict[str, int], start_ms: int | None) -> Item:
    def cell(name: str) -> str:
        return cell_at(cells, index, name)

    item: Item = {"t": _time(cell("t"), start_ms), "bpm": whole_number(cell("bpm"))}
    if rr := cell("rr_ms"):
        item["rr_ms"] = [whole_number(x) for x in rr.split()]
    contact = cell("contact").lower()
    item["contact"] = CONTACT.get(contact, contact)
    return item


def cell_at(cells: list[str], index: dict[str, int], name: str) -> str:
    i = index.get(name)
    return cells[i].strip() if i is not None and i < len(cells) else ""


def _complete(cells: list[str], index: dict[str, int], n_columns: int) -> bool:
    """Whether an unended last line is a whole row: every column up to bpm there and not empty."""
    return len(cells) >= n_columns and all(cells[index[name]].strip() for name in ("t", "bpm"))


def read_csv(fh: BinaryIO, report: ReadReport, start_ms: int | None = None) -> Iterator[Entry]:
    """One sample per row. A last row cut short (no line end, fields missing) marks where the file ended."""
    lines = _lines(fh)
    first = next(lines, None)
    if first is None or not is_csv_header(first[1]):
        raise CorruptFile(report.file_name, "line 1", "the first line is not a header naming t and bpm")
    index = column_index(header_columns(first[1]))
    n_columns = max(index["t"], index["bpm"]) + 1
    taken = 0
    for number, line, ended in lines:
        if not line.strip():
            continue
        cells = line.split(",")
        if not ended and not _complete(cells, index, n_columns):
            report.truncated_at = f"line {number}"
            break
        if (
            index["bpm"] < len(cells)
            and not cells[index["bpm"]].strip()
            and not cell_at(cells, index, "rr_ms")
        ):
            continue  # a row without a reading (a watch's record with no heart rate): no sample
        try:
            item = _row(cells, index, start_ms)
        except LookupError:
            if not taken:
                raise MissingStart(
                    report.file_name,
                    f"line {number}",
                    "t is seconds from the start: give the start time (--start)",
                ) from None
            item = _row(cells, index, EPOCH_MS_FLOOR - 1)  # a stray relative time: ingest refuses it by index
            item["t"] = whole_number(cells[index["t"]])
        taken += 1
        yield CSV_SOURCE, item
    if not taken:
        raise NoHeartRate(report.file_name, "line 2", "the file holds a header and no rows")


def read_rr(fh: BinaryIO, report: ReadReport, start_ms: int | None = None) -> Iterator[Entry]:
    """One sample per beat at the beat's time (start + the sum of the intervals so far); bpm = 60000 / RR."""
    if start_ms is None:
        raise MissingStart(
            report.file_name, "line 1", "RR intervals carry no clock time: give the start time (--start)"
        )
    t_ms = float(start_ms)
    taken = 0
    for number, line, ended in _lines(fh):
        text = line.strip()
        if not text:
            continue
        value = whole_number(text)
        if isinstance(value, str):
            if not taken:
                raise CorruptFile(
                    report.file_name, f"line {number}", f"not an RR interval in ms: {text[:40]!r}"
                )
            report.truncated_at = f"line {number}"
            break
        if not ended and taken and len(text) < 3:  # RR in ms has >= 3 digits: a number cut at the file's end
            report.truncated_at = f"line {number}"
            break
        t_ms += max(float(value), 0.0)
        bpm = round(60_000 / value) if value > 0 else 0
        taken += 1
        yield RR_SOURCE, {"t": round(t_ms), "bpm": bpm, "rr_ms": [value]}
    if not taken:
        raise NoHeartRate(report.file_name, "line 1", "the file holds no RR interval")
