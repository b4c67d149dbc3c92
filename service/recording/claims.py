"""Which process records a paired strap: exactly one, across every `chinup serve` sharing the database.

A strap accepts one central at a time and its samples must be uploaded once, so only the holder of the
strap's claim runs its recorder; the others wait, retrying, and one takes over within CLAIM_RETRY_S of the
holder's death. On PostgreSQL a claim is a session-level advisory lock on one connection this process keeps
for its claims: PostgreSQL releases a dead process's locks as soon as its connection drops (a SIGKILL, a
machine gone), with no lease to expire. On SQLite, the embedded single-process default, this process holds
every claim.
"""

from __future__ import annotations

import asyncio
import logging

import psycopg

from service.pipeline.live_bus import CONNECT_OPTIONS, libpq_url

log = logging.getLogger(__name__)

CLAIM_RETRY_S = 2.0  # a waiting process retries this often: the takeover time after a holder dies
LOCK_SPACE = 0x43485550  # "CHUP": the advisory-lock namespace of strap claims (the device id is the key)


class LocalClaims:
    """One process (SQLite): every claim is granted to it."""

    def __init__(self) -> None:
        self._held: set[int] = set()

    async def try_claim(self, device_id: int) -> bool:
        self._held.add(device_id)
        return True

    async def still_held(self, device_id: int) -> bool:
        return device_id in self._held

    async def release(self, device_id: int) -> None:
        self._held.discard(device_id)

    async def close(self) -> None:
        self._held.clear()


class PostgresClaims:
    """Claims as advisory locks on one connection; losing the connection loses every claim (and PostgreSQL
    frees them for the other processes), which `still_held` reports so the recorder stops."""

    def __init__(self, database_url: str) -> None:
        self._url = libpq_url(database_url)
        self._conn: psycopg.AsyncConnection | None = None
        self._held: set[int] = set()
        self._claiming: dict[int, asyncio.Future[bool | None]] = {}
        self._lock = asyncio.Lock()  # one statement at a time on the connection, and one (re)connect

    async def _connection(self) -> psycopg.AsyncConnection:
        if self._conn is None or self._conn.closed:
            self._held.clear()  # a new session holds nothing
            self._conn = await psycopg.AsyncConnection.connect(self._url, autocommit=True, **CONNECT_OPTIONS)
        return self._conn

    async def _query(self, sql: str, device_id: int) -> bool | None:
        """The statement's boolean answer; None when PostgreSQL cannot be reached (the connection is dropped,
        and the next query opens a new session, which holds none of the old claims)."""
        async with self._lock:
            try:
                conn = await self._connection()
                row = await (await conn.execute(sql, (LOCK_SPACE, device_id))).fetchone()
            except (psycopg.Error, OSError) as exc:
                log.warning("strap claims cannot reach PostgreSQL (%s)", type(exc).__name__)
                await self._drop(keep_held=True)
                return None
            return bool(row and row[0])

    async def try_claim(self, device_id: int) -> bool:
        """Take the strap's claim if no process holds it; False when another does (or PostgreSQL is away)."""
        if device_id in self._held and await self.still_held(device_id):
            return True
        query = asyncio.ensure_future(self._query("SELECT pg_try_advisory_lock(%s, %s)", device_id))

        def keep(done: asyncio.Future[bool | None]) -> None:  # even if our caller was cancelled meanwhile
            if not done.cancelled() and done.exception() is None and done.result():
                self._held.add(device_id)

        query.add_done_callback(keep)
        self._claiming[device_id] = query
        query.add_done_callback(lambda _done: self._claiming.pop(device_id, None))
        return bool(await asyncio.shield(query))

    async def still_held(self, device_id: int) -> bool:
        """Whether this process still holds the claim. While PostgreSQL cannot be reached the answer is yes:
        nobody can take the claim then, and the strap goes on into the spool; once it answers again the new
        session holds nothing, and the recorder stops to claim the strap anew."""
        if device_id not in self._held:
            return False
        held = await self._query(
            "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
            " AND classid = %s::bigint::oid AND objid = %s::bigint::oid AND objsubid = 2 AND granted)",
            device_id,
        )
        if held is None:
            return True
        if not held:
            self._held.discard(device_id)
        return held

    async def release(self, device_id: int) -> None:
        claiming = self._claiming.get(device_id)
        if claiming is not None:  # a claim asked for by a recorder cancelled meanwhile: wait for its answer
            await asyncio.wait({claiming})
        if device_id in self._held:
            self._held.discard(device_id)
            await self._query("SELECT pg_advisory_unlock(%s, %s)", device_id)

    async def _drop(self, *, keep_held: bool = False) -> None:
        conn, self._conn = self._conn, None
        if not keep_held:
            self._held.clear()
        if conn is not None:
            try:
                await conn.close()
            except (psycopg.Error, OSError):
                pass

    async def close(self) -> None:
        """Give every claim back (closing the session frees its locks at once)."""
        async with self._lock:
            await self._drop()


StrapClaims = LocalClaims | PostgresClaims
