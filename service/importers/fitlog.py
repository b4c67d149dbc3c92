"""SportTracks fitlog (FitnessWorkbook XML): `pt` points of an activity's Track, `tm` seconds from its start.

Times without a UTC offset are UTC, as in GPX and TCX.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

from service.importers.base import Entry, ReadReport, Source, source_address, utc_ms, whole_number
from service.importers.errors import NoHeartRate
from service.importers.xmlstream import XmlState, iter_ends

TAGS = frozenset({"pt"})
WATCH = frozenset({"Track", "Activity", "Metadata"})


def read_fitlog(fh: BinaryIO, report: ReadReport) -> Iterator[Entry]:
    """Track points with `hr`; the activity's Metadata Source names the device."""
    state = XmlState(watch=WATCH)
    for elem in iter_ends(fh, report, TAGS, state):
        hr, tm = elem.get("hr"), elem.get("tm")
        if not hr or tm is None:
            continue
        start = state.opened.get("Track", {}).get("StartTime") or state.opened.get("Activity", {}).get(
            "StartTime"
        )
        start_ms, offset_s = utc_ms(start or ""), whole_number(tm)
        device = state.opened.get("Metadata", {}).get("Source") or "SportTracks"
        source = Source(name=device[:120], address=source_address("fitlog", device), model=device[:120])
        state.started = True
        if isinstance(start_ms, str) or isinstance(offset_s, str):
            yield source, {"t": f"{start} + {tm}", "bpm": None}  # a time that cannot be read: one rejection
            continue
        yield source, {"t": start_ms + round(offset_s * 1000), "bpm": whole_number(hr)}
    if not state.started:
        raise NoHeartRate(report.file_name, "the whole file", "no Track point holds tm and hr")
