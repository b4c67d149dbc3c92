"""Strap sightings shared by every process on one PostgreSQL: what this user's scans heard, and when.

Pairing asks that the user's own scan heard the address recently (StrapSupervisor.seen_by, in memory). With
`chinup serve --workers N` the scan and the pairing may be answered by different workers, so on PostgreSQL the
sightings are also rows, and the pairing looks there when its own process did not hear the address. Times are
wall-clock seconds (the processes share no monotonic clock). Blocking: call from a worker thread.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from service.core.models import StrapSighting

MAX_PER_SCAN = 500  # a flood of fake adverts in one scan is cut: the strongest come first


def remember(sessions: sessionmaker[Session], user_id: int, addresses: Sequence[str], *, keep_s: float) -> None:
    """Keep that this user's scan heard these addresses now; their sightings older than `keep_s` go."""
    now = time.time()
    heard = list(dict.fromkeys(a.upper() for a in addresses))[:MAX_PER_SCAN]
    with sessions.begin() as db:
        db.execute(delete(StrapSighting).where(StrapSighting.user_id == user_id, StrapSighting.seen_s < now - keep_s))
        if heard:
            db.execute(
                delete(StrapSighting).where(StrapSighting.user_id == user_id, StrapSighting.address.in_(heard))
            )
            db.add_all(StrapSighting(user_id=user_id, address=a, seen_s=now) for a in heard)


def heard(sessions: sessionmaker[Session], user_id: int, address: str, *, within_s: float) -> bool:
    """Whether a scan of this user, through any process, heard the address in the last `within_s`."""
    with sessions() as db:
        seen_s = db.scalar(
            select(StrapSighting.seen_s).where(
                StrapSighting.user_id == user_id, StrapSighting.address == address.upper()
            )
        )
    return seen_s is not None and 0 <= time.time() - seen_s <= within_s
