"""Leaving with one's data: the whole account as a zip of CSV and JSON, and one session as TCX.

The zip is what `chinup import` and POST /imports take back (service.importers.account describes it).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import tempfile
import zipfile
from collections.abc import Iterator
from typing import IO, Any
from xml.etree import ElementTree as ET

from fastapi import APIRouter, Response
from fastapi.responses import StreamingResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.account.restore import PROFILE_FIELDS, REFLECTION_TIMES, SESSION_FIELDS
from service.api.deps import CurrentUser, SessionDep
from service.core.models import (
    Application,
    CheckIn,
    DayRollup,
    Device,
    Interview,
    PracticeSession,
    Sample,
    User,
    WorkoutSession,
)  # fmt: skip
from service.importers.account import EXPORT_FORMAT, EXPORT_VERSION, MANIFEST, samples_path
from service.journal import get_owned_session
from service.web.query import iso_ms
from service.web.views import histories

router = APIRouter(tags=["export"])
TCX_NS = "http://www.garmin.com/xmlschemas/TrainingCenterDatabase/v2"
SPOOL_MAX_BYTES = 32 * 1024 * 1024
CHUNK_BYTES = 1024 * 1024


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.datetime | dt.date) else value


def _row(obj: Any, names: tuple[str, ...]) -> dict[str, Any]:
    return {n: _plain(getattr(obj, n)) for n in names}


def _journal(db: Session, user_id: int) -> dict[str, list[dict[str, Any]]]:
    def rows(model: Any, names: tuple[str, ...], order: Any) -> list[dict[str, Any]]:
        found = db.scalars(select(model).where(model.user_id == user_id).order_by(order, model.id))
        return [_row(r, ("id", *names, "created_at")) for r in found]

    interviews = []
    for interview in db.scalars(
        select(Interview).where(Interview.user_id == user_id).order_by(Interview.at, Interview.id)
    ):
        row = _row(interview, ("id", "company", "role", "at", "stage", "outcome", "created_at"))
        r = interview.reflection
        names = ("went_well", "went_poorly", "lessons", "outsider_view", *REFLECTION_TIMES)
        row["reflection"] = _row(r, names) if r is not None else None
        row["feedback"] = [
            _row(f, ("requested_at", "received_at", "notes", "created_at")) for f in interview.feedback
        ]
        interviews.append(row)
    return {
        "checkins": rows(CheckIn, ("at", "confidence", "mood", "note"), CheckIn.at),
        "interviews": interviews,
        "practice": rows(
            PracticeSession,
            ("at", "questions", "self_rating", "notes", "started_at", "ended_at"),
            PracticeSession.at,
        ),
        "applications": _applications(db, user_id),
    }


def _applications(db: Session, user_id: int) -> list[dict[str, Any]]:
    """The applications with their status `history` (oldest first), as the API answers them."""
    found = list(
        db.scalars(
            select(Application)
            .where(Application.user_id == user_id)
            .order_by(Application.applied_at, Application.id)
        )
    )
    history = histories(db, found)
    names = ("id", "company", "role", "applied_at", "status", "created_at")
    return [{**_row(a, names), "history": [_row(e, ("status", "at")) for e in history[a.id]]} for a in found]


def _write_json(zf: zipfile.ZipFile, name: str, value: Any) -> None:
    zf.writestr(name, json.dumps(value, indent=1, ensure_ascii=False))


def _write_csv(zf: zipfile.ZipFile, name: str, header: list[str], rows: Iterator[list[Any]]) -> None:
    with zf.open(name, "w") as member, io.TextIOWrapper(member, encoding="utf-8", newline="") as text:
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def _sample_rows(db: Session, device_id: int) -> Iterator[list[Any]]:
    query = select(Sample.t_ms, Sample.bpm, Sample.rr_ms, Sample.contact).where(Sample.device_id == device_id)
    for t_ms, bpm, rr, contact in db.execute(query.order_by(Sample.t_ms).execution_options(yield_per=10_000)):
        yield [iso_ms(t_ms), bpm, rr or "", "" if contact is None else str(contact).lower()]


def write_account_zip(db: Session, user: User, out: IO[bytes]) -> None:
    """Everything of the account: profile, devices and their samples, sessions, days, the journal."""
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        _write_json(zf, MANIFEST, {"format": EXPORT_FORMAT, "version": EXPORT_VERSION,
                                   "exported_at": dt.datetime.now(dt.UTC).isoformat()})  # fmt: skip
        profile_names = (
            "email",
            *PROFILE_FIELDS,
            "estimated_resting_hr",
            "observed_max_hr",
            "is_demo",
            "created_at",
        )
        _write_json(zf, "profile.json", _row(user, profile_names))
        devices = list(db.scalars(select(Device).where(Device.user_id == user.id).order_by(Device.id)))
        listed = []
        for device in devices:
            listed.append(
                {
                    **_row(device, ("id", "name", "address", "model", "created_at")),
                    "samples": samples_path(device.id),
                }
            )
            _write_csv(
                zf, samples_path(device.id), ["t", "bpm", "rr_ms", "contact"], _sample_rows(db, device.id)
            )
        _write_json(zf, "devices.json", listed)
        sessions = list(
            db.scalars(
                select(WorkoutSession)
                .where(WorkoutSession.user_id == user.id)
                .order_by(WorkoutSession.start_ms)
            )
        )
        _write_json(zf, "sessions.json", [_row(s, ("id", *SESSION_FIELDS)) for s in sessions])
        _write_csv(zf, "sessions.csv", ["start", "end", *SESSION_FIELDS],
                   ([iso_ms(s.start_ms), iso_ms(s.end_ms), *(_plain(getattr(s, n)) for n in SESSION_FIELDS)] for s in sessions))  # fmt: skip
        day_names = tuple(c.name for c in DayRollup.__table__.columns if c.name != "user_id")
        days = db.scalars(select(DayRollup).where(DayRollup.user_id == user.id).order_by(DayRollup.day))
        _write_csv(
            zf, "days.csv", list(day_names), ([_plain(getattr(d, n)) for n in day_names] for d in days)
        )
        for part, rows in _journal(db, user.id).items():
            _write_json(zf, f"{part}.json", rows)


def _chunks(spool: IO[bytes]) -> Iterator[bytes]:
    with spool:
        spool.seek(0)
        while chunk := spool.read(CHUNK_BYTES):
            yield chunk


@router.get("/export", response_class=StreamingResponse)
def export_account(user: CurrentUser, db: SessionDep) -> StreamingResponse:
    """The whole account as a zip of CSV and JSON, spooled to disk when large."""
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_MAX_BYTES)  # noqa: SIM115 - closed by _chunks
    write_account_zip(db, user, spool)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d")
    return StreamingResponse(
        _chunks(spool), media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="chinup-export-{stamp}.zip"'},
    )  # fmt: skip


def session_tcx(start_ms: int, samples: list[tuple[int, int]]) -> bytes:
    """A TCX activity with one lap whose track points hold time and heart rate."""
    ET.register_namespace("", TCX_NS)

    def sub(parent: ET.Element, tag: str, text: str | None = None, **attrib: str) -> ET.Element:
        elem = ET.SubElement(parent, f"{{{TCX_NS}}}{tag}", attrib)
        elem.text = text
        return elem

    root = ET.Element(f"{{{TCX_NS}}}TrainingCenterDatabase")
    activity = sub(sub(root, "Activities"), "Activity", Sport="Other")
    sub(activity, "Id", iso_ms(start_ms))
    lap = sub(activity, "Lap", StartTime=iso_ms(start_ms))
    duration_s = (samples[-1][0] - start_ms) / 1000 if samples else 0.0
    for tag, text in (("TotalTimeSeconds", f"{duration_s:.3f}"), ("DistanceMeters", "0"), ("Calories", "0"),
                      ("Intensity", "Active"), ("TriggerMethod", "Manual")):  # fmt: skip
        sub(lap, tag, text)
    track = sub(lap, "Track")
    for t_ms, bpm in samples:
        point = sub(track, "Trackpoint")
        sub(point, "Time", iso_ms(t_ms))
        sub(sub(point, "HeartRateBpm"), "Value", str(bpm))
    creator = sub(activity, "Creator", **{"{http://www.w3.org/2001/XMLSchema-instance}type": "Device_t"})
    sub(creator, "Name", "Chin Up")
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


@router.get("/sessions/{session_id}/export.tcx", response_class=Response)
def export_session_tcx(session_id: int, user: CurrentUser, db: SessionDep) -> Response:
    """One workout as TCX (heart rate per track point), for other training tools."""
    session = get_owned_session(db, user.id, session_id)
    rows = db.execute(
        select(Sample.t_ms, Sample.bpm)
        .where(
            Sample.user_id == user.id,
            Sample.t_ms >= session.start_ms,
            Sample.t_ms <= session.end_ms,
            Sample.bpm > 0,
        )
        .order_by(Sample.t_ms)
    ).all()
    samples = sorted(dict(reversed([(t, b) for t, b in rows])).items())  # one point per time: the first
    return Response(
        session_tcx(session.start_ms, samples), media_type="application/vnd.garmin.tcx+xml",
        headers={"Content-Disposition": f'attachment; filename="session-{session_id}.tcx"'},
    )  # fmt: skip
