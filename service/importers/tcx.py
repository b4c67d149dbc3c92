"""Garmin Training Center XML: HeartRateBpm/Value of each Trackpoint with a Time; the Creator as the device."""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

from service.importers.base import Entry, Item, ReadReport, Source, source_address, utc_ms, whole_number
from service.importers.errors import NoHeartRate
from service.importers.xmlstream import XmlState, child_text, iter_ends, local

TAGS = frozenset({"Trackpoint", "Creator"})


def read_tcx(fh: BinaryIO, report: ReadReport) -> Iterator[Entry]:
    """Trackpoints with heart rate; the Creator comes after the laps, so the (small) file is read first."""
    items: list[Item] = []
    source = Source(name="TCX import", address=source_address("tcx", "unknown"))
    state = XmlState()
    for elem in iter_ends(fh, report, TAGS, state):
        if local(elem.tag) == "Creator":
            name = child_text(elem, "Name") or "TCX device"
            unit = child_text(elem, "UnitId") or ""
            source = Source(name=name[:120], address=source_address("tcx", name, unit), model=name[:120])
            continue
        t, bpm = child_text(elem, "Time"), child_text(elem, "HeartRateBpm", "Value")
        if t is not None and bpm is not None:
            items.append({"t": utc_ms(t), "bpm": whole_number(bpm)})
            state.started = True
    if not items:
        raise NoHeartRate(report.file_name, "the whole file", "no Trackpoint holds HeartRateBpm and Time")
    for item in items:
        yield source, item
