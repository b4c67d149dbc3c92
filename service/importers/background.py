"""Imports as background jobs: the upload is stored in the data directory, a row queues it, one worker runs it.

The worker costs nothing while idle: it sleeps on an asyncio.Event that `submit` sets, never polling the
database. At start it takes up what a killed process left (`recover`): a re-run is safe because samples are
idempotent on (device, t). A job is claimed with an UPDATE ... WHERE state = 'queued' (after a SELECT ... FOR
UPDATE SKIP LOCKED on PostgreSQL), so several processes on one database never run one job twice. The import
itself runs in a thread, off the event loop; at shutdown it stops after its current batch and is queued again.
A job belongs to the node (host and data directory) holding its upload: only that node's processes run it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Awaitable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from service.config import Settings
from service.core.models import ImportJob, User
from service.errors import ChinUpError, TooManyRequests
from service.importers import ImportCounts, ImportFile
from service.importers.upload import ImportOptions, import_upload
from service.web.context import AppContext

log = logging.getLogger(__name__)
PENDING = ("queued", "running")

UPLOADS_DIR = "imports"  # inside the data directory, the owner's alone
MAX_STARTS = 3  # a job whose process died this many times while running it is given up
STALE_S = 120.0  # PostgreSQL: a running job without a heartbeat for this long belongs to a dead process
HEARTBEAT_S = 30.0  # PostgreSQL: how often a running job says it is alive, between progress writes
PROGRESS_EVERY_S = 1.0  # progress is written at most this often
COPY_CHUNK = 1 << 20
MAX_PENDING_PER_USER = 5  # queued or running at once: a user cannot fill the data directory with uploads


class _Halted(Exception):
    """The service is stopping: the job goes back to the queue, not counted as a start."""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def node_name(settings: Settings) -> str:
    """Where this process keeps uploads: the host and its data directory. Several processes or machines may
    share one PostgreSQL database, but a job can only run where its upload is."""
    return f"{socket.gethostname()}:{settings.data_dir.resolve()}"[:255]


def save_upload(src: BinaryIO, uploads: Path) -> tuple[str, int]:
    """Copy an upload to a new 0600 file in `uploads` in chunks (memory flat with its size): name and bytes."""
    uploads.mkdir(mode=0o700, parents=True, exist_ok=True)
    name = f"{uuid.uuid4().hex}.upload"
    fd = os.open(uploads / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            src.seek(0)
            shutil.copyfileobj(src, out, COPY_CHUNK)
            return name, out.tell()
    except BaseException:
        (uploads / name).unlink(missing_ok=True)
        raise


class _Progress:
    """Bytes read and samples stored, written at most once a second and never lower than before."""

    def __init__(self, db: Session, job: ImportJob, raw: BinaryIO) -> None:
        self.db, self.job_id, self.raw = db, job.id, raw
        self.bytes_read, self.stored = job.bytes_read, job.samples_stored
        self.members_stored = 0  # stored samples of a zip's earlier members
        self.current: tuple[int, int] = (0, 0)  # (id of the member's counts, its stored samples)
        self.written_at = -PROGRESS_EVERY_S  # the first batch is written at once: a client sees the job move

    def batch(self, counts: ImportCounts, halt: threading.Event) -> None:
        if halt.is_set():
            raise _Halted
        if id(counts) != self.current[0]:
            self.members_stored += self.current[1]
        self.current = (id(counts), counts.accepted + counts.duplicates)
        self.bytes_read = max(self.bytes_read, self.raw.tell())
        self.stored = max(self.stored, self.members_stored + self.current[1])
        if time.monotonic() - self.written_at >= PROGRESS_EVERY_S:
            self.write()

    def write(self) -> None:
        self.db.execute(
            update(ImportJob)
            .where(ImportJob.id == self.job_id, ImportJob.state == "running")
            .values(bytes_read=self.bytes_read, samples_stored=self.stored, heartbeat_at=_now())
        )
        self.db.commit()
        self.written_at = time.monotonic()


class ImportJobs:
    """The queue's one worker per process, owned by the app's lifespan; `submit` is called by requests."""

    def __init__(self, ctx: AppContext, loop: asyncio.AbstractEventLoop) -> None:
        self.ctx, self.loop = ctx, loop
        self.uploads, self.node = ctx.settings.data_dir / UPLOADS_DIR, node_name(ctx.settings)
        self._wake = asyncio.Event()
        self._halt = threading.Event()
        # SQLite is served by one process only (`chinup serve` refuses more), so a running row at start is dead.
        self.one_process = ctx.sessions.kw["bind"].dialect.name == "sqlite"

    def submit(
        self, db: Session, user_id: int, src: BinaryIO, name: str, options: ImportOptions
    ) -> ImportJob:
        """Store the upload, queue its job and wake the worker (from a request's thread).

        Raises:
            TooManyRequests: the user has MAX_PENDING_PER_USER imports queued or running already.
        """
        pending = select(func.count()).where(ImportJob.user_id == user_id, ImportJob.state.in_(PENDING))
        if (db.scalar(pending) or 0) >= MAX_PENDING_PER_USER:
            raise TooManyRequests(
                f"{MAX_PENDING_PER_USER} of your imports are queued or running: wait for one to end"
            )
        path, size = save_upload(src, self.uploads)
        job = ImportJob(
            user_id=user_id, state="queued", file_name=name[:255], path=path, node=self.node, bytes_total=size,
            options=asdict(options), bytes_read=0, samples_stored=0, attempts=0,
        )  # fmt: skip
        try:
            db.add(job)
            db.commit()
        except BaseException:
            (self.uploads / path).unlink(missing_ok=True)
            raise
        self.loop.call_soon_threadsafe(self._wake.set)
        return job

    async def run(self, stop: asyncio.Event) -> None:
        """Take up what a killed process left, then run queued jobs one at a time, sleeping while none is."""
        await self._guarded(asyncio.to_thread(self.recover))
        while not stop.is_set():
            self._wake.clear()  # before the claim: a job submitted after it sets the event again
            job_id = await self._guarded(asyncio.to_thread(self.claim))
            if job_id is None:
                await _first(self._wake.wait(), stop.wait())
                if not stop.is_set():
                    await self._guarded(asyncio.to_thread(self.recover))
                continue
            running = asyncio.create_task(asyncio.to_thread(self.execute, job_id))
            await _first(asyncio.shield(running), stop.wait())
            if not running.done():
                self._halt.set()  # the thread stops after its current batch
            await self._guarded(running)

    async def _guarded(self, work: Any) -> Any:
        """A database that is away must not end the app's task group: log it and wait for the next wake."""
        try:
            return await work
        except Exception:
            log.exception("background imports: database work failed")
            return None

    def recover(self) -> int:
        """Queue again the jobs a dead process left running: on SQLite all (one process only), on PostgreSQL
        those without progress for STALE_S (a live process writes it at least every batch)."""
        with self.ctx.sessions() as db:
            left = (ImportJob.state == "running") & (ImportJob.node == self.node)
            if not self.one_process:
                stale = _now() - dt.timedelta(seconds=STALE_S)
                left &= or_(ImportJob.heartbeat_at.is_(None), ImportJob.heartbeat_at < stale)
            requeued = db.execute(update(ImportJob).where(left).values(state="queued")).rowcount  # type: ignore[attr-defined]
            db.commit()
        if requeued:
            log.warning(
                "background imports: %d job(s) left running by a stopped process queued again", requeued
            )
        return int(requeued)

    def claim(self) -> int | None:
        """The oldest queued job, now running under this worker; a job started MAX_STARTS times fails."""
        with self.ctx.sessions() as db:
            while True:
                query = select(ImportJob.id, ImportJob.attempts, ImportJob.path).where(
                    ImportJob.state == "queued", ImportJob.node == self.node
                )
                row = db.execute(
                    query.order_by(ImportJob.id).limit(1).with_for_update(skip_locked=True)
                ).first()
                if row is None:
                    db.commit()
                    return None
                taken = update(ImportJob).where(ImportJob.id == row.id, ImportJob.state == "queued")
                if row.attempts >= MAX_STARTS:
                    reason = (
                        f"the import was started {row.attempts} times and the service stopped each time "
                        "before it ended; given up"
                    )
                    db.execute(taken.values(state="failed", finished_at=_now(), error=reason))
                    db.commit()
                    (self.uploads / row.path).unlink(missing_ok=True)
                    continue
                now = _now()
                claimed = db.execute(
                    taken.values(
                        state="running", attempts=ImportJob.attempts + 1, started_at=now, heartbeat_at=now
                    )
                ).rowcount  # type: ignore[attr-defined]
                db.commit()
                if claimed == 1:
                    return int(row.id)

    def execute(self, job_id: int) -> None:
        """Run one claimed job in this thread and record its outcome; the upload is removed once it ends."""
        with self.ctx.sessions() as db:
            job = db.get(ImportJob, job_id)
            user = db.get(User, job.user_id) if job is not None else None
            if job is None or user is None:
                return
            file_path, options = self.uploads / job.path, ImportOptions(**job.options)
            try:
                with self._heartbeat(job_id), file_path.open("rb") as raw:
                    progress = _Progress(db, job, raw)

                    def opened(f: ImportFile) -> None:
                        db.execute(
                            update(ImportJob).where(ImportJob.id == job_id).values(format=f.format[:32])
                        )
                        db.commit()

                    answer = import_upload(
                        db, self.ctx, user, raw, job.file_name, options, on_open=opened,
                        on_batch=lambda counts: progress.batch(counts, self._halt),
                    )  # fmt: skip
            except _Halted:
                db.rollback()
                db.execute(
                    update(ImportJob)
                    .where(ImportJob.id == job_id)
                    .values(state="queued", attempts=ImportJob.attempts - 1)
                )
                db.commit()
                return
            except ChinUpError as exc:
                db.rollback()
                self._finish(db, job_id, file_path, state="failed", error=exc.detail)
            except FileNotFoundError:
                db.rollback()
                self._finish(db, job_id, file_path, state="failed", error="the uploaded file is gone")
            except Exception as exc:
                log.exception("background import %d failed", job_id)
                db.rollback()
                self._finish(
                    db, job_id, file_path, state="failed", error=f"the import failed: {type(exc).__name__}"
                )
            else:
                stored = answer.stored + answer.duplicates
                report = answer.model_dump(mode="json")
                self._finish(db, job_id, file_path, state="done", report=report, samples_stored=stored)

    @contextmanager
    def _heartbeat(self, job_id: int) -> Iterator[None]:
        """On PostgreSQL, the job's heartbeat every HEARTBEAT_S from its own thread and session: strict mode's
        first pass or a long restore write no progress, and another process must not take the job as dead."""
        if self.one_process:  # nobody else to tell
            yield
            return
        done = threading.Event()

        def beat() -> None:
            while not done.wait(HEARTBEAT_S):
                try:
                    with self.ctx.sessions() as db:
                        alive = update(ImportJob).where(ImportJob.id == job_id, ImportJob.state == "running")
                        db.execute(alive.values(heartbeat_at=_now()))
                        db.commit()
                except Exception:
                    log.warning("background import %d: heartbeat not written", job_id, exc_info=True)

        thread = threading.Thread(target=beat, name=f"import {job_id} heartbeat", daemon=True)
        thread.start()
        try:
            yield
        finally:
            done.set()
            thread.join()

    def _finish(self, db: Session, job_id: int, file_path: Path, **values: Any) -> None:
        now = _now()
        job = update(ImportJob).where(ImportJob.id == job_id, ImportJob.state == "running")
        if values.get("state") == "done":
            values["bytes_read"] = ImportJob.bytes_total
        db.execute(job.values(finished_at=now, heartbeat_at=now, **values))
        db.commit()
        file_path.unlink(missing_ok=True)


async def _first(*waits: Awaitable[Any]) -> None:
    """Until the first of `waits` ends; the others are cancelled."""
    tasks = [asyncio.ensure_future(w) for w in waits]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            if not task.done():
                task.cancel()
