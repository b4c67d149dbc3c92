"""Read a file's entries into batches per device and hand them to a sink (the database, or the HTTP API)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol

from service.importers.base import Entry, Item, Source

BATCH_MAX = 10_000  # the ingest endpoint's limit per request
MAX_REPORTED_REJECTIONS = 20


@dataclass(frozen=True)
class BatchResult:
    accepted: int
    duplicates: int
    rejected: list[tuple[int, str]]  # (index in the batch, reason)
    rr_dropped: int = 0  # impossible RR intervals dropped, their samples kept


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

    @property
    def samples(self) -> int:
        return self.accepted + self.duplicates + self.rejected


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
        if on_batch is not None:
            on_batch(counts)

    for number, (source, item) in enumerate(entries, start=1):
        device_id = devices.get(source)
        if device_id is None:
            device_id = devices[source] = sink.device_for(source)
            if device_id not in counts.device_ids:
                counts.device_ids.append(device_id)
        batch = pending.setdefault(device_id, _Pending())
        batch.items.append(item)
        batch.numbers.append(number)
        if len(batch.items) >= batch_size:
            flush(device_id)
    for device_id in list(pending):
        flush(device_id)
    return counts


def count_entries(entries: Iterable[Entry]) -> int:
    """Read a file through without storing anything (strict mode's first pass)."""
    return sum(1 for _ in entries)
