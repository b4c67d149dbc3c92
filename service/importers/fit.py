"""FIT activity and monitoring files (Garmin and others): record and all-day heart rate, RR intervals, the device.

Read with service.importers.fit_decode (fast, tolerant); enum names come from fitdecode's profile.
Non-strict, a damaged file keeps every message before the damage and the report says what was left out
and where; strict, any damage refuses the file whole, named for what it is.
"""

from __future__ import annotations

import datetime as dt
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
    """The decoder's visitor: samples of record and monitoring messages, RR of hrv messages, the device."""

    def __init__(self) -> None:
        self.items: list[Item] = []
        self.file_id: dict[str, Any] = {}
        self.creator: dict[str, Any] = {}
        self.pending_rr: list[float] = []  # hrv messages before the first record

    def value(self, kind: int, timestamp_s: int | None, name: str, value: Any) -> None:
        if name == "heart_rate" and (kind == RECORD or kind == MONITORING):
            # none, or damage gave text or an array: no sample
            if timestamp_s is None or type(value) is not int:
                return
            items, t_ms = self.items, (timestamp_s + FIT_EPOCH_S) * 1000
            # FIT times have 1 s resolution and Garmin writes two records in one second; ingest would keep the
            # first sample of a repeated time and drop the second with the RR of the hrv messages after it. So
            # a record in the same second as the one before merges into it: its heart rate kept, RR of both.
            if items and items[-1]["t"] == t_ms:
                return
            # a FIT device writes 0 when it has no heart rate: lost contact, stored and flagged
            item: Item = {"t": t_ms, "bpm": value} if value else {"t": t_ms, "bpm": 0, "contact": False}
            if self.pending_rr:
                item["rr_ms"], self.pending_rr = self.pending_rr, []
            items.append(item)
        else:
            self.message(kind, timestamp_s, {name: value})

    def message(self, kind: int, timestamp_s: int | None, values: dict[str, Any]) -> None:
        if kind == RECORD or kind == MONITORING:
            self.value(kind, timestamp_s, "heart_rate", values.get("heart_rate"))
        elif kind == HRV:
            # hrv time is in ms on the wire (scale 1000 to s); 0xFFFF, FIT's "no value", is already left out
            time = values.get("time")
            rr = [
                float(v) for v in (time if isinstance(time, tuple) else (time,)) if type(v) is int and v > 0
            ]
            if self.items:  # RR intervals belong to the beats just before the record they follow
                self.items[-1].setdefault("rr_ms", []).extend(rr)
            else:
                self.pending_rr.extend(rr)
        elif kind == FILE_ID and not self.file_id:
            self.file_id = values
        elif kind == DEVICE_INFO and values.get("device_index") == 0 and not self.creator:
            self.creator = values


def _refuse(report: ReadReport, damage: FitDamage) -> CorruptFile | TruncatedFile:
    place = f"byte {damage.offset}" + (f", message {damage.message_index}" if damage.message_index else "")
    if damage.kind == "truncated":
        return TruncatedFile(report.file_name, place, f"{damage.reason}; refused whole (strict)")
    return CorruptFile(report.file_name, place, f"{_REFUSED[damage.kind]}: {damage.reason}")


def _note_damage(report: ReadReport, decoded: Decoded, items: list[Item]) -> None:
    """Salvage: the damage met becomes the report's truncation, skipped stretches and warnings."""
    report.warnings.extend(decoded.notes[:20])
    for damage in decoded.damage:
        if damage.kind in ("truncated", "overrun"):  # cut inside its last message: all before it kept
            after = f", after the record at {_iso(items[-1]['t'])}" if items else ""
            report.truncated_at = f"byte {decoded.size} of {decoded.size}: {damage.reason}{after}"
        elif damage.kind in ("header-crc", "crc"):
            report.warnings.append(f"{_REFUSED[damage.kind]}: {damage.reason}")
        else:
            report.skipped.append(Skipped(damage.reason, damage.message_index, damage.offset))


def _parse(fh: BinaryIO, report: ReadReport) -> tuple[list[Item], Source]:
    """The whole file (FIT files are small), so strict mode refuses it before anything is stored."""
    data = fh.read()
    collected = _Collector()
    try:
        decoded = decode(data, WANTED, collected, strict=report.strict)
    except FitDamage as exc:
        raise _refuse(report, exc) from exc
    items, source = collected.items, _source(collected.file_id, collected.creator)
    _note_damage(report, decoded, items)
    if not items:
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
    for item in items:
        yield source, item
