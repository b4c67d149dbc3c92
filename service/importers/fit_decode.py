"""A fast, tolerant FIT decoder for the few messages an import needs (pure: bytes in, messages to a visitor).

Why not fitdecode alone: it builds Python objects for every field of every message, which made a FIT import
four times slower than storing its samples. This decoder compiles one struct per definition that unpacks only
the wanted fields (the others are pad bytes), so a record costs one `unpack_from` and one call of the
visitor, and no object is built that the import does not keep (the garbage collector's full passes over a
large heap were half the cost of building them). It follows fitdecode's
tolerant handling (`ErrorHandling.WARN`): a field whose size is no multiple of its type is read as bytes,
and every readable message before damage is kept. Damage is named for what it is (a file header, its
checksum, a chained header, a message, the checksum at the end) with the byte offset and message index.
Spec: Garmin FIT SDK, "Flexible and Interoperable Data Transfer Protocol" (file header, record headers,
compressed timestamp headers, base types); tests compare every result with fitdecode's own reading.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

FIT_EPOCH_S = 631_065_600  # 1989-12-31T00:00:00Z, FIT's time zero
TIMESTAMP = 253  # field number of `timestamp` in every message that has one
# base type number (low 5 bits of the base-type byte) -> (struct code, size, invalid value)
_BASE: dict[int, tuple[str, int, Any]] = {
    0: ("B", 1, 0xFF), 1: ("b", 1, 0x7F), 2: ("B", 1, 0xFF), 3: ("h", 2, 0x7FFF), 4: ("H", 2, 0xFFFF),
    5: ("i", 4, 0x7FFFFFFF), 6: ("I", 4, 0xFFFFFFFF), 8: ("f", 4, None), 9: ("d", 8, None),
    10: ("B", 1, 0), 11: ("H", 2, 0), 12: ("I", 4, 0), 14: ("q", 8, 2**63 - 1), 15: ("Q", 8, 2**64 - 1),
    16: ("Q", 8, 0),
}  # fmt: skip
STRING = 7
# the struct codes a time may have: whole seconds that fit 32 bits (the profile: timestamp uint32, timestamp_16
# uint16); damage can declare any type, and a float or a 64-bit value would make no time at all
_TIME_CODES = frozenset("bBhHiI")
Damage = Literal["header", "header-crc", "chained-header", "message", "truncated", "overrun", "crc"]


def _crc_table() -> tuple[int, ...]:
    """CRC-16 with the reflected polynomial 0xA001 and start 0 (CRC-16/ARC), as the FIT SDK computes it."""
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


_CRC_TABLE = _crc_table()


def fit_crc(data: bytes | memoryview, crc: int = 0) -> int:
    """The FIT checksum of `data`, continuing from `crc`."""
    table = _CRC_TABLE
    for byte in data:
        crc = (crc >> 8) ^ table[(crc ^ byte) & 0xFF]
    return crc


class FitDamage(ValueError):
    """A place where the file is not what the FIT protocol says; `kind` names what was damaged."""

    def __init__(self, kind: Damage, offset: int, message_index: int | None, reason: str) -> None:
        super().__init__(reason)
        self.kind, self.offset, self.message_index, self.reason = kind, offset, message_index, reason


class Visitor(Protocol):
    """Receives the wanted data messages in file order, their time resolved (FIT seconds, or None).

    A message whose definition holds one wanted scalar field comes to `value` (most records: heart_rate
    alone), any other wanted message to `message` with its values by field name.
    """

    def value(self, global_num: int, timestamp_s: int | None, name: str, value: Any) -> None: ...

    def message(self, global_num: int, timestamp_s: int | None, values: dict[str, Any]) -> None: ...


@dataclass
class Decoded:
    """What reading met: damage (each stopped or skipped part of the file) and notes, the size, the count."""

    damage: list[FitDamage] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    size: int = 0
    messages_read: int = 0


@dataclass(frozen=True, slots=True)
class _Definition:
    global_num: int
    size: int
    unpack: Any  # struct.Struct.unpack_from
    picks: tuple[tuple[str, int, int, Any, bool], ...]  # name, first value, count, invalid, is text
    timestamp_at: int | None
    timestamp16_at: int | None
    single: tuple[str, int, Any] | None  # the one scalar wanted field (name, value index, invalid), if so


class _Reader:
    """One pass over the bytes; state is the FIT decoding state of the current (chained) file."""

    def __init__(
        self, data: bytes, wanted: Mapping[int, Mapping[int, str]], visit: Visitor, strict: bool
    ) -> None:
        self.buf, self.wanted, self.visit, self.strict = data, wanted, visit, strict
        self.out = Decoded(size=len(data))
        self.index = 0
        self.last_ts = 0

    def damage(self, kind: Damage, offset: int, reason: str) -> None:
        error = FitDamage(kind, offset, self.index, reason)
        if self.strict:
            raise error
        self.out.damage.append(error)

    def define(self, pos: int, header: int, end: int) -> tuple[int, _Definition | None]:
        """Parse a definition message at `pos`; (its end, the definition), or (-1, None) when it overruns."""
        buf = self.buf
        if pos + 5 > end:
            return -1, None
        big = buf[pos + 1] != 0
        global_num = int.from_bytes(buf[pos + 2 : pos + 4], "big" if big else "little")
        n_fields = buf[pos + 4]
        fields_end = pos + 5 + 3 * n_fields
        dev_end = fields_end
        if header & 0x20:  # developer fields follow
            if fields_end + 1 > end:
                return -1, None
            dev_end = fields_end + 1 + 3 * buf[fields_end]
        if dev_end > end:
            return -1, None
        wanted = self.wanted.get(global_num, {})
        fmt, picks, count, size = [">" if big else "<"], [], 0, 0
        timestamp_at = timestamp16_at = None
        for i in range(pos + 5, fields_end, 3):
            number, f_size, base = buf[i], buf[i + 1], buf[i + 2] & 0x1F
            size += f_size
            name = wanted.get(number) or ("timestamp" if number == TIMESTAMP else None)
            code = _BASE.get(base)
            if name is None or f_size == 0:
                fmt.append(f"{f_size}x")
                continue
            if base == STRING or code is None:
                fmt.append(f"{f_size}s")
                picks.append((name, count, 1, None, True))
                count += 1
                continue
            if f_size % code[1]:  # fitdecode's WARN: an odd size is read as bytes, the message kept
                self.out.notes.append(
                    f"message {self.index} at byte {pos - 1}: field {number} of message {global_num} has size "
                    f"{f_size}, no multiple of its type; left out"
                )
                fmt.append(f"{f_size}x")
                continue
            n = f_size // code[1]
            is_time = n == 1 and (number == TIMESTAMP or name == "timestamp_16")
            if is_time and code[0] not in _TIME_CODES:  # a float or 64-bit time cannot be a FIT time
                self.out.notes.append(
                    f"message {self.index} at byte {pos - 1}: the time field {number} of message {global_num} "
                    f"has base type {base}, no whole number of seconds; left out"
                )
                fmt.append(f"{f_size}x")
                continue
            fmt.append(f"{n}{code[0]}")
            if is_time and number == TIMESTAMP:
                timestamp_at = count
            elif is_time:
                timestamp16_at = count
            else:
                picks.append((name, count, n, code[2], False))
            count += n
        for i in range(fields_end + 1, dev_end, 3):
            size += buf[i + 1]
            fmt.append(f"{buf[i + 1]}x")
        needed = picks or timestamp_at is not None or timestamp16_at is not None
        unpack = struct.Struct("".join(fmt)).unpack_from if needed else None
        single = None
        if len(picks) == 1 and picks[0][2] == 1 and not picks[0][4]:
            single = (picks[0][0], picks[0][1], picks[0][3])
        definition = _Definition(global_num, size, unpack, tuple(picks), timestamp_at, timestamp16_at, single)
        return dev_end, definition

    def values(self, d: _Definition, raw: tuple[Any, ...]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, at, n, invalid, text in d.picks:
            if text:
                out[name] = raw[at].split(b"\0", 1)[0].decode("utf-8", "replace") or None
            elif n == 1:
                value = raw[at]
                out[name] = None if value == invalid or value != value else value
            else:
                out[name] = tuple(v for v in raw[at : at + n] if v != invalid)
        return out

    def body(self, pos: int, end: int, declared_end: int) -> int:
        """Messages from `pos` to `end`; returns where reading stopped (== end when all were whole)."""
        buf, defs = self.buf, {}
        on_value, on_message = self.visit.value, self.visit.message
        while pos < end:
            start, header = pos, buf[pos]
            pos += 1
            if header & 0x40 and not header & 0x80:  # a definition message
                pos, definition = self.define(pos, header, end)
                if definition is None:
                    return self._overrun(start, end, declared_end, "definition")
                defs[header & 0x0F] = definition
                self.index += 1
                continue
            local = (header >> 5) & 0x03 if header & 0x80 else header & 0x0F
            d = defs.get(local)
            if d is None:
                self.damage("message", start, f"message {self.index} at byte {start} uses local message type "
                            f"{local}, which no definition before it declares")  # fmt: skip
                return start
            if pos + d.size > end:
                return self._overrun(start, end, declared_end, "data")
            ts: int | None = None
            raw = d.unpack(buf, pos) if d.unpack is not None else ()
            pos += d.size
            if header & 0x80:  # compressed timestamp header: 5 bits of offset from the last time
                ts = self.last_ts = self.last_ts + ((header & 0x1F) - self.last_ts & 0x1F)
            elif d.timestamp_at is not None and raw[d.timestamp_at] != 0xFFFFFFFF:
                ts = self.last_ts = raw[d.timestamp_at]
            elif d.timestamp16_at is not None and raw[d.timestamp16_at] != 0xFFFF:
                ts = self.last_ts = self.last_ts + ((raw[d.timestamp16_at] - self.last_ts) & 0xFFFF)
            if d.single is not None:  # the common record: one field, no loop, no dict
                name, at, invalid = d.single
                value = raw[at]
                on_value(d.global_num, ts, name, None if value == invalid or value != value else value)
            elif d.picks:
                on_message(d.global_num, ts, self.values(d, raw))
            self.index += 1
        return pos

    def _overrun(self, start: int, end: int, declared_end: int, what: str) -> int:
        if end < declared_end:
            self.damage("truncated", start, f"the file ends at byte {len(self.buf)}, inside message {self.index} "
                        f"(a {what} message starting at byte {start})")  # fmt: skip
        else:
            self.damage("overrun", start, f"the last message ({self.index}, a {what} message at byte {start}) "
                        f"runs past the {end - start} bytes of data the header declares")  # fmt: skip
        return start

    def file(self, pos: int) -> int:
        """One FIT file (header, messages, checksum) from `pos`; where the next one would start, or -1."""
        buf, first = self.buf, pos == 0
        head = buf[pos : pos + 14]
        if len(head) < 12 or head[0] not in (12, 14) or head[8:12] != b".FIT" or len(head) < head[0]:
            what = "file header" if first else f"chained FIT header at byte {pos}"
            if first:
                raise FitDamage("header", pos, 0, f"not a FIT file header at byte {pos}")
            self.damage("chained-header", pos, f"the {what} is damaged: {len(buf) - pos} bytes after it are "
                        "left out")  # fmt: skip
            return -1
        header_size, data_size = head[0], int.from_bytes(head[4:8], "little")
        if header_size == 14:
            header_crc = int.from_bytes(head[12:14], "little")
            if header_crc and header_crc != fit_crc(head[:12]):
                self.damage("header-crc", pos, f"the checksum of the FIT header at byte {pos} (bytes "
                            f"{pos + 12}-{pos + 13}) fails")  # fmt: skip
        declared_end = pos + header_size + data_size
        end = min(declared_end, len(buf))
        stopped = self.body(pos + header_size, end, declared_end)
        if stopped < end or declared_end > len(buf):
            if stopped >= end:  # all messages whole, the file cut before its checksum
                self.damage(
                    "truncated", end, f"the file ends at byte {len(buf)}, before the checksum at the end"
                )
            return -1
        if declared_end + 2 > len(buf):
            self.damage(
                "truncated", declared_end, f"the checksum at the end (byte {declared_end}) is missing"
            )
            return -1
        crc = int.from_bytes(buf[declared_end : declared_end + 2], "little")
        if crc != fit_crc(memoryview(buf)[pos:declared_end]):
            self.damage("crc", declared_end, f"the checksum at the end of the FIT data (byte {declared_end}) "
                        "fails: some values read may be damaged")  # fmt: skip
        return declared_end + 2


def decode(
    data: bytes, wanted: Mapping[int, Mapping[int, str]], visit: Visitor, *, strict: bool = False
) -> Decoded:
    """The wanted messages ({global number: {field number: name}}) of every chained FIT file in `data`, to
    `visit` in file order; what it returns says what damage stopped or skipped parts of the file.

    Raises:
        FitDamage: the first header is not a FIT header (kind "header"), or, when `strict`, any damage.
    """
    reader = _Reader(data, wanted, visit, strict)
    pos = 0
    while pos != -1 and pos < len(data):
        if pos and len(data) - pos < 12 and not data[pos:].strip(b"\0"):
            break  # zero padding after the last file (some devices write it)
        pos = reader.file(pos)
    reader.out.messages_read = reader.index
    return reader.out
