"""Any date or time a client sends, however far from today and with whatever offset, gets an answer below
500: a clear 4xx where it makes no sense, the usual answer where it does."""

from __future__ import annotations

import datetime as dt

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


@pytest.fixture(scope="module")
def owner(client: TestClient) -> tuple[TestUser, int, int]:
    user = sign_up(client, timezone="Pacific/Kiritimati")
    device = register_device(client, user)["id"]
    interview = client.post("/api/v1/interviews", json={"company": "A", "role": "B", "at": "2026-01-05T10:00:00Z"},
                            headers=user.headers).json()["id"]  # fmt: skip
    return user, device, interview


def _no_server_error(answer) -> None:  # type: ignore[no-untyped-def]
    assert answer.status_code < 500, (answer.request.method, answer.request.url, answer.text[:300])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(t=times, d=dates, d2=dates)
def test_every_route_that_takes_a_time_or_a_date_answers_below_500(
    client: TestClient, owner: tuple[TestUser, int, int], t: str, d: str, d2: str
) -> None:
    user, device, interview = owner
    h = user.headers
    posts = {
        "/api/v1/checkins": {"at": t, "confidence": 5},
        "/api/v1/interviews": {"company": "A", "role": "B", "at": t},
        "/api/v1/practice": {"at": t, "questions": ["q"], "self_rating": 5},
        "/api/v1/applications": {"company": "A", "role": "B", "applied_at": t},
        f"/api/v1/interviews/{interview}/feedback": {"requested_at": t, "received_at": t},
    }
    for path, body in posts.items():
        _no_server_error(client.post(path, json=body, headers=h))
    _no_server_error(client.patch(f"/api/v1/interviews/{interview}", json={"at": t}, headers=h))
    _no_server_error(client.post(f"/api/v1/devices/{device}/samples", json={"samples": [{"t": t, "bpm": 70}]},
                                 headers=h))  # fmt: skip
    gets = [
        (f"/api/v1/days/{d}", {}),
        ("/api/v1/days", {"from": d, "to": d2}),
        ("/api/v1/insights/exercise-vs-confidence", {"from": d, "to": d2}),
        ("/api/v1/sessions", {"from": t, "to": t}),
        ("/api/v1/checkins", {"from": t}),
        (f"/api/v1/devices/{device}/samples", {"from": t, "to": t}),
    ]
    for path, params in gets:
        _no_server_error(client.get(path, params=params, headers=h))


def test_the_extremes_the_probe_found_are_clear_422s(
    client: TestClient, owner: tuple[TestUser, int, int]
) -> None:
    user, _, _ = owner
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
