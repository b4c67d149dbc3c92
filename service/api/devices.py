"""Straps and recorders: registration (with an upload token), listing, the device behind a token, and the
device's upload tokens: listed, rotated and revoked without touching its history."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Response, status
from pydantic import BaseModel, ConfigDict
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from service.api.deps import ContextDep, CurrentUser, PrincipalDep, SessionDep
from service.core.db import writer_lock
from service.core.models import Device, DeviceToken
from service.core.security import DEVICE_TOKEN_PREFIX, new_token, token_digest
from service.errors import NotFound
from service.journal import check_device_cap, get_owned_device, lock_user
from service.journal.schemas import DeviceCreate
from service.web.errors import error_responses

router = APIRouter(prefix="/devices", tags=["devices"])


class DevicePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    address: str | None
    model: str | None
    created_at: dt.datetime
    last_sample_ms: int | None


class DeviceRegistered(DevicePublic):
    upload_token: str


class DeviceTokenPublic(BaseModel):
    """An upload token as listed: never the secret itself, which is shown once, when it is issued."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    device_id: int
    created_at: dt.datetime
    revoked_at: dt.datetime | None
    active: bool


class DeviceTokenIssued(DeviceTokenPublic):
    upload_token: str


def _token_public(row: DeviceToken) -> DeviceTokenPublic:
    return DeviceTokenPublic(
        id=row.id,
        device_id=row.device_id,
        created_at=row.created_at,
        revoked_at=row.revoked_at,
        active=row.revoked_at is None,
    )


def _issue_token(db: SessionDep, user_id: int, device_id: int) -> tuple[DeviceToken, str]:
    """A new upload token for the device; every older one still active is revoked (rotation)."""
    now = dt.datetime.now(dt.UTC)
    db.execute(
        update(DeviceToken)
        .where(DeviceToken.device_id == device_id, DeviceToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    token = new_token(DEVICE_TOKEN_PREFIX, user_id)
    row = DeviceToken(device_id=device_id, user_id=user_id, token_hash=token_digest(token), created_at=now)
    db.add(row)
    db.flush()
    return row, token


@router.post("", status_code=status.HTTP_201_CREATED, response_model=DeviceRegistered)
def register_device(
    body: DeviceCreate, user: CurrentUser, db: SessionDep, ctx: ContextDep, response: Response
) -> DeviceRegistered:
    """A new device, or the user's existing one with that address (200): either way with a fresh upload
    token, and the device's older tokens revoked (whoever registered the address before loses it). A new
    device past max_devices_per_user answers 409."""
    with writer_lock(db.get_bind()):  # type: ignore[arg-type]  # the cap's count holds until the commit
        return _register(db, user.id, body, response, cap=ctx.settings.max_devices_per_user)


def _register(
    db: Session, user_id: int, body: DeviceCreate, response: Response, *, cap: int
) -> DeviceRegistered:
    """`register_device` with the user locked, so that the cap counted is the cap committed."""
    lock_user(db, user_id)
    device = None
    if body.address is not None:
        device = db.scalar(select(Device).where(Device.user_id == user_id, Device.address == body.address))
    if device is None:
        check_device_cap(db, user_id, cap)
        device = Device(user_id=user_id, **body.model_dump())
        db.add(device)
        db.flush()
    else:
        response.status_code = status.HTTP_200_OK
        device.name = body.name
        device.model = body.model or device.model
    _, token = _issue_token(db, user_id, device.id)
    db.commit()
    return DeviceRegistered(**DevicePublic.model_validate(device).model_dump(), upload_token=token)


@router.get("", response_model=list[DevicePublic])
def list_devices(user: CurrentUser, db: SessionDep) -> list[Device]:
    return list(db.scalars(select(Device).where(Device.user_id == user.id).order_by(Device.id)))


@router.get("/current", response_model=DevicePublic, responses=error_responses(404))
def current_device(principal: PrincipalDep, db: SessionDep) -> Device:
    """The device an upload token belongs to, so a recorder given only that token knows where to upload."""
    if principal.device_id is None:
        raise NotFound("this is a user token, not a device upload token")
    return get_owned_device(db, principal.user.id, principal.device_id)


@router.get("/{device_id}", response_model=DevicePublic)
def read_device(device_id: int, user: CurrentUser, db: SessionDep) -> Device:
    return get_owned_device(db, user.id, device_id)


@router.delete("/{device_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_device(device_id: int, user: CurrentUser, db: SessionDep) -> None:
    """Forget a device and its samples."""
    db.delete(get_owned_device(db, user.id, device_id))
    db.commit()


@router.get("/{device_id}/tokens", response_model=list[DeviceTokenPublic])
def list_device_tokens(device_id: int, user: CurrentUser, db: SessionDep) -> list[DeviceTokenPublic]:
    """The device's upload tokens, newest first, revoked ones included (with when)."""
    get_owned_device(db, user.id, device_id)
    rows = db.scalars(
        select(DeviceToken).where(DeviceToken.device_id == device_id).order_by(DeviceToken.id.desc())
    )
    return [_token_public(row) for row in rows]


@router.post("/{device_id}/tokens", status_code=status.HTTP_201_CREATED, response_model=DeviceTokenIssued)
def rotate_device_token(device_id: int, user: CurrentUser, db: SessionDep) -> DeviceTokenIssued:
    """Rotate: a new upload token (shown this once), every other one of the device revoked; the device and
    its samples stay. The service's own recorder of a paired strap mints itself a new one when refused."""
    get_owned_device(db, user.id, device_id)
    row, token = _issue_token(db, user.id, device_id)
    db.commit()
    return DeviceTokenIssued(**_token_public(row).model_dump(), upload_token=token)


@router.delete("/{device_id}/tokens/{token_id}", status_code=status.HTTP_204_NO_CONTENT)
def revoke_device_token(device_id: int, token_id: int, user: CurrentUser, db: SessionDep) -> None:
    """Revoke one upload token at once (idempotent); the device and its samples stay."""
    get_owned_device(db, user.id, device_id)
    row = db.get(DeviceToken, token_id)
    if row is None or row.device_id != device_id:
        raise NotFound("upload token not found")
    if row.revoked_at is None:
        row.revoked_at = dt.datetime.now(dt.UTC)
        db.commit()
