"""The journal's request and answer models, below the routers: the API validates its bodies with them and
the restore of an account export (service.account.rows) checks each row with the same ones, so a row is
refused for exactly what the route would refuse.

The class names are the OpenAPI document's component names: moving a model is free, renaming it is not.
A model's docstring is its description there too, so the models carry only the docstrings they had.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from service.core.models import Reflection
from service.web.fields import (
    BirthYear,
    Bpm,
    CurrentPassword,
    IsoTime,
    LongText,
    NotNull,
    NudgeTime,
    Password,
    Rating,
    ShortText,
    Target,
    TimeZoneName,
    UtcTime,
)
from service.web.views import StatusEventPublic

# --- check-ins ---------------------------------------------------------------------------------------------


class CheckInCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    at: UtcTime | None = None
    confidence: Rating
    mood: Rating | None = None
    note: LongText | None = None


class CheckInUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    at: Annotated[UtcTime | None, NotNull] = None
    confidence: Annotated[Rating | None, NotNull] = None
    mood: Rating | None = None
    note: LongText | None = None


class CheckInPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: IsoTime
    confidence: int
    mood: int | None
    note: str | None
    created_at: IsoTime


# --- interviews, their reflection and feedback ------------------------------------------------------------

Label = Annotated[str, Field(min_length=1, max_length=100)]
Item = Annotated[str, Field(min_length=1, max_length=2000)]
Items = Annotated[list[Item], Field(max_length=100)]


class InterviewCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    company: ShortText
    role: ShortText
    at: UtcTime
    stage: Label | None = None
    outcome: Label | None = None


class InterviewUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    company: Annotated[ShortText | None, NotNull] = None
    role: Annotated[ShortText | None, NotNull] = None
    at: Annotated[UtcTime | None, NotNull] = None
    stage: Label | None = None
    outcome: Label | None = None


class InterviewPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    company: str
    role: str
    at: IsoTime
    stage: str | None
    outcome: str | None
    created_at: IsoTime


class Lesson(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lesson: Item
    next_time: Item | None = None


class ReflectionPut(BaseModel):
    """The whole reflection; `moved_on` alone is a switch: left out, the recorded moment is kept."""

    model_config = ConfigDict(extra="forbid")

    went_well: Items
    went_poorly: Items
    # A plain string is a lesson without a plan for next time.
    lessons: Annotated[list[Lesson | Item], Field(max_length=100)]
    outsider_view: LongText | None = None
    moved_on: bool | None = None


class ReflectionPublic(BaseModel):
    interview_id: int
    went_well: list[str]
    went_poorly: list[str]
    lessons: list[Lesson]
    outsider_view: str | None
    went_well_at: IsoTime | None
    went_poorly_at: IsoTime | None
    moved_on: bool
    moved_on_at: IsoTime | None
    updated_at: IsoTime

    @classmethod
    def of(cls, reflection: Reflection) -> ReflectionPublic:
        return cls(
            interview_id=reflection.interview_id,
            went_well=reflection.went_well,
            went_poorly=reflection.went_poorly,
            lessons=[Lesson.model_validate(item) for item in reflection.lessons],
            outsider_view=reflection.outsider_view,
            went_well_at=reflection.went_well_at,
            went_poorly_at=reflection.went_poorly_at,
            moved_on=reflection.moved_on_at is not None,
            moved_on_at=reflection.moved_on_at,
            updated_at=reflection.updated_at,
        )


def check_feedback_order(requested_at: dt.datetime | None, received_at: dt.datetime | None) -> None:
    """A reply cannot come before it was asked for: checked on create (both given) and on update (the
    stored value standing in for the one left out). Raises ValueError, which pydantic turns into a 422."""
    if requested_at is not None and received_at is not None and received_at < requested_at:
        raise ValueError("received_at is before requested_at")


class FeedbackCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    requested_at: UtcTime | None = None
    received_at: UtcTime | None = None
    notes: LongText | None = None

    @model_validator(mode="after")
    def _received_after_requested(self) -> FeedbackCreate:
        check_feedback_order(self.requested_at, self.received_at)
        return self


class FeedbackUpdate(BaseModel):
    """Fields left out are kept; the reply usually arrives days after the request."""

    model_config = ConfigDict(extra="forbid")

    requested_at: UtcTime | None = None
    received_at: UtcTime | None = None
    notes: LongText | None = None


class FeedbackPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    interview_id: int
    requested_at: IsoTime | None
    received_at: IsoTime | None
    notes: str | None
    created_at: IsoTime


class InterviewDetail(InterviewPublic):
    reflection: ReflectionPublic | None
    feedback: list[FeedbackPublic]


# --- applications -----------------------------------------------------------------------------------------

Status = Annotated[str, Field(min_length=1, max_length=100)]


class ApplicationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    company: ShortText
    role: ShortText
    applied_at: UtcTime
    status: Status | None = None


class ApplicationUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    company: Annotated[ShortText | None, NotNull] = None
    role: Annotated[ShortText | None, NotNull] = None
    applied_at: Annotated[UtcTime | None, NotNull] = None
    status: Status | None = None


class ApplicationPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    company: str
    role: str
    applied_at: IsoTime
    status: str | None
    created_at: IsoTime
    history: list[StatusEventPublic] = Field(
        default_factory=list, description="every status the application took, oldest first"
    )


# --- practice sessions ------------------------------------------------------------------------------------

# A session is a handful of questions, each a sentence or two. The bound keeps one record small (it was
# 200 x 2000 characters, 400 kB: issue 15), so a page of them stays small too (service/web/pages.py).
MAX_QUESTIONS, MAX_QUESTION_CHARS = 50, 500
Questions = Annotated[
    list[Annotated[str, Field(min_length=1, max_length=MAX_QUESTION_CHARS)]], Field(max_length=MAX_QUESTIONS)
]

# A practice session is a mock interview at most: six hours bounds a forgotten timer and the samples read.
MAX_PRACTICE_S = 6 * 3600


def span_problem(started_at: dt.datetime | None, ended_at: dt.datetime | None) -> str | None:
    """Why a practice span cannot hold, or None: both or neither, ended after started, at most 6 hours."""
    if (started_at is None) != (ended_at is None):
        return "started_at and ended_at: give both or neither"
    if started_at is not None and ended_at is not None:
        if ended_at <= started_at:
            return "ended_at: must be after started_at"
        if (ended_at - started_at).total_seconds() > MAX_PRACTICE_S:
            return "ended_at: a practice session lasts at most 6 hours"
    return None


class PracticeCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    at: UtcTime
    questions: Questions
    self_rating: Rating
    notes: LongText | None = None
    started_at: UtcTime | None = None
    ended_at: UtcTime | None = None

    @model_validator(mode="after")
    def _span(self) -> PracticeCreate:
        problem = span_problem(self.started_at, self.ended_at)
        if problem is not None:
            raise ValueError(problem)
        return self


class PracticeUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    at: Annotated[UtcTime | None, NotNull] = None
    questions: Annotated[Questions | None, NotNull] = None
    self_rating: Annotated[Rating | None, NotNull] = None
    notes: LongText | None = None
    # null clears the span (give both null); one of them alone is checked against the stored other.
    started_at: UtcTime | None = None
    ended_at: UtcTime | None = None


class PracticeHeartPublic(BaseModel):
    """Heart figures of a timed session; arousal is the mean above the user's resting heart rate."""

    mean_bpm: float
    peak_bpm: float
    n_samples: int
    arousal_bpm: float
    arousal_pct_hrr: float = Field(description="arousal as a percent of the heart-rate reserve (max - rest)")


class PracticePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: IsoTime
    questions: list[str]
    self_rating: int
    notes: str | None
    created_at: IsoTime
    started_at: IsoTime | None = None
    ended_at: IsoTime | None = None
    heart: PracticeHeartPublic | None = Field(
        default=None, description="from the user's samples in the span; null without a span or samples"
    )


# --- the account's other rows an export carries: profile, devices, session corrections ----------------------
# Their routes (users, devices, sessions) answer with their own models; these request models sit here so
# that the restore checks a row with them without importing a router.


class UserUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    timezone: TimeZoneName | None = None
    birth_year: BirthYear | None = None
    resting_hr: Bpm | None = None
    max_hr: Bpm | None = None
    daily_target_minutes: Target | None = None
    nudge_time: NudgeTime | None = None
    nudges_enabled: bool | None = None
    password: Password | None = None
    # Needed with `password`: a stolen token alone must not take the account over.
    current_password: CurrentPassword | None = None


class DeviceCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=120)
    address: str | None = Field(default=None, min_length=1, max_length=64)
    model: str | None = Field(default=None, max_length=120)


MAX_SESSION_S = 24 * 3600


class SessionSpan(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: UtcTime
    end: UtcTime

    @model_validator(mode="after")
    def _ordered(self) -> SessionSpan:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        if (self.end - self.start).total_seconds() > MAX_SESSION_S:
            raise ValueError("a session lasts at most 24 hours")
        return self
