"""Fixtures for real parts: databases (SQLite and PostgreSQL), the app, a live uvicorn server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from service.app import create_app
from service.config import Settings
from service.core import migrate
from service.core.db import make_engine
from tests.support.databases import BACKENDS, fresh_database
from tests.support.server import LiveServer

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data with the real recordings; tests that need it skip where it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not present")
    return SHARED_DATA


@pytest.fixture(scope="module", params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh, empty database per test module, once on SQLite and once on PostgreSQL."""
    with fresh_database(request.param, tmp_path_factory.mktemp("db")) as url:
        yield url


@pytest.fixture(scope="module")
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    migrate.upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def settings(db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    # The production settings: analysis debounced in the background. A test that reads analysed results
    # waits for them to settle (tests/support/settle.py) instead of switching the debounce off.
    return Settings(database_url=db_url, data_dir=tmp_path_factory.mktemp("data"))


@pytest.fixture(scope="module")
def client(settings: Settings, engine: Engine) -> Iterator[TestClient]:
    """The app in-process (real database, real lifespan), for API tests."""
    with TestClient(create_app(settings, engine=engine, migrate_db=False)) as test_client:
        yield test_client


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[LiveServer]:
    """uvicorn on a free loopback port with a fresh SQLite database; `.stop()` / `.start()` to take it away."""
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'live.sqlite3'}", data_dir=tmp_path)
    server = LiveServer(settings)
    server.start()
    yield server
    server.stop()
