"""Practice sessions: create, list by time window, edit, delete; on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from service.analysis.cleaning import clean_hr
from tests.support.settle import wait_for_analysis
from tests.support.users import register_device, sign_up

URL = "/api/v1/practice"


def test_practice_round_trip_in_utc(client: TestClient) -> None:
    user = sign_up(client)
    body = {
        "at": "2024-03-07T19:00:00+09:00",
        "questions": ["Tell me about a failure", "Why us?"],
        "self_rating": 6,
    }
    answer = client.post(URL, json=body, headers=user.headers)
    assert answer.status_code == 201, answer.text
    created = answer.json()
    assert created["at"] == "2024-03-07T10:00:00+00:00"
    assert (created["questions"], created["self_rating"], created["notes"]) == (body["questions"], 6, None)
    assert client.get(f"{URL}/{created['id']}", headers=user.headers).json() == created


def test_list_is_in_time_order_and_windowed(client: TestClient) -> None:
    user = sign_up(client)
    for at, rating in (("2024-03-09T10:00:00Z", 8), ("2024-03-07T10:00:00Z", 5), ("2024-03-08T10:00:00Z", 7)):
        body = {"at": at, "questions": [], "self_rating": rating}
        assert client.post(URL, json=body, headers=user.headers).status_code == 201
    assert [p["self_rating"] for p in client.get(URL, headers=user.headers).json()] == [5, 7, 8]
    window = {"from": "2024-03-08T00:00:00Z", "to": "2024-03-09T00:00:00Z"}
    assert [p["self_rating"] for p in client.get(URL, params=window, headers=user.headers).json()] == [7]


def test_bad_practice_is_422_with_a_reason(client: TestClient) -> None:
    user = sign_up(client)
    good = {"at": "2024-03-07T10:00:00Z", "questions": ["q"], "self_rating": 5}
    for change, reason in (
        ({"self_rating": 0}, "self_rating"),
        ({"self_rating": None}, "self_rating"),
        ({"questions": "q"}, "questions"),
        ({"questions": [""]}, "questions"),
        ({"questions": ["q"] * 201}, "questions"),
        ({"at": "2024-03-07T10:00:00"}, "timezone"),
        ({"at": "2099-03-07T10:00:00Z"}, "future"),
        ({"minutes": 20}, "minutes"),
    ):
        answer = client.post(URL, json={**good, **change}, headers=user.headers)
        assert answer.status_code == 422, (change, answer.text)
        assert reason in answer.json()["detail"], (change, answer.json())


def test_edit_and_delete(client: TestClient) -> None:
    user = sign_up(client)
    created = client.post(
        URL, json={"at": "2024-03-07T10:00:00Z", "questions": ["q"], "self_rating": 4}, headers=user.headers
    ).json()
    patched = client.patch(
        f"{URL}/{created['id']}", json={"self_rating": 7, "notes": "steadier"}, headers=user.headers
    )
    assert patched.status_code == 200, patched.text
    assert (patched.json()["self_rating"], patched.json()["notes"], patched.json()["questions"]) == (
        7,
        "steadier",
        ["q"],
    )
    assert (
        client.patch(f"{URL}/{created['id']}", json={"questions": None}, headers=user.headers).status_code
        == 422
    )
    assert client.delete(f"{URL}/{created['id']}", headers=user.headers).status_code == 204
    assert client.get(f"{URL}/{created['id']}", headers=user.headers).status_code == 404
    assert client.get(URL, headers=user.headers).json() == []


SPAN = {"started_at": "2024-03-07T10:00:00Z", "ended_at": "2024-03-07T10:30:00Z"}


def test_a_bad_span_is_422_with_a_reason(client: TestClient) -> None:
    user = sign_up(client)
    good = {"at": "2024-03-07T10:00:00Z", "questions": ["q"], "self_rating": 5}
    for span, reason in (
        ({"started_at": "2024-03-07T10:00:00Z"}, "both or neither"),
        ({"ended_at": "2024-03-07T10:00:00Z"}, "both or neither"),
        ({**SPAN, "ended_at": "2024-03-07T10:00:00Z"}, "after started_at"),
        ({**SPAN, "ended_at": "2024-03-07T09:00:00Z"}, "after started_at"),
        ({**SPAN, "ended_at": "2024-03-07T16:00:01Z"}, "6 hours"),
        ({**SPAN, "started_at": "2024-03-07T10:00:00"}, "timezone"),
        ({"started_at": "1899-12-31T10:00:00Z", "ended_at": "1899-12-31T11:00:00Z"}, "1900"),
        ({"started_at": "2099-03-07T10:00:00Z", "ended_at": "2099-03-07T11:00:00Z"}, "future"),
    ):
        answer = client.post(URL, json={**good, **span}, headers=user.headers)
        assert answer.status_code == 422, (span, answer.text)
        assert reason in answer.json()["detail"], (span, answer.json())
    exactly_six_hours = {**SPAN, "ended_at": "2024-03-07T16:00:00Z"}
    created = client.post(URL, json={**good, **exactly_six_hours}, headers=user.headers)
    assert created.status_code == 201, created.text
    assert (created.json()["started_at"], created.json()["heart"]) == ("2024-03-07T10:00:00+00:00", None)
    item = f"{URL}/{created.json()['id']}"
    # A patch is checked against the stored other end: one end alone may move, not past the other.
    assert (
        client.patch(item, json={"ended_at": "2024-03-07T09:59:00Z"}, headers=user.headers).status_code == 422
    )
    assert client.patch(item, json={"started_at": None}, headers=user.headers).status_code == 422
    moved = client.patch(item, json={"ended_at": "2024-03-07T10:20:00Z"}, headers=user.headers)
    assert moved.json()["ended_at"] == "2024-03-07T10:20:00+00:00", moved.text
    cleared = client.patch(item, json={"started_at": None, "ended_at": None}, headers=user.headers)
    assert (cleared.json()["started_at"], cleared.json()["ended_at"]) == (None, None), cleared.text


def test_heart_figures_are_numpy_over_a_real_recording_and_only_the_users(
    client: TestClient, shared_data: Path
) -> None:
    """A Garmin Fenix 2 run (../shared/data) uploaded as a strap would, in 1,000-sample batches: the heart
    figures of a span are numpy's over the same samples, against the user's own rest and max."""
    rows = [
        r
        for r in csv.DictReader((shared_data / "fitparse_fenix2_run.csv").read_text().splitlines())
        if r["heart_rate_bpm"]
    ]
    t_ms = np.array(
        [dt.datetime.fromisoformat(r["timestamp_utc"]).timestamp() * 1000 for r in rows], np.int64
    )
    bpm = np.array([int(r["heart_rate_bpm"]) for r in rows], np.float64)
    alice, bob = sign_up(client, resting_hr=55, max_hr=185), sign_up(client, resting_hr=55, max_hr=185)
    device = register_device(client, alice)
    for at in range(0, len(rows), 1000):
        batch = [
            {"t": int(t), "bpm": int(b)}
            for t, b in zip(t_ms[at : at + 1000], bpm[at : at + 1000], strict=True)
        ]
        answer = client.post(
            f"/api/v1/devices/{device['id']}/samples", json={"samples": batch}, headers=alice.headers
        )
        assert answer.status_code == 200 and answer.json()["accepted"] == len(batch), answer.text
    wait_for_analysis(client)
    lo_ms, hi_ms = int(t_ms[0]) + 10 * 60_000, int(t_ms[0]) + 40 * 60_000
    span = {"started_at": _iso(lo_ms), "ended_at": _iso(hi_ms)}
    body = {"at": span["started_at"], "questions": ["Why this role?"], "self_rating": 6, **span}
    created = client.post(URL, json=body, headers=alice.headers)
    assert created.status_code == 201, created.text
    inside = (t_ms >= lo_ms) & (t_ms < hi_ms)
    valid = clean_hr(t_ms[inside] / 1000, bpm[inside]).valid
    expected = bpm[inside][valid]
    heart = created.json()["heart"]
    assert heart["n_samples"] == expected.size > 1000
    assert heart["mean_bpm"] == pytest.approx(expected.mean(), abs=0.05)
    assert heart["peak_bpm"] == expected.max()
    assert heart["arousal_bpm"] == pytest.approx(expected.mean() - 55, abs=0.05)
    assert heart["arousal_pct_hrr"] == pytest.approx(100 * (expected.mean() - 55) / (185 - 55), abs=0.05)
    listed = client.get(URL, headers=alice.headers).json()
    assert [p["heart"] for p in listed] == [heart]
    # Bob's practice over the same minutes sees none of Alice's samples; her practice is not his to read.
    bobs = client.post(URL, json=body, headers=bob.headers).json()
    assert bobs["heart"] is None
    item = f"{URL}/{created.json()['id']}"
    assert client.get(item, headers=bob.headers).status_code == 404
    assert client.patch(item, json={"ended_at": span["ended_at"]}, headers=bob.headers).status_code == 404
    assert client.get(item, headers=alice.headers).json()["heart"] == heart


def _iso(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).isoformat()
