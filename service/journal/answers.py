"""Journal items as the API answers them, where the answer holds more than the row: an application with its
status history, a practice session with the heart figures of its span, an interview with its reflection
and feedback. Built at every read, so a later strap upload or a changed profile shows without a rewrite."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy.orm import Session

from service.analysis.cleaning import clean_hr
from service.analysis.practice import practice_heart
from service.core.models import Application, Interview, PracticeSession, User
from service.journal.ownership import feedback_in_time_order
from service.journal.schemas import (
    ApplicationPublic,
    FeedbackPublic,
    InterviewDetail,
    InterviewPublic,
    PracticeHeartPublic,
    PracticePublic,
    ReflectionPublic,
)
from service.pipeline.minutes import profile_for
from service.pipeline.samples import load_samples
from service.web.views import histories


def application_public(db: Session, application: Application) -> ApplicationPublic:
    """One application with its status history."""
    return with_histories(db, [ApplicationPublic.model_validate(application)])[0]


def with_histories(db: Session, items: Sequence[ApplicationPublic]) -> list[ApplicationPublic]:
    """The applications (a page of them) with their status histories, in one query."""
    found = histories(db, items)
    for item in items:
        item.history = found[item.id]
    return list(items)


def practice_public(db: Session, user: User, practice: PracticeSession) -> PracticePublic:
    """One practice session with the heart figures of its span."""
    return with_heart(db, user, [PracticePublic.model_validate(practice)])[0]


def with_heart(db: Session, user: User, items: Sequence[PracticePublic]) -> list[PracticePublic]:
    """The practice sessions with their heart figures: a page is bounded (service/web/pages.py), and so is
    each span (MAX_PRACTICE_S), so the samples read stay bounded too."""
    for item in items:
        item.heart = heart_of(db, user, item.started_at, item.ended_at)
    return list(items)


def heart_of(
    db: Session, user: User, started_at: dt.datetime | None, ended_at: dt.datetime | None
) -> PracticeHeartPublic | None:
    """The heart figures of the user's samples (all devices) in [started_at, ended_at), artefacts left out."""
    if started_at is None or ended_at is None:
        return None
    data = load_samples(db, user.id, started_at.timestamp(), ended_at.timestamp())
    if data.t_s.size == 0:
        return None
    valid = clean_hr(data.t_s, data.bpm, contact=data.contact).valid
    figures = practice_heart(data.bpm, profile=profile_for(user), valid=valid)
    if figures is None:
        return None
    return PracticeHeartPublic(
        mean_bpm=round(figures.mean_bpm, 1),
        peak_bpm=round(figures.peak_bpm, 1),
        n_samples=figures.n_samples,
        arousal_bpm=round(figures.arousal_bpm, 1),
        arousal_pct_hrr=round(figures.arousal_pct_hrr, 1),
    )


def interview_detail(interview: Interview) -> InterviewDetail:
    """The interview with its reflection (or null) and its feedback in time order."""
    return InterviewDetail(
        **InterviewPublic.model_validate(interview).model_dump(),
        reflection=ReflectionPublic.of(interview.reflection) if interview.reflection else None,
        feedback=[FeedbackPublic.model_validate(f) for f in feedback_in_time_order(interview)],
    )
