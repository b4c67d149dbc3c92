"""Sign-up and the current user's profile."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, status
from pydantic import BaseModel, ConfigDict, EmailStr, Field
from sqlalchemy import select

from service.api.deps import ContextDep, CurrentUser, SessionDep
from service.api.types import Bpm, TimeZoneName
from service.errors import Conflict
from service.models import User
from service.security import hash_password

router = APIRouter(tags=["users"])

Password = Annotated[str, Field(min_length=8, max_length=256)]
BirthYear = Annotated[int, Field(ge=1900, le=2100)]
Target = Annotated[int, Field(ge=1, le=1440)]
NudgeTime = Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")]


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: EmailStr
    password: Password
    timezone: TimeZoneName = "UTC"
    birth_year: BirthYear | None = None
    resting_hr: Bpm | None = None
    max_hr: Bpm | None = None
    daily_target_minutes: Target = 60


class UserUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    timezone: TimeZoneName | None = None
    birth_year: BirthYear | None = None
    resting_hr: Bpm | None = None
    max_hr: Bpm | None = None
    daily_target_minutes: Target | None = None
    nudge_time: NudgeTime | None = None
    nudges_enabled: bool | None = None
    password: Password | None = None


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


@router.post("/users", status_code=status.HTTP_201_CREATED, response_model=UserPublic)
def create_user(body: UserCreate, db: SessionDep) -> User:
    email = body.email.lower()
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


@router.patch("/me", response_model=UserPublic)
def update_me(body: UserUpdate, user: CurrentUser, db: SessionDep, ctx: ContextDep) -> User:
    changes = body.model_dump(exclude_unset=True)
    password = changes.pop("password", None)
    if password is not None:  # an explicit null changes nothing (it used to reach Argon2 and answer 500)
        user.password_hash = hash_password(password)
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


@router.delete("/me", status_code=status.HTTP_204_NO_CONTENT)
def delete_me(user: CurrentUser, db: SessionDep) -> None:
    """Delete the account and, through cascades, every row that belongs to it."""
    db.delete(user)
    db.commit()
