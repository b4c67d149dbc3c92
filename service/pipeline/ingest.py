"""Sample validation and idempotent storage: the one path every sample takes (live, upload, import)."""

from __future__ import annotations

import datetime as dt
import functools
import json
import math
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, cast

import msgspec
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.core.models import Sample

BPM_MIN, BPM_MAX = 25, 240
RR_MIN_MS, RR_MAX_MS = 200.0, 3000.0
# More beats than one sample can hold: five minutes at 60 bpm (a watch writing every few seconds packs a
# handful; a one-second sample holds at most four). Bounds the stored cell (issue 15: 5,000,000 in one).
MAX_RR_PER_SAMPLE = 300
# Epoch-ms values below this are taken for seconds by mistake and refused rather than guessed at.
EPOCH_MS_FLOOR = 946_684_800_000  # 2000-01-01


@dataclass(frozen=True, slots=True)
class Rejection:
    index: int
    reason: str


class CleanSample(msgspec.Struct, frozen=True, gc=False, rename={"t_ms": "t"}):
    """One sample as stored, and the type msgspec decodes an upload's items into.

    A frozen msgspec struct: built in C, at a tenth of a named tuple's cost, and every uploaded sample is
    built once (bench/ingest.py). The constraints bind decoding only: msgspec checks them on the wire
    (`t` for t_ms, epoch ms after 2000; bpm BPM_MIN-BPM_MAX; each RR RR_MIN_MS-RR_MAX_MS), while check_sample,
    which builds it directly, judges everything else (lost contact stored with bpm 0, for one).
    """

    t_ms: Annotated[int, msgspec.Meta(ge=EPOCH_MS_FLOOR)]
    bpm: Annotated[int, msgspec.Meta(ge=BPM_MIN, le=BPM_MAX)]
    rr_ms: Annotated[
        tuple[Annotated[float, msgspec.Meta(ge=RR_MIN_MS, le=RR_MAX_MS)], ...],
        msgspec.Meta(max_length=MAX_RR_PER_SAMPLE),
    ] = ()
    contact: bool | None = None


@dataclass
class IngestResult:
    accepted: int = 0
    duplicates: int = 0
    rejected: list[Rejection] = field(default_factory=list)


@dataclass
class BatchVerdict:
    """What validation made of a batch: valid samples in batch order, rejections, repeats, RR dropped.

    `repeats` counts items whose time already came earlier in the batch (the first is kept), `conflicts` those
    of them with another heart rate; `rr_dropped` counts RR intervals outside RR_MIN_MS-RR_MAX_MS that were
    dropped while their sample was kept.
    """

    clean: list[CleanSample] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    repeats: int = 0
    rr_dropped: int = 0
    conflicts: int = 0
    _first_bpm: dict[int, int] = field(default_factory=dict, repr=False)

    def keep(self, sample: CleanSample, rr_dropped: int = 0) -> None:
        """Keep the first sample of each time; a repeat is counted, and a conflict when its heart rate differs."""
        bpm = self._first_bpm.get(sample.t_ms)
        if bpm is None:
            self._first_bpm[sample.t_ms] = sample.bpm
            self.clean.append(sample)
            self.rr_dropped += rr_dropped
            return
        self.repeats += 1
        if bpm != sample.bpm:
            self.conflicts += 1


def _tolerance_text(tolerance_ms: int) -> str:
    seconds = tolerance_ms / 1000
    if seconds >= 60 and seconds % 60 == 0:
        minutes = int(seconds // 60)
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    return f"{seconds:g} s"


def parse_time_ms(value: Any, *, iso_floor_ms: int | None = EPOCH_MS_FLOOR) -> int:
    """ISO 8601 with an offset, or epoch milliseconds, not before 2000; anything else is a ValueError.

    The floor is the same for both forms: a sample dated before 2000 is a clock that was never set (or an
    attack on the analysis, which would walk every day since), never a recording.
    """
    if isinstance(value, bool):
        raise ValueError("time must be ISO 8601 with an offset or epoch milliseconds, not a boolean")
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise ValueError("time is not a finite number")
        if value < EPOCH_MS_FLOOR:
            raise ValueError("epoch time must be in milliseconds (after 2000-01-01)")
        return round(value)
    if isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value.strip())
        except ValueError as exc:
            raise ValueError(f"malformed time {value[:40]!r}") from exc
        if parsed.tzinfo is None:
            raise ValueError("time has no UTC offset")
        try:
            t_ms = round(parsed.timestamp() * 1000)
        except (OverflowError, ValueError) as exc:
            raise ValueError("time is before 2000-01-01") from exc
        if iso_floor_ms is not None and t_ms < iso_floor_ms:
            raise ValueError("time is before 2000-01-01")
        return t_ms
    raise ValueError("time is missing or of the wrong type")


def _parse_rr(value: Any) -> tuple[tuple[float, ...], int]:
    """RR intervals kept, and how many were dropped as impossible; 0 means "no interval" (some straps send it)."""
    if value is None:
        return (), 0
    if not isinstance(value, list | tuple):
        raise ValueError("rr_ms must be a list of numbers")
    if len(value) > MAX_RR_PER_SAMPLE:
        raise ValueError(f"more than {MAX_RR_PER_SAMPLE} RR intervals in one sample")
    out: list[float] = []
    dropped = 0
    for rr in value:
        if isinstance(rr, bool) or not isinstance(rr, int | float) or not math.isfinite(rr):
            raise ValueError("rr_ms must hold numbers")
        if rr == 0:
            continue
        if RR_MIN_MS <= rr <= RR_MAX_MS:
            out.append(float(rr))
        else:
            dropped += 1
    return tuple(out), dropped


def check_sample(item: Any, now_ms: int, future_tolerance_ms: int) -> tuple[CleanSample, int]:
    """One item against the ingest contract: the sample and its RR intervals dropped, or a ValueError saying why.

    This is the one definition of a valid sample: every faster path must agree with it
    (tests/service/test_ingest_verdicts.py).
    """
    if not isinstance(item, dict):
        raise ValueError("sample must be an object")
    t_ms = parse_time_ms(item.get("t"))
    if t_ms > now_ms + future_tolerance_ms:
        raise ValueError(f"time is more than {_tolerance_text(future_tolerance_ms)} in the future")
    contact = item.get("contact")
    if contact is not None and not isinstance(contact, bool):
        raise ValueError("contact must be true, false or null")
    bpm = item.get("bpm")
    if isinstance(bpm, bool) or not isinstance(bpm, int | float) or not math.isfinite(bpm) or bpm != int(bpm):
        raise ValueError("bpm must be a whole number")
    bpm = int(bpm)
    if bpm == 0 and contact is False:
        pass  # lost contact is stored, flagged, and never counted
    elif not BPM_MIN <= bpm <= BPM_MAX:
        raise ValueError(f"bpm {bpm} outside {BPM_MIN}-{BPM_MAX}")
    rr_ms, dropped = _parse_rr(item.get("rr_ms"))
    return CleanSample(t_ms=t_ms, bpm=bpm, rr_ms=rr_ms, contact=contact), dropped


def validate_sample(item: Any, now_ms: int, future_tolerance_ms: int) -> CleanSample:
    """check_sample without the count of dropped RR intervals."""
    return check_sample(item, now_ms, future_tolerance_ms)[0]


def _fast_path(item: Any, max_t_ms: int) -> CleanSample | None:
    """The common well-formed item, checked with plain comparisons; None sends it to check_sample.

    It accepts a subset of what check_sample accepts, with the same result, and never refuses anything.
    """
    if type(item) is not dict:
        return None
    t, bpm, contact, rr = item.get("t"), item.get("bpm"), item.get("contact"), item.get("rr_ms")
    if type(t) is not int or type(bpm) is not int or not (EPOCH_MS_FLOOR <= t <= max_t_ms):
        return None
    if not (BPM_MIN <= bpm <= BPM_MAX) or not (contact is None or contact is True or contact is False):
        return None
    if rr is None:
        return CleanSample(t, bpm, (), contact)
    if type(rr) is not list or len(rr) > MAX_RR_PER_SAMPLE:
        return None
    for value in rr:
        if (type(value) is not float and type(value) is not int) or not (RR_MIN_MS <= value <= RR_MAX_MS):
            return None
    return CleanSample(t, bpm, tuple(map(float, rr)), contact)


def validate_batch(items: Sequence[Any], now_ms: int, future_tolerance_ms: int) -> BatchVerdict:
    """Each item judged on its own by check_sample (the first of a repeated time kept)."""
    verdict = BatchVerdict()
    max_t_ms = now_ms + future_tolerance_ms
    for index, item in enumerate(items):
        sample, dropped = _fast_path(item, max_t_ms), 0
        if sample is None:
            try:
                sample, dropped = check_sample(item, now_ms, future_tolerance_ms)
            except ValueError as exc:
                verdict.rejected.append(Rejection(index, str(exc)))
                continue
        verdict.keep(sample, dropped)
    return verdict


class _WireBatch(msgspec.Struct):
    samples: list[CleanSample]


class _RawBatch(msgspec.Struct):
    samples: list[msgspec.Raw]


# The common, well-formed batch is parsed and checked in one strict pass by msgspec (no coercion: "1" is not
# a bpm, "yes" or 1 not a contact, 70.0 not a time; four times pydantic-core's speed on the same schema).
# A batch it does not take whole is split into its raw items, and each item is tried alone the same way; an
# item msgspec does not take goes to check_sample, which names the fault. So one odd item costs only itself,
# and every item gets the verdict check_sample would give it (tests/service/test_ingest_verdicts.py).
_FAST_BATCH = msgspec.json.Decoder(_WireBatch)
_RAW_BATCH = msgspec.json.Decoder(_RawBatch)
_FAST_ITEM = msgspec.json.Decoder(CleanSample)


class MalformedBatch(ValueError):
    """The body is not a JSON object with a list of samples."""


def parse_batch(body: bytes, now_ms: int, future_tolerance_ms: int, max_items: int) -> BatchVerdict:
    """A raw JSON body to a BatchVerdict (see validate_batch)."""
    try:
        return _parse_batch(body, now_ms, future_tolerance_ms, max_items)
    except RecursionError as exc:  # msgspec and json both recurse per level of nesting
        raise MalformedBatch("body is nested too deeply") from exc


def _parse_batch(body: bytes, now_ms: int, future_tolerance_ms: int, max_items: int) -> BatchVerdict:
    max_t_ms = now_ms + future_tolerance_ms
    try:
        checked = _FAST_BATCH.decode(body).samples
    except msgspec.DecodeError:  # ValidationError is one
        checked = None
    if checked is not None:
        if len(checked) > max_items:
            raise BatchTooLarge(max_items)
        if all(item.t_ms <= max_t_ms for item in checked):
            return _from_checked(checked)
    try:
        raw = _RAW_BATCH.decode(body).samples
    except msgspec.DecodeError:
        return _parse_document(body, now_ms, future_tolerance_ms, max_items)
    if len(raw) > max_items:
        raise BatchTooLarge(max_items)
    return _judge_raw_items(raw, now_ms, future_tolerance_ms)


def _parse_document(body: bytes, now_ms: int, future_tolerance_ms: int, max_items: int) -> BatchVerdict:
    """The body through the standard library, for the exact reason it is refused (or the odd document msgspec
    will not split, which validate_batch then judges)."""
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise MalformedBatch(f"body is not valid JSON: {str(exc)[:200]}") from exc
    if not isinstance(document, dict) or not isinstance(document.get("samples"), list):
        raise MalformedBatch("body must be an object with a list `samples`")
    if len(document["samples"]) > max_items:
        raise BatchTooLarge(max_items)
    return validate_batch(document["samples"], now_ms, future_tolerance_ms)


def _from_checked(items: list[CleanSample]) -> BatchVerdict:
    """Samples msgspec has checked, none in the future: the first of a repeated time kept."""
    if len({item.t_ms for item in items}) == len(items):
        return BatchVerdict(clean=items)
    verdict = BatchVerdict()
    for item in items:
        verdict.keep(item)
    return verdict


def _judge_raw_items(items: list[msgspec.Raw], now_ms: int, future_tolerance_ms: int) -> BatchVerdict:
    """Each raw item alone: msgspec's strict pass when it takes the item, else check_sample's verdict."""
    verdict = BatchVerdict()
    max_t_ms = now_ms + future_tolerance_ms
    decode = _FAST_ITEM.decode
    for index, raw in enumerate(items):
        try:
            sample: CleanSample | None = decode(raw)
        except msgspec.DecodeError:
            sample = None
        dropped = 0
        if sample is None or sample.t_ms > max_t_ms:
            try:
                sample, dropped = check_sample(json.loads(bytes(raw)), now_ms, future_tolerance_ms)
            except RecursionError:
                verdict.rejected.append(Rejection(index, "sample is nested too deeply"))
                continue
            except ValueError as exc:
                verdict.rejected.append(Rejection(index, str(exc)))
                continue
        verdict.keep(sample, dropped)
    return verdict


class BatchTooLarge(ValueError):
    def __init__(self, max_items: int) -> None:
        super().__init__(f"at most {max_items} samples per batch")
        self.max_items = max_items


def format_rr(rr_ms: tuple[float, ...]) -> str | None:
    return " ".join(map(repr, rr_ms)) if rr_ms else None


def parse_rr(text: str | None) -> list[float]:
    return [float(x) for x in text.split()] if text else []


_INSERT_SQL = {  # one row per parameter set, for executemany (SQLite: see _sqlite_insert_sql)
    "postgresql": "INSERT INTO samples (device_id, t_ms, user_id, bpm, rr_ms, contact) VALUES (%s, %s, %s, %s, %s, %s)"
    " ON CONFLICT (device_id, t_ms, user_id) DO NOTHING",
}
# On SQLite, rows go in multi-row statements of this many rows (fewer if the build allows fewer parameters).
# sqlite3's executemany steps once per row, letting go of the GIL and taking it back each time; with uploads
# parsing in other threads, every take-back waits for them, and it all happens inside the writer lock:
# 1,000 rows took 13 ms there instead of 2.4 (bench/ingest.py). Statements of a fixed size are prepared once
# per connection (sqlite3 caches them by text); only a batch's remainder gets a statement of its own size.
SQLITE_ROWS_PER_INSERT = 500
_COLUMNS = 6


@functools.cache
def _sqlite_insert_sql(rows: int) -> str:
    return (
        "INSERT INTO samples (device_id, t_ms, user_id, bpm, rr_ms, contact) VALUES "
        + ",".join(["(?,?,?,?,?,?)"] * rows)
        + " ON CONFLICT (device_id, t_ms, user_id) DO NOTHING"
    )


def _rr_text(rr_ms: tuple[float, ...]) -> str | None:
    """format_rr, with the common single interval formatted without join and map."""
    if not rr_ms:
        return None
    return repr(rr_ms[0]) if len(rr_ms) == 1 else format_rr(rr_ms)


@dataclass(frozen=True)
class SampleRows:
    """A batch's insert parameters, built before the insert: on SQLite the insert holds the process's one
    writer lock, and building 6,000 parameters in Python inside it held every other upload up for as long
    as the insert itself took (bench/ingest.py)."""

    dialect: str
    count: int
    params: list[tuple[object, ...]]  # PostgreSQL: one tuple a row; SQLite: one tuple a multi-row statement


def sample_rows(dialect: str, *, user_id: int, device_id: int, samples: Sequence[CleanSample]) -> SampleRows:
    """The insert parameters of ``samples`` for ``dialect`` (no database access: call it outside locks)."""
    if dialect != "sqlite":
        rows = [(device_id, s.t_ms, user_id, s.bpm, _rr_text(s.rr_ms), s.contact) for s in samples]
        return SampleRows(dialect, len(samples), rows)  # type: ignore[arg-type]
    statements: list[tuple[object, ...]] = []
    for start in range(0, len(samples), SQLITE_ROWS_PER_INSERT):
        params: list[object] = []
        for s in samples[start : start + SQLITE_ROWS_PER_INSERT]:
            params += (device_id, s.t_ms, user_id, s.bpm, _rr_text(s.rr_ms), s.contact)
        statements.append(tuple(params))
    return SampleRows(dialect, len(samples), statements)


def insert_rows(db: Session, rows: SampleRows) -> int:
    """Insert prepared rows, ignoring (device, t) already stored; returns how many rows were new.

    Driver-level statements (the ORM layer would cost more than the insert itself, bench/ingest.py): psycopg 3's
    executemany (pipelined, reporting the summed row count); on SQLite multi-row statements, whose row counts
    are summed (see SQLITE_ROWS_PER_INSERT).
    """
    if not rows.count:
        return 0
    connection = db.connection()
    if rows.dialect != "sqlite":
        return int(connection.exec_driver_sql(_INSERT_SQL[rows.dialect], rows.params).rowcount)  # type: ignore[arg-type]
    driver = cast(sqlite3.Connection, connection.connection.dbapi_connection)
    # A build allowing fewer host parameters than one full statement needs gets smaller statements.
    step = max(1, driver.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // _COLUMNS) * _COLUMNS
    stored = 0
    for params in rows.params:
        for start in range(0, len(params), step):
            part = params if len(params) <= step else params[start : start + step]
            stored += connection.exec_driver_sql(_sqlite_insert_sql(len(part) // _COLUMNS), part).rowcount
    return stored


def stored_conflicts(db: Session, device_id: int, samples: Sequence[CleanSample]) -> int:
    """How many of `samples` met a stored sample of the device at their time with another heart rate (the
    stored one stays: ingest is idempotent on device and time). Asked only when some were not inserted."""
    by_time = {s.t_ms: s.bpm for s in samples}
    conflicts = 0
    times = sorted(by_time)
    for start in range(0, len(times), 500):  # bound the IN list for every driver
        chunk = times[start : start + 500]
        rows = db.execute(
            select(Sample.t_ms, Sample.bpm).where(Sample.device_id == device_id, Sample.t_ms.in_(chunk))
        )
        conflicts += sum(1 for t_ms, bpm in rows if by_time[t_ms] != bpm)
    return conflicts


def store_samples(db: Session, *, user_id: int, device_id: int, samples: Sequence[CleanSample]) -> int:
    """Insert, ignoring (device, t) already stored; returns how many rows were new (see insert_rows)."""
    if not samples:
        return 0
    dialect = db.get_bind().dialect.name
    return insert_rows(db, sample_rows(dialect, user_id=user_id, device_id=device_id, samples=samples))
