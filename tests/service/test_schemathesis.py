"""API conformance: schemathesis drives every operation of the running service's /openapi.json.

The service runs under uvicorn on a real socket, on SQLite and on PostgreSQL; a freshly signed-up user
makes every call. Each answer must be no 5xx and inside the document: a declared status code, the declared
content type, a body that matches the declared schema. Examples are bounded so a backend runs in about 40 s.
Operations that end the caller's access (log-out, deleting the account) get a throwaway user of their own.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from service.config import Settings
from tests.support.server import LiveServer
from tests.support.users import sign_up

pytestmark = pytest.mark.timeout(600)

# Per operation and backend: about 40 s in CI; CHINUP_SCHEMATHESIS_EXAMPLES=200 for a long local run.
MAX_EXAMPLES = int(os.environ.get("CHINUP_SCHEMATHESIS_EXAMPLES", "4"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# Calls that revoke the caller's token or delete the caller: each gets a user of its own.
SELF_ENDING = {("POST", "/api/v1/auth/logout"), ("DELETE", "/api/v1/me")}
# A server-sent event stream never ends, so a whole-body check cannot run on it; tests/service/test_live*.py
# and the dashboard's end-to-end tests read it.
STREAMS = {("GET", "/api/v1/live")}


@pytest.fixture(scope="module")
def server(db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    settings = Settings(
        database_url=db_url,
        data_dir=tmp_path_factory.mktemp("schemathesis"),
        ble_transport="virtual",  # the strap routes scan and record over Bumble's in-process link
        # schemathesis posts random credentials: the throttle must not turn the run into 429s only
        login_failures_per_address=1_000_000,
    )
    live = LiveServer(settings)
    live.start()
    yield live
    live.stop()


@pytest.fixture(scope="module")
def http(server: LiveServer) -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


@pytest.fixture(scope="module")
def user_headers(server: LiveServer) -> dict[str, str]:
    with httpx.Client(timeout=30) as client:
        return sign_up(client, server.url, timezone="Europe/London").headers


@pytest.fixture(scope="module")
def api_schema(server: LiveServer) -> Any:
    return schemathesis.openapi.from_url(f"{server.url}/openapi.json")


def headers_for(case: Any, server: LiveServer, user_headers: dict[str, str]) -> dict[str, str]:
    if (case.method.upper(), case.path) in SELF_ENDING:
        with httpx.Client(timeout=30) as client:
            return sign_up(client, server.url, email=f"throwaway-{uuid.uuid4().hex[:8]}@example.org").headers
    return user_headers


def run_operation(
    operation: Any, server: LiveServer, http: requests.Session, user_headers: dict[str, str]
) -> None:
    """Hypothesis drives one operation with schemathesis's strategy; the first failing case is raised."""

    @given(case=operation.as_strategy())
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate],  # a failure is reported as found; shrinking is a local job
        database=None,
    )
    def check(case: Any) -> None:
        case.call_and_validate(
            session=http, headers=headers_for(case, server, user_headers), checks=CHECKS, timeout=30
        )

    check()


def test_every_operation_answers_inside_its_schema(
    api_schema: Any, server: LiveServer, http: requests.Session, user_headers: dict[str, str]
) -> None:
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 60 and {(op.method.upper(), op.path) for op in operations} >= SELF_ENDING
    failures = []
    for operation in operations:
        if (operation.method.upper(), operation.path) in STREAMS:
            continue
        try:
            run_operation(operation, server, http, user_headers)
        except (Exception, FailureGroup) as exc:  # every operation runs; all failures are reported together
            failures.append(f"{operation.method.upper()} {operation.path}: {str(exc)[:1500]}")
    assert not failures, "\n\n".join(failures)
