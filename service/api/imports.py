"""File imports: one uploaded file (FIT, TCX, GPX, fitlog, HRM, CSV, RR text, Apple Health, a Chin Up export,
gzip of any, a zip of several) -> samples.

The samples take the upload's ingest path (service.importers.store.DbSink), so a file imported twice
changes nothing and the day rollups update incrementally. With `?background=true` the upload is stored and
imported by the worker of service.importers.background: the answer is a job at once (202), followed at GET /imports/{id}.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, File, Form, Query, Request, UploadFile, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import select

from service.api.deps import ContextDep, PrincipalDep, SessionDep
from service.core.models import ImportJob
from service.errors import Forbidden
from service.importers.upload import ImportOptions, ImportPublic, import_upload
from service.journal import get_owned, get_owned_device
from service.web.errors import error_responses
from service.web.fields import DbId
from service.web.query import query_time_ms

if TYPE_CHECKING:
    from service.importers.background import ImportJobs

router = APIRouter(prefix="/imports", tags=["imports"])


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
