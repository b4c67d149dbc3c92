"""Straps the service records by itself: scan through its transport, pair, stop, resume, forget."""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
from typing import Annotated

from bleak.exc import BleakError
from fastapi import APIRouter, Depends, Query, Request, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from devices.errors import DeviceError
from devices.scan import StrapAdvert, scan_straps
from service.api.deps import ContextDep, CurrentUser, SessionDep
from service.config import Settings
from service.core.db import writer_lock
from service.core.models import Device, DeviceToken, PairedStrap
from service.errors import ChinUpError, Conflict, NotFound
from service.journal import check_device_cap, lock_strap_address, lock_user
from service.recording import sightings
from service.recording.supervisor import PairedInfo, StrapState, StrapStatus, StrapSupervisor

router = APIRouter(prefix="/straps", tags=["straps"])

Address = Annotated[str, Field(min_length=1, max_length=64, description="as the scan lists it")]


class BluetoothUnavailable(ChinUpError):
    """The service's Bluetooth transport cannot be used now (no adapter, dongle gone)."""

    status = 503


async def get_supervisor(request: Request) -> StrapSupervisor:
    return request.app.state.recording  # type: ignore[no-any-return]


SupervisorDep = Annotated[StrapSupervisor, Depends(get_supervisor)]


class ScannedStrap(BaseModel):
    address: str
    name: str | None
    rssi: int
    paired: str | None = Field(description="`yours`, `another user` or null")
    device_id: int | None = None


class PairBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    address: Address
    name: str | None = Field(default=None, max_length=120)


class StrapPublic(BaseModel):
    device_id: int
    address: str
    name: str
    recording: bool
    state: str
    battery_pct: int | None
    body_location: str | None
    last_bpm: int | None
    last_sample_ms: int | None
    paired_at: dt.datetime


def _public(row: PairedStrap, device: Device, supervisor: StrapSupervisor) -> StrapPublic:
    """A pairing with the live status when it records, else what the database knows. Recorded by another
    process (`--workers`, another machine), the status is the newest that process published."""
    live = supervisor.status(row.device_id) or (_elsewhere(row, supervisor) if row.recording else None)
    last_ms = max(filter(None, (device.last_sample_ms, live.last_sample_ms if live else None)), default=None)
    return StrapPublic(
        device_id=row.device_id, address=row.address, name=live.name if live else row.name,
        recording=row.recording, state=live.state if live else StrapState.STOPPED,
        battery_pct=live.battery_pct if live else None, body_location=live.body_location if live else None,
        last_bpm=live.last_bpm if live else None, last_sample_ms=last_ms, paired_at=row.paired_at,
    )  # fmt: skip


def _elsewhere(row: PairedStrap, supervisor: StrapSupervisor) -> StrapStatus | None:
    """The status another process's recorder of this strap last published on the live bus, if any."""
    event = supervisor.live.straps.get(row.device_id)
    if event is None or event.get("state") == StrapState.STOPPED:
        return None
    return StrapStatus(
        row.device_id, row.address, str(event.get("name") or row.name), str(event.get("state")),
        event.get("battery"), event.get("body_location"), event.get("bpm"), event.get("t_ms"),
    )


def _owned(db: Session, user_id: int, device_id: int) -> PairedStrap:
    """The user's pairing of that device; another user's answers 404, as if it did not exist."""
    row = db.scalar(select(PairedStrap).where(PairedStrap.device_id == device_id))
    if row is None or row.user_id != user_id:
        raise NotFound("no paired strap with this id")
    return row


def _marked(db: Session, user_id: int, found: list[StrapAdvert]) -> list[ScannedStrap]:
    """The straps heard, each marked as paired by this user, by another or not at all."""
    addresses = [advert.address.upper() for advert in found]
    pairs = {p.address: p for p in db.scalars(select(PairedStrap).where(PairedStrap.address.in_(addresses)))}
    out = []
    for advert, address in zip(found, addresses, strict=True):
        pair = pairs.get(address)
        mine = pair is not None and pair.user_id == user_id
        owner = None if pair is None else ("yours" if mine else "another user")
        out.append(ScannedStrap(address=address, name=advert.name, rssi=advert.rssi, paired=owner,
                                device_id=pair.device_id if mine and pair else None))  # fmt: skip
    return out


# The routes below are async because they scan or drive the supervisor in the event loop; every database
# call goes to a worker thread (a SQLite busy wait must not freeze the live stream and the recorders).


@router.get("/scan", response_model=list[ScannedStrap])
async def scan(
    user: CurrentUser,
    db: SessionDep,
    supervisor: SupervisorDep,
    ctx: ContextDep,
    seconds: Annotated[float, Query(ge=0.5, le=15)] = 3.0,
) -> list[ScannedStrap]:
    """Straps advertising heart rate near the service, strongest first, marked when already paired."""
    try:
        found = await scan_straps(supervisor.transport, seconds)
    except (BleakError, DeviceError, OSError) as exc:
        raise BluetoothUnavailable(
            f"cannot scan on {supervisor.transport}: {exc} (the service's transport is its CHINUP_BLE_TRANSPORT "
            "setting)"
        ) from exc
    # what this user heard may be paired by them (POST /straps) for strap_sighting_ttl_s
    keep_s = ctx.settings.strap_sighting_ttl_s
    supervisor.saw(user.id, (advert.address for advert in found), keep_s=keep_s)
    if supervisor.shared:  # a pairing may be answered by another process of the deployment
        await asyncio.to_thread(sightings.remember, ctx.sessions, user.id, [a.address for a in found], keep_s=keep_s)
    return await asyncio.to_thread(_marked, db, user.id, found)


@router.get("", response_model=list[StrapPublic])
def list_straps(user: CurrentUser, db: SessionDep, supervisor: SupervisorDep) -> list[StrapPublic]:
    rows = db.execute(
        select(PairedStrap, Device).join(Device, Device.id == PairedStrap.device_id)
        .where(PairedStrap.user_id == user.id).order_by(PairedStrap.id)
    ).all()  # fmt: skip
    return [_public(row, device, supervisor) for row, device in rows]


def _pair_row(db: Session, user_id: int, body: PairBody, *, seen: bool, settings: Settings) -> PairedInfo:
    """The user's pairing of the strap, created with its device when new, set to record; committed.

    A new pairing needs `seen` (this user's scan heard the address lately): without it, whoever typed a
    neighbour's address first would hold the strap. The user's own pairing needs none (a connected strap
    no longer advertises). Checked in that order, so an address never heard tells nothing of its owner.
    """
    address = body.address.upper()
    with writer_lock(db.get_bind()):  # type: ignore[arg-type]  # SQLite: the caps' counts hold until commit
        lock_user(db, user_id)
        lock_strap_address(db, address)
        row = db.scalar(select(PairedStrap).where(PairedStrap.address == address))
        if row is None or row.user_id != user_id:
            _check_claim(db, user_id, row, seen=seen, settings=settings)
        return _pair_locked(db, user_id, body, address, row, settings)


def _check_claim(
    db: Session, user_id: int, row: PairedStrap | None, *, seen: bool, settings: Settings
) -> None:
    """Refuse a new pairing: not heard by this user's scan lately, another account's, or past the cap."""
    if not seen:
        minutes = settings.strap_sighting_ttl_s / 60
        raise Conflict(
            f"scan near the strap first: pairing needs your own scan through this service (Scan for straps) "
            f"to have heard this address in the last {minutes:g} minutes, with the strap worn and close by"
        )
    if row is not None:
        raise Conflict(
            "this strap is already paired with another account on this service; the first pairing holds it "
            "until that account forgets it (a strap connects to one receiver at a time)"
        )
    cap = settings.max_straps_per_user
    count = (
        db.scalar(select(func.count()).select_from(PairedStrap).where(PairedStrap.user_id == user_id)) or 0
    )
    if count >= cap:
        raise Conflict(
            f"you have {count} paired straps, the most one account may have (max_straps_per_user = {cap}); "
            "forget one you no longer use first"
        )


def _pair_locked(
    db: Session, user_id: int, body: PairBody, address: str, row: PairedStrap | None, settings: Settings
) -> PairedInfo:
    """`_pair_row` once the claim is allowed: the pairing (and its device when new) set to record."""
    if row is None:
        device = db.scalar(select(Device).where(Device.user_id == user_id, Device.address == address))
        if device is None:
            check_device_cap(db, user_id, settings.max_devices_per_user)
            device = Device(user_id=user_id, name=body.name or address, address=address, model="paired strap")
            db.add(device)
            db.flush()
        row = PairedStrap(user_id=user_id, device_id=device.id, address=address, name=device.name)
        db.add(row)
    row.recording = True
    db.commit()  # releases the address lock: a second user's pairing now finds this row (409)
    return PairedInfo(user_id, row.device_id, row.address, row.name)


def _set_row(db: Session, user_id: int, device_id: int, on: bool) -> PairedInfo:
    row = _owned(db, user_id, device_id)
    row.recording = on
    db.commit()
    return PairedInfo(user_id, row.device_id, row.address, row.name)


def _public_of(db: Session, user_id: int, device_id: int, supervisor: StrapSupervisor) -> StrapPublic:
    row = _owned(db, user_id, device_id)
    return _public(row, db.get_one(Device, device_id), supervisor)


def _unpair(db: Session, user_id: int, device_id: int) -> None:
    """Delete the pairing and the service's own upload token with it; the device and its history stay."""
    row = _owned(db, user_id, device_id)
    if row.recorder_token_id is not None:
        db.execute(delete(DeviceToken).where(DeviceToken.id == row.recorder_token_id))
    db.delete(row)
    db.commit()


@router.post("", status_code=status.HTTP_201_CREATED, response_model=StrapPublic)
async def pair(
    body: PairBody, user: CurrentUser, db: SessionDep, supervisor: SupervisorDep, ctx: ContextDep
) -> StrapPublic:
    """Make the strap the user's device and start recording it.

    409 unless this user's own scan (GET /straps/scan) heard the address within strap_sighting_ttl_s (10
    minutes by default), for a strap paired by another account (the first pairing holds it until forgotten),
    and past max_straps_per_user paired straps or max_devices_per_user devices.
    """
    settings = ctx.settings
    seen = supervisor.seen_by(user.id, body.address, within_s=settings.strap_sighting_ttl_s)
    if not seen and supervisor.shared:  # the scan may have run on another process
        seen = await asyncio.to_thread(
            sightings.heard, ctx.sessions, user.id, body.address, within_s=settings.strap_sighting_ttl_s
        )
    info = await asyncio.to_thread(
        functools.partial(_pair_row, db, user.id, body, seen=seen, settings=settings)
    )
    async with supervisor.strap_lock(info.device_id):
        await supervisor.start(info)
    return await asyncio.to_thread(_public_of, db, user.id, info.device_id, supervisor)


async def _set_recording(
    device_id: int, on: bool, user: CurrentUser, db: SessionDep, supervisor: SupervisorDep
) -> StrapPublic:
    async with supervisor.strap_lock(device_id):  # the row and the recorder change together
        info = await asyncio.to_thread(_set_row, db, user.id, device_id, on)
        if on:
            await supervisor.start(info)
        else:
            await supervisor.stop(device_id)
    return await asyncio.to_thread(_public_of, db, user.id, device_id, supervisor)


@router.post("/{device_id}/stop", response_model=StrapPublic)
async def stop(device_id: int, user: CurrentUser, db: SessionDep, supervisor: SupervisorDep) -> StrapPublic:
    """Stop recording; the strap stays paired (what was spooled uploads when it resumes)."""
    return await _set_recording(device_id, False, user, db, supervisor)


@router.post("/{device_id}/resume", response_model=StrapPublic)
async def resume(device_id: int, user: CurrentUser, db: SessionDep, supervisor: SupervisorDep) -> StrapPublic:
    return await _set_recording(device_id, True, user, db, supervisor)


@router.delete("/{device_id}", status_code=status.HTTP_204_NO_CONTENT)
async def forget(device_id: int, user: CurrentUser, db: SessionDep, supervisor: SupervisorDep) -> None:
    """Stop and unpair; the device and its recorded history stay (DELETE /devices/{id} removes those)."""
    async with supervisor.strap_lock(device_id):
        await asyncio.to_thread(_owned, db, user.id, device_id)  # another user's strap: 404, nothing stopped
        await supervisor.stop(device_id)
        await asyncio.to_thread(_unpair, db, user.id, device_id)
