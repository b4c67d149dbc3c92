"""Daily nudges toward the heartbeat-up hour: a pure pace rule, and the loop that says each nudge once a day.

The pace rule: by the user's nudge time (default 18:00 local) the day's target should be met. The user
is behind once the minutes still needed exceed PACE_LIMIT of the time left before then (with 60 minutes
to go, from 16:30), and at the nudge time itself whenever the target is not met. That is late enough not
to nag a user who exercises in the evening, early enough to leave room to act.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from service.core import localtime
from service.core.models import DayRollup, NudgeSent, User
from service.pipeline.live import LiveHub

log = logging.getLogger(__name__)

BEHIND = "behind"
MET = "met"
PACE_LIMIT = 2 / 3  # share of the time left that the minutes still needed may take before "behind"
CHECK_EVERY_S = 30.0
DEFAULT_NUDGE_TIME = dt.time(18, 0)

UtcClock = Callable[[], dt.datetime]


# --- pure core ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Pace:
    """Where the day stands against the target and the time it should be met by."""

    minutes: int
    target_minutes: int
    minutes_left_until_deadline: float  # 0 at and after the nudge time

    @property
    def needed_minutes(self) -> int:
        return max(0, self.target_minutes - self.minutes)

    @property
    def met(self) -> bool:
        return self.needed_minutes == 0

    @property
    def behind(self) -> bool:
        """Not met, and what is still needed takes more than PACE_LIMIT of the time left (or none is left)."""
        if self.met:
            return False
        return self.needed_minutes > PACE_LIMIT * self.minutes_left_until_deadline


def parse_nudge_time(text: str | None) -> dt.time:
    """`HH:MM` as stored on the user; anything unreadable is the default 18:00."""
    try:
        hours, minutes = (int(part) for part in (text or "").split(":"))
        return dt.time(hours, minutes)
    except ValueError:
        return DEFAULT_NUDGE_TIME


def pace_at(now_local: dt.datetime, *, minutes: int, target_minutes: int, deadline: dt.time) -> Pace:
    """The pace at `now_local` (aware, in the user's zone) for a deadline on the same local day."""
    due = dt.datetime.combine(now_local.date(), deadline, tzinfo=now_local.tzinfo)
    left_min = max(0.0, (due - now_local).total_seconds() / 60)
    return Pace(minutes=minutes, target_minutes=target_minutes, minutes_left_until_deadline=left_min)


def due_nudge(pace: Pace, already_sent: set[str]) -> str | None:
    """The nudge to say now, if any: `met` once when met, else `behind` once; nothing after `met`."""
    if MET in already_sent:
        return None
    if pace.met:
        return MET
    if pace.behind and BEHIND not in already_sent:
        return BEHIND
    return None


def nudge_message(kind: str, pace: Pace, deadline: dt.time) -> str:
    """The sentence the Today page, the live stream and a notification show."""
    by = deadline.strftime("%H:%M")
    if kind == MET:
        return f"You reached your {pace.target_minutes} heartbeat-up minutes today. Well done."
    if pace.minutes_left_until_deadline <= 0:
        return f"{pace.needed_minutes} heartbeat-up minutes to go today; it is not too late for a walk."
    return (
        f"{pace.needed_minutes} heartbeat-up minutes to go to reach your target by {by}: "
        "a good moment to get moving."
    )


# --- the loop -------------------------------------------------------------------------------------


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def nudge_event(row: NudgeSent) -> dict[str, Any]:
    """A nudge as the live stream and the API show it."""
    return {
        "type": "nudge", "kind": row.kind, "date": row.day.isoformat(), "message": row.message,
        "minutes": row.minutes, "target_minutes": row.target_minutes, "sent_at": row.sent_at.isoformat(),
    }  # fmt: skip


class Nudger:
    """Checks every user with nudges on and says what is due; the clock is injected for tests."""

    def __init__(self, sessions: sessionmaker[Session], live: LiveHub, *, clock: UtcClock = _utcnow) -> None:
        self._sessions = sessions
        self._live = live
        self._clock = clock

    def check_all(self) -> list[NudgeSent]:
        """One pass over the users with nudges on; returns the nudges said."""
        now = self._clock()
        with self._sessions() as db:
            users = db.scalars(select(User).where(User.nudges_enabled.is_(True))).all()
            said = [row for user in users if (row := self._check_user(db, user, now)) is not None]
        for row in said:
            self._live.publish(row.user_id, nudge_event(row))
        return said

    def _check_user(self, db: Session, user: User, now: dt.datetime) -> NudgeSent | None:
        tz = localtime.zone(user.timezone)
        now_local = now.astimezone(tz)
        day = now_local.date()
        minutes = db.scalar(
            select(DayRollup.heartbeat_up_minutes).where(DayRollup.user_id == user.id, DayRollup.day == day)
        )
        deadline = parse_nudge_time(user.nudge_time)
        pace = pace_at(now_local, minutes=minutes or 0, target_minutes=user.daily_target_minutes,
                       deadline=deadline)  # fmt: skip
        sent = set(
            db.scalars(select(NudgeSent.kind).where(NudgeSent.user_id == user.id, NudgeSent.day == day))
        )
        kind = due_nudge(pace, sent)
        if kind is None:
            return None
        row = NudgeSent(user_id=user.id, day=day, kind=kind, sent_at=now, message=nudge_message(kind, pace, deadline),
                        minutes=pace.minutes, target_minutes=pace.target_minutes)  # fmt: skip
        db.add(row)
        try:
            db.commit()  # the key (user, day, kind) keeps it to once a day even across processes
        except IntegrityError:
            db.rollback()
            return None
        return row

    async def run_forever(self, stop: asyncio.Event, every_s: float = CHECK_EVERY_S) -> None:
        """Check every `every_s` until `stop`; a failed pass is logged and the next one tried."""
        while not stop.is_set():
            try:
                await asyncio.to_thread(self.check_all)
            except Exception:
                log.exception("nudge check failed")
            try:
                async with asyncio.timeout(every_s):
                    await stop.wait()
            except TimeoutError:
                pass


def todays_nudges(db: Session, user: User, now: dt.datetime) -> list[NudgeSent]:
    """The nudges said on the user's current local day, oldest first."""
    day = now.astimezone(localtime.zone(user.timezone)).date()
    query = select(NudgeSent).where(NudgeSent.user_id == user.id, NudgeSent.day == day)
    return list(db.scalars(query.order_by(NudgeSent.sent_at)))
