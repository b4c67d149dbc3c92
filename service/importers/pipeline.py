"""Read a file's entries into batches per device and hand them to a sink (the database, or the HTTP API)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol
from zoneinfo import ZoneInfo

from service.importers.base import Entry, Item, Source

BATCH_MAX = 10_000  # the ingest endpoint's limit per request
MAX_REPORTED_REJECTIONS = 20


QUARTER_MS = 900_000  # every UTC offset in use is a multiple of 15 min, so a quarter lies in one local day


@dataclass(frozen=True)
class BatchResult:
    accepted: int
    duplicates: int
    rejected: list[tuple[int, str]]  # (index in the batch, reason)
    rr_dropped: int = 0  # impossible RR intervals dropped, their samples kept
    times_ms: Sequence[int] = ()  # times of the samples now stored (new or already there), for the report


def reason_kind(reason: str) -> str:
    """A rejection reason without the value that varies, so rejections can be counted by reason."""
    reason = _NUMBER_IN_REASON.sub("bpm", reason)
    return reason.split(" '", 1)[0].split(' "', 1)[0]


_NUMBER_IN_REASON = re.compile(r"^bpm -?\d+(?=\s)")


class SampleSink(Protocol):
    """Where imported samples go: one device per source, batches through the ingest path."""

    def device_for(self, source: Source) -> int: ...

    def send(self, device_id: int, items: list[Item]) -> BatchResult: ...


@dataclass
class ImportCounts:
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    rejections: list[tuple[int, str]] = field(default_factory=list)  # (sample number in the file, reason)
    rr_dropped: int = 0
    device_ids: list[int] = field(default_factory=list)
    rejected_by_reason: dict[str, int] = field(default_factory=dict)
    first_ms: int | None = None
    last_ms: int | None = None
    quarters: set[int] = field(default_factory=set)  # 15-minute slots holding stored samples

    @property
    def samples(self) -> int:
        return self.accepted + self.duplicates + self.rejected

    def add_times(self, times_ms: Sequence[int]) -> None:
        if not times_ms:
            return
        low, high = min(times_ms), max(times_ms)
        self.first_ms = low if self.first_ms is None else min(self.first_ms, low)
        self.last_ms = high if self.last_ms is None else max(self.last_ms, high)
        self.quarters.update({t // QUARTER_MS for t in times_ms})

    def days(self, tz: ZoneInfo) -> list[dt.date]:
        """The local calendar days (in `tz`) that hold a stored sample of this import."""
        return sorted({dt.datetime.fromtimestamp(q * QUARTER_MS / 1000, tz).date() for q in self.quarters})

    def merge(self, other: ImportCounts) -> None:
        """Add another file's counts (a zip's members) into these."""
        self.accepted += other.accepted
        self.duplicates += other.duplicates
        self.rejected += other.rejected
        self.rr_dropped += other.rr_dropped
        room = MAX_REPORTED_REJECTIONS - len(self.rejections)
        self.rejections.extend(other.rejections[: max(room, 0)])
        self.device_ids.extend(d for d in other.device_ids if d not in self.device_ids)
        for reason, n in other.rejected_by_reason.items():
            self.rejected_by_reason[reason] = self.rejected_by_reason.get(reason, 0) + n
        for t in (other.first_ms, other.last_ms):
            if t is not None:
                self.add_times([t])
        self.quarters |= other.quarters


@dataclass
class _Pending:
    items: list[Item] = field(default_factory=list)
    numbers: list[int] = field(default_factory=list)


def run_import(
    entries: Iterable[Entry],
    sink: SampleSink,
    *,
    batch_size: int = BATCH_MAX,
    on_batch: Callable[[ImportCounts], None] | None = None,
) -> ImportCounts:
    """Send every entry to its source's device in batches of at most `batch_size`; sums the answers."""
    counts = ImportCounts()
    pending: dict[int, _Pending] = {}
    devices: dict[Source, int] = {}

    def flush(device_id: int) -> None:
        batch = pending.pop(device_id)
        result = sink.send(device_id, batch.items)
        counts.accepted += result.accepted
        counts.duplicates += result.duplicates
        counts.rejected += len(result.rejected)
        counts.rr_dropped += result.rr_dropped
        room = MAX_REPORTED_REJECTIONS - len(counts.rejections)
        counts.rejections.extend((batch.numbers[i], reason) for i, reason in result.rejected[: max(room, 0)])
        for _, reason in result.rejected:
            kind = reason_kind(reason)
            counts.rejected_by_reason[kind] = counts.rejected_by_reason.get(kind, 0) + 1
        counts.add_times(result.times_ms)
        if on_batch is not None:
            on_batch(counts)

    last_source: Source | None = None
    device_id, batch = 0, _Pending()
    for number, (source, item) in enumerate(entries, start=1):
        if source is not last_source:  # readers hand out one Source object per device: skip hashing it
            found = devices.get(source)
            if found is None:
                found = devices[source] = sink.device_for(source)
                if found not in counts.device_ids:
                    counts.device_ids.append(found)
            device_id, last_source = found, source
            batch = pending.setdefault(device_id, _Pending())
        batch.items.append(item)
        batch.numbers.append(number)
        if len(batch.items) >= batch_size:
            flush(device_id)
            batch = pending.setdefault(device_id, _Pending())
    for device_id in list(pending):
        if pending[device_id].items:
            flush(device_id)
    return counts


def count_entries(entries: Iterable[Entry]) -> int:
    """Read a file through without storing anything (strict mode's first pass)."""
    return sum(1 for _ in entries)
