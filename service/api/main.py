"""The API router: includes one router per resource, nothing else."""

from __future__ import annotations

from fastapi import APIRouter

from service.api import (
    applications,
    auth,
    checkins,
    days,
    devices,
    interviews,
    live,
    practice,
    samples,
    sessions,
    users,
)

api_router = APIRouter(prefix="/api/v1")
for module in (users, auth, devices, samples, days, sessions, live, checkins, interviews, practice, applications):
    api_router.include_router(module.router)
