"""Apple Health export.xml (or the export zip): heart-rate records and heartbeat series, streamed.

A multi-gigabyte export is read element by element (xmlstream empties the tree as it goes), so memory does
not grow with the file. Heart-rate records are `Record type="HKQuantityTypeIdentifierHeartRate"` (unit
count/min, times like "2024-03-01 07:59:00 +0100"). Beat-to-beat data are `InstantaneousBeatsPerMinute`
elements (bpm, time of day) inside a record's `HeartRateVariabilityMetadataList`; RR intervals are the
differences between successive beat times.
"""

from __future__ import annotations

import datetime as dt
import re
import zipfile
from collections.abc import Iterator
from typing import BinaryIO
from xml.etree.ElementTree import Element

from service.importers.base import Entry, ReadReport, Source, source_address, whole_number
from service.importers.containers import open_member
from service.importers.errors import CorruptFile, NoHeartRate
from service.importers.xmlstream import XmlState, iter_ends, local

HR_TYPE = "HKQuantityTypeIdentifierHeartRate"
TAGS = frozenset({"Record"})
UNIT_FACTOR = {"count/min": 1.0, "count/s": 60.0}
_CLOCK = re.compile(r"^(\d{1,2}):(\d{2}):(\d{2})(?:[.,](\d+))?\s*([AaPp])?\.?\s*[Mm]?\.?$")
_HALF_DAY_S = 43_200


def parse_apple_time(text: str) -> dt.datetime:
    """'2024-03-01 07:59:00 +0100' (Apple's export form) or ISO 8601; ValueError when it is neither."""
    text = text.strip()
    if len(text) == 25 and text[19] == " ":
        text = text[:19] + text[20:]
    value = dt.datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise ValueError(f"time {text!r} has no UTC offset")
    return value


def _clock_s(text: str) -> float:
    """Seconds since local midnight of '7:59:02.12 AM' or '19:59:02,12'; ValueError otherwise."""
    m = _CLOCK.match(text.strip())
    if m is None:
        raise ValueError(f"beat time {text[:30]!r} is not a time of day")
    hour, minute, second = int(m[1]), int(m[2]), int(m[3])
    if m[5]:
        hour = hour % 12 + (12 if m[5] in "Pp" else 0)
    fraction = float(f"0.{m[4]}") if m[4] else 0.0
    return hour * 3600 + minute * 60 + second + fraction


def _source(elem: Element, cache: dict[str, Source]) -> Source:
    name = (elem.get("sourceName") or "Apple Health").strip()
    if name not in cache:
        device = elem.get("device") or ""
        model = re.search(r"model:([^,>]+)", device)
        cache[name] = Source(
            name=name[:120],
            address=source_address("apple-health", name),
            model=model[1].strip()[:120] if model else "Apple Health",
        )
    return cache[name]


def _beats(elem: Element, source: Source) -> Iterator[Entry]:
    """One sample per instantaneous beat, placed on the record's start day in the record's UTC offset."""
    beats = [c for c in elem.iter() if local(c.tag) == "InstantaneousBeatsPerMinute"]
    if not beats:
        return
    try:
        start = parse_apple_time(elem.get("startDate", ""))
    except ValueError:  # the beats cannot be placed: one sample with the raw date, for ingest to refuse
        yield source, {"t": elem.get("startDate", ""), "bpm": None}
        return
    midnight = start.replace(hour=0, minute=0, second=0, microsecond=0)
    start_s = (start - midnight).total_seconds()
    previous_ms: int | None = None
    for beat in beats:
        try:
            clock = _clock_s(beat.get("time", ""))
        except ValueError:
            yield source, {"t": beat.get("time", ""), "bpm": None}
            continue
        if clock < start_s - _HALF_DAY_S:  # the series ran past local midnight
            clock += 86_400
        t_ms = round((midnight.timestamp() + clock) * 1000)
        item = {"t": t_ms, "bpm": whole_number(beat.get("bpm", "")) if beat.get("bpm") else None}
        if isinstance(item["bpm"], float):
            item["bpm"] = round(item["bpm"])
        if previous_ms is not None:
            item["rr_ms"] = [float(t_ms - previous_ms)]
        previous_ms = t_ms
        yield source, item


def _heart_rate(elem: Element, source: Source) -> Entry:
    factor = UNIT_FACTOR.get(elem.get("unit", "count/min"))
    value = whole_number(elem.get("value", ""))
    if factor is not None and not isinstance(value, str):
        value = round(value * factor)
    text = elem.get("startDate", "")
    try:
        t: object = round(parse_apple_time(text).timestamp() * 1000)
    except ValueError:
        t = text  # ingest refuses it with its reason, counted against the file
    return source, {"t": t, "bpm": value}


def read_apple_health(fh: BinaryIO, report: ReadReport) -> Iterator[Entry]:
    """Heart-rate records and heartbeat series of every source, one device per source name."""
    state = XmlState()
    sources: dict[str, Source] = {}
    for elem in iter_ends(fh, report, TAGS, state):
        if elem.get("type") == HR_TYPE:
            entries: list[Entry] = [_heart_rate(elem, _source(elem, sources))]
        else:
            entries = list(_beats(elem, _source(elem, sources)))
        if entries:
            state.started = True
        yield from entries
    if not state.started:
        raise NoHeartRate(report.file_name, "the whole file", "no heart-rate record or heartbeat series")


def export_member(zf: zipfile.ZipFile) -> str | None:
    """The export.xml inside an Apple Health export zip (apple_health_export/export.xml), if any."""
    names = [n for n in zf.namelist() if n.rsplit("/", 1)[-1] == "export.xml"]
    return min(names, key=len) if names else None


def read_apple_health_zip(fh: BinaryIO, report: ReadReport) -> Iterator[Entry]:
    """The zip is read from its central directory; export.xml is decompressed as a stream."""
    try:
        zf = zipfile.ZipFile(fh)
    except zipfile.BadZipFile as exc:
        raise CorruptFile(report.file_name, "the zip directory", f"damaged or incomplete zip: {exc}") from exc
    with zf:
        member = export_member(zf)
        if member is None:
            raise NoHeartRate(report.file_name, "the zip directory", "no export.xml in the zip")
        taken = 0
        with open_member(zf, zf.getinfo(member), report.file_name, report.limits) as xml:
            try:
                for entry in read_apple_health(xml, report):  # type: ignore[arg-type]
                    taken += 1
                    yield entry
            except (zipfile.BadZipFile, EOFError) as exc:
                if not taken:
                    raise CorruptFile(report.file_name, member, f"damaged zip member: {exc}") from exc
                report.truncated_at = f"{member}, after {taken} samples ({exc})"
