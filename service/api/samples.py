"""Batch ingest of a device's samples (idempotent on device and time) and reading them back."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import select

from service.api.deps import ContextDep, CurrentUser, PrincipalDep, SessionDep
from service.core.db import writer_lock
from service.core.models import Device, Sample
from service.errors import Forbidden, InvalidInput, PayloadTooLarge
from service.journal import get_owned_device
from service.pipeline.ingest import (
    BatchTooLarge,
    MalformedBatch,
    insert_rows,
    parse_batch,
    parse_rr,
    sample_rows,
    stored_conflicts,
)
from service.pipeline.live import publish_heart_rate
from service.pipeline.minutes import sample_spans
from service.web.query import FastJSON, iso_ms, query_time_ms

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
    # Items are checked one by one in service.pipeline.ingest so that one bad item is a counted rejection,
    # not a refusal of the whole batch.
    samples: list[Any] = Field(json_schema_extra={"items": SAMPLE_SCHEMA})


class RejectionPublic(BaseModel):
    index: int
    reason: str


class IngestPublic(BaseModel):
    accepted: int
    duplicates: int
    rejected: list[RejectionPublic]
    rr_dropped: int = Field(0, description="impossible RR intervals dropped while their samples were kept")
    conflicts: int = Field(
        0,
        description="duplicates whose time was already stored (or came earlier in the batch) with another "
        "heart rate: the first one stays",
    )


class SamplePublic(BaseModel):
    t: str
    t_ms: int
    bpm: int
    rr_ms: list[float]
    contact: bool | None


async def _raw_body(request: Request) -> bytes:
    return await request.body()


@router.post(
    "",
    response_model=IngestPublic,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": SampleBatch.model_json_schema()}},
        }
    },
)
def ingest_samples(
    device_id: int,
    principal: PrincipalDep,  # before the body: who is asking is known before anything large is read
    body: Annotated[bytes, Depends(_raw_body)],
    db: SessionDep,
    ctx: ContextDep,
) -> IngestPublic:
    """Store a batch; one bad item is a counted rejection with its reason, never a refusal of the batch."""
    if principal.device_id is not None and principal.device_id != device_id:
        raise Forbidden("this upload token belongs to another device")
    device = get_owned_device(db, principal.user.id, device_id)
    now_ms = int(time.time() * 1000)
    try:
        verdict = parse_batch(
            body, now_ms, ctx.settings.future_tolerance_s * 1000, ctx.settings.max_batch_samples
        )
    except BatchTooLarge as exc:
        raise PayloadTooLarge(str(exc)) from exc
    except MalformedBatch as exc:
        raise InvalidInput(str(exc)) from exc
    clean = verdict.clean
    # Only the database work holds SQLite's writer lock: its holder shares the GIL with every other upload,
    # so the rows and spans are built before it is taken.
    newest = max((s.t_ms for s in clean), default=None)
    rows = sample_rows(db.get_bind().dialect.name, user_id=device.user_id, device_id=device.id, samples=clean)
    spans = sample_spans(clean)
    with writer_lock(db.get_bind()):  # type: ignore[arg-type]
        accepted = insert_rows(db, rows)
        conflicts = verdict.conflicts
        if accepted < len(clean):  # a retry, or another value for a stored time: say which it was
            conflicts += stored_conflicts(db, device.id, clean)
        if accepted and newest is not None:
            if device.last_sample_ms is None or newest > device.last_sample_ms:
                device.last_sample_ms = newest
            ctx.rollups.note_ingest(db, device.user_id, clean, spans)  # owed analysis, committed with them
        db.commit()
    if accepted:
        publish_heart_rate(ctx.live, device.user_id, device.id, clean, now_ms=now_ms)
        ctx.rollups.on_ingest(device.user_id, clean, spans)
    return IngestPublic(
        accepted=accepted,
        duplicates=len(clean) - accepted + verdict.repeats,
        rejected=[RejectionPublic(index=r.index, reason=r.reason) for r in verdict.rejected],
        rr_dropped=verdict.rr_dropped,
        conflicts=conflicts,
    )


@router.get("", response_model=list[SamplePublic], response_class=FastJSON)
def read_samples(
    device_id: int,
    user: CurrentUser,
    db: SessionDep,
    from_: Annotated[str | None, Query(alias="from")] = None,
    to: Annotated[str | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=100_000)] = 100_000,
) -> FastJSON:
    device: Device = get_owned_device(db, user.id, device_id)
    query = select(Sample.t_ms, Sample.bpm, Sample.rr_ms, Sample.contact).where(Sample.device_id == device.id)
    if from_ is not None:
        query = query.where(Sample.t_ms >= query_time_ms(from_, "from"))
    if to is not None:
        query = query.where(Sample.t_ms < query_time_ms(to, "to"))
    rows = db.execute(query.order_by(Sample.t_ms).limit(limit)).all()
    return [
        SamplePublic(t=iso_ms(r.t_ms), t_ms=r.t_ms, bpm=r.bpm, rr_ms=parse_rr(r.rr_ms), contact=r.contact)
        for r in rows
    ]
