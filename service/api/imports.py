"""File imports: one uploaded file (FIT, TCX, GPX, fitlog, HRM, CSV, RR text, Apple Health, a Chin Up export,
gzip of any, a zip of several) -> samples.

The samples take the upload's ingest path (service.importers.store.DbSink), so a file imported twice
changes nothing and the day rollups update incrementally. With `?background=true` the upload is stored and
imported by the worker of service.import_jobs: the answer is a job at once (202), followed at GET /imports/{id}.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, BinaryIO
from zoneinfo import ZoneInfo

from fastapi import APIRouter, File, Form, Query, Request, UploadFile, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.api.common import query_time_ms
from service.api.deps import AppContext, ContextDep, PrincipalDep, SessionDep
from service.api.types import DbId
from service.api_errors import error_responses
from service.config import Settings
from service.errors import Forbidden
from service.importers import ImportCounts, ImportFile, open_import
from service.importers.account import read_archive
from service.importers.job import FileReport, import_opened
from service.importers.limits import ImportLimits
from service.importers.restore import RestoreCounts, restore_account
from service.importers.store import DbSink
from service.journal import get_owned, get_owned_device
from service.localtime import zone
from service.models import ImportJob, Sample, User, WorkoutSession

if TYPE_CHECKING:
    from service.import_jobs import ImportJobs

router = APIRouter(prefix="/imports", tags=["imports"])


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


def _sessions_touched(db: SessionDep, user_id: int, counts: ImportCounts) -> list[int]:
    if counts.first_ms is None or counts.last_ms is None:
        return []
    query = select(WorkoutSession.id).where(
        WorkoutSession.user_id == user_id, WorkoutSession.deleted.is_(False),
        WorkoutSession.start_ms <= counts.last_ms, WorkoutSession.end_ms >= counts.first_ms,
    )  # fmt: skip
    return list(db.scalars(query.order_by(WorkoutSession.start_ms).limit(1000)))


class ImportJobPublic(BaseModel):
    """An import running in the background: where it is, and once done the report the synchronous POST gives."""

    id: int
    state: str  # queued -> running -> done | failed
    file_name: str
    format: str | None
    bytes_read: int  # of the uploaded file, read so far; only goes up
    bytes_total: int
    samples_stored: int  # samples of the file now stored (new or already there)
    percent: int  # 0-100; 100 only once done
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    error: str | None  # why, when failed
    report: ImportPublic | None  # once done
    timezone: str  # the user's, which the report's days are in


def job_public(job: ImportJob, timezone: str) -> ImportJobPublic:
    """The API's form of a job row; percent holds below 100 until the job is done (reading runs ahead)."""
    if job.state == "done":
        percent = 100
    elif job.bytes_total:
        percent = min(99, job.bytes_read * 100 // job.bytes_total)
    else:
        percent = 0
    return ImportJobPublic(
        id=job.id, state=job.state, file_name=job.file_name, format=job.format, bytes_read=job.bytes_read,
        bytes_total=job.bytes_total, samples_stored=job.samples_stored, percent=percent,
        created_at=job.created_at, started_at=job.started_at, finished_at=job.finished_at, error=job.error,
        report=ImportPublic.model_validate(job.report) if job.report is not None else None, timezone=timezone,
    )  # fmt: skip


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


_ERRORS = error_responses(404, 413, 415)
_ERRORS[403] = {**_ERRORS[404], "description": "A device's upload token used for another device or a restore"}
_POST_ANSWERS = {
    **_ERRORS,
    **error_responses(429),  # background=true: too many of the user's imports queued or running
    202: {
        "model": ImportJobPublic,
        "description": "background=true: the job, queued; follow it at the Location header's path",
        "headers": {"Location": {"description": "/api/v1/imports/{id}", "schema": {"type": "string"}}},
    },
}


@router.post("", response_model=ImportPublic, responses=_POST_ANSWERS)
def import_file(
    request: Request,
    file: Annotated[
        UploadFile,
        File(
            description="FIT, TCX, GPX, fitlog, Polar HRM, CSV, RR text, Apple Health, Chin Up export; "
            "gzip of any, or a zip of several"
        ),
    ],
    principal: PrincipalDep,
    db: SessionDep,
    ctx: ContextDep,
    device_id: Annotated[DbId | None, Form()] = None,
    device_name: Annotated[str | None, Form(max_length=120)] = None,
    start: Annotated[
        str | None, Form(description="start time for relative times (ISO 8601 with offset)")
    ] = None,
    strict: Annotated[
        bool, Form(description="refuse a damaged file whole instead of keeping what reads")
    ] = False,
    background: Annotated[
        bool, Query(description="answer 202 with a job at once and import in the background")
    ] = False,
) -> ImportPublic | JSONResponse:
    """Import one file; a device's upload token imports into that device. A file that cannot be read is
    refused whole with the place it failed; a damaged one keeps what reads, and the report says what not.
    With `background=true` the file is stored and queued: 202 with the job, `GET /imports/{id}` follows it."""
    user = principal.user
    if principal.device_id is not None:
        if device_id is not None and device_id != principal.device_id:
            raise Forbidden("this upload token belongs to another device")
        device_id = principal.device_id
    if device_id is not None:
        get_owned_device(db, user.id, device_id)
    start_ms = query_time_ms(start, "start") if start else None
    name = file.filename or "upload"
    options = ImportOptions(device_id, device_name, start_ms, strict, principal.device_id)
    if background:
        jobs: ImportJobs = request.app.state.import_jobs
        job = jobs.submit(db, user.id, file.file, name, options)
        return JSONResponse(
            job_public(job, user.timezone).model_dump(mode="json"), status_code=status.HTTP_202_ACCEPTED,
            headers={"Location": f"/api/v1/imports/{job.id}"},
        )  # fmt: skip
    return import_upload(db, ctx, user, file.file, name, options)


@router.get("", response_model=list[ImportJobPublic])
def list_import_jobs(principal: PrincipalDep, db: SessionDep) -> list[ImportJobPublic]:
    """The caller's last 50 background imports, newest first."""
    query = select(ImportJob).where(ImportJob.user_id == principal.user.id)
    tz = principal.user.timezone
    return [job_public(j, tz) for j in db.scalars(query.order_by(ImportJob.id.desc()).limit(50))]


@router.get("/{job_id}", response_model=ImportJobPublic, responses=error_responses(404))
def get_import_job(job_id: DbId, principal: PrincipalDep, db: SessionDep) -> ImportJobPublic:
    """One background import; another user's id answers 404, as if it did not exist."""
    job = get_owned(db, ImportJob, principal.user.id, job_id, "import job")
    return job_public(job, principal.user.timezone)
