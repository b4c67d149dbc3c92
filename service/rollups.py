"""Keeps what the dashboard reads current as samples arrive, touching only what new samples change.

Fast path, on every ingest: the clock minutes near the new samples are recomputed from raw samples (with
enough context for the cleaning to decide as it would over the whole history) and the touched local days
are re-totalled from their stored minutes. Slow path, debounced per user-day: sessions, recovery, resting
HR and HRV of the touched days. Neither path's cost grows with the length of the history.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import threading
from collections.abc import Iterable, Sequence

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session, sessionmaker

from service import localtime
from service.analysis.cleaning import FROZEN_S, MAX_EXCURSION_S, clean_hr
from service.analysis.minutes import MAX_COVER_S, UP_MIN_S, MinuteTable, minute_table, zone_points
from service.analysis.profile import HeartProfile, build_profile
from service.db import writer_lock
from service.ingest import CleanSample
from service.live import LiveHub
from service.models import DayRollup, HrvWindow, MinuteRollup, Sample, User
from service.rollup_days import update_day_details
from service.sample_query import load_samples

log = logging.getLogger(__name__)

MINUTE_S = 60
# New samples can change the cleaning's verdict on samples at most this far away (a frozen run reaching
# FROZEN_S, an excursion closing within MAX_EXCURSION_S); minutes within it are recomputed, with as much
# context again on each side. tests/service/test_rollups.py checks the result equals a full recomputation.
MARGIN_S = int(FROZEN_S + MAX_EXCURSION_S + 2 * MAX_COVER_S)
PROFILE_TOLERANCE_BPM = 3.0
# Minutes and day totals (the ring on the Today page) follow ingest within this; sessions and HRV
# within the configured debounce.
FAST_INTERVAL_S = 0.5


def profile_for(user: User, *, today: dt.date | None = None) -> HeartProfile:
    """The profile every rollup of the user is computed with: the user's values, else the data's."""
    year = (today or dt.date.today()).year
    return build_profile(
        user_resting_hr=user.resting_hr,
        user_max_hr=user.max_hr,
        age_years=(year - user.birth_year)
        if user.birth_year and 10 <= year - user.birth_year <= 100
        else None,
        estimated_resting_hr=user.estimated_resting_hr,
        observed_max_bpm=user.observed_max_hr,
    )


def _minute_rows(user_id: int, table: MinuteTable) -> list[dict[str, object]]:
    def opt(x: float) -> float | None:
        return None if not np.isfinite(x) else float(x)

    zone = table.zone
    return [
        {
            "user_id": user_id,
            "minute_s": int(round(table.minute_start_s[i])),
            "n_samples": int(table.n_samples[i]),
            "zone": int(zone[i]),
            "valid_s": float(table.valid_s[i]),
            "lost_contact_s": float(table.lost_contact_s[i]),
            "up_s": float(table.up_s[i]),
            "moderate_s": float(table.moderate_s[i]),
            "vigorous_s": float(table.vigorous_s[i]),
            "peak_s": float(table.peak_s[i]),
            "mean_bpm": opt(table.mean_bpm[i]),
            "min_bpm": opt(table.min_bpm[i]),
            "max_bpm": opt(table.max_bpm[i]),
        }
        for i in range(len(table))
    ]


class Rollups:
    """Owner of the incremental analysis: called by ingest, drained by the app's background task."""

    def __init__(self, sessions: sessionmaker[Session], live: LiveHub, *, debounce_s: float = 2.0) -> None:
        self._sessions = sessions
        self._live = live
        self.debounce_s = debounce_s
        self._pending: set[tuple[int, dt.date]] = set()
        self._pending_lock = threading.Lock()
        self._analysing = 0
        self._dirty: dict[int, list[float]] = {}  # user -> times of samples stored since the last update
        self._dirty_lock = threading.Lock()
        self._updating = 0  # users whose dirty times are being counted right now
        self._user_locks: dict[int, threading.Lock] = {}
        self._locks_lock = threading.Lock()

    def _lock(self, user_id: int) -> threading.Lock:
        with self._locks_lock:
            return self._user_locks.setdefault(user_id, threading.Lock())

    # -- fast path ---------------------------------------------------------------------------------
    def on_ingest(self, user_id: int, samples: Sequence[CleanSample]) -> None:
        """New samples stored: minutes and day totals follow within FAST_INTERVAL_S (at once when inline).

        Batches arriving together are coalesced: a strap uploading every second, or a client sending
        many batches, costs one update per interval rather than one per batch.
        """
        times = [s.t_ms / 1000.0 for s in samples]
        if self.debounce_s <= 0:
            self._update_times(user_id, np.array(times))
            return
        with self._dirty_lock:
            self._dirty.setdefault(user_id, []).extend((min(times), max(times)))

    def _update_times(self, user_id: int, t_s: NDArray[np.float64]) -> None:
        """Each cluster of nearby times on its own: the work follows the samples, not the span between them."""
        for lo_s, hi_s in time_clusters(t_s):
            self.update_range(user_id, lo_s, hi_s)

    def run_dirty(self) -> int:
        """Bring minutes and days up to date for everything ingested since the last call; returns users done."""
        with self._dirty_lock:
            dirty, self._dirty = self._dirty, {}
            self._updating += len(dirty)
        for user_id, times in dirty.items():
            try:
                self._update_times(user_id, np.array(times))
            except Exception:  # one user's failure must not stop the others'; their next upload retries
                log.exception("minute rollups of user %s failed", user_id)
            finally:
                with self._dirty_lock:
                    self._updating -= 1
        return len(dirty)

    @property
    def backlog(self) -> int:
        """Users with stored samples not yet counted in their minutes and days."""
        with self._dirty_lock:
            return len(self._dirty) + self._updating

    @property
    def days_awaiting_analysis(self) -> int:
        """User-days whose sessions and HRV will be recomputed at the next debounce, or are being."""
        with self._pending_lock:
            return len(self._pending) + self._analysing

    def update_range(self, user_id: int, t0_s: float, t1_s: float, *, publish: bool = True) -> list[dt.date]:
        lo = (np.floor((t0_s - MARGIN_S) / MINUTE_S)) * MINUTE_S
        hi = (np.floor((t1_s + MARGIN_S) / MINUTE_S) + 1) * MINUTE_S
        with self._lock(user_id), self._sessions() as db:
            user = db.get(User, user_id)
            if user is None:
                return []
            profile = profile_for(user)
            tz = localtime.zone(user.timezone)
            days = localtime.days_between(float(lo), float(hi) - 1, tz)
            with writer_lock(db.get_bind()):  # type: ignore[arg-type]
                self._recompute_minutes(db, user_id, float(lo), float(hi), profile)
                met = self._retotal_days(db, user, days)
                db.commit()
        if publish:
            self._publish_days(user_id, days, met)
        self._queue(user_id, days)
        return days

    def _recompute_minutes(
        self, db: Session, user_id: int, lo: float, hi: float, profile: HeartProfile
    ) -> None:
        data = load_samples(db, user_id, lo - MARGIN_S, hi + MARGIN_S)
        valid = clean_hr(data.t_s, data.bpm, contact=data.contact).valid
        table = minute_table(
            data.t_s, data.bpm, valid, profile=profile, contact=data.contact, start_s=lo, end_s=hi
        )
        db.execute(
            delete(MinuteRollup).where(
                MinuteRollup.user_id == user_id, MinuteRollup.minute_s >= lo, MinuteRollup.minute_s < hi
            )
        )
        rows = _minute_rows(user_id, table)
        if rows:
            db.execute(insert(MinuteRollup), rows)

    def _retotal_days(self, db: Session, user: User, days: Iterable[dt.date]) -> dict[dt.date, DayRollup]:
        """Day totals counted in the database from the stored minutes (each stored with its zone);
        returns the days whose target was met by this update."""
        tz = localtime.zone(user.timezone)
        newly_met: dict[dt.date, DayRollup] = {}
        m = MinuteRollup
        for day in days:
            lo, hi = localtime.day_edges_s(day, day, tz)
            in_day = (m.user_id == user.id, m.minute_s >= lo, m.minute_s < hi)
            up, moderate, vigorous, peak, valid, lost, top = db.execute(
                select(
                    func.count().filter(m.zone > 0), func.count().filter(m.zone == 1),
                    func.count().filter(m.zone == 2), func.count().filter(m.zone == 3),
                    func.count().filter(m.valid_s >= UP_MIN_S), func.count().filter(m.lost_contact_s >= UP_MIN_S),
                    func.max(m.max_bpm).filter(m.valid_s >= UP_MIN_S),
                ).where(*in_day)
            ).one()  # fmt: skip
            rollup = db.get(DayRollup, (user.id, day)) or DayRollup(user_id=user.id, day=day)
            rollup.heartbeat_up_minutes, rollup.moderate_minutes = up, moderate
            rollup.vigorous_minutes, rollup.peak_minutes = vigorous, peak
            rollup.active_zone_points = int(zone_points(moderate, vigorous, peak))
            rollup.valid_minutes, rollup.lost_contact_minutes, rollup.max_bpm = valid, lost, top
            met_at = None
            if user.daily_target_minutes <= up:
                # the end of the minute in which the day's count reached the target
                reached = db.scalar(
                    select(m.minute_s).where(*in_day, m.zone > 0).order_by(m.minute_s)
                    .offset(user.daily_target_minutes - 1).limit(1)
                )  # fmt: skip
                met_at = dt.datetime.fromtimestamp(reached + MINUTE_S, dt.UTC)
            if met_at is not None and rollup.target_met_at is None:
                newly_met[day] = rollup
            rollup.target_met_at = met_at
            rollup.updated_at = dt.datetime.now(dt.UTC)
            db.add(rollup)
        return newly_met

    def _publish_days(self, user_id: int, days: list[dt.date], met: dict[dt.date, DayRollup]) -> None:
        with self._sessions() as db:
            for day in days:
                rollup = db.get(DayRollup, (user_id, day))
                user = db.get(User, user_id)
                if rollup is None or user is None:
                    continue
                self._live.publish(user_id, {
                    "type": "minutes", "date": day.isoformat(),
                    "heartbeat_up_minutes": rollup.heartbeat_up_minutes,
                    "target_minutes": user.daily_target_minutes,
                })  # fmt: skip
                if day in met and rollup.target_met_at is not None:
                    self._live.publish(
                        user_id,
                        {
                            "type": "target_met",
                            "date": day.isoformat(),
                            "at": rollup.target_met_at.isoformat(),
                        },
                    )

    # -- slow path ---------------------------------------------------------------------------------
    def _queue(self, user_id: int, days: Iterable[dt.date]) -> None:
        with self._pending_lock:
            self._pending.update((user_id, d) for d in days)
        if self.debounce_s <= 0:
            self.run_pending()

    def run_pending(self) -> int:
        """Analyse every queued user-day (sessions, recovery, resting HR, HRV); returns how many."""
        with self._pending_lock:
            todo, self._pending = sorted(self._pending), set()
            self._analysing += len(todo)
        changed_users: set[int] = set()
        for user_id, day in todo:
            try:
                with self._lock(user_id), self._sessions() as db:
                    user = db.get(User, user_id)
                    if user is None:
                        continue
                    with writer_lock(db.get_bind()):  # type: ignore[arg-type]
                        update_day_details(db, user, day, profile_for(user))
                        if _refresh_estimates(db, user):
                            changed_users.add(user_id)
                        db.commit()
            except Exception:  # one bad day must not stop the others; it is retried on the next ingest
                log.exception("analysis of user %s day %s failed", user_id, day)
            finally:
                with self._pending_lock:
                    self._analysing -= 1
        for user_id in changed_users:
            self.recompute_history(user_id)
        return len(todo)

    async def run_forever(self, stop: asyncio.Event) -> None:
        """The app lifespan's background task: drain the queue every debounce interval (none when inline)."""
        if self.debounce_s <= 0:
            return
        loop = asyncio.get_running_loop()
        next_slow = loop.time() + self.debounce_s
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), timeout=FAST_INTERVAL_S)
            except TimeoutError:
                pass
            if self._dirty:
                await asyncio.to_thread(self.run_dirty)
            if self._pending and loop.time() >= next_slow:
                await asyncio.to_thread(self.run_pending)
                next_slow = loop.time() + self.debounce_s

    def recompute_history(self, user_id: int) -> None:
        """Everything of a user again (after a change of profile or time zone), a day at a time."""
        with self._sessions() as db:
            first, last = db.execute(
                select(func.min(Sample.t_ms), func.max(Sample.t_ms)).where(Sample.user_id == user_id)
            ).one()
            if first is None:
                return
            db.execute(delete(MinuteRollup).where(MinuteRollup.user_id == user_id))
            db.execute(delete(DayRollup).where(DayRollup.user_id == user_id))
            db.execute(delete(HrvWindow).where(HrvWindow.user_id == user_id))
            db.commit()
        step_s = 86_400.0
        t = first / 1000.0
        while t <= last / 1000.0:
            self.update_range(user_id, t, min(t + step_s, last / 1000.0), publish=False)
            t += step_s
        self.run_pending()


def time_clusters(t_s: NDArray[np.float64], gap_s: float = 2 * MARGIN_S) -> list[tuple[float, float]]:
    """Spans of times whose neighbours are less than `gap_s` apart (their recomputed windows overlap)."""
    if t_s.size == 0:
        return []
    t = np.sort(t_s)
    breaks = np.flatnonzero(np.diff(t) > gap_s)
    starts = np.concatenate(([0], breaks + 1))
    ends = np.concatenate((breaks, [t.size - 1]))
    return [(float(t[a]), float(t[b])) for a, b in zip(starts, ends, strict=True)]


def _refresh_estimates(db: Session, user: User) -> bool:
    """Resting HR (median of the last 14 daily values) and the highest clean HR; True if the profile moved."""
    before = profile_for(user)
    recent = db.execute(
        select(DayRollup.resting_hr).where(DayRollup.user_id == user.id, DayRollup.resting_hr.is_not(None))
        .order_by(DayRollup.day.desc()).limit(14)
    ).scalars().all()  # fmt: skip
    if recent:
        user.estimated_resting_hr = float(np.median(recent))
    top = db.scalar(select(func.max(DayRollup.max_bpm)).where(DayRollup.user_id == user.id))
    if top is not None:
        user.observed_max_hr = float(top)
    after = profile_for(user)
    moved = (
        abs(after.resting_hr - before.resting_hr) >= PROFILE_TOLERANCE_BPM
        or abs(after.max_hr - before.max_hr) >= PROFILE_TOLERANCE_BPM
    )
    if not moved:  # keep the profile the stored minutes were computed with
        user.estimated_resting_hr = (
            before.resting_hr if user.resting_hr is None else user.estimated_resting_hr
        )
        user.observed_max_hr = before.max_hr if user.max_hr is None else user.observed_max_hr
    return moved
