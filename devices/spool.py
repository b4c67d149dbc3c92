"""Durable local queue of decoded samples awaiting upload: SQLite in WAL mode with synchronous=FULL.

Why SQLite: a committed transaction survives SIGKILL and (with synchronous=FULL) power loss, a failed one
leaves nothing behind, and a full disk is reported as SQLITE_FULL instead of a torn file.

Threads: every method holds one internal lock, so any number of threads may share a Spool (for instance the
recorder's writer thread and the uploader). Methods block on fsync: call them through `asyncio.to_thread`
from an event loop. Several processes may also open one file; SQLite's own locking serialises them.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import sqlite3
import struct
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType

from devices.errors import SpoolError, SpoolFull

__all__ = ["Spool", "SpooledSample"]

SCHEMA_VERSION = 1
BUSY_TIMEOUT_S = 10.0  # another process holding the write lock (only during its own short commit)
MIN_MAX_BYTES = 64 * 1024  # below this even the empty schema and one batch do not fit
DISK_FULL_MARGIN_BYTES = 1024 * 1024  # free space below this on SQLITE_FULL: the disk, not the bound
MAX_WAL_BYTES = 4 * 1024 * 1024  # checkpoint (and truncate the WAL) at this size, or smaller, see WAL_SHARE
MIN_WAL_PAGES = 16
ACK_RESERVE_BYTES = 1024 * 1024  # ballast file given back so acks can still commit on a full disk
_DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})
WAL_SHARE = 4  # the WAL is checkpointed at a quarter of max_bytes and of the reserve

# AUTOINCREMENT: ids are never reused, so a late or repeated ack can never delete a newer sample.
# STRICT: a float bpm or a str time is refused instead of stored as something the uploader cannot send.
_SCHEMA = """
CREATE TABLE IF NOT EXISTS samples (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    device_key TEXT NOT NULL,
    t_ms INTEGER NOT NULL,
    bpm INTEGER NOT NULL,
    rr_ms BLOB NOT NULL,
    contact INTEGER
) STRICT;
CREATE INDEX IF NOT EXISTS samples_by_device ON samples (device_key, id);
"""


@dataclass(frozen=True, slots=True)
class SpooledSample:
    """One decoded measurement with its receive time, as it waits for upload."""

    t_ms: int  # UTC epoch milliseconds
    bpm: int
    rr_ms: tuple[float, ...] = ()
    contact: bool | None = None


def _pack_rr(rr_ms: tuple[float, ...]) -> bytes:
    """RR intervals as little-endian float64: exact, so what is uploaded equals what was decoded."""
    return struct.pack(f"<{len(rr_ms)}d", *rr_ms)


def _unpack_rr(blob: bytes) -> tuple[float, ...]:
    """Inverse of `_pack_rr`."""
    return struct.unpack(f"<{len(blob) // 8}d", blob)


def _is_full(exc: sqlite3.Error) -> bool:
    """SQLITE_FULL, also as an extended code (the low byte is the primary code)."""
    return (getattr(exc, "sqlite_errorcode", 0) & 0xFF) == sqlite3.SQLITE_FULL


class Spool:
    """A durable FIFO of samples per device key (the strap's address)."""

    def __init__(self, path: str | os.PathLike[str], *, max_bytes: int | None = None,
                 reserve_bytes: int = ACK_RESERVE_BYTES) -> None:
        """Open or create the spool file.

        Args:
            path: the SQLite file; its directory must exist.
            max_bytes: bound on the stored data (the WAL adds at most a quarter); beyond it appends raise
                SpoolFull. None: the disk is the bound.
            reserve_bytes: size of `<path>-reserve`, a ballast file appends keep in place and a failing ack
                deletes: on a full disk, deleting rows still needs WAL space, or nothing could ever drain.
        Raises:
            ValueError: max_bytes below MIN_MAX_BYTES.
            SpoolError: the file cannot be opened as a spool.
        """
        if max_bytes is not None and max_bytes < MIN_MAX_BYTES:
            raise ValueError(f"max_bytes must be at least {MIN_MAX_BYTES}, got {max_bytes}")
        self.path = os.fspath(path)
        self.max_bytes = max_bytes
        self._reserve_path = self.path + "-reserve"
        self._reserve_bytes = reserve_bytes
        self._lock = threading.Lock()
        with contextlib.suppress(FileExistsError, OSError):  # a new spool is the owner's alone (SQLite gives
            os.close(os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))  # its WAL the same mode)
        try:
            self._db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None,
                                       check_same_thread=False)
        except sqlite3.Error as exc:
            raise SpoolError(f"cannot open spool {self.path}: {exc}") from exc
        try:
            self._configure()
        except sqlite3.Error as exc:
            self._db.close()
            raise SpoolError(f"cannot open spool {self.path}: {exc}") from exc
        with contextlib.suppress(SpoolFull):  # a full disk still lets us open, read and ack
            self._ensure_reserve()

    def _configure(self) -> None:
        """WAL + FULL sync for durability, the bounds, and the schema."""
        # Only takes effect on a new file, before anything else: lets acked space go back to the file system.
        self._db.execute("PRAGMA auto_vacuum=INCREMENTAL")
        mode = self._db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if mode != "wal":
            raise sqlite3.OperationalError(f"journal_mode is {mode}, not wal")
        self._db.execute("PRAGMA synchronous=FULL")
        page_size = self._db.execute("PRAGMA page_size").fetchone()[0]
        if self.max_bytes is not None:
            # SQLite itself refuses to grow the database past this and answers SQLITE_FULL, atomically.
            self._db.execute(f"PRAGMA max_page_count={self.max_bytes // page_size}")
        # A short WAL keeps the file pair near max_bytes, and lets the reserve cover a checkpoint's growth.
        wal_bytes = min([MAX_WAL_BYTES]
                        + [b // WAL_SHARE for b in (self.max_bytes, self._reserve_bytes) if b])
        wal_pages = max(MIN_WAL_PAGES, wal_bytes // page_size)
        self._db.execute(f"PRAGMA wal_autocheckpoint={wal_pages}")
        self._db.execute(f"PRAGMA journal_size_limit={wal_pages * page_size}")
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version not in (0, SCHEMA_VERSION):
            raise sqlite3.DatabaseError(f"spool schema version {version}, expected {SCHEMA_VERSION}")
        self._db.executescript(f"BEGIN; {_SCHEMA} PRAGMA user_version={SCHEMA_VERSION}; COMMIT;")

    def append(self, device_key: str, samples: Sequence[SpooledSample]) -> None:
        """Store samples; they are on disk (fsynced) when this returns.

        Raises:
            SpoolFull: the bound or the disk is reached; none of `samples` was stored, nothing else changed.
        """
        rows = [(device_key, s.t_ms, s.bpm, _pack_rr(tuple(s.rr_ms)),
                 None if s.contact is None else int(s.contact)) for s in samples]
        if not rows:
            return
        with self._lock:
            self._ensure_reserve()
            self._write("INSERT INTO samples (device_key, t_ms, bpm, rr_ms, contact) VALUES (?, ?, ?, ?, ?)",
                        rows)

    def pending(self, device_key: str, limit: int = 1000) -> list[tuple[int, SpooledSample]]:
        """Up to `limit` samples of one device, oldest (first appended) first, each with its row id to ack."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, t_ms, bpm, rr_ms, contact FROM samples WHERE device_key = ? ORDER BY id LIMIT ?",
                (device_key, limit),
            ).fetchall()
        return [(row_id, SpooledSample(t_ms, bpm, _unpack_rr(rr), None if contact is None else bool(contact)))
                for row_id, t_ms, bpm, rr, contact in rows]

    def ack(self, ids: Sequence[int]) -> None:
        """Remove samples the service acknowledged; unknown or already acked ids are ignored."""
        if not ids:
            return
        rows = [(int(i),) for i in ids]
        with self._lock:
            try:
                self._write("DELETE FROM samples WHERE id = ?", rows)
            except SpoolFull:
                # Deleting needs WAL space too: give back the ballast, retry, then shrink the WAL.
                if not self._release_reserve():
                    raise
                self._write("DELETE FROM samples WHERE id = ?", rows)
                self._shrink()

    def depth(self, device_key: str | None = None) -> int:
        """Samples waiting, for one device or all."""
        with self._lock:
            if device_key is None:
                return self._db.execute("SELECT count(*) FROM samples").fetchone()[0]
            return self._db.execute("SELECT count(*) FROM samples WHERE device_key = ?",
                                    (device_key,)).fetchone()[0]

    def device_keys(self) -> list[str]:
        """Devices with samples waiting, sorted."""
        with self._lock:
            rows = self._db.execute("SELECT DISTINCT device_key FROM samples ORDER BY device_key").fetchall()
        return [key for (key,) in rows]

    def close(self) -> None:
        """Close the file; idempotent. Everything appended is already durable."""
        with self._lock:
            self._db.close()

    def __enter__(self) -> Spool:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def _write(self, sql: str, rows: Sequence[tuple[object, ...]]) -> None:
        """Run one statement over rows in a single transaction; all or nothing. Caller holds the lock."""
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany(sql, rows)
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise
        except sqlite3.IntegrityError as exc:  # STRICT refused a value: the caller's bug, not the disk's
            raise ValueError(f"sample cannot be stored: {exc}") from exc
        except sqlite3.Error as exc:
            if _is_full(exc):
                raise SpoolFull(self.path, self.max_bytes, disk_full=self._disk_is_full()) from exc
            raise SpoolError(f"spool {self.path}: {exc}") from exc

    def _ensure_reserve(self) -> None:
        """Keep the ballast file in place before growing the spool; no room for it means the disk is full."""
        if not self._reserve_bytes:
            return
        with contextlib.suppress(FileNotFoundError):
            if os.path.getsize(self._reserve_path) >= self._reserve_bytes:
                return
        self._shrink()  # hand back WAL and acked space first
        try:
            with open(self._reserve_path, "wb") as reserve:
                reserve.write(bytes(self._reserve_bytes))  # real blocks, not a sparse hole
                reserve.flush()
                os.fsync(reserve.fileno())
        except OSError as exc:
            with contextlib.suppress(FileNotFoundError):
                os.remove(self._reserve_path)
            if exc.errno in _DISK_FULL_ERRNOS:
                raise SpoolFull(self.path, self.max_bytes, disk_full=True) from exc
            raise SpoolError(f"cannot write {self._reserve_path}: {exc}") from exc

    def _release_reserve(self) -> bool:
        """Delete the ballast file; False when there was none to give back."""
        try:
            os.remove(self._reserve_path)
        except FileNotFoundError:
            return False
        return True

    def _shrink(self) -> None:
        """Give acked pages and the WAL back to the file system; best effort, retried at the next chance."""
        with contextlib.suppress(sqlite3.Error):
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
            self._db.execute("PRAGMA incremental_vacuum").fetchall()
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()

    def _disk_is_full(self) -> bool:
        """Tell the disk from our own bound, for a message the user can act on."""
        if self.max_bytes is None:
            return True
        return shutil.disk_usage(os.path.dirname(os.path.abspath(self.path))).free < DISK_FULL_MARGIN_BYTES
