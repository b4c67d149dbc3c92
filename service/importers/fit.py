"""FIT activity and monitoring files (Garmin and others): record and all-day heart rate, RR intervals, the device.

Read with service.importers.fit_decode (fast, tolerant); enum names come from fitdecode's profile.
Non-strict, a damaged file keeps every message before the damage and the report says what was left out
and where; strict, any damage refuses the file whole, named for what it is.
"""

from __future__ import annotations

import datetime as dt
from array import array
from collections.abc import Iterator
from typing import Any, BinaryIO

from fitdecode import profile

from service.importers.base import Entry, Item, ReadReport, Skipped, Source, source_address
from service.importers.errors import CorruptFile, NoHeartRate, TruncatedFile
from service.importers.fit_decode import FIT_EPOCH_S, Decoded, FitDamage, decode

FIT_SIGNATURE = b".FIT"
FILE_ID, RECORD, DEVICE_INFO, MONITORING, HRV = 0, 20, 23, 55, 78
WANTED = {
    FILE_ID: {0: "type", 1: "manufacturer", 2: "product", 3: "serial_number", 8: "product_name"},
    DEVICE_INFO: {0: "device_index", 2: "manufacturer", 3: "serial_number", 4: "product", 27: "product_name"},
    RECORD: {3: "heart_rate"},
    HRV: {0: "time"},
    MONITORING: {26: "timestamp_16", 27: "heart_rate"},  # monitoring_b: all-day HR on 16-bit timestamps
}
# manufacturers whose `product` is a garmin_product (the FIT profile's subfield rule)
GARMIN_PRODUCT_MAKERS = frozenset({1, 13, 15, 89})
_MANUFACTURER = profile.FIELD_TYPES["manufacturer"].enum
_GARMIN_PRODUCT = profile.FIELD_TYPES["garmin_product"].enum
_REFUSED = {"header": "not a readable FIT file header", "header-crc": "the FIT header's checksum fails",
            "chained-header": "a chained FIT header is damaged", "message": "damaged FIT data",
            "crc": "the FIT checksum at the end fails", "overrun": "damaged FIT data"}  # fmt: skip


def looks_like_fit(head: bytes) -> bool:
    """A FIT header: size 12 or 14, then ".FIT" at bytes 8-11."""
    return len(head) >= 12 and head[0] in (12, 14) and head[8:12] == FIT_SIGNATURE


def _iso(t_ms: int) -> str:
    return dt.datetime.fromtimestamp(t_ms / 1000, dt.UTC).isoformat(timespec="seconds")


def _source(file_id: dict[str, Any], creator: dict[str, Any]) -> Source:
    """The recording device from file_id (else the creator's device_info): manufacturer, product, serial."""
    info = {**creator, **{k: v for k, v in file_id.items() if v is not None}}
    maker_num = info.get("manufacturer")
    maker = str(_MANUFACTURER.get(maker_num, maker_num) if maker_num is not None else "unknown")
    product: Any = info.get("product")
    if maker_num in GARMIN_PRODUCT_MAKERS and product is not None:
        product = _GARMIN_PRODUCT.get(product, product)
    product = product if isinstance(product, str) else info.get("product_name") or product or "device"
    serial = info.get("serial_number") or ""
    name = f"{maker.replace('_', ' ').title()} {product}".strip()
    return Source(
        name=name[:120], address=source_address("fit", maker, product, serial), model=str(product)[:120]
    )


class _Collector:
    """The decoder's visitor: samples of record and monitoring messages, RR of hrv messages, the device.

    Samples are kept in flat arrays (8 bytes a time, 4 a heart rate, RR values in one array with each
    sample's start in it) and become wire dicts only as they are read out: issue 15's 18 MB FIT with 3 M
    records took 924 MB as a list of dicts, about 100 MB so.
    """

    def __init__(self) -> None:
        self.times_ms = array("q")
        self.bpms = array("l")
        self.rr_values = array("d")
        self.rr_starts = array("q")  # where each sample's RR intervals start in rr_values
        self.file_id: dict[str, Any] = {}
        self.creator: dict[str, Any] = {}

    def __len__(self) -> int:
        return len(self.times_ms)

    def item(self, i: int) -> Item:
        """The i-th sample as ingest takes it; a FIT device writes 0 when it has no heart rate: lost
        contact, stored and flagged."""
        t_ms, bpm = self.times_ms[i], self.bpms[i]
        item: Item = {"t": t_ms, "bpm": bpm} if bpm else {"t": t_ms, "bpm": 0, "contact": False}
        end = self.rr_starts[i + 1] if i + 1 < len(self.rr_starts) else len(self.rr_values)
        if end > self.rr_starts[i]:
            item["rr_ms"] = self.rr_values[self.rr_starts[i] : end].tolist()
        return item

    def value(self, kind: int, timestamp_s: int | None, name: str, value: Any) -> None:
        if name == "heart_rate" and (kind == RECORD or kind == MONITORING):
            # none, or damage gave text or an array (or a number no heart gives): no sample
            if timestamp_s is None or type(value) is not int or not 0 <= value < 2**31:
                return
            t_ms = (timestamp_s + FIT_EPOCH_S) * 1000
            # FIT times have 1 s resolution and Garmin writes two records in one second; ingest would keep the
            # first sample of a repeated time and drop the second with the RR of the hrv messages after it. So
            # a record in the same second as the one before merges into it: its heart rate kept, RR of both.
            if self.times_ms and self.times_ms[-1] == t_ms:
                return
            # RR of hrv messages before the first record belong to it (its start stays 0)
            self.rr_starts.append(len(self.rr_values) if self.times_ms else 0)
            self.times_ms.append(t_ms)
            self.bpms.append(value)
        else:
            self.message(kind, timestamp_s, {name: value})

    def message(self, kind: int, timestamp_s: int | None, values: dict[str, Any]) -> None:
        if kind == RECORD or kind == MONITORING:
            self.value(kind, timestamp_s, "heart_rate", values.get("heart_rate"))
        elif kind == HRV:
            # hrv time is in ms on the wire (scale 1000 to s); 0xFFFF, FIT's "no value", is already left out
            time = values.get("time")
            # RR intervals belong to the beats just before the record they follow: the last sample's
            self.rr_values.extend(
                float(v) for v in (time if isinstance(time, tuple) else (time,)) if type(v) is int and v > 0
            )
        elif kind == FILE_ID and not self.file_id:
            self.file_id = values
        elif kind == DEVICE_INFO and values.get("device_index") == 0 and not self.creator:
            self.creator = values


def _refuse(report: ReadReport, damage: FitDamage) -> CorruptFile | TruncatedFile:
    place = f"byte {damage.offset}" + (f", message {damage.message_index}" if damage.message_index else "")
    if damage.kind == "truncated":
        return TruncatedFile(report.file_name, place, f"{damage.reason}; refused whole (strict)")
    return CorruptFile(report.file_name, place, f"{_REFUSED[damage.kind]}: {damage.reason}")


def _note_damage(report: ReadReport, decoded: Decoded, items: _Collector) -> None:
    """Salvage: the damage met becomes the report's truncation, skipped stretches and warnings."""
    report.warnings.extend(decoded.notes[:20])
    for damage in decoded.damage:
        if damage.kind in ("truncated", "overrun"):  # cut inside its last message: all before it kept
            after = f", after the record at {_iso(items.times_ms[-1])}" if len(items) else ""
            report.truncated_at = f"byte {decoded.size} of {decoded.size}: {damage.reason}{after}"
        elif damage.kind in ("header-crc", "crc"):
            report.warnings.append(f"{_REFUSED[damage.kind]}: {damage.reason}")
        else:
            report.skipped.append(Skipped(damage.reason, damage.message_index, damage.offset))


def _parse(fh: BinaryIO, report: ReadReport) -> tuple[_Collector, Source]:
    """The whole file (FIT files are small), so strict mode refuses it before anything is stored."""
    data = fh.read()
    collected = _Collector()
    try:
        decoded = decode(data, WANTED, collected, strict=report.strict)
    except FitDamage as exc:
        raise _refuse(report, exc) from exc
    items, source = collected, _source(collected.file_id, collected.creator)
    _note_damage(report, decoded, items)
    if not len(items):
        problems = "; ".join(d.reason for d in decoded.damage)
        if decoded.damage and decoded.messages_read <= 1:
            raise CorruptFile(
                report.file_name, f"byte {decoded.damage[0].offset}", f"no whole message: {problems}"
            )
        also = f" (and {problems})" if problems else ""
        raise NoHeartRate(
            report.file_name, "the whole file", f"no record or monitoring message holds a heart rate{also}"
        )
    return items, source


def read_fit(fh: BinaryIO, report: ReadReport) -> Iterator[Entry]:
    """Heart rate of record and monitoring messages; RR intervals of hrv messages on the record before them."""
    items, source = _parse(fh, report)
    for i in range(len(items)):
        yield source, items.item(i)
