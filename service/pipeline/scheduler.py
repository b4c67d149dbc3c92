"""Keeps what the dashboard reads current as samples arrive, touching only what new samples change.

The one owner of the analysis' queues, debounce, locks and background tasks; the work itself is stateless
functions it calls, which never call back: minutes (service.pipeline.minutes), day totals and the day's
slow analysis (service.pipeline.days), history recomputes and the profile (service.pipeline.history).

Fast path, on every ingest: the clock minutes near every new sample are recomputed from raw samples (with
enough context for the cleaning to decide as it would over the whole history) and the touched local days
are re-totalled from their stored minutes. A batch is reduced to the spans its samples cover (neighbours
closer than the cleaning's reach share a span), so a batch of a whole workout, a month or one sample each
costs what its samples cost, never the time between them. Slow path, per user-day: sessions, recovery,
resting HR and HRV, once the user's uploads have been quiet for `quiet_s` (for a strap uploading live, for
1.5 times the span its last batch covered: a strap posting 5 s batches is not quiet between them), and at
the latest `debounce_s` after the day was first touched while uploads keep coming. A change of
profile recomputes the user's history in a task of its own, so other users' minutes keep following ingest.

Locks: `_state` guards the queues only, never work. A user's lock orders that user's updates (one read,
computed and written before the next reads), so work for one user never interleaves. SQLite's writer lock
(service.core.db.writer_lock, process-wide) is held only to write: samples are read and numpy computes
before it is taken, so other users' uploads are stored meanwhile.

Several processes on one PostgreSQL (`chinup serve --workers N`, or several machines): a user's lock is
also a PostgreSQL advisory lock, so two processes never interleave one user's updates either; the owed
work is the analysis_tasks table, which every process reads (under the user's lock) for the users it
counts, so tasks another process has counted are not counted again; what a killed process owed is adopted
by the others after ORPHAN_AFTER_S (looked for every ADOPT_EVERY_S). Analysis commits do not wait for the
disk (synchronous_commit off: recomputable from the samples, which are flushed before they are acknowledged).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import cast

import numpy as np
from sqlalchemy import Connection, Engine, delete, func, insert, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from service.core import localtime
from service.core.db import writer_lock
from service.core.models import AnalysisTask, User
from service.pipeline import days as day_work
from service.pipeline import history, minutes
from service.pipeline.ingest import CleanSample
from service.pipeline.live import LiveHub
from service.pipeline.minutes import MARGIN_S, Span, merge_spans, profile_for, sample_spans

log = logging.getLogger(__name__)

# Minutes and day totals (the ring on the Today page) follow ingest within this; sessions and HRV
# within the configured debounce.
FAST_INTERVAL_S = 0.5
# New samples are counted this soon after they are stored: the counting loop looks for them this often (a
# fixed 0.5 s tick made a short upload wait for the tick longer than its counting took, bench/ingest.py).
POLL_S = 0.05
MAX_ATTEMPTS = 3  # work failing on its data is retried this often, with backoff, then parked
RETRY_BASE_S, RETRY_CAP_S = 1.0, 60.0  # backoff between attempts; a database outage is retried for ever
_TASKS_INSERT = AnalysisTask.__table__.insert()  # type: ignore[attr-defined]
USER_LOCK_SPACE = 0x43485551  # the advisory-lock namespace of users' analysis (the user id is the key)
ORPHAN_AFTER_S = 30.0  # analysis owed this long, by whichever process took the upload, is anyone's to do
ADOPT_EVERY_S = 10.0


# A batch whose newest sample is this recent is a strap uploading live (as LIVE_MAX_AGE_MS in
# service.pipeline.live): its next batch follows after about the time this one covers.
LIVE_BATCH_MAX_AGE_MS = 30_000
# Uploads count as quiet after this many times a live strap's batch interval without one.
QUIET_BATCHES = 1.5


def expected_gap_s(samples: Sequence[CleanSample], now_ms: float) -> float:
    """How long after this batch a live strap's next one is due, QUIET_BATCHES times over; 0 when it is not
    live (a catch-up after an outage, an import: nothing more need follow).

    A recorder uploads what it recorded since its last upload, so a live batch covering 5 s of samples
    is followed by the next about 5 s later. The slow analysis waits for uploads to be quiet for at least
    this long: with a fixed second, a strap posting 5 s batches was "quiet" after every one of them and
    each batch paid for its day's whole sessions and HRV (bench/load.py: 200 straps, 60 % of the analysis).
    """
    newest = max(s.t_ms for s in samples)
    if newest < now_ms - LIVE_BATCH_MAX_AGE_MS:
        return 0.0
    covered_s = (newest - min(s.t_ms for s in samples)) / 1000.0 + 1.0  # a 1 Hz strap: n samples, n seconds
    return QUIET_BATCHES * covered_s


@dataclass
class Failure:
    """Work that failed for one user: what, since when, how often; shown by /health until it succeeds."""

    user_id: int
    what: str
    since: dt.datetime
    attempts: int = 1
    error: str = ""


class Rollups:
    """The scheduler of the incremental analysis: fed by ingest, run by the app lifespan's background tasks
    (run_forever, ended by its `stop` event), drained at shutdown."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        live: LiveHub,
        *,
        debounce_s: float = 10.0,
        quiet_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sessions = sessions
        self._live = live
        self.debounce_s = debounce_s
        self.quiet_s = quiet_s
        self._clock = clock
        self._state = threading.Lock()  # guards every queue below
        self._dirty: dict[int, list[Span]] = {}  # user -> spans of samples stored since the last update
        self._counting: dict[int, list[Span]] = {}  # user -> spans being counted right now
        self._last_touch: dict[int, float] = {}  # user -> clock of their newest upload
        # user -> how long after their newest upload a live strap's next one is due (0: not live)
        self._next_batch_s: dict[int, float] = {}
        self._pending: dict[int, dict[dt.date, float]] = {}  # user -> day -> clock when first touched
        self._analysing: set[tuple[int, dt.date]] = set()
        self._history: dict[int, str] = {}  # user -> "history" (recompute everything) or "totals" (targets)
        self._history_running: set[int] = set()
        self.failures: dict[tuple[int, str], Failure] = {}
        self._retries: list[tuple[float, Callable[[], None]]] = []  # (clock when due, what to do again)
        self._user_locks: dict[int, threading.Lock] = {}
        with sessions() as db:  # another process may share the database only on PostgreSQL
            self._engine = cast(Engine, db.get_bind())
            self._shared = self._engine.dialect.name == "postgresql"
        self._adopted_at = -np.inf

    @property
    def inline(self) -> bool:
        """Analysis at once in the caller (debounce 0): for generating demo history and for benchmarks."""
        return self.debounce_s <= 0

    @contextlib.contextmanager
    def _lock(self, user_id: int) -> Iterator[Connection | None]:
        """The user's lock: in this process, and on PostgreSQL across every process of the database.

        On PostgreSQL it yields the connection holding the advisory lock: what the caller writes on it (the
        owed tasks it has done) is committed before the lock is let go, so the next holder, in whichever
        process, never sees as owed what was just counted. None on SQLite (one process: the in-process lock
        is enough).
        """
        with self._state:
            lock = self._user_locks.setdefault(user_id, threading.Lock())
        with lock:
            if not self._shared:
                yield None
                return
            with self._engine.connect() as conn:  # one connection throughout: the lock is its session's
                conn.execute(select(func.pg_advisory_lock(USER_LOCK_SPACE, user_id)))
                conn.commit()
                try:
                    yield conn
                    conn.commit()
                except BaseException:
                    conn.rollback()
                    raise
                finally:
                    conn.execute(select(func.pg_advisory_unlock(USER_LOCK_SPACE, user_id)))
                    conn.commit()

    def _lazy_commit(self, db: Session | Connection) -> None:
        """On PostgreSQL, this transaction's commit does not wait for its WAL to reach the disk.

        Only for what the analysis writes, which is derived from stored samples and written again from them:
        a crash loses at most the last fraction of a second of such commits, and loses them in commit order,
        so minutes lost with their tasks' deletion are counted again at the next start (recover). Uploads keep
        waiting for the disk (a sample is durable before it is acknowledged); the analysis' commits, about as
        many as theirs, no longer queue for the same flushes.
        """
        if self._shared:
            db.execute(text("SET LOCAL synchronous_commit TO OFF"))

    def adopt_orphans(self, *, force: bool = False) -> int:
        """On a shared database: queue the users whose analysis has been owed for ORPHAN_AFTER_S (the process
        that took their upload died, or has not got to it); returns the users adopted. Their work is then
        done here like any other (and is idempotent should its first process still do it too)."""
        now = self._clock()
        if not self._shared or (not force and now - self._adopted_at < ADOPT_EVERY_S):
            return 0
        self._adopted_at = now
        owed_before = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=ORPHAN_AFTER_S)
        with self._sessions() as db:
            rows = db.execute(
                select(AnalysisTask.user_id, AnalysisTask.kind)
                .where(AnalysisTask.created_at < owed_before, AnalysisTask.kind == "minutes")
                .distinct()
            ).all()  # fmt: skip
        adopted = set()
        with self._state:
            for user_id, kind in rows:
                if any(f.user_id == user_id for f in self.failures.values()):
                    continue  # parked here already: retried by its own backoff
                # Minutes only: a history recompute starts by clearing the user's minutes, so one another
                # process is still running (they can take minutes) must not be started again here; what a
                # dead process owed of it is taken up when it starts again (recover).
                if kind == "minutes" and user_id not in self._counting:
                    self._dirty.setdefault(user_id, [])
                    adopted.add(user_id)
        if adopted:
            log.info("adopted the owed analysis of %d user(s)", len(adopted))
        return len(adopted)

    # -- fast path ---------------------------------------------------------------------------------
    def note_ingest(
        self, db: Session, user_id: int, samples: Sequence[CleanSample], spans: list[Span] | None = None
    ) -> list[Span]:
        """In the ingest transaction, before its commit: the analysis these samples are owed, as rows.

        So a process killed between the answer and the analysis loses nothing: the next start takes the
        rows up (recover). Returns the spans (``sample_spans``, passed in by a caller that computed them
        outside SQLite's writer lock), for on_ingest after the commit. A Core insert: through the ORM it
        cost a quarter of what the batch's own samples did.
        """
        spans = sample_spans(samples) if spans is None else spans
        if spans and not self.inline:
            rows = [{"user_id": user_id, "kind": "minutes", "lo_ms": round(lo * 1000), "hi_ms": round(hi * 1000)}
                    for lo, hi in spans]  # fmt: skip
            db.connection().execute(_TASKS_INSERT, rows)
        return spans

    def on_ingest(
        self, user_id: int, samples: Sequence[CleanSample], spans: list[Span] | None = None
    ) -> None:
        """New samples stored: minutes and day totals follow within FAST_INTERVAL_S (at once when inline).

        Every sample's neighbourhood is recomputed, whatever the batch spans; batches arriving together are
        coalesced, so a strap uploading every second costs one update per interval rather than one per batch.
        """
        if not samples:
            return
        spans = spans if spans is not None else sample_spans(samples)
        if self.inline:
            self._update_spans(user_id, spans)
            return
        next_batch_s = expected_gap_s(samples, time.time() * 1000)
        with self._state:
            self._dirty.setdefault(user_id, []).extend(spans)
            self._last_touch[user_id] = self._clock()
            self._next_batch_s[user_id] = next_batch_s

    def _update_spans(
        self, user_id: int, spans: Sequence[Span], *, publish: bool = True, locked: bool = False
    ) -> None:
        for lo_s, hi_s in merge_spans(spans):
            self.update_range(user_id, lo_s, hi_s, publish=publish, locked=locked)

    def run_dirty(self) -> int:
        """Bring minutes and days up to date for everything ingested since the last call; returns the users
        counted (not those whose samples another process had counted already)."""
        with self._state:
            dirty, self._dirty = self._dirty, {}
            self._counting.update(dirty)
        # One process: its owed tasks are read for all users at once. Several: per user, under the user's
        # lock (_count_user), so that what another process has counted meanwhile is not counted again.
        owed = self._owed_spans(list(dirty)) if dirty and not self._shared else {}
        counted = 0
        for user_id, spans in dirty.items():
            try:
                counted += self._count_user(user_id, spans, owed)
            except Exception as exc:  # one user's failure must not stop the others'
                self._failed(user_id, "minutes", exc, retry=lambda u=user_id, s=spans: self._requeue(u, s))
            else:
                self._succeeded(user_id, "minutes")
            finally:
                with self._state:
                    self._counting.pop(user_id, None)
        return counted

    def _count_user(
        self, user_id: int, spans: list[Span], owed: dict[int, tuple[list[int], list[Span]]]
    ) -> bool:
        """The user's minutes and days for `spans` and the tasks stored as owed; False when there was nothing
        left to count.

        With several processes a user's batches land on any of them, and each process counted what it was
        told of even when another had just counted the same tasks (read before the lock, so the second
        count waited on the advisory lock only to do the work again). So the stored tasks are read under
        the lock: a task is deleted only once its samples are counted and committed, and every sample this
        process was told of has its task committed before, so when none is left another process has
        counted them all.
        """
        with self._lock(user_id) as locked:
            if locked is None:
                task_ids, stored = owed.get(user_id, ([], []))
            else:
                task_ids, stored = self._owed_spans([user_id], locked).get(user_id, ([], []))
                if not task_ids:
                    return False
            self._update_spans(user_id, [*spans, *stored], locked=True)
            if locked is None:
                self._done(task_ids)
            else:  # committed by _lock before the advisory lock is let go
                self._lazy_commit(locked)
                locked.execute(delete(AnalysisTask).where(AnalysisTask.id.in_(task_ids)))
        return True

    def _owed_spans(
        self, user_ids: list[int], db: Connection | None = None
    ) -> dict[int, tuple[list[int], list[Span]]]:
        """The stored minutes tasks of these users: every one committed before this call is done with them.

        (A task committed later has its on_ingest after this call too, so the next round counts it.)
        """
        out: dict[int, tuple[list[int], list[Span]]] = {}
        query = select(AnalysisTask.id, AnalysisTask.user_id, AnalysisTask.lo_ms, AnalysisTask.hi_ms).where(
            AnalysisTask.kind == "minutes", AnalysisTask.user_id.in_(user_ids)
        )
        if db is not None:
            rows = db.execute(query).all()
        else:
            with self._sessions() as own:
                rows = own.execute(query).all()
        for task_id, user_id, lo_ms, hi_ms in rows:
            ids, spans = out.setdefault(user_id, ([], []))
            ids.append(task_id)
            spans.append((lo_ms / 1000.0, hi_ms / 1000.0))
        return out

    def _done(self, task_ids: Sequence[int]) -> None:
        if not task_ids:
            return
        with self._sessions() as db, writer_lock(db.get_bind()):  # type: ignore[arg-type]
            db.execute(delete(AnalysisTask).where(AnalysisTask.id.in_(task_ids)))
            db.commit()

    def recover(self) -> int:
        """At start: take up the analysis a previous process owed (killed after answering); returns tasks."""
        with self._sessions() as db:
            rows = db.execute(
                select(AnalysisTask.user_id, AnalysisTask.kind, AnalysisTask.lo_ms, AnalysisTask.hi_ms)
            ).all()
        with self._state:
            for user_id, kind, lo_ms, hi_ms in rows:
                if kind == "minutes" and lo_ms is not None and hi_ms is not None:
                    self._dirty.setdefault(user_id, [])
                elif self._history.get(user_id) != "history":
                    self._history[user_id] = kind
        if rows:
            log.info("taking up %d analysis task(s) left by the previous run", len(rows))
        return len(rows)

    def _requeue(self, user_id: int, spans: list[Span]) -> None:
        with self._state:
            self._dirty.setdefault(user_id, []).extend(spans)

    def _failed(self, user_id: int, what: str, exc: Exception, *, retry: Callable[[], None]) -> None:
        """Log with the user and retry with backoff; work that fails on its data is parked after
        MAX_ATTEMPTS (a database outage is retried until it ends). /health says degraded meanwhile."""
        key = (user_id, what)
        with self._state:
            failure = self.failures.get(key)
            if failure is None:
                failure = self.failures[key] = Failure(user_id, what, dt.datetime.now(dt.UTC), 0)
            failure.attempts += 1
            failure.error = f"{type(exc).__name__}: {str(exc)[:200]}"
            parked = failure.attempts >= MAX_ATTEMPTS and not isinstance(exc, OperationalError)
            delay_s = min(RETRY_BASE_S * 2 ** (failure.attempts - 1), RETRY_CAP_S)
            if not parked:
                self._retries.append((self._clock() + delay_s, retry))
        log.error("%s of user %s failed (attempt %d%s)", what, user_id, failure.attempts,
                  ", parked" if parked else f", retried in {delay_s:g} s", exc_info=exc)  # fmt: skip
        if not parked and self.inline:
            self.run_retries(force=True)

    def run_retries(self, *, force: bool = False) -> int:
        """Queue again the failed work whose backoff has passed (all of it when `force`)."""
        now = self._clock()
        with self._state:
            due = [r for at, r in self._retries if force or at <= now]
            self._retries = [] if force else [(at, r) for at, r in self._retries if at > now]
        for retry in due:
            retry()
        return len(due)

    def _succeeded(self, user_id: int, what: str) -> None:
        if self.failures:
            with self._state:
                self.failures.pop((user_id, what), None)

    @property
    def backlog(self) -> int:
        """Users with stored samples not yet counted in their minutes and days, or whose history is redone."""
        with self._state:
            busy = self._dirty.keys() | self._counting.keys() | self._history.keys() | self._history_running
            return len(busy) + len(self._retries)

    @property
    def days_awaiting_analysis(self) -> int:
        """User-days whose sessions and HRV will be recomputed once uploads are quiet, or are being."""
        with self._state:
            return sum(len(days) for days in self._pending.values()) + len(self._analysing)

    def pending_days(self, user_id: int, days: Sequence[dt.date], tz_name: str) -> set[dt.date]:
        """Which of `days` have samples or work not yet reflected in their answers."""
        with self._state:
            if user_id in self._history or user_id in self._history_running:
                return set(days)
            spans = [*self._dirty.get(user_id, ()), *self._counting.get(user_id, ())]
            out = set(self._pending.get(user_id, {})) | {d for u, d in self._analysing if u == user_id}
        if spans:
            tz = localtime.zone(tz_name)
            for lo, hi in merge_spans(spans, max_len_s=float("inf")):
                out.update(localtime.days_between(lo - MARGIN_S, hi + MARGIN_S, tz))
        return out & set(days)

    def update_range(
        self, user_id: int, t0_s: float, t1_s: float, *, publish: bool = True, locked: bool = False
    ) -> list[dt.date]:
        """Minutes around [t0_s, t1_s] recounted and their days re-totalled; returns the days touched.

        Read and computed outside SQLite's writer lock (reads do not begin a transaction there); only the
        rows' replacement and the day totals hold it. Samples stored meanwhile are counted by their own
        update: the user's lock orders the two (taken here unless the caller holds it: `locked`).
        """
        lo, hi = minutes.minute_window(t0_s, t1_s)
        user_lock = contextlib.nullcontext() if locked else self._lock(user_id)
        with user_lock, self._sessions() as db:
            self._lazy_commit(db)
            user = db.get(User, user_id)
            if user is None:
                return []
            days = localtime.days_between(lo, hi - 1, localtime.zone(user.timezone))
            rows = minutes.count_minutes(db, user_id, lo, hi, profile_for(user))
            with writer_lock(db.get_bind()):  # type: ignore[arg-type]
                minutes.replace_minutes(db, user_id, lo, hi, rows)
                met = day_work.retotal_days(db, user, days)
                db.commit()
        if publish:
            day_work.publish_days(self._sessions, self._live, user_id, days, met)
        self._queue(user_id, days)
        return days

    # -- slow path ---------------------------------------------------------------------------------
    def _queue(self, user_id: int, days: Iterable[dt.date]) -> None:
        now = self._clock()
        with self._state:
            queued = self._pending.setdefault(user_id, {})
            for day in days:
                queued.setdefault(day, now)
        if self.inline:
            self.run_pending(force=True)

    def _due(self, force: bool) -> list[tuple[int, dt.date]]:
        now = self._clock()
        todo: list[tuple[int, dt.date]] = []
        with self._state:
            for user_id, days in list(self._pending.items()):
                # Quiet: no upload for quiet_s, or for longer than a live strap's next batch takes to come.
                wait_s = max(self.quiet_s, min(self._next_batch_s.get(user_id, 0.0), self.debounce_s))
                quiet = now - self._last_touch.get(user_id, -np.inf) >= wait_s
                due = [d for d, first in days.items() if force or quiet or now - first >= self.debounce_s]
                for day in due:
                    del days[day]
                    todo.append((user_id, day))
                if not days:
                    del self._pending[user_id]
            for user_id, touched in list(self._last_touch.items()):  # forget users long quiet
                if user_id not in self._pending and now - touched > 10 * max(self.debounce_s, self.quiet_s):
                    del self._last_touch[user_id]
                    self._next_batch_s.pop(user_id, None)
            self._analysing.update(todo)
        return sorted(todo)

    def run_pending(self, *, force: bool = False) -> int:
        """Analyse the queued user-days that are due (all when `force`): sessions, recovery, resting HR, HRV."""
        todo = self._due(force)
        for user_id, day in todo:
            what = f"analysis of {day.isoformat()}"
            try:
                with self._lock(user_id), self._sessions() as db:
                    self._lazy_commit(db)
                    user = db.get(User, user_id)
                    if user is None:
                        continue
                    rows = day_work.read_day_samples(db, user, day)
                    details = day_work.day_details(rows, day, user.timezone, profile_for(user))
                    with writer_lock(db.get_bind()):  # type: ignore[arg-type]
                        day_work.store_day_details(db, user, day, details)
                        moved = history.refresh_estimates(db, user)
                        db.commit()
                if moved:
                    self.request_history(user_id)
            except Exception as exc:  # one bad day must not stop the others
                self._failed(user_id, what, exc, retry=functools.partial(self._queue, user_id, [day]))
            else:
                self._succeeded(user_id, what)
            finally:
                with self._state:
                    self._analysing.discard((user_id, day))
        return len(todo)

    # -- whole history -----------------------------------------------------------------------------
    def request_history(self, user_id: int) -> None:
        """The profile or time zone changed: every stored minute, day and session of the user again."""
        self._request(user_id, "history")

    def request_totals(self, user_id: int) -> None:
        """The daily target changed: every day's target and the moment it was met, from the stored minutes."""
        self._request(user_id, "totals")

    def _request(self, user_id: int, kind: str, *, persist: bool = True) -> None:
        if self.inline:
            self._run_history(user_id, kind)
            return
        if persist:
            with self._sessions() as db, writer_lock(db.get_bind()):  # type: ignore[arg-type]
                db.execute(insert(AnalysisTask), [{"user_id": user_id, "kind": kind}])
                db.commit()
        with self._state:
            if self._history.get(user_id) != "history":  # a full recompute includes the totals
                self._history[user_id] = kind

    def run_history(self) -> int:
        """Do one queued history request; returns how many were done (0 or 1)."""
        with self._state:
            if not self._history:
                return 0
            user_id, kind = next(iter(self._history.items()))
            del self._history[user_id]
            self._history_running.add(user_id)
        try:
            with self._sessions() as db:
                upto = db.scalar(
                    select(func.max(AnalysisTask.id)).where(
                        AnalysisTask.user_id == user_id, AnalysisTask.kind.in_(("history", "totals"))
                    )
                )
            self._run_history(user_id, kind)
            if upto is not None:
                with self._sessions() as db, writer_lock(db.get_bind()):  # type: ignore[arg-type]
                    db.execute(delete(AnalysisTask).where(
                        AnalysisTask.user_id == user_id, AnalysisTask.kind.in_(("history", "totals")),
                        AnalysisTask.id <= upto,
                    ))  # fmt: skip
                    db.commit()
        except Exception as exc:
            self._failed(user_id, kind, exc, retry=lambda: self._request(user_id, kind, persist=False))
        else:
            self._succeeded(user_id, kind)
        finally:
            with self._state:
                self._history_running.discard(user_id)
        return 1

    def _run_history(self, user_id: int, kind: str) -> None:
        if kind == "totals":
            self.retotal_all(user_id)
        else:
            self.recompute_history(user_id)

    def retotal_all(self, user_id: int) -> None:
        """Every stored day's totals and target again (cheap: counted in the database from stored minutes)."""
        with self._lock(user_id), self._sessions() as db:
            user = db.get(User, user_id)
            if user is None:
                return
            days = day_work.stored_days(db, user_id)
            with writer_lock(db.get_bind()):  # type: ignore[arg-type]
                day_work.retotal_days(db, user, days)
                db.commit()

    def recompute_history(self, user_id: int) -> None:
        """Everything of a user again, a day of samples at a time: only days holding samples are visited."""
        with self._lock(user_id), self._sessions() as db:
            first = history.first_sample_ms(db, user_id)
            with writer_lock(db.get_bind()):  # type: ignore[arg-type]
                history.clear_history(db, user_id)
                db.commit()
        for start_s, end_s in history.history_spans(self._sessions, user_id, first):
            self.update_range(user_id, start_s, end_s, publish=False)

    async def run_forever(self, stop: asyncio.Event) -> None:
        """The app lifespan's background tasks: counting and analysis, and history recomputes beside them."""
        if self.inline:
            return
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(
                self._tick(stop, self._analyse_once, lambda: bool(self._dirty)),
                name="rollups: minutes and days",
            )
            tasks.create_task(
                self._tick(stop, self.run_history, lambda: bool(self._history)), name="rollups: history"
            )

    def _analyse_once(self) -> int:
        return self.adopt_orphans() + self.run_retries() + self.run_dirty() + self.run_pending()

    async def _tick(self, stop: asyncio.Event, work: Callable[[], int], ready: Callable[[], bool]) -> None:
        """`work` as soon as `ready()` says there is some (looked at every POLL_S), else every
        FAST_INTERVAL_S (debounced analysis and retries fall due by the clock), until `stop`.

        Looking is a dict's truth value in the event loop; the work itself runs in a thread. Uploads
        arriving while it runs are counted together by the next round, so bulk uploads still coalesce.
        """
        last = -np.inf
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=POLL_S)
            if stop.is_set():
                break
            if not ready() and time.monotonic() - last < FAST_INTERVAL_S:
                continue
            last = time.monotonic()
            try:
                await asyncio.to_thread(work)
            except Exception:  # each piece of work guards its users; this keeps the loop itself alive
                log.exception("background analysis loop: unexpected error, going on")

    def drain(self) -> None:
        """At shutdown: count and analyse everything queued (history requests are left to the next start)."""
        self.run_dirty()
        self.run_pending(force=True)
        if self._history:
            log.warning("history recompute of %d user(s) left for the next start", len(self._history))
