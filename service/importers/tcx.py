"""Garmin Training Center XML: HeartRateBpm/Value of each Trackpoint with a Time; the Creator as the device."""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

from service.importers.base import Entry, ReadReport, Source, source_address, utc_ms, whole_number
from service.importers.errors import NoHeartRate
from service.importers.xmlstream import XmlState, child_text, iter_ends, local

TAGS = frozenset({"Trackpoint", "Creator"})
CREATOR = frozenset({"Creator"})


def _creator(fh: BinaryIO, report: ReadReport) -> Source:
    """The file's (last) Creator, which comes after the laps: a first pass that builds nothing else."""
    source = Source(name="TCX import", address=source_address("tcx", "unknown"))
    probe = ReadReport(report.file_name, report.format, limits=report.limits)
    state = XmlState(started=True)  # damage is the second pass's to report
    for elem in iter_ends(fh, probe, CREATOR, state):
        name = child_text(elem, "Name") or "TCX device"
        unit = child_text(elem, "UnitId") or ""
        source = Source(name=name[:120], address=source_address("tcx", name, unit), model=name[:120])
    fh.seek(0)
    return source


def read_tcx(fh: BinaryIO, report: ReadReport) -> Iterator[Entry]:
    """Trackpoints with heart rate, streamed; the Creator comes after the laps, so it is looked up first
    (holding every point until it came took 1 GB for a file of 3 M points)."""
    source = _creator(fh, report)
    state = XmlState()
    for elem in iter_ends(fh, report, TAGS, state):
        if local(elem.tag) == "Creator":
            continue
        t, bpm = child_text(elem, "Time"), child_text(elem, "HeartRateBpm", "Value")
        if t is not None and bpm is not None:
            state.started = True
            yield source, {"t": utc_ms(t), "bpm": whole_number(bpm)}
    if not state.started:
        raise NoHeartRate(report.file_name, "the whole file", "no Trackpoint holds HeartRateBpm and Time")
