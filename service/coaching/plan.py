"""The interview recovery plan: seven steps judged from the user's journal and strap, pure of HTTP.

`load_inputs` reads the rows the plan needs (the route calls it, then `recovery_plan`); the steps only
read those rows' attributes and the calendar they are given, so the rules for "done" live in one place and
can be tested without a server or a database (DESIGN.md, "The interview recovery plan").
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.analysis.minutes import target_met
from service.core import localtime
from service.core.models import (
    Application,
    DayRollup,
    Feedback,
    Interview,
    PracticeSession,
    Reflection,
    User,
)
from service.journal import feedback_in_time_order

STEP_TITLES: dict[str, str] = {
    "reflect": "Reflect: what went well, then what did not",
    "learn": "Learn: lessons and how to handle them next time",
    "move_on": "Move on",
    "get_feedback": "Get feedback",
    "practise": "Practise your responses",
    "dont_stop": "Don't stop: keep applying",
    "exercise": "Exercise: your daily heartbeat-up hour",
}


@dataclass(frozen=True)
class Step:
    """One step of the plan: whether it is done and the evidence, a sentence with the numbers behind it."""

    step: str
    done: bool
    summary: str
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def title(self) -> str:
        return STEP_TITLES[self.step]


@dataclass(frozen=True)
class PlanInputs:
    """Everything the plan reads: the interview, its reflection and feedback, and what came after it."""

    interview: Interview
    reflection: Reflection | None
    feedback: Sequence[Feedback]
    practice: Sequence[PracticeSession]  # sessions at or after the interview
    applications: Sequence[Application]  # applications at or after the interview
    target_met_at: Sequence[tuple[dt.date, dt.datetime]]  # local days whose target was met, and when
    today: dt.date  # the user's local today
    tz: ZoneInfo


def _plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n} {word if n == 1 else many or word + 's'}"


def _iso(value: dt.datetime | None, tz: ZoneInfo) -> str | None:
    return value.astimezone(tz).isoformat() if value is not None else None


def reflect_step(reflection: Reflection | None, tz: ZoneInfo) -> Step:
    """Done when both lists are written and what went well came first (or at the same moment)."""
    well = list(reflection.went_well) if reflection else []
    poorly = list(reflection.went_poorly) if reflection else []
    well_at = reflection.went_well_at if reflection else None
    poorly_at = reflection.went_poorly_at if reflection else None
    in_order = well_at is not None and poorly_at is not None and well_at <= poorly_at
    done = bool(well) and bool(poorly) and in_order
    if done:
        text = f"{_plural(len(well), 'thing')} that went well, written before {len(poorly)} that did not."
    elif not well and not poorly:
        text = "Start with what went well, then write what did not."
    elif not well:
        text = "What did not go well is written; add what went well too (clear the other list to restart)."
    elif not poorly:
        text = f"{_plural(len(well), 'thing')} that went well; now write what did not."
    else:
        text = "What did not go well was written first; clear it, then write it again after what went well."
    facts = {
        "went_well": len(well),
        "went_poorly": len(poorly),
        "went_well_at": _iso(well_at, tz),
        "went_poorly_at": _iso(poorly_at, tz),
        "well_first": in_order,
    }
    return Step("reflect", done, text, facts)


def learn_step(reflection: Reflection | None) -> Step:
    """Done when there is at least one lesson and every lesson says how to handle it next time."""
    lessons = list(reflection.lessons) if reflection else []
    planned = sum(1 for item in lessons if isinstance(item, dict) and item.get("next_time"))
    done = bool(lessons) and planned == len(lessons)
    if not lessons:
        text = "No lessons written yet."
    elif done:
        text = f"{_plural(len(lessons), 'lesson')}, each with how to handle it next time."
    else:
        text = f"{planned} of {_plural(len(lessons), 'lesson')} say how to handle it next time."
    return Step("learn", done, text, {"lessons": len(lessons), "with_next_time": planned})


def move_on_step(reflection: Reflection | None, tz: ZoneInfo) -> Step:
    """Done once the user has marked the reflection as moved on."""
    at = reflection.moved_on_at if reflection else None
    text = "You marked this interview as moved on." if at else "Not marked as moved on yet."
    return Step("move_on", at is not None, text, {"moved_on_at": _iso(at, tz)})


def feedback_step(feedback: Sequence[Feedback]) -> Step:
    """Done once feedback has been received; asking for it earns half the credit."""
    requested = list(feedback)  # a logged record is a request, dated or not
    received = [f for f in feedback if f.received_at is not None]
    progress = 1.0 if received else 0.5 if requested else 0.0
    if received:
        text = f"Feedback received ({_plural(len(received), 'reply', 'replies')})."
    elif requested:
        text = f"Feedback requested ({_plural(len(requested), 'request')}); no reply yet."
    else:
        text = "No feedback requested yet."
    facts = {
        "requested": len(requested),
        "received": len(received),
        "progress": progress,
        "feedback_ids": [f.id for f in feedback],
    }
    return Step("get_feedback", bool(received), text, facts)


def practise_step(practice: Sequence[PracticeSession]) -> Step:
    """Done after at least one practice session since the interview."""
    questions = sum(len(p.questions) for p in practice)
    ratings = [p.self_rating for p in practice]
    mean = round(sum(ratings) / len(ratings), 1) if ratings else None
    if practice:
        text = (
            f"{_plural(len(practice), 'practice session')} since the interview, "
            f"{_plural(questions, 'question')} answered, rated {mean} on average."
        )
    else:
        text = "No practice sessions since the interview yet."
    facts = {
        "sessions": len(practice),
        "questions": questions,
        "mean_self_rating": mean,
        "practice_ids": [p.id for p in practice],
    }
    return Step("practise", bool(practice), text, facts)


def dont_stop_step(applications: Sequence[Application]) -> Step:
    """Done after at least one application sent since the interview."""
    n = len(applications)
    text = f"{_plural(n, 'application')} sent since the interview." if n else "No applications since yet."
    return Step(
        "dont_stop", n > 0, text, {"applications": n, "application_ids": [a.id for a in applications]}
    )


def exercise_step(
    interview_at: dt.datetime,
    target_met_at: Sequence[tuple[dt.date, dt.datetime]],
    today: dt.date,
    tz: ZoneInfo,
) -> Step:
    """Done once the daily target has been met after the interview; the streak shows whether it lasts."""
    first_day = interview_at.astimezone(tz).date()
    met = {day for day, at in target_met_at if at >= interview_at and first_day <= day <= today}
    elapsed = max(0, (today - first_day).days + 1)
    cursor = today if today in met else today - dt.timedelta(days=1)
    streak = 0
    while cursor in met:
        streak += 1
        cursor -= dt.timedelta(days=1)
    if met:
        text = (
            f"Heartbeat-up hour on {len(met)} of {_plural(elapsed, 'day')} since the interview; "
            f"current streak {_plural(streak, 'day')}."
        )
    else:
        text = "No day with the heartbeat-up hour since the interview yet."
    facts = {
        "days_since": elapsed,
        "days_target_met": len(met),
        "current_streak_days": streak,
        "dates_target_met": sorted(d.isoformat() for d in met),
    }
    return Step("exercise", bool(met), text, facts)


def recovery_plan(inputs: PlanInputs) -> list[Step]:
    """The seven steps in their order."""
    tz = inputs.tz
    return [
        reflect_step(inputs.reflection, tz),
        learn_step(inputs.reflection),
        move_on_step(inputs.reflection, tz),
        feedback_step(inputs.feedback),
        practise_step(inputs.practice),
        dont_stop_step(inputs.applications),
        exercise_step(inputs.interview.at, inputs.target_met_at, inputs.today, tz),
    ]


def load_inputs(db: Session, user: User, interview: Interview) -> PlanInputs:
    """What the plan of the user's interview reads: its reflection and feedback, the practice and the
    applications at or after it, and the days since it whose heartbeat-up target was met."""
    tz = localtime.zone(user.timezone)
    today = localtime.today(tz)
    practice, applications = _since(db, user, interview)
    first_day = interview.at.astimezone(tz).date()
    return PlanInputs(
        interview=interview,
        reflection=interview.reflection,
        feedback=feedback_in_time_order(interview),
        practice=practice,
        applications=applications,
        target_met_at=_targets_met(db, user, first_day, today),
        today=today,
        tz=tz,
    )


def _since(db: Session, user: User, interview: Interview) -> tuple[list[PracticeSession], list[Application]]:
    practice = db.scalars(
        select(PracticeSession)
        .where(PracticeSession.user_id == user.id, PracticeSession.at >= interview.at)
        .order_by(PracticeSession.at, PracticeSession.id)
    ).all()
    applications = db.scalars(
        select(Application)
        .where(Application.user_id == user.id, Application.applied_at >= interview.at)
        .order_by(Application.applied_at, Application.id)
    ).all()
    return list(practice), list(applications)


def _targets_met(db: Session, user: User, first: dt.date, last: dt.date) -> list[tuple[dt.date, dt.datetime]]:
    """Days whose target (the user's current one, service.analysis.minutes.target_met) was met, and when."""
    rows = db.execute(
        select(DayRollup.day, DayRollup.target_met_at, DayRollup.heartbeat_up_minutes).where(
            DayRollup.user_id == user.id,
            DayRollup.day >= first,
            DayRollup.day <= last,
            DayRollup.target_met_at.is_not(None),
        )
    ).all()
    return [
        (r.day, r.target_met_at)
        for r in rows
        if target_met(r.heartbeat_up_minutes, user.daily_target_minutes)
    ]
