"""Server-sent events of the user's live heart rate, minutes toward the target, and the moment it is met."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from sse_starlette import EventSourceResponse

from service.api.deps import AppContext, ContextDep, current_user
from service.errors import Unauthorized

router = APIRouter(tags=["live"])

KEEPALIVE_S = 15


def _user_id(ctx: AppContext, token: str) -> int:
    with ctx.sessions() as db:
        return current_user(db, token).id


@router.get("/live", response_class=EventSourceResponse)
async def live(
    request: Request,
    ctx: ContextDep,
    access_token: Annotated[
        str | None, Query(description="for EventSource, which cannot send headers")
    ] = None,
) -> EventSourceResponse:
    header = request.headers.get("authorization", "")
    token = header[7:] if header.lower().startswith("bearer ") else access_token
    if not token:
        raise Unauthorized("not authenticated")
    user_id = await asyncio.to_thread(_user_id, ctx, token)  # the database off the event loop
    queue = ctx.live.subscribe(user_id)

    async def events() -> AsyncIterator[dict[str, Any]]:
        try:
            last = ctx.live.last.get(user_id)
            if last is not None:
                yield {"event": last["type"], "data": json.dumps(last)}
            while True:
                try:
                    event = await asyncio.wait_for(queue.get(), timeout=KEEPALIVE_S)
                except TimeoutError:
                    yield {"comment": "keep-alive"}
                    continue
                yield {"event": event.get("type", "message"), "data": json.dumps(event)}
        finally:
            ctx.live.unsubscribe(user_id, queue)

    return EventSourceResponse(events(), ping=KEEPALIVE_S)
