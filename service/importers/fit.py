"""FIT activity files (Garmin and others), read with fitdecode: record heart rate, HRV RR intervals, the device."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from typing import Any, BinaryIO

import fitdecode

from service.importers.base import Entry, Item, ReadReport, Source, source_address
from service.importers.errors import CorruptFile, NoHeartRate

FIT_SIGNATURE = b".FIT"
HRV_INVALID_S = 65.535  # 0xFFFF ms: the FIT profile's "no value" for an hrv time


def looks_like_fit(head: bytes) -> bool:
    """A FIT header: size 12 or 14, then ".FIT" at bytes 8-11."""
    return len(head) >= 12 and head[0] in (12, 14) and head[8:12] == FIT_SIGNATURE


def _size(fh: BinaryIO) -> int:
    fh.seek(0, os.SEEK_END)
    size = fh.tell()
    fh.seek(0)
    return size


def _declared_size(fh: BinaryIO) -> int:
    """The length the header promises: header size + data size + the 2-byte checksum."""
    fh.seek(0)
    head = fh.read(12)
    return head[0] + int.from_bytes(head[4:8], "little") + 2


def _iso(t_ms: int) -> str:
    return dt.datetime.fromtimestamp(t_ms / 1000, dt.UTC).isoformat(timespec="seconds")


def _source(file_id: dict[str, Any], creator: dict[str, Any]) -> Source:
    """The recording device from file_id (else the creator's device_info): manufacturer, product, serial."""
    info = {**creator, **{k: v for k, v in file_id.items() if v is not None}}
    maker = str(info.get("manufacturer") or "unknown")
    product = info.get("garmin_product") or info.get("product_name") or info.get("product") or "device"
    serial = info.get("serial_number") or ""
    name = f"{maker.replace('_', ' ').title()} {product}".strip()
    return Source(
        name=name[:120], address=source_address("fit", maker, product, serial), model=str(product)[:120]
    )


def _rr_ms(values: Any) -> list[float]:
    """Every RR interval of an hrv message in ms; only FIT's "no value" is left out (ingest judges the rest)."""
    if not isinstance(values, tuple | list):
        values = (values,)
    return [round(float(v) * 1000.0, 3) for v in values if v is not None and 0 < float(v) < HRV_INVALID_S]


def _record(frame: fitdecode.FitDataMessage) -> Item | None:
    t = frame.get_value("timestamp", fallback=None)
    bpm = frame.get_value("heart_rate", fallback=None)
    # A timestamp fitdecode could not convert arrives as a raw int (found by fuzz/fuzz_fit.py): no time, no sample.
    if not isinstance(t, dt.datetime) or not isinstance(bpm, int | float):
        return None
    item: Item = {"t": round(t.timestamp() * 1000), "bpm": int(bpm)}
    if item["bpm"] == 0:  # a FIT device writes 0 when it has no heart rate: lost contact, stored and flagged
        item["contact"] = False
    return item


def _add_record(items: list[Item], item: Item) -> None:
    """A record in the same second as the one before merges into it: its heart rate kept, RR of both in order.

    FIT times have 1 s resolution and Garmin writes two records in one second; ingest keeps the first
    sample of a repeated time and would drop the second with the RR intervals of the hrv messages after it.
    """
    if items and items[-1]["t"] == item["t"]:
        if item.get("rr_ms"):
            items[-1].setdefault("rr_ms", []).extend(item["rr_ms"])
        return
    items.append(item)


def _parse(fh: BinaryIO, report: ReadReport) -> tuple[list[Item], Source]:
    """The whole file (FIT files are small), so a failed checksum refuses it before anything is stored."""
    items: list[Item] = []
    file_id: dict[str, Any] = {}
    creator: dict[str, Any] = {}
    pending_rr: list[float] = []  # hrv messages before the first record
    size = _size(fh)
    try:
        with fitdecode.FitReader(
            fh, check_crc=fitdecode.CrcCheck.RAISE, error_handling=fitdecode.ErrorHandling.RAISE
        ) as reader:
            for frame in reader:
                if frame.frame_type != fitdecode.FIT_FRAME_DATA:
                    continue
                if frame.name == "record":
                    item = _record(frame)
                    if item is not None:
                        if pending_rr:
                            item["rr_ms"], pending_rr = pending_rr, []
                        _add_record(items, item)
                elif frame.name == "hrv":
                    rr = _rr_ms(frame.get_value("time", fallback=None))
                    if items:  # RR intervals belong to the beats just before the record they follow
                        items[-1].setdefault("rr_ms", []).extend(rr)
                    else:
                        pending_rr.extend(rr)
                elif frame.name == "file_id" and not file_id:
                    file_id = {f.name: f.value for f in frame.fields}
                elif (
                    frame.name == "device_info"
                    and frame.get_value("device_index", fallback=None) == "creator"
                ):
                    creator = {f.name: f.value for f in frame.fields}
    except fitdecode.FitHeaderError as exc:
        raise CorruptFile(
            report.file_name, f"byte {exc.offset}", f"not a readable FIT header: {exc}"
        ) from exc
    except fitdecode.FitCRCError as exc:
        raise CorruptFile(
            report.file_name, "the checksum at the end", f"the FIT checksum fails: {exc}"
        ) from exc
    except (fitdecode.FitEOFError, fitdecode.FitParseError) as exc:
        place = f"byte {exc.offset} of {size}"
        if not items:
            raise CorruptFile(report.file_name, place, f"no whole record: {exc}") from exc
        if size >= _declared_size(fh):  # every byte the header promised is there: damaged, not cut short
            raise CorruptFile(report.file_name, place, f"damaged FIT data: {exc}") from exc
        report.truncated_at = f"byte {exc.offset} of {size}, after the record at {_iso(items[-1]['t'])}"
    except fitdecode.FitError as exc:
        raise CorruptFile(report.file_name, "byte 0", f"not a readable FIT file: {exc}") from exc
    # Beyond its own errors, fitdecode meets damage with ValueError, struct.error, TypeError or a failed assert
    # (found by fuzz/fuzz_fit.py): from outside bytes, each means a damaged file, never a server error.
    except Exception as exc:
        raise CorruptFile(
            report.file_name, f"byte {fh.tell()} of {size}", f"damaged FIT data: {exc!r}"
        ) from exc
    return items, _source(file_id, creator)


def read_fit(fh: BinaryIO, report: ReadReport) -> Iterator[Entry]:
    """Heart rate per second of record messages; RR intervals of hrv messages (s -> ms) on the record before them."""
    items, source = _parse(fh, report)
    if not items:
        raise NoHeartRate(report.file_name, "the whole file", "no record message holds a heart rate")
    for item in items:
        yield source, item
