"""The FastAPI application: built by a factory from settings, owning its engine and live hub."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio.to_thread
from fastapi import Depends, FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response
from sqlalchemy import Engine
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from dashboards import mount_dashboards
from service.api.main import api_router
from service.coaching.nudges import Nudger
from service.config import Settings
from service.core import migrate
from service.core.db import make_engine, make_session_factory
from service.errors import ChinUpError
from service.importers.background import ImportJobs
from service.pipeline.live import LiveHub, StreamTickets
from service.pipeline.live_bus import PostgresLiveBus
from service.pipeline.scheduler import Rollups
from service.recording.claims import LocalClaims, PostgresClaims
from service.recording.supervisor import StrapSupervisor
from service.web.context import AppContext
from service.web.errors import document_errors, ids_in_range
from service.web.input_guard import BodyGuard
from service.web.security_headers import SecurityHeaders
from service.web.throttle import LoginThrottle, LoginThrottled, SharedLoginThrottle

log = logging.getLogger("chinup")


def create_app(
    settings: Settings | None = None, *, engine: Engine | None = None, migrate_db: bool = True
) -> FastAPI:
    """An app for these settings; the engine is created (and migrated) at start-up unless given."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own_engine = engine is None
        db_engine = engine or make_engine(settings.resolved_database_url, route_threads=settings.route_threads)
        # Routes run in anyio's thread pool: as many threads as the pool has connections for them.
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.route_threads
        if migrate_db:
            await asyncio.to_thread(migrate.upgrade, db_engine)
        live = LiveHub()
        live.bind(asyncio.get_running_loop())
        sessions = make_session_factory(db_engine)
        live.tickets = StreamTickets(sessions)
        # Several processes may share a PostgreSQL database: live events cross them through NOTIFY, and a
        # strap is recorded by whichever holds its claim. SQLite is one process: both stay in it.
        shared = db_engine.dialect.name == "postgresql"
        shared_url = db_engine.url.render_as_string(hide_password=False)
        bus = PostgresLiveBus(shared_url) if shared else None
        live.bus = bus
        if shared:  # log-in guesses counted alike by every process
            app.state.login_throttle = SharedLoginThrottle.shared(settings, sessions)
        rollups = Rollups(
            sessions, live, debounce_s=settings.analysis_debounce_s, quiet_s=settings.analysis_quiet_s
        )
        app.state.ctx = AppContext(settings=settings, sessions=sessions, live=live, rollups=rollups)
        if not rollups.inline:
            await asyncio.to_thread(rollups.recover)  # analysis a killed process owed its answered uploads
        stop = asyncio.Event()
        app.state.recording = StrapSupervisor(
            transport=settings.ble_transport,
            data_dir=settings.data_dir,
            sessions=sessions,
            live=live,
            asgi_app=app,
            claims=PostgresClaims(shared_url) if shared else LocalClaims(),
        )
        async with asyncio.TaskGroup() as tasks:
            if bus is not None:
                tasks.create_task(bus.run(live.deliver, stop), name="live bus")
            tasks.create_task(rollups.run_forever(stop), name="rollups")
            tasks.create_task(app.state.recording.run(stop), name="strap recordings")
            tasks.create_task(Nudger(sessions, live).run_forever(stop), name="nudges")
            app.state.import_jobs = ImportJobs(app.state.ctx, asyncio.get_running_loop())
            tasks.create_task(app.state.import_jobs.run(stop), name="background imports")
            try:
                yield
            finally:
                stop.set()
        await asyncio.to_thread(rollups.drain)
        if own_engine:
            db_engine.dispose()

    app = FastAPI(title="Chin Up", version="0.1.0", lifespan=lifespan, docs_url=None, redoc_url=None)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["*"],
            allow_headers=["Authorization", "Content-Type"],
            expose_headers=["Link", "Location", "Retry-After"],  # paging, import jobs, back-off
        )
    # Bodies over their limit answer 413 before they are read; imports take files up to max_upload_bytes.
    app.add_middleware(
        BodyGuard,
        limits=[("/api/v1/imports", settings.max_upload_bytes), ("/", settings.max_body_bytes)],
    )
    app.add_middleware(SecurityHeaders)
    app.state.login_throttle = LoginThrottle.from_settings(settings)
    _install_error_handlers(app)
    app.include_router(api_router, dependencies=[Depends(ids_in_range)])
    mount_dashboards(app)  # the browser dashboard at /dashboard, and / redirects there
    _document_errors(app)

    @app.get("/health", tags=["health"])
    def health(request: Request) -> dict[str, Any]:
        """Liveness, how much ingested data still awaits analysis (0 once everything is counted), and
        `degraded` with what is failing (user, work, since) while some user's analysis keeps failing."""
        ctx = getattr(request.app.state, "ctx", None)
        if ctx is None:
            return {"status": "starting"}
        failures = list(ctx.rollups.failures.values())
        return {
            "status": "degraded" if failures else "ok",
            "analysis_backlog": ctx.rollups.backlog,
            "days_awaiting_analysis": ctx.rollups.days_awaiting_analysis,
            "failing": [
                {"user_id": f.user_id, "what": f.what, "since": f.since.isoformat(), "attempts": f.attempts}
                for f in failures
            ],
        }

    return app


def _document_errors(app: FastAPI) -> None:
    """The OpenAPI document declares the answers _install_error_handlers gives (service/web/errors.py)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_errors(build())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _install_error_handlers(app: FastAPI) -> None:
    """The one place domain errors become HTTP answers: JSON {detail}, 4xx for the client's mistakes."""

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 400 and isinstance(exc.__cause__, RecursionError):  # FastAPI's json.loads
            return JSONResponse({"detail": "JSON is nested too deeply"}, status_code=422)
        return await http_exception_handler(request, exc)

    @app.exception_handler(ChinUpError)
    async def _domain_error(_request: Request, exc: ChinUpError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        if isinstance(exc, LoginThrottled):
            headers = {"Retry-After": str(exc.retry_after_s)}
        return JSONResponse({"detail": exc.detail}, status_code=exc.status, headers=headers)

    @app.exception_handler(IntegrityError)
    async def _integrity_error(_request: Request, exc: IntegrityError) -> JSONResponse:
        log.info("integrity error answered 409: %s", type(exc.orig).__name__)
        return JSONResponse({"detail": "conflicts with data already stored"}, status_code=409)

    @app.exception_handler(DataError)
    async def _unstorable_value(_request: Request, exc: DataError) -> JSONResponse:
        log.info("data error answered 422: %s", type(exc.orig).__name__)
        return JSONResponse({"detail": "a value is out of the range the database can store"}, status_code=422)

    @app.exception_handler(PoolTimeout)
    async def _overloaded(_request: Request, exc: PoolTimeout) -> JSONResponse:
        log.warning("no database connection free within the pool timeout: overloaded")
        return JSONResponse(
            {"detail": "overloaded, retry later"}, status_code=503, headers={"Retry-After": "5"}
        )

    @app.exception_handler(OperationalError)
    async def _database_unavailable(_request: Request, exc: OperationalError) -> JSONResponse:
        log.warning("database unavailable: %s", type(exc.orig).__name__)
        return JSONResponse(
            {"detail": "database unavailable, retry later"}, status_code=503, headers={"Retry-After": "2"}
        )

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in exc.errors()
        ]
        reason = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in errors[:5])
        return JSONResponse({"detail": reason or "invalid request", "errors": errors}, status_code=422)
