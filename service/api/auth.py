"""OAuth2 password flow to an expiring bearer token, and log-out (revocation)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Request, status
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel
from sqlalchemy import select, update

from service.api.deps import ContextDep, CurrentUser, SessionDep, TokenDep
from service.errors import Forbidden, Unauthorized
from service.models import AccessToken, User
from service.security import USER_TOKEN_PREFIX, new_token, normalise_email, token_digest, verify_password
from service.throttle import LoginThrottle

router = APIRouter(prefix="/auth", tags=["auth"])


class TokenPublic(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_at: dt.datetime


def _throttle(request: Request) -> LoginThrottle:
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


@router.post(
    "/token",
    response_model=TokenPublic,
    responses={
        401: {"description": "Wrong email or password"},
        429: {"description": "Too many failed log-ins"},
    },
)
def login(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    db: SessionDep,
    ctx: ContextDep,
    request: Request,
    throttle: ThrottleDep,
) -> TokenPublic:
    account = normalise_email(form.username)  # the form sign-up stored, whatever Unicode form was typed
    address = client_address(request)
    # Before any Argon2 work: a refused guess costs the service nothing.
    with throttle.attempt(account, address):
        user = db.scalar(select(User).where(User.email == account))
        if not verify_password(form.password, user.password_hash if user else None) or user is None:
            throttle.failed(account, address)
            raise Unauthorized("incorrect email or password")
        throttle.succeeded(account, address)
    token = new_token(USER_TOKEN_PREFIX)
    expires_at = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=ctx.settings.access_token_ttl_s)
    db.add(AccessToken(user_id=user.id, token_hash=token_digest(token), expires_at=expires_at))
    db.commit()
    return TokenPublic(access_token=token, expires_at=expires_at)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
def logout(user: CurrentUser, token: TokenDep, db: SessionDep) -> None:
    """Revoke the token this request was made with."""
    assert token is not None  # current_user refused the request otherwise
    db.execute(
        update(AccessToken)
        .where(AccessToken.token_hash == token_digest(token), AccessToken.user_id == user.id)
        .values(revoked_at=dt.datetime.now(dt.UTC))
    )
    db.commit()
