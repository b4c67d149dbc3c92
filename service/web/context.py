"""What every request and background job of one app may use: built once by the app's lifespan and owned by it.

Below the routers, so that the import worker (service.importers.background) takes the same context as a
request without importing the API.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from service.config import Settings
from service.pipeline.live import LiveHub
from service.pipeline.scheduler import Rollups


@dataclass
class AppContext:
    """The app's settings, database sessions, live hub and analysis scheduler."""

    settings: Settings
    sessions: sessionmaker[Session]
    live: LiveHub
    rollups: Rollups
