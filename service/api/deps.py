"""Dependencies shared by the routers: the app context, a database session, the current user or device,
the log-in throttle and the password check it guards (log-in, password change, account deletion)."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy import Row, Select, bindparam, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from service.core.models import AccessToken, Device, DeviceToken, User
from service.core.security import (
    DEVICE_TOKEN_PREFIX,
    USER_TOKEN_PREFIX,
    token_digest,
    token_user,
    verify_password,
)
from service.errors import Forbidden, Unauthorized
from service.web.context import AppContext
from service.web.throttle import LoginThrottle

log = logging.getLogger(__name__)


async def get_ctx(request: Request) -> AppContext:
    """The app's context. `async`, as every dependency that does no I/O: FastAPI runs a plain `def` one in the
    thread pool, a hop per dependency per request (four for a read, before this)."""
    return request.app.state.ctx  # type: ignore[no-any-return]


ContextDep = Annotated[AppContext, Depends(get_ctx)]


def get_db(ctx: ContextDep) -> Iterator[Session]:
    """A session per request; a connection the database dropped (a restart) is discarded, not raised
    at close after the answer was decided (the request's own error already became a 503)."""
    session = ctx.sessions()
    try:
        yield session
    finally:
        try:
            session.close()
        except DBAPIError:
            log.warning("database connection lost while closing a session; discarded")
            session.invalidate()


SessionDep = Annotated[Session, Depends(get_db)]

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)
TokenDep = Annotated[str | None, Depends(oauth2_scheme)]


@dataclass(frozen=True)
class Principal:
    """Who is calling: a user (with a user token) or one device (with its upload token)."""

    user: User
    device_id: int | None = None


# The token lookups, built once: every authenticated request makes one, and a statement built per request
# costs more than the lookup (its expression and cache key; a prebuilt one memoises its key). The named form
# (a token naming its user, service.core.security.new_token) reads that user's rows only.
_USER_BY_TOKEN = (
    select(User, AccessToken.expires_at, AccessToken.revoked_at)
    .join(AccessToken, AccessToken.user_id == User.id)
    .where(AccessToken.token_hash == bindparam("digest"))
)
_USER_BY_NAMED_TOKEN = _USER_BY_TOKEN.where(AccessToken.user_id == bindparam("user"))
_DEVICE_BY_TOKEN = (
    select(User, Device.id)
    .join(Device, Device.user_id == User.id)
    .join(DeviceToken, (DeviceToken.device_id == Device.id) & (DeviceToken.user_id == Device.user_id))
    .where(DeviceToken.token_hash == bindparam("digest"), DeviceToken.revoked_at.is_(None))
)
_DEVICE_BY_NAMED_TOKEN = _DEVICE_BY_TOKEN.where(DeviceToken.user_id == bindparam("user"))


def _token_row(
    db: Session, token: str, prefix: str, plain: Select[Any], named: Select[Any]
) -> Row[Any] | None:
    """The row a token's lookup finds: by its digest, and by its user where it names one."""
    user_id = token_user(token, prefix)
    params: dict[str, object] = {"digest": token_digest(token)}
    if user_id is not None:
        params["user"] = user_id
    return db.execute(plain if user_id is None else named, params).first()


def _user_from_token(db: Session, token: str) -> User:
    now = dt.datetime.now(dt.UTC)
    row = _token_row(db, token, USER_TOKEN_PREFIX, _USER_BY_TOKEN, _USER_BY_NAMED_TOKEN)
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        raise Unauthorized("invalid or expired token")
    return row[0]  # type: ignore[no-any-return]


def _device_principal(db: Session, token: str) -> Principal:
    row = _token_row(db, token, DEVICE_TOKEN_PREFIX, _DEVICE_BY_TOKEN, _DEVICE_BY_NAMED_TOKEN)
    if row is None:
        raise Unauthorized("invalid device token")
    return Principal(user=row[0], device_id=row[1])


def current_principal(db: SessionDep, token: TokenDep) -> Principal:
    if not token:
        raise Unauthorized("not authenticated")
    if token.startswith(DEVICE_TOKEN_PREFIX):
        return _device_principal(db, token)
    return Principal(user=_user_from_token(db, token))


def current_user(db: SessionDep, token: TokenDep) -> User:
    if not token:
        raise Unauthorized("not authenticated")
    if token.startswith(DEVICE_TOKEN_PREFIX):
        raise Unauthorized("a device upload token can only upload samples")
    return _user_from_token(db, token)


PrincipalDep = Annotated[Principal, Depends(current_principal)]
CurrentUser = Annotated[User, Depends(current_user)]


async def _throttle(request: Request) -> LoginThrottle:
    return request.app.state.login_throttle  # type: ignore[no-any-return]


ThrottleDep = Annotated[LoginThrottle, Depends(_throttle)]


def client_address(request: Request) -> str:
    """The peer's address; X-Forwarded-For only counts where uvicorn was told to believe it
    (settings.forwarded_allow_ips, passed by `chinup serve`), as it then rewrites the peer itself."""
    return request.client.host if request.client else "unknown"


def check_password(user: User, password: str, address: str, throttle: LoginThrottle) -> None:
    """Confirm a signed-in user's password (password change, account deletion): throttled like log-in,
    so a stolen token cannot be used to guess it. A wrong one answers 403, not 401: the token is fine."""
    with throttle.attempt(user.email, address):
        if not verify_password(password, user.password_hash):
            throttle.failed(user.email, address)
            raise Forbidden("the password is not correct")
        throttle.succeeded(user.email, address)
