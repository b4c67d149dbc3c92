"""What each process of `chinup serve --workers N` imports: uvicorn starts the workers afresh (spawned, not
forked), so they rebuild the app, its logging and its HTTP protocol from the environment `serve` exported.

Only PostgreSQL serves several processes: live events, stream tickets, log-in throttling, strap claims and
the analysis queue are shared through the database, never held by one process alone.
"""

from __future__ import annotations

import os

from fastapi import FastAPI

from service.cli.main import header_deadline_protocol, tune_gc_for_serving
from service.config import Settings
from service.core.logs import setup_logging

VERBOSE_ENV = "CHINUP_SERVE_VERBOSE"

_settings = Settings()
# uvicorn takes the protocol by import string in a worker: the class is built once, here, from the settings.
HeaderDeadline = header_deadline_protocol(
    timeout_s=_settings.http_header_timeout_s, max_bytes=_settings.http_max_header_bytes
)


def create_worker_app() -> FastAPI:
    """The app of one worker, for the settings in the environment, logging as `serve` does."""
    from service.app import create_app

    setup_logging(os.environ.get(VERBOSE_ENV) == "1")
    tune_gc_for_serving()
    return create_app(Settings())
