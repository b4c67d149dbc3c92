"""One uploaded file imported into a user's account, with its report: the path both the synchronous
`POST /imports` and the background job worker (service.importers.background) take, below the router.

The samples take the upload's ingest path (service.importers.store.DbSink), so a file imported twice changes
nothing and the day rollups update incrementally; an account export restores its profile and journal first.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.account.restore import RestoreCounts, restore_account
from service.config import Settings
from service.core.localtime import zone
from service.core.models import Sample, User, WorkoutSession
from service.errors import Forbidden
from service.importers import ImportCounts, ImportFile, open_import
from service.importers.account import read_archive
from service.importers.job import FileReport, import_opened
from service.importers.limits import ImportLimits
from service.importers.store import DbSink
from service.web.context import AppContext


class RejectionAt(BaseModel):
    sample: int  # 1-based number of the sample in the file
    reason: str


class SkippedAt(BaseModel):
    """A stretch of the file left out: where it starts (message index, byte offset) and why."""

    place: str
    message: int | None
    byte: int | None
    reason: str


class RestoreRefusal(BaseModel):
    """A row of an account export the API would refuse, left out of the restore."""

    file: str
    row: int  # 1-based in the file's list; 0 for a setting of profile.json
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
    restore_refused: int = 0  # rows of an account export left out: they fail the API's checks
    restore_refusals: list[RestoreRefusal] = Field(default_factory=list)  # the first 20 of them
    restore_refused_by_reason: dict[str, int] = Field(default_factory=dict)
    read: int = 0  # samples read from the file: stored + duplicates + rejected
    stored: int = 0  # new samples stored (the same as accepted)
    rejected_by_reason: dict[str, int] = Field(default_factory=dict)
    skipped: list[SkippedAt] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    unwrapped: list[str] = Field(default_factory=list)  # what was undone first: gzip, UTF-16
    first: dt.datetime | None = None  # the first and last stored sample of the file
    last: dt.datetime | None = None
    days: list[dt.date] = Field(default_factory=list)  # the user's local days holding its samples
    sessions: list[int] = Field(default_factory=list)  # stored sessions overlapping it (analysis runs after)
    analysis_pending: bool = False
    refused: str | None = None  # a zip member that could not be imported: why
    files: list[ImportPublic] = Field(default_factory=list)  # a zip's members, one report each


def import_limits(settings: Settings) -> ImportLimits:
    """The importers' limits from the service's settings (CHINUP_IMPORT_MAX_*)."""
    return ImportLimits(
        expanded_bytes=settings.import_max_expanded_bytes, zip_members=settings.import_max_zip_members,
        xml_token_bytes=settings.import_max_xml_token_bytes,
        export_json_bytes=settings.import_max_export_json_bytes,
    )  # fmt: skip


def _time(t_ms: int | None) -> dt.datetime | None:
    return None if t_ms is None else dt.datetime.fromtimestamp(t_ms / 1000, dt.UTC)


def public_report(report: FileReport, tz: ZoneInfo, sessions: list[int]) -> ImportPublic:
    """The API's form of a file's report (members with their own counts, sessions left to the whole)."""
    counts = report.counts
    return ImportPublic(
        file=report.file, format=report.format, accepted=counts.accepted, duplicates=counts.duplicates,
        rejected=counts.rejected, rejections=[RejectionAt(sample=n, reason=r) for n, r in counts.rejections],
        rr_dropped=counts.rr_dropped, truncated_at=report.truncated_at, device_ids=counts.device_ids,
        read=counts.samples, stored=counts.accepted, rejected_by_reason=counts.rejected_by_reason,
        skipped=[SkippedAt(place=s.place, message=s.message_index, byte=s.byte_offset, reason=s.reason)
                 for s in report.skipped],
        warnings=report.warnings, unwrapped=report.unwrapped, first=_time(counts.first_ms),
        last=_time(counts.last_ms), days=counts.days(tz), sessions=sessions,
        analysis_pending=counts.accepted > 0, refused=report.refused.detail if report.refused else None,
        files=[public_report(m, tz, []) for m in report.members],
    )  # fmt: skip


def _sessions_touched(db: Session, user_id: int, counts: ImportCounts) -> list[int]:
    if counts.first_ms is None or counts.last_ms is None:
        return []
    query = select(WorkoutSession.id).where(
        WorkoutSession.user_id == user_id, WorkoutSession.deleted.is_(False),
        WorkoutSession.start_ms <= counts.last_ms, WorkoutSession.end_ms >= counts.first_ms,
    )  # fmt: skip
    return list(db.scalars(query.order_by(WorkoutSession.start_ms).limit(1000)))


@dataclass(frozen=True)
class ImportOptions:
    """What an import was asked for, checked at request time; a background job keeps it in its row."""

    device_id: int | None = None  # store everything on this device (checked to be the user's)
    device_name: str | None = None
    start_ms: int | None = None
    strict: bool = False
    token_device_id: int | None = None  # the caller held this device's upload token: no restore


def import_upload(
    db: Session,
    ctx: AppContext,
    user: User,
    fh: BinaryIO,
    name: str,
    options: ImportOptions,
    *,
    on_open: Callable[[ImportFile], None] | None = None,
    on_batch: Callable[[ImportCounts], None] | None = None,
) -> ImportPublic:
    """Import one file into the user's account and report on it: the request's and the background job's path.

    Raises:
        ImportFailed: the file cannot be imported (strict: it is damaged).
        Forbidden: a device's upload token used for an account export.
    """
    sink = DbSink(
        db, user_id=user.id, rollups=ctx.rollups, live=ctx.live,
        future_tolerance_ms=ctx.settings.future_tolerance_s * 1000, device_id=options.device_id,
        device_name=options.device_name,
    )  # fmt: skip
    restored: list[RestoreCounts] = []
    limits = import_limits(ctx.settings)
    had_samples = db.scalar(select(Sample.t_ms).where(Sample.user_id == user.id).limit(1)) is not None

    def restore(opened: ImportFile) -> None:
        """An account export restores profile and journal before its samples, analysed with that profile."""
        if opened.format != "chinup-export":
            return
        if options.token_device_id is not None:
            raise Forbidden("a device upload token cannot restore an account export")
        opened.fh.seek(0)
        archive = read_archive(opened.fh, name, max_part_bytes=limits.export_json_bytes)
        tolerance_s = ctx.settings.future_tolerance_s
        restored.append(restore_account(db, user, archive, name, future_tolerance_s=tolerance_s))

    with open_import(fh, name, start_ms=options.start_ms, strict=options.strict, limits=limits) as opened:
        if on_open is not None:
            on_open(opened)
        report = import_opened(opened, sink, before_samples=restore, on_batch=on_batch)
    if restored and restored[0].profile_changed and had_samples:
        ctx.rollups.request_history(user.id)  # the stored minutes were computed with the old profile
    answer = public_report(report, zone(user.timezone), _sessions_touched(db, user.id, report.counts))
    if restored:
        refused = restored[0].refused
        answer.restored = restored[0].added
        answer.restore_refused, answer.restore_refused_by_reason = refused.total, refused.by_reason
        answer.restore_refusals = [
            RestoreRefusal(file=r.file, row=r.row, reason=r.reason) for r in refused.listed
        ]
    return answer
