"""Keeps what the dashboard reads current as samples arrive: the live stream now, analysis rollups next."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from service.ingest import CleanSample

if TYPE_CHECKING:
    from service.api.deps import AppContext


def after_ingest(ctx: AppContext, user_id: int, device_id: int, stored: Sequence[CleanSample]) -> None:
    """Publish the newest reading to the user's live stream."""
    newest = max(stored, key=lambda s: s.t_ms)
    ctx.live.publish(
        user_id,
        {
            "type": "heart_rate",
            "device_id": device_id,
            "t_ms": newest.t_ms,
            "bpm": newest.bpm,
            "contact": newest.contact,
        },
    )


def recompute_user_history(ctx: AppContext, user_id: int) -> None:
    """Recompute a user's rollups after a profile change (time zone, resting or maximum HR)."""
