"""The heart profile the server computes with: resting HR and HRmax, where each comes from, and the zones."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel

from service.analysis.errors import InvalidProfile
from service.analysis.profile import MODERATE_HRR, PEAK_HRR, VIGOROUS_HRR, tanaka_max_hr
from service.api.deps import CurrentUser
from service.core import localtime
from service.core.models import User
from service.errors import InvalidInput
from service.pipeline.minutes import profile_for
from service.web.errors import error_responses

router = APIRouter(prefix="/me", tags=["users"])

Source = Literal["yours", "estimated", "age", "observed", "default"]


class ZoneEdges(BaseModel):
    """Lowest bpm of each zone: moderate (= a heartbeat-up minute), vigorous and peak."""

    moderate_bpm: float
    vigorous_bpm: float
    peak_bpm: float
    moderate_hrr: float = MODERATE_HRR
    vigorous_hrr: float = VIGOROUS_HRR
    peak_hrr: float = PEAK_HRR


class HeartProfilePublic(BaseModel):
    resting_hr: float
    resting_hr_source: Source
    max_hr: float
    max_hr_source: Source
    zones: ZoneEdges


def _sources(user: User, age: int | None, max_hr: float) -> tuple[Source, Source]:
    """Where service.analysis.profile.build_profile took each value from, in its order of precedence."""
    rest: Source = (
        "yours" if user.resting_hr is not None else "estimated" if user.estimated_resting_hr else "default"
    )
    if user.max_hr is not None:
        top: Source = "yours"
    elif age is not None and 10 <= age <= 100 and max_hr == tanaka_max_hr(age):
        top = "age"
    elif user.observed_max_hr is not None and max_hr == float(user.observed_max_hr):
        top = "observed"
    else:
        top = "default"
    return rest, top


@router.get("/heart", response_model=HeartProfilePublic, responses=error_responses(422))
def read_heart_profile(user: CurrentUser) -> HeartProfilePublic:
    """The resting HR and HRmax every rollup of yours uses (your values, else estimates: resting HR from
    your data, HRmax by Tanaka from your birth year raised to the highest clean value seen), and the zone
    edges in bpm derived from them by heart-rate reserve."""
    today = localtime.today(localtime.zone(user.timezone))
    try:
        profile = profile_for(user, today=today)
    except InvalidProfile as exc:
        raise InvalidInput(f"resting and maximum heart rate do not fit together: {exc.reason}") from exc
    age = today.year - user.birth_year if user.birth_year else None
    rest_source, max_source = _sources(user, age, float(profile.max_hr))
    return HeartProfilePublic(
        resting_hr=round(float(profile.resting_hr), 1),
        resting_hr_source=rest_source,
        max_hr=round(float(profile.max_hr), 1),
        max_hr_source=max_source,
        zones=ZoneEdges(
            moderate_bpm=round(profile.threshold_bpm, 1),
            vigorous_bpm=round(profile.vigorous_bpm, 1),
            peak_bpm=round(profile.peak_bpm, 1),
        ),
    )
