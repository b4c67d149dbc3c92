"""SQLAlchemy 2.0 typed models: users and their tokens, devices and samples, the journal, analysis rollups."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from service.core.db import UTCDateTime

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: dict[Any, Any] = {dt.datetime: UTCDateTime()}


def _user_fk() -> Mapped[int]:
    return mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)


def _owned_by(table: str, column: str) -> ForeignKeyConstraint:
    """A reference to another of the same user's rows, carrying the user id: the row and what it points at
    always share an owner, and (Citus) live on the same shard. The parent has (id, user_id) unique."""
    return ForeignKeyConstraint([column, "user_id"], [f"{table}.id", f"{table}.user_id"], ondelete="CASCADE")


def _row_key() -> UniqueConstraint:
    """(id, user_id) unique, the target of `_owned_by`. On PostgreSQL the primary key is (id, user_id) too
    (migration 0009), so the schema can be distributed by user id; SQLite numbers rows only through a
    one-column INTEGER PRIMARY KEY, so there `id` stays the key."""
    return UniqueConstraint("id", "user_id")


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    birth_year: Mapped[int | None]
    resting_hr: Mapped[int | None]
    max_hr: Mapped[int | None]
    daily_target_minutes: Mapped[int] = mapped_column(default=60)
    nudge_time: Mapped[str] = mapped_column(String(5), default="18:00")
    nudges_enabled: Mapped[bool] = mapped_column(default=False)
    is_demo: Mapped[bool] = mapped_column(default=False)
    # Estimated from the data when the user gave no value; the profile used for every rollup.
    estimated_resting_hr: Mapped[float | None]
    observed_max_hr: Mapped[float | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class AccessToken(Base):
    """A user's bearer token, stored as a SHA-256 digest; revoked by setting revoked_at."""

    __tablename__ = "access_tokens"
    # Unique with the user id (Citus: every unique key holds the distribution column); looked up by its prefix.
    __table_args__ = (UniqueConstraint("token_hash", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = _user_fk()
    token_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]
    revoked_at: Mapped[dt.datetime | None]


class Device(Base):
    __tablename__ = "devices"
    __table_args__ = (UniqueConstraint("user_id", "address"), _row_key())

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = _user_fk()
    name: Mapped[str] = mapped_column(String(120))
    address: Mapped[str | None] = mapped_column(String(64))
    model: Mapped[str | None] = mapped_column(String(120))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_sample_ms: Mapped[int | None] = mapped_column(BigInteger)

    tokens: Mapped[list[DeviceToken]] = relationship(cascade="all, delete-orphan", passive_deletes=True)


class DeviceToken(Base):
    """An upload token that may only ingest samples for its one device."""

    __tablename__ = "device_tokens"
    __table_args__ = (_owned_by("devices", "device_id"), UniqueConstraint("token_hash", "user_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = _user_fk()
    device_id: Mapped[int] = mapped_column(index=True)
    token_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[dt.datetime | None]


class Sample(Base):
    """One reading of a strap: idempotent on (device, t_ms); RR intervals kept as space-separated ms."""

    __tablename__ = "samples"
    # The key is (device_id, t_ms, user_id): a device is one user's, so it is unique on (device, t) as before,
    # and it holds the user id for Citus.
    __table_args__ = (Index("ix_samples_user_t", "user_id", "t_ms"), _owned_by("devices", "device_id"))

    device_id: Mapped[int] = mapped_column(primary_key=True)
    t_ms: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    bpm: Mapped[int] = mapped_column(SmallInteger)
    rr_ms: Mapped[str | None] = mapped_column(Text)
    contact: Mapped[bool | None] = mapped_column(Boolean)


class CheckIn(Base):
    __tablename__ = "checkins"
    __table_args__ = (Index("ix_checkins_user_at", "user_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    at: Mapped[dt.datetime]
    confidence: Mapped[int] = mapped_column(SmallInteger)
    mood: Mapped[int | None] = mapped_column(SmallInteger)
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Interview(Base):
    __tablename__ = "interviews"
    __table_args__ = (Index("ix_interviews_user_at", "user_id", "at"), _row_key())

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    company: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(200))
    at: Mapped[dt.datetime]
    stage: Mapped[str | None] = mapped_column(String(100))
    outcome: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    reflection: Mapped[Reflection | None] = relationship(
        back_populates="interview", cascade="all, delete-orphan", passive_deletes=True
    )
    feedback: Mapped[list[Feedback]] = relationship(
        back_populates="interview", cascade="all, delete-orphan", passive_deletes=True, order_by="Feedback.id"
    )


class Reflection(Base):
    """What went well, what did not, lessons; the times each part was first written are kept for the plan."""

    __tablename__ = "reflections"
    __table_args__ = (_owned_by("interviews", "interview_id"), UniqueConstraint("interview_id", "user_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = _user_fk()
    interview_id: Mapped[int]
    went_well: Mapped[list[str]] = mapped_column(JSON, default=list)
    went_poorly: Mapped[list[str]] = mapped_column(JSON, default=list)
    lessons: Mapped[list[Any]] = mapped_column(JSON, default=list)
    outsider_view: Mapped[str | None] = mapped_column(Text)
    went_well_at: Mapped[dt.datetime | None]
    went_poorly_at: Mapped[dt.datetime | None]
    moved_on_at: Mapped[dt.datetime | None]
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    interview: Mapped[Interview] = relationship(back_populates="reflection")


class Feedback(Base):
    __tablename__ = "feedback"
    __table_args__ = (_owned_by("interviews", "interview_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = _user_fk()
    interview_id: Mapped[int] = mapped_column(index=True)
    requested_at: Mapped[dt.datetime | None]
    received_at: Mapped[dt.datetime | None]
    notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    interview: Mapped[Interview] = relationship(back_populates="feedback")


class PracticeSession(Base):
    __tablename__ = "practice_sessions"
    __table_args__ = (Index("ix_practice_user_at", "user_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    at: Mapped[dt.datetime]
    questions: Mapped[list[str]] = mapped_column(JSON, default=list)
    self_rating: Mapped[int] = mapped_column(SmallInteger)
    notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # The span the session was timed over (both or neither): its heart figures come from the samples in it.
    started_at: Mapped[dt.datetime | None]
    ended_at: Mapped[dt.datetime | None]


class Application(Base):
    __tablename__ = "applications"
    __table_args__ = (Index("ix_applications_user_applied", "user_id", "applied_at"), _row_key())

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    company: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(200))
    applied_at: Mapped[dt.datetime]
    status: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ApplicationStatusEvent(Base):
    """One status an application took and when: the answer's `history`, oldest first."""

    __tablename__ = "application_status_events"
    __table_args__ = (
        Index("ix_application_status_events_app_at", "application_id", "at"),
        _owned_by("applications", "application_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int]
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(100))
    at: Mapped[dt.datetime]


class MinuteRollup(Base):
    """One clock minute of a user's heart rate, kept current on ingest so days never rescan samples."""

    __tablename__ = "minute_rollups"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    minute_s: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    n_samples: Mapped[int]
    zone: Mapped[int] = mapped_column(SmallInteger, default=0)  # 0 none, 1 moderate, 2 vigorous, 3 peak
    valid_s: Mapped[float]
    lost_contact_s: Mapped[float]
    up_s: Mapped[float]
    moderate_s: Mapped[float]
    vigorous_s: Mapped[float]
    peak_s: Mapped[float]
    mean_bpm: Mapped[float | None]
    min_bpm: Mapped[float | None]
    max_bpm: Mapped[float | None]


class DayRollup(Base):
    """A user's local calendar day: minutes toward the target, zones, data quality, resting HR and HRV."""

    __tablename__ = "day_rollups"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    heartbeat_up_minutes: Mapped[int] = mapped_column(default=0)
    moderate_minutes: Mapped[int] = mapped_column(default=0)
    vigorous_minutes: Mapped[int] = mapped_column(default=0)
    peak_minutes: Mapped[int] = mapped_column(default=0)
    active_zone_points: Mapped[int] = mapped_column(default=0)
    valid_minutes: Mapped[int] = mapped_column(default=0)
    lost_contact_minutes: Mapped[int] = mapped_column(default=0)
    target_met_at: Mapped[dt.datetime | None]
    # The end of the newest clock minute with a sample counted in the totals (UTC epoch seconds).
    counted_until_s: Mapped[int | None] = mapped_column(BigInteger)
    resting_hr: Mapped[float | None]
    max_bpm: Mapped[float | None]
    rmssd_ms: Mapped[float | None]
    ln_rmssd: Mapped[float | None]
    n_beats: Mapped[int] = mapped_column(default=0)
    corrected_beat_pct: Mapped[float | None]
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class HrvWindow(Base):
    """One 5-minute clock window of a user's beats (one strap per day), so baselines never rescan samples."""

    __tablename__ = "hrv_windows"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    start_s: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    n_beats: Mapped[int]
    covered_s: Mapped[float]
    mean_hr_bpm: Mapped[float]
    rmssd_ms: Mapped[float | None]  # null where no two successive beats fall in the window
    hr_sd_bpm: Mapped[float]
    artifact_fraction: Mapped[float]


class WorkoutSession(Base):
    """A workout found in the heart rate, or added or corrected by the user; corrections survive recomputing."""

    __tablename__ = "workout_sessions"
    __table_args__ = (Index("ix_workout_sessions_user_start", "user_id", "start_ms"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    start_ms: Mapped[int] = mapped_column(BigInteger)
    end_ms: Mapped[int] = mapped_column(BigInteger)
    # detected | manual | edited | merged; `deleted` keeps a deletion so detection does not bring it back
    source: Mapped[str] = mapped_column(String(16), default="detected")
    deleted: Mapped[bool] = mapped_column(default=False)
    avg_bpm: Mapped[float | None]
    max_bpm: Mapped[float | None]
    heartbeat_up_minutes: Mapped[int] = mapped_column(default=0)
    moderate_minutes: Mapped[int] = mapped_column(default=0)
    vigorous_minutes: Mapped[int] = mapped_column(default=0)
    peak_minutes: Mapped[int] = mapped_column(default=0)
    trimp: Mapped[float | None]
    hrr60_bpm: Mapped[float | None]
    hrr120_bpm: Mapped[float | None]
    end_of_effort_ms: Mapped[int | None] = mapped_column(BigInteger)
    hr_end_of_effort: Mapped[float | None]
    recovery_tau_s: Mapped[float | None]
    recovery_fit_r2: Mapped[float | None]
    fit_hr0: Mapped[float | None]
    fit_hr_asymptote: Mapped[float | None]
    fit_t0_ms: Mapped[int | None] = mapped_column(BigInteger)
    fit_duration_s: Mapped[float | None]
    # Still receiving data when last analysed (its recovery is pending); the API also ends it once no data
    # have come for longer than a hole (service.web.views.session_public).
    in_progress: Mapped[bool] = mapped_column(default=False, server_default=false())
    recovery_note: Mapped[str | None] = mapped_column(String(200))  # why a recovery value is missing/low


class PairedStrap(Base):
    """A strap the service records by itself. One owner per address across the service: pairing checks it
    under a lock on the address (service.api.straps), since a key unique across users cannot be distributed."""

    __tablename__ = "paired_straps"
    __table_args__ = (
        _owned_by("devices", "device_id"),
        UniqueConstraint("device_id", "user_id"),
        UniqueConstraint("address", "user_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = _user_fk()
    device_id: Mapped[int]
    address: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(120))
    recording: Mapped[bool] = mapped_column(default=True)
    # The upload token the service's own recorder uses (replaced at each start, so none pile up).
    recorder_token_id: Mapped[int | None]
    paired_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class NudgeSent(Base):
    """A nudge said on a user's local day; the key makes each kind at most once a day."""

    __tablename__ = "nudges_sent"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    sent_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    message: Mapped[str] = mapped_column(Text)
    minutes: Mapped[int] = mapped_column(default=0)
    target_minutes: Mapped[int] = mapped_column(default=60)


class AnalysisTask(Base):
    """Analysis owed to stored samples, written in the ingest transaction: a kill after the answer loses none.

    `minutes`: the span lo_ms..hi_ms still to count; `history` / `totals`: the user's whole history or every
    day's target to recompute. Rows are deleted once their work is done; at start the service takes up what
    is left (service.pipeline.scheduler.Rollups.recover).
    """

    __tablename__ = "analysis_tasks"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = _user_fk()
    kind: Mapped[str] = mapped_column(String(16))
    lo_ms: Mapped[int | None] = mapped_column(BigInteger)
    hi_ms: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ImportJob(Base):
    """An import run in the background (POST /imports?background=true): its uploaded file, state and progress.

    The row is the queue: a worker claims a `queued` row atomically, so several processes on one database never
    run a job twice; `attempts` counts the starts, so a file that keeps killing its process ends `failed`.
    `path` is the upload's name inside the data directory of `node`, removed when the job ends; only a process
    of that node (machine and data directory) can run the job.
    """

    __tablename__ = "import_jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = _user_fk()
    state: Mapped[str] = mapped_column(String(16), default="queued", index=True)
    file_name: Mapped[str] = mapped_column(String(255))
    format: Mapped[str | None] = mapped_column(String(32))
    path: Mapped[str] = mapped_column(String(255))
    node: Mapped[str] = mapped_column(String(255))  # the host and data directory holding the upload
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    bytes_read: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes_total: Mapped[int] = mapped_column(BigInteger, default=0)
    samples_stored: Mapped[int] = mapped_column(default=0)
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    started_at: Mapped[dt.datetime | None]
    finished_at: Mapped[dt.datetime | None]
    heartbeat_at: Mapped[dt.datetime | None]
    error: Mapped[str | None] = mapped_column(Text)
    report: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class StreamTicket(Base):
    """A single-use ticket for one live stream (POST /live/ticket), kept by digest for a few seconds.

    In the database, not in memory, because the process that opens the stream is not always the one that
    issued the ticket (`chinup serve --workers N`, or servers behind one proxy). Redeeming deletes the row,
    so a ticket opens one stream across all processes. Keyed by user first (the ticket carries its user id).
    """

    __tablename__ = "stream_tickets"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    token_digest: Mapped[str] = mapped_column(String(64))
    issued_s: Mapped[float] = mapped_column(Float)  # seconds since the epoch
    expires_s: Mapped[float] = mapped_column(Float)


class LoginEvent(Base):
    """One failed or successful log-in, or one sign-up, as the log-in throttle counts them
    (service.web.throttle): in the database so every process counts the same guesses.

    Not a user's data (the account named may not exist), so not keyed by user; rows older than the longest
    memory the throttle has are pruned as new ones are written.
    """

    __tablename__ = "login_events"
    __table_args__ = (
        Index("ix_login_events_address", "kind", "address", "at_s"),
        Index("ix_login_events_account", "kind", "account", "at_s"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))  # failed, ok, signup
    account: Mapped[str | None] = mapped_column(String(320))
    address: Mapped[str] = mapped_column(String(64))
    at_s: Mapped[float] = mapped_column(Float)  # seconds since the epoch


class StrapSighting(Base):
    """A strap address this user's scan heard, and when (seconds since the epoch): on PostgreSQL, so that a
    pairing answered by any process of the deployment sees the scan another process ran (`--workers N`)."""

    __tablename__ = "strap_sightings"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    address: Mapped[str] = mapped_column(String(17), primary_key=True)
    seen_s: Mapped[float] = mapped_column(Float)
