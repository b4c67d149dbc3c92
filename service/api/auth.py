"""OAuth2 password flow to an expiring bearer token, and log-out (revocation)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Request, status
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel
from sqlalchemy import select, update

from service.api.deps import ContextDep, CurrentUser, SessionDep, ThrottleDep, TokenDep, client_address
from service.core.models import AccessToken, User
from service.core.security import USER_TOKEN_PREFIX, new_token, normalise_email, token_digest, verify_password
from service.errors import Unauthorized

router = APIRouter(prefix="/auth", tags=["auth"])


class TokenPublic(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_at: dt.datetime


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
    token = new_token(USER_TOKEN_PREFIX, user.id)
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
