"""Server-sent events of the user's live heart rate, minutes toward the target, and the moment it is met."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sse_starlette import EventSourceResponse
from starlette.types import Receive, Scope, Send

from service.api.deps import AppContext, ContextDep, CurrentUser, TokenDep, current_user
from service.core.models import AccessToken
from service.core.security import token_digest
from service.errors import Unauthorized
from service.pipeline.live import StreamGrant, StreamTickets

router = APIRouter(tags=["live"])
log = logging.getLogger(__name__)

KEEPALIVE_S = 15


class LiveTicket(BaseModel):
    """A single-use ticket for one live stream: `GET /live?ticket=…` within `expires_in` seconds."""

    ticket: str
    expires_in: int


def _grant(ctx: AppContext, token: str) -> StreamGrant:
    with ctx.sessions() as db:
        return StreamGrant(user_id=current_user(db, token).id, token_digest=token_digest(token))


def _still_valid(ctx: AppContext, grant: StreamGrant) -> bool:
    """The stream's access token is neither revoked (log-out, password change) nor expired nor gone."""
    with ctx.sessions() as db:
        row = db.execute(
            select(AccessToken.expires_at, AccessToken.revoked_at).where(
                AccessToken.token_hash == grant.token_digest, AccessToken.user_id == grant.user_id
            )
        ).first()
    return row is not None and row.revoked_at is None and row.expires_at > dt.datetime.now(dt.UTC)


def _tickets(ctx: AppContext) -> StreamTickets:
    if ctx.live.tickets is None:
        raise RuntimeError("the live hub has no ticket store: the app sets one at start-up")
    return ctx.live.tickets


@router.post("/live/ticket", response_model=LiveTicket)
async def live_ticket(ctx: ContextDep, user: CurrentUser, token: TokenDep) -> LiveTicket:
    """A ticket for `GET /live?ticket=` (EventSource cannot send headers; a URL is logged by proxies, so
    it carries this short-lived single-use ticket instead of the access token). The stream it opens keeps
    checking the access token that asked for it."""
    assert token is not None  # CurrentUser refused a request without one
    ttl_s = ctx.settings.live_ticket_ttl_s
    tickets = _tickets(ctx)
    grant = StreamGrant(user.id, token_digest(token))
    ticket = await asyncio.to_thread(tickets.issue, grant, ttl_s=ttl_s)  # the database off the event loop
    return LiveTicket(ticket=ticket, expires_in=int(ttl_s))


class _LiveResponse(EventSourceResponse):
    """Owns the stream's subscription: released however the response ends (a disconnect, a HEAD request
    that never starts the generator, the server shutting down)."""

    def __init__(
        self, content: AsyncIterator[dict[str, Any]], release: Callable[[], None], **kw: Any
    ) -> None:
        super().__init__(content, **kw)
        self._release = release

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._release()


async def _authenticate(
    request: Request, ctx: AppContext, ticket: str | None, access_token: str | None
) -> tuple[StreamGrant, bool]:
    """The stream's grant, and whether the deprecated `?access_token=` was used."""
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return await asyncio.to_thread(_grant, ctx, header[7:]), False  # the database off the event loop
    if ticket:
        grant = await asyncio.to_thread(_tickets(ctx).redeem, ticket)
        if grant is None:
            raise Unauthorized("invalid, used or expired stream ticket")
        if not await asyncio.to_thread(_still_valid, ctx, grant):
            raise Unauthorized("invalid or expired token")
        return grant, False
    if access_token:
        return await asyncio.to_thread(_grant, ctx, access_token), True
    raise Unauthorized("not authenticated")


@router.get("/live", response_class=EventSourceResponse)
async def live(
    request: Request,
    ctx: ContextDep,
    ticket: Annotated[
        str | None, Query(description="a single-use ticket from POST /live/ticket, for EventSource")
    ] = None,
    access_token: Annotated[
        str | None,
        Query(
            deprecated=True,
            description="deprecated: the access token in the URL reaches proxy logs; use a ticket "
            "(POST /live/ticket) or the Authorization header",
        ),
    ] = None,
) -> EventSourceResponse:
    """The user's live events. Ends with a `closed` event once the access token is revoked or expires
    (checked every `live_token_check_s`); 429 past `live_streams_per_user` open streams."""
    grant, deprecated = await _authenticate(request, ctx, ticket, access_token)
    user_id = grant.user_id
    queue = ctx.live.subscribe(user_id, limit=ctx.settings.live_streams_per_user)
    check_s = ctx.settings.live_token_check_s

    async def token_holds() -> bool:
        try:
            return await asyncio.to_thread(_still_valid, ctx, grant)
        except SQLAlchemyError:  # cannot tell: end the stream (fail closed); the client reconnects
            log.warning("live stream of user %d: token check failed, stream closed", user_id)
            return False

    async def events() -> AsyncIterator[dict[str, Any]]:
        loop = asyncio.get_running_loop()
        last = ctx.live.last.get(user_id)
        if last is not None:
            yield {"event": last["type"], "data": json.dumps(last)}
        next_check = loop.time() + check_s
        while True:
            if loop.time() >= next_check:
                if not await token_holds():
                    yield {"event": "closed", "data": json.dumps({"type": "closed", "reason": "token"})}
                    return
                next_check = loop.time() + check_s
            try:
                event = await asyncio.wait_for(queue.get(), timeout=next_check - loop.time())
            except TimeoutError:
                continue
            yield {"event": event.get("type", "message"), "data": json.dumps(event)}

    headers = {"Deprecation": "true"} if deprecated else None  # tells old clients ?access_token= is going
    return _LiveResponse(
        events(), lambda: ctx.live.unsubscribe(user_id, queue), ping=KEEPALIVE_S, headers=headers
    )
