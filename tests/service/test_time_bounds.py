"""Any date or time a client sends, however far from today and with whatever offset, gets an answer below
500: a clear 4xx where it makes no sense, the usual answer where it does."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.users import TestUser, register_device, sign_up

OFFSETS = [dt.timezone(dt.timedelta(hours=h, minutes=m)) for h, m in ((23, 59), (-23, -59), (0, 0), (5, 30))]
times = st.one_of(
    st.datetimes(min_value=dt.datetime(1, 1, 1), max_value=dt.datetime(9999, 12, 31, 23, 59),
                 timezones=st.sampled_from(OFFSETS)),
    st.sampled_from([dt.datetime(1, 1, 1, tzinfo=OFFSETS[0]), dt.datetime(9999, 12, 31, 23, 59, tzinfo=OFFSETS[1])]),
).map(lambda t: t.isoformat())  # fmt: skip
dates = st.one_of(st.dates(), st.sampled_from([dt.date(1, 1, 1), dt.date(9999, 12, 31)])).map(str)


T, T2 = "<time>", "<time2>"  # stand-ins, replaced by each example's values
# A valid body for every operation whose body holds a time, with each of its time fields a stand-in.
BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/api/v1/devices/{device_id}/samples"): {"samples": [{"t": T, "bpm": 70}]},
    ("POST", "/api/v1/sessions"): {"start": T, "end": T2},
    ("PATCH", "/api/v1/sessions/{session_id}"): {"start": T, "end": T2},
    ("POST", "/api/v1/checkins"): {"at": T, "confidence": 5},
    ("PATCH", "/api/v1/checkins/{checkin_id}"): {"at": T},
    ("POST", "/api/v1/interviews"): {"company": "A", "role": "B", "at": T},
    ("PATCH", "/api/v1/interviews/{interview_id}"): {"at": T},
    ("POST", "/api/v1/interviews/{interview_id}/feedback"): {"requested_at": T, "received_at": T2},
    ("PATCH", "/api/v1/interviews/{interview_id}/feedback/{feedback_id}"): {"requested_at": T, "received_at": T2},
    ("POST", "/api/v1/practice"): {"at": T, "questions": ["q"], "self_rating": 5, "started_at": T, "ended_at": T2},
    ("PATCH", "/api/v1/practice/{practice_id}"): {"at": T, "started_at": T, "ended_at": T2},
    ("POST", "/api/v1/applications"): {"company": "A", "role": "B", "applied_at": T},
    ("PATCH", "/api/v1/applications/{application_id}"): {"applied_at": T},
}  # fmt: skip
D, D2 = "<date>", "<date2>"
# Query and path parameters that hold a date or a time (typed in the document or taken as text).
QUERIES: dict[tuple[str, str], dict[str, str]] = {
    ("GET", "/api/v1/days/{date}"): {},
    ("GET", "/api/v1/days"): {"from": D, "to": D2},
    ("GET", "/api/v1/insights/exercise-vs-confidence"): {"from": D, "to": D2},
    ("GET", "/api/v1/sessions"): {"from": T, "to": T2},
    ("GET", "/api/v1/checkins"): {"from": T},
    ("GET", "/api/v1/devices/{device_id}/samples"): {"from": T, "to": T2},
}


def _time_fields(doc: dict[str, Any], schema: dict[str, Any], seen: frozenset[str] = frozenset()) -> set[str]:
    """Dotted names of the date and date-time fields in `schema` (references resolved, arrays as `[]`)."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return set() if name in seen else _time_fields(doc, doc["components"]["schemas"][name], seen | {name})
    if schema.get("format") in ("date", "date-time"):
        return {""}
    found: set[str] = set()
    for option in schema.get("anyOf", []) + schema.get("oneOf", []) + schema.get("allOf", []):
        found |= _time_fields(doc, option, seen)
    for key, sub in schema.get("properties", {}).items():
        found |= {f"{key}.{inner}".rstrip(".") for inner in _time_fields(doc, sub, seen)}
    if "items" in schema:
        found |= {f"[].{inner}".rstrip(".") for inner in _time_fields(doc, schema["items"], seen)}
    return found


def _stand_in_fields(body: Any, prefix: str = "") -> set[str]:
    """Dotted names of the fields of `body` that hold a stand-in."""
    if isinstance(body, dict):
        return {name for key, value in body.items() for name in _stand_in_fields(value, f"{prefix}{key}.")}
    if isinstance(body, list):
        return {name for value in body for name in _stand_in_fields(value, f"{prefix}[].")}
    return {prefix.rstrip(".")} if body in (T, T2) else set()


def _fill(value: Any, values: dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {key: _fill(inner, values) for key, inner in value.items()}
    if isinstance(value, list):
        return [_fill(inner, values) for inner in value]
    return values.get(value, value) if isinstance(value, str) else value


def test_every_operation_that_takes_a_time_is_exercised(client: TestClient) -> None:
    # The routes below are walked from the OpenAPI document, so a new route with a time cannot be missed.
    doc = client.get("/openapi.json").json()
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            key = (method.upper(), path)
            dated = {
                p["name"] for p in operation.get("parameters", []) if _time_fields(doc, p.get("schema", {}))
            }
            if dated:
                assert key in QUERIES, f"{key} takes {dated}: add it to QUERIES"
                assert dated <= set(QUERIES[key]) | {"date"}, (key, dated)
            for content in operation.get("requestBody", {}).get("content", {}).values():
                fields = _time_fields(doc, content.get("schema", {}))
                if fields and key != ("POST", "/api/v1/imports"):
                    assert key in BODIES, f"{key} has time fields {fields}: add it to BODIES"
                    assert fields <= _stand_in_fields(BODIES[key]), (key, fields)


@pytest.fixture(scope="module")
def owner(client: TestClient) -> tuple[TestUser, dict[str, int]]:
    user = sign_up(client, timezone="Pacific/Kiritimati")
    h = user.headers
    ids = {"device_id": register_device(client, user)["id"]}
    made = {
        "interview_id": ("/api/v1/interviews", {"company": "A", "role": "B", "at": "2026-01-05T10:00:00Z"}),
        "checkin_id": ("/api/v1/checkins", {"confidence": 5}),
        "practice_id": ("/api/v1/practice", {"at": "2026-01-05T10:00:00Z", "questions": ["q"], "self_rating": 5}),
        "application_id": ("/api/v1/applications", {"company": "A", "role": "B", "applied_at": "2026-01-05T10:00:00Z"}),
        "session_id": ("/api/v1/sessions", {"start": "2026-01-05T10:00:00Z", "end": "2026-01-05T10:30:00Z"}),
    }  # fmt: skip
    for name, (path, body) in made.items():
        answer = client.post(path, json=body, headers=h)
        assert answer.status_code == 201, answer.text
        ids[name] = answer.json()["id"]
    feedback = client.post(f"/api/v1/interviews/{ids['interview_id']}/feedback", json={}, headers=h)
    ids["feedback_id"] = feedback.json()["id"]
    return user, ids


def _no_server_error(answer) -> None:  # type: ignore[no-untyped-def]
    assert answer.status_code < 500, (answer.request.method, answer.request.url, answer.text[:300])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(t=times, t2=times, d=dates, d2=dates)
def test_every_route_that_takes_a_time_or_a_date_answers_below_500(
    client: TestClient, owner: tuple[TestUser, dict[str, int]], t: str, t2: str, d: str, d2: str
) -> None:
    user, ids = owner
    values = {T: t, T2: t2, D: d, D2: d2}
    for (method, path), body in BODIES.items():
        _no_server_error(
            client.request(method, path.format(**ids), json=_fill(body, values), headers=user.headers)
        )
    for (method, path), params in QUERIES.items():
        url = path.format(date=d, **ids)
        _no_server_error(client.request(method, url, params=_fill(params, values), headers=user.headers))


def test_the_extremes_the_probe_found_are_clear_422s(
    client: TestClient, owner: tuple[TestUser, dict[str, int]]
) -> None:
    user, _ = owner
    h = user.headers
    year_one = "0001-01-01T00:00:00+23:59"
    for answer in (
        client.post("/api/v1/checkins", json={"at": year_one, "confidence": 5}, headers=h),
        client.post("/api/v1/interviews", json={"company": "A", "role": "B", "at": year_one}, headers=h),
        client.get("/api/v1/days/0001-01-01", headers=h),
        client.get("/api/v1/days", params={"from": "9999-12-01", "to": "9999-12-31"}, headers=h),
        client.get(
            "/api/v1/insights/exercise-vs-confidence",
            params={"from": "9999-12-01", "to": "9999-12-31"},
            headers=h,
        ),  # fmt: skip
    ):
        assert answer.status_code == 422, answer.text
        assert "between 1900-01-01 and 2100-12-31" in answer.json()["detail"]
