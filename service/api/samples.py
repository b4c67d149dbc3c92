"""Batch ingest of a device's samples (idempotent on device and time) and reading them back."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from sqlalchemy import select

from service.api.deps import ContextDep, CurrentUser, PrincipalDep, SessionDep
from service.api.common import iso_ms, query_time_ms
from service.api.devices import get_owned_device
from service.errors import Forbidden, PayloadTooLarge
from service.ingest import parse_rr, store_samples, validate_batch
from service.models import Device, Sample
from service.rollups import after_ingest

router = APIRouter(prefix="/devices/{device_id}/samples", tags=["samples"])

SAMPLE_SCHEMA = {
    "type": "object",
    "required": ["t", "bpm"],
    "properties": {
        "t": {"anyOf": [{"type": "string", "format": "date-time"}, {"type": "integer"}]},
        "bpm": {"type": "integer"},
        "rr_ms": {"type": "array", "items": {"type": "number"}},
        "contact": {"type": ["boolean", "null"]},
    },
}


class SampleBatch(BaseModel):
    # Items are checked one by one in service.ingest so that one bad item is a counted rejection,
    # not a refusal of the whole batch.
    samples: list[Any] = Field(json_schema_extra={"items": SAMPLE_SCHEMA})


class RejectionPublic(BaseModel):
    index: int
    reason: str


class IngestPublic(BaseModel):
    accepted: int
    duplicates: int
    rejected: list[RejectionPublic]


class SamplePublic(BaseModel):
    t: str
    t_ms: int
    bpm: int
    rr_ms: list[float]
    contact: bool | None


@router.post("", response_model=IngestPublic)
def ingest_samples(
    device_id: int, batch: SampleBatch, principal: PrincipalDep, db: SessionDep, ctx: ContextDep
) -> IngestPublic:
    if principal.device_id is not None and principal.device_id != device_id:
        raise Forbidden("this upload token belongs to another device")
    device = get_owned_device(db, principal.user.id, device_id)
    if len(batch.samples) > ctx.settings.max_batch_samples:
        raise PayloadTooLarge(f"at most {ctx.settings.max_batch_samples} samples per batch")
    now_ms = int(time.time() * 1000)
    clean, rejected, repeats = validate_batch(batch.samples, now_ms, ctx.settings.future_tolerance_s * 1000)
    stored = store_samples(db, user_id=device.user_id, device_id=device.id, samples=clean)
    if stored:
        newest = max(s.t_ms for s in stored)
        if device.last_sample_ms is None or newest > device.last_sample_ms:
            device.last_sample_ms = newest
    db.commit()
    if stored:
        after_ingest(ctx, device.user_id, device.id, stored)
    return IngestPublic(
        accepted=len(stored),
        duplicates=len(clean) - len(stored) + repeats,
        rejected=[RejectionPublic(index=r.index, reason=r.reason) for r in rejected],
    )


@router.get("", response_model=list[SamplePublic])
def read_samples(
    device_id: int,
    user: CurrentUser,
    db: SessionDep,
    from_: Annotated[str | None, Query(alias="from")] = None,
    to: Annotated[str | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=100_000)] = 100_000,
) -> list[SamplePublic]:
    device: Device = get_owned_device(db, user.id, device_id)
    query = select(Sample.t_ms, Sample.bpm, Sample.rr_ms, Sample.contact).where(Sample.device_id == device.id)
    if from_ is not None:
        query = query.where(Sample.t_ms >= query_time_ms(from_, "from"))
    if to is not None:
        query = query.where(Sample.t_ms < query_time_ms(to, "to"))
    rows = db.execute(query.order_by(Sample.t_ms).limit(limit)).all()
    return [
        SamplePublic(t=iso_ms(r.t_ms), t_ms=r.t_ms, bpm=r.bpm, rr_ms=parse_rr(r.rr_ms), contact=r.contact) for r in rows
    ]

