"""The API router: includes one router per resource, nothing else."""

from __future__ import annotations

from fastapi import APIRouter

from service.api import (
    applications,
    auth,
    checkins,
    days,
    devices,
    export,
    heart,
    imports,
    insights,
    interviews,
    live,
    nudges,
    practice,
    recovery_plan,
    samples,
    sessions,
    straps,
    stress,
    users,
)

api_router = APIRouter(prefix="/api/v1")
for module in (
    users,
    heart,
    auth,
    devices,
    samples,
    days,
    sessions,
    live,
    checkins,
    interviews,
    practice,
    applications,
    insights,
    recovery_plan,
    stress,
    imports,
    export,
    straps,
    nudges,
):
    api_router.include_router(module.router)
