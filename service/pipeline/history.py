"""A user's whole history again (the profile or time zone changed), and the profile the data estimates.

Stateless: the scheduler (service.pipeline.scheduler) runs a recompute in its own task, holding the user's
lock while the stored rollups are cleared and while each day of samples is counted again.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from service.core.models import DayRollup, HrvWindow, MinuteRollup, Sample, User
from service.pipeline.minutes import Span, profile_for

PROFILE_TOLERANCE_BPM = 3.0
HISTORY_CHUNK_S = 86_400.0


def first_sample_ms(db: Session, user_id: int) -> int | None:
    """Where a recompute of the user's history starts: their oldest sample, if any."""
    return db.scalar(select(func.min(Sample.t_ms)).where(Sample.user_id == user_id))


def clear_history(db: Session, user_id: int) -> None:
    """Every stored minute, day and HRV window of the user deleted (in the caller's transaction)."""
    db.execute(delete(MinuteRollup).where(MinuteRollup.user_id == user_id))
    db.execute(delete(DayRollup).where(DayRollup.user_id == user_id))
    db.execute(delete(HrvWindow).where(HrvWindow.user_id == user_id))


def history_spans(sessions: sessionmaker[Session], user_id: int, first_ms: int | None) -> Iterator[Span]:
    """The spans of samples to count again, a day of samples at a time from `first_ms`: only days holding
    samples are visited. Each is looked up as the caller asks for it, so samples stored meanwhile count."""
    cursor_ms = first_ms
    while cursor_ms is not None:
        start_s = cursor_ms / 1000.0
        end_s = start_s + HISTORY_CHUNK_S
        with sessions() as db:
            last = db.scalar(
                select(func.max(Sample.t_ms)).where(
                    Sample.user_id == user_id, Sample.t_ms >= cursor_ms, Sample.t_ms < int(end_s * 1000)
                )
            )
            cursor_ms = db.scalar(
                select(func.min(Sample.t_ms)).where(
                    Sample.user_id == user_id, Sample.t_ms >= int(end_s * 1000)
                )
            )
        if last is not None:
            yield start_s, last / 1000.0


def refresh_estimates(db: Session, user: User) -> bool:
    """Resting HR (median of the last 14 daily values) and the highest clean HR; True if the profile moved
    (then the whole history is owed again: its minutes were counted with the old profile)."""
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
