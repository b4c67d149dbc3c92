"""Sign-up and the current user's profile."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Request, status
from pydantic import BaseModel, ConfigDict, EmailStr
from sqlalchemy import delete, select, update

from service.api.deps import (
    ContextDep,
    CurrentUser,
    SessionDep,
    ThrottleDep,
    TokenDep,
    check_password,
    client_address,
)
from service.core.models import AccessToken, LoginEvent, User
from service.core.security import (
    hash_password,
    normalise_email,
    token_digest,
)
from service.errors import Conflict, InvalidInput
from service.journal.schemas import UserUpdate
from service.web.errors import error_responses
from service.web.fields import BirthYear, Bpm, CurrentPassword, Password, Target, TimeZoneName

router = APIRouter(tags=["users"])


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: EmailStr
    password: Password
    timezone: TimeZoneName = "UTC"
    birth_year: BirthYear | None = None
    resting_hr: Bpm | None = None
    max_hr: Bpm | None = None
    daily_target_minutes: Target = 60


class AccountDeletion(BaseModel):
    model_config = ConfigDict(extra="forbid")

    password: CurrentPassword


class UserPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str
    timezone: str
    birth_year: int | None
    resting_hr: int | None
    max_hr: int | None
    daily_target_minutes: int
    nudge_time: str
    nudges_enabled: bool
    is_demo: bool
    created_at: dt.datetime


_FORBIDDEN = {"description": "Wrong current password", "content": error_responses(429)[429]["content"]}


@router.post(
    "/users", status_code=status.HTTP_201_CREATED, response_model=UserPublic, responses=error_responses(429)
)
def create_user(body: UserCreate, db: SessionDep, request: Request, throttle: ThrottleDep) -> User:
    """Sign up. An email already taken answers 409: a documented choice (README, Security) for a small
    self-hosted service, where telling someone they already have an account is worth more than hiding it;
    the per-address sign-up throttle counts those answers too, so they cannot be used to list accounts fast."""
    throttle.signup(client_address(request))  # before the lookup and the Argon2 work
    email = normalise_email(body.email)
    if db.scalar(select(User.id).where(User.email == email)) is not None:
        raise Conflict("an account with this email already exists")
    user = User(
        email=email,
        password_hash=hash_password(body.password),
        **body.model_dump(exclude={"email", "password"}),
    )
    db.add(user)
    db.commit()
    return user


@router.get("/me", response_model=UserPublic)
def read_me(user: CurrentUser) -> User:
    return user


@router.patch("/me", response_model=UserPublic, responses={403: _FORBIDDEN, **error_responses(429)})
def update_me(
    body: UserUpdate,
    user: CurrentUser,
    db: SessionDep,
    ctx: ContextDep,
    token: TokenDep,
    request: Request,
    throttle: ThrottleDep,
) -> User:
    changes = body.model_dump(exclude_unset=True)
    password = changes.pop("password", None)
    current_password = changes.pop("current_password", None)
    if password is not None:  # an explicit null changes nothing (it used to reach Argon2 and answer 500)
        if current_password is None:
            raise InvalidInput("current_password is needed to change the password")
        check_password(user, current_password, client_address(request), throttle)
        user.password_hash = hash_password(password)
        _revoke_other_tokens(db, user, token)
    for field in ("timezone", "daily_target_minutes", "nudge_time", "nudges_enabled"):  # not nullable
        if changes.get(field, ...) is None:
            changes.pop(field)
    profile_changed = any(
        changes.get(k, getattr(user, k)) != getattr(user, k)
        for k in ("timezone", "resting_hr", "max_hr", "birth_year")
    )
    target_changed = (
        changes.get("daily_target_minutes", user.daily_target_minutes) != user.daily_target_minutes
    )
    for key, value in changes.items():
        setattr(user, key, value)
    db.add(user)
    db.commit()
    # Queued for the analysis' own task (day answers say analysis_pending meanwhile), never run in a route.
    if profile_changed:
        ctx.rollups.request_history(user.id)
    elif target_changed:
        ctx.rollups.request_totals(user.id)
    return user


def _revoke_other_tokens(db: SessionDep, user: User, token: str | None) -> None:
    """Every access token of the user but the one this request came with (device upload tokens are the
    devices': listed and revoked per device, GET /devices/{id}/tokens)."""
    keep = token_digest(token) if token else ""
    db.execute(
        update(AccessToken)
        .where(
            AccessToken.user_id == user.id, AccessToken.revoked_at.is_(None), AccessToken.token_hash != keep
        )
        .values(revoked_at=dt.datetime.now(dt.UTC))
    )


@router.delete(
    "/me", status_code=status.HTTP_204_NO_CONTENT, responses={403: _FORBIDDEN, **error_responses(429)}
)
def delete_me(
    body: AccountDeletion, user: CurrentUser, db: SessionDep, request: Request, throttle: ThrottleDep
) -> None:
    """Delete the account and, through cascades, every row that belongs to it; the password confirms it."""
    check_password(user, body.password, client_address(request), throttle)
    db.execute(delete(LoginEvent).where(LoginEvent.account == user.email))  # keyed by email, not by user
    db.delete(user)
    db.commit()
