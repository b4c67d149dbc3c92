"""The database side of an import: devices for sources, and batches through the same ingest path as uploads."""

from __future__ import annotations

import time

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.core.models import Device
from service.importers.base import Item, Source
from service.importers.pipeline import BatchResult
from service.pipeline.ingest import store_samples, validate_batch
from service.pipeline.live import LiveHub, publish_heart_rate
from service.pipeline.scheduler import Rollups


def find_or_add_device(db: Session, user_id: int, source: Source) -> Device:
    """The user's device with the source's address (or, without one, its name and model), else a new one."""
    query = select(Device).where(Device.user_id == user_id)
    if source.address is not None:
        query = query.where(Device.address == source.address)
    else:
        query = query.where(
            Device.address.is_(None), Device.name == source.name, Device.model == source.model
        )
    device = db.scalars(query.order_by(Device.id).limit(1)).first()
    if device is None:
        device = Device(user_id=user_id, name=source.name, address=source.address, model=source.model)
        db.add(device)
        db.commit()
    return device


class DbSink:
    """Imported batches take the live upload's path: validate, store idempotently, publish, analyse."""

    def __init__(
        self,
        db: Session,
        *,
        user_id: int,
        rollups: Rollups,
        live: LiveHub,
        future_tolerance_ms: int,
        device_id: int | None = None,
        device_name: str | None = None,
    ) -> None:
        self.db, self.user_id, self.rollups, self.live = db, user_id, rollups, live
        self.future_tolerance_ms = future_tolerance_ms
        self.device_id, self.device_name = device_id, device_name

    def device_for(self, source: Source) -> int:
        if self.device_id is not None:
            return self.device_id
        if self.device_name:
            source = Source(name=self.device_name[:120], address=source.address, model=source.model)
        return find_or_add_device(self.db, self.user_id, source).id

    def send(self, device_id: int, items: list[Item]) -> BatchResult:
        verdict = validate_batch(items, int(time.time() * 1000), self.future_tolerance_ms)
        clean = verdict.clean
        accepted = store_samples(self.db, user_id=self.user_id, device_id=device_id, samples=clean)
        device = self.db.get(Device, device_id)
        if accepted and device is not None:
            newest = max(s.t_ms for s in clean)
            if device.last_sample_ms is None or newest > device.last_sample_ms:
                device.last_sample_ms = newest
        spans = self.rollups.note_ingest(self.db, self.user_id, clean) if accepted else None
        self.db.commit()
        if accepted:
            publish_heart_rate(self.live, self.user_id, device_id, clean, now_ms=int(time.time() * 1000))
            self.rollups.on_ingest(self.user_id, clean, spans)
        return BatchResult(
            accepted=accepted,
            duplicates=len(clean) - accepted + verdict.repeats,
            rejected=[(r.index, r.reason) for r in verdict.rejected],
            rr_dropped=verdict.rr_dropped,
            times_ms=[s.t_ms for s in clean],
        )
