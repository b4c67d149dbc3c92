"""GPX tracks with heart rate in the Garmin TrackPointExtension (`hr`), matched whatever the namespace prefix."""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO
from xml.etree.ElementTree import Element

from service.importers.base import Entry, ReadReport, Source, source_address, utc_ms, whole_number
from service.importers.errors import NoHeartRate
from service.importers.xmlstream import XmlState, child_text, iter_ends, local

TAGS = frozenset({"trkpt"})


def _hr(point: Element) -> str | None:
    """The `hr` of the point's extensions (gpxtpx:TrackPointExtension/gpxtpx:hr, or a bare hr)."""
    for node in point.iter():
        if local(node.tag) == "hr" and node.text:
            return node.text.strip()
    return None


def read_gpx(fh: BinaryIO, report: ReadReport) -> Iterator[Entry]:
    """Track points that have a time and a heart rate; the gpx creator attribute names the device."""
    source: Source | None = None
    state = XmlState()
    for elem in iter_ends(fh, report, TAGS, state):
        t, bpm = child_text(elem, "time"), _hr(elem)
        if t is None or bpm is None:
            continue
        if source is None:
            source = _source(state.root_attrib.get("creator"))
        state.started = True
        yield source, {"t": utc_ms(t), "bpm": whole_number(bpm)}
    if not state.started:
        raise NoHeartRate(
            report.file_name, "the whole file", "no track point holds a time and an hr extension"
        )


def _source(creator: str | None) -> Source:
    creator = creator or "GPX device"
    return Source(name=creator[:120], address=source_address("gpx", creator), model=creator[:120])
