"""File imports: one uploaded file (FIT, TCX, GPX, CSV, RR text, Apple Health, a Chin Up export) -> samples.

The samples take the upload's ingest path (service.importers.store.DbSink), so a file imported twice
changes nothing and the day rollups update incrementally.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, BinaryIO

from fastapi import APIRouter, File, Form, UploadFile
from pydantic import BaseModel
from sqlalchemy import select

from service.api.common import query_time_ms
from service.api.deps import ContextDep, CurrentUser, SessionDep
from service.api.devices import get_owned_device
from service.api.types import DbId
from service.api_errors import error_responses
from service.importers import ImportCounts, TruncatedFile, count_entries, open_import, run_import
from service.importers.account import read_archive
from service.importers.restore import RestoreCounts, restore_account
from service.importers.store import DbSink
from service.models import Sample

router = APIRouter(prefix="/imports", tags=["imports"])


class RejectionAt(BaseModel):
    sample: int  # 1-based number of the sample in the file
    reason: str


class ImportPublic(BaseModel):
    file: str
    format: str
    accepted: int
    duplicates: int
    rejected: int
    rejections: list[RejectionAt]
    rr_dropped: int = 0  # impossible RR intervals dropped, their samples kept
    truncated_at: str | None
    device_ids: list[int]
    restored: dict[str, int] | None = None


def _import(
    fh: BinaryIO, name: str, *, strict: bool, start_ms: int | None, sink: DbSink, restore: Callable[[], None]
) -> tuple[str, ImportCounts, str | None]:
    """Read (twice when strict, so a truncated file is refused before anything is stored) and store.

    An account export restores profile and journal before its samples, so they are analysed with the
    restored profile.
    """
    opened = open_import(fh, name, start_ms=start_ms)
    if strict:
        count_entries(opened.entries())
        if opened.report.truncated_at:
            raise TruncatedFile(
                name, opened.report.truncated_at, "the file ends early; refused whole (strict)"
            )
    if opened.format == "chinup-export":
        restore()
    counts = run_import(opened.entries(), sink)
    return opened.format, counts, opened.report.truncated_at


@router.post("", response_model=ImportPublic, responses=error_responses(404, 413, 415))
def import_file(
    file: Annotated[
        UploadFile, File(description="FIT, TCX, GPX, CSV, RR text, Apple Health or Chin Up export")
    ],
    user: CurrentUser,
    db: SessionDep,
    ctx: ContextDep,
    device_id: Annotated[DbId | None, Form()] = None,
    device_name: Annotated[str | None, Form(max_length=120)] = None,
    start: Annotated[
        str | None, Form(description="start time for relative times (ISO 8601 with offset)")
    ] = None,
    strict: Annotated[bool, Form(description="refuse a file that ends early")] = False,
) -> ImportPublic:
    """Import one file; a corrupt or mislabelled file is refused whole with the place it failed."""
    if device_id is not None:
        get_owned_device(db, user.id, device_id)
    start_ms = query_time_ms(start, "start") if start else None
    name = file.filename or "upload"
    sink = DbSink(
        db, user_id=user.id, rollups=ctx.rollups, live=ctx.live,
        future_tolerance_ms=ctx.settings.future_tolerance_s * 1000, device_id=device_id, device_name=device_name,
    )  # fmt: skip
    restored: list[RestoreCounts] = []
    had_samples = db.scalar(select(Sample.t_ms).where(Sample.user_id == user.id).limit(1)) is not None

    def restore() -> None:
        restored.append(restore_account(db, user, read_archive(file.file, name), name))

    fmt, counts, truncated_at = _import(
        file.file, name, strict=strict, start_ms=start_ms, sink=sink, restore=restore
    )
    if restored and restored[0].profile_changed and had_samples:
        ctx.rollups.request_history(user.id)  # the stored minutes were computed with the old profile
    return ImportPublic(
        file=name,
        format=fmt,
        accepted=counts.accepted,
        duplicates=counts.duplicates,
        rejected=counts.rejected,
        rejections=[RejectionAt(sample=n, reason=r) for n, r in counts.rejections],
        rr_dropped=counts.rr_dropped,
        truncated_at=truncated_at,
        device_ids=counts.device_ids,
        restored=restored[0].added if restored else None,
    )
