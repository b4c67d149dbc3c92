"""The rows of an account export, checked with the API's own models before they are restored.

An export is a file the user hands us, so it is as untrusted as a request body: issue 15 found crafted
exports storing ratings of 99, a time zone "Mars/Base", dates in year 1 and NUL characters, each of which
answered 500 on every later read (and one time zone stopped the nudges of every user). Each row is
checked here with the model its API route uses (service.journal.schemas, below the routers); a row that
fails is left out and counted with its reason, the rest of the archive is restored. The choice of "refuse the row, keep the
archive" over "refuse the archive" keeps an older export restorable when one of its rows predates a
check the API added since.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from service.journal.schemas import (
    ApplicationCreate,
    CheckInCreate,
    DeviceCreate,
    FeedbackCreate,
    InterviewCreate,
    Lesson,
    PracticeCreate,
    ReflectionPut,
    SessionSpan,
    Status,
    UserUpdate,
)
from service.pipeline.ingest import EPOCH_MS_FLOOR
from service.web.fields import UtcTime

MAX_LISTED = 20  # refused rows named one by one in the report; all of them are counted by reason
_BAD_TEXT = re.compile("[\x00\ud800-\udfff]")  # what no database stores (see service.web.input_guard)
_LAST_MS = int(dt.datetime(2100, 12, 31, tzinfo=dt.UTC).timestamp() * 1000)
NOT_NULL_PROFILE = frozenset({"timezone", "daily_target_minutes", "nudge_time", "nudges_enabled"})


class RowInvalid(ValueError):
    """One exported row the API would refuse; `reason` names the field and the rule, never the value."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class RowRefusal:
    file: str
    row: int  # 1-based position in the file's list (0 for profile.json, whose fields are not rows)
    reason: str


@dataclass
class Refusals:
    """Rows left out of a restore: the first MAX_LISTED by place, all of them counted by reason."""

    listed: list[RowRefusal] = field(default_factory=list)
    by_reason: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.by_reason.values())

    def add(self, file: str, row: int, reason: str) -> None:
        key = f"{file}: {reason}"
        self.by_reason[key] = self.by_reason.get(key, 0) + 1
        if len(self.listed) < MAX_LISTED:
            self.listed.append(RowRefusal(file, row, reason))


def _reason(exc: ValidationError) -> str:
    first = exc.errors(include_url=False, include_input=False)[0]
    where = ".".join(str(p) for p in first["loc"]) or "row"
    return f"{where}: {first['msg']}"


def _storable(value: Any) -> None:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if _BAD_TEXT.search(item):
                raise RowInvalid("text may not hold NUL characters or unpaired surrogates")
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def checked(model: type[BaseModel], row: Any, names: tuple[str, ...]) -> dict[str, Any]:
    """`row`'s `names` validated by `model` (the API's), as the values to store.

    Raises:
        RowInvalid: the row is no object, holds text no database stores, or fails the model.
    """
    if not isinstance(row, dict):
        raise RowInvalid("not a JSON object")
    picked = {n: row[n] for n in names if n in row}
    _storable(picked)
    try:
        return model.model_validate(picked).model_dump(include=set(names))
    except ValidationError as exc:
        raise RowInvalid(_reason(exc)) from exc


def not_future(value: dt.datetime | None, name: str, now: dt.datetime, tolerance_s: int) -> None:
    """The API's rule for what already happened (service.journal.refuse_future)."""
    if value is not None and value > now + dt.timedelta(seconds=tolerance_s):
        raise RowInvalid(f"{name}: is in the future")


def profile_field(name: str, value: Any) -> Any:
    """One profile setting as PATCH /me takes it; None means "keep" for a setting that cannot be empty."""
    _storable(value)
    try:
        return getattr(UserUpdate.model_validate({name: value}), name)
    except ValidationError as exc:
        raise RowInvalid(_reason(exc)) from exc


def checkin(row: Any, now: dt.datetime, tolerance_s: int) -> dict[str, Any]:
    values = checked(CheckInCreate, row, ("at", "confidence", "mood", "note"))
    if values["at"] is None:
        raise RowInvalid("at: Field required")
    not_future(values["at"], "at", now, tolerance_s)
    return values


PRACTICE_FIELDS = ("at", "questions", "self_rating", "notes", "started_at", "ended_at")
MAX_HISTORY = 1000  # status changes of one application: far more than any real one takes


def practice(row: Any) -> dict[str, Any]:
    """A practice session as POST /practice takes it; an export older than the timed span has none."""
    return checked(PracticeCreate, row, PRACTICE_FIELDS)


class _StatusEvent(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Status
    at: UtcTime


def application(row: Any, now: dt.datetime, tolerance_s: int) -> dict[str, Any]:
    """An application as POST /applications takes it, plus its `history` of {status, at} (oldest first).

    An export older than the history has none; the restore then starts it at the current status."""
    values = checked(ApplicationCreate, row, ("company", "role", "applied_at", "status"))
    not_future(values["applied_at"], "applied_at", now, tolerance_s)
    history = row.get("history") or []
    if not isinstance(history, list) or len(history) > MAX_HISTORY:
        raise RowInvalid(f"history: not a list of at most {MAX_HISTORY} status changes")
    events = []
    for event in history:
        checked_event = checked(_StatusEvent, event, ("status", "at"))
        not_future(checked_event["at"], "history.at", now, tolerance_s)
        events.append(checked_event)
    return {**values, "history": sorted(events, key=lambda e: e["at"])}


def interview(row: Any) -> dict[str, Any]:
    return checked(InterviewCreate, row, ("company", "role", "at", "stage", "outcome"))


class _ReflectionTimes(BaseModel):
    """The moments a reflection keeps, which PUT /reflection sets itself and an export carries."""

    model_config = ConfigDict(extra="forbid")

    went_well_at: UtcTime | None = None
    went_poorly_at: UtcTime | None = None
    moved_on_at: UtcTime | None = None
    updated_at: UtcTime | None = None


def reflection(row: Any, now: dt.datetime) -> dict[str, Any]:
    """A reflection as PUT /reflection stores it: lessons as {lesson, next_time}, plus its kept moments."""
    body = checked(ReflectionPut, row, ("went_well", "went_poorly", "lessons", "outsider_view"))
    times = checked(_ReflectionTimes, row, tuple(_ReflectionTimes.model_fields))
    lessons = [
        item if isinstance(item, dict) else Lesson(lesson=item).model_dump() for item in body["lessons"]
    ]
    return {**body, "lessons": lessons, **times, "updated_at": times["updated_at"] or now}


def feedback(row: Any) -> dict[str, Any]:
    return checked(FeedbackCreate, row, ("requested_at", "received_at", "notes"))


def device(row: Any) -> dict[str, Any]:
    """A device as POST /devices takes it; an export may hold one without a name (then "Device")."""
    if isinstance(row, dict) and not row.get("name"):
        row = {**row, "name": "Device"}
    return checked(DeviceCreate, row, ("name", "address", "model"))


EpochMs = Annotated[int, Field(ge=EPOCH_MS_FLOOR, le=_LAST_MS)]
Minutes = Annotated[int, Field(ge=0, le=1440)]
HeartRate = Annotated[float, Field(ge=0, le=300, allow_inf_nan=False)]
Change = Annotated[float, Field(ge=-300, le=300, allow_inf_nan=False)]
Seconds = Annotated[float, Field(ge=0, le=86_400, allow_inf_nan=False)]
Finite = Annotated[float, Field(ge=-1e6, le=1e6, allow_inf_nan=False)]


class SessionRestore(BaseModel):
    """A stored workout session (a user's correction): its span checked as POST /sessions checks it, the
    statistics within what a heart can give (JSON may spell NaN and Infinity, which no answer can carry)."""

    model_config = ConfigDict(extra="ignore")

    start_ms: EpochMs
    end_ms: EpochMs
    source: Literal["detected", "manual", "edited", "merged"]
    deleted: bool = False
    avg_bpm: HeartRate | None = None
    max_bpm: HeartRate | None = None
    heartbeat_up_minutes: Minutes = 0
    moderate_minutes: Minutes = 0
    vigorous_minutes: Minutes = 0
    peak_minutes: Minutes = 0
    trimp: Annotated[float, Field(ge=0, le=1e5, allow_inf_nan=False)] | None = None
    hrr60_bpm: Change | None = None
    hrr120_bpm: Change | None = None
    end_of_effort_ms: EpochMs | None = None
    hr_end_of_effort: HeartRate | None = None
    recovery_tau_s: Seconds | None = None
    recovery_fit_r2: Finite | None = None
    fit_hr0: Finite | None = None
    fit_hr_asymptote: Finite | None = None
    fit_t0_ms: EpochMs | None = None
    fit_duration_s: Seconds | None = None
    in_progress: bool = False
    recovery_note: Annotated[str, Field(max_length=200)] | None = None

    @model_validator(mode="after")
    def _span(self) -> SessionRestore:
        as_time = dt.datetime.fromtimestamp
        SessionSpan(start=as_time(self.start_ms / 1000, dt.UTC), end=as_time(self.end_ms / 1000, dt.UTC))
        return self


def session(row: Any, names: tuple[str, ...]) -> dict[str, Any]:
    return checked(SessionRestore, row, names)
