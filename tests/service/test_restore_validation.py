"""Restoring a crafted account export through POST /imports against the running service: every row the API
would refuse is left out and counted, the good rows are restored, and no route answers 5xx afterwards.

Issue 15 found exports with out-of-range ratings, year-1 dates and NUL text restored as they were, after
which /me, /days, /checkins, /interviews/{id}, /practice and /nudges/today answered 500 for good, and one
invalid time zone with nudges on stopped the nudges of every user.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import threading
import time
import zipfile
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker

from service.account.restore import SESSION_FIELDS
from service.account.rows import SessionRestore
from service.coaching.nudges import Nudger
from service.pipeline.live import LiveHub
from tests.support.users import TestUser, sign_up

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
GOOD_AT = (NOW - dt.timedelta(days=2)).isoformat()
LATER = (NOW - dt.timedelta(days=2) + dt.timedelta(minutes=30)).isoformat()
HUGE = "x" * 300_000
NUL = "a\u0000b"
YEAR_1 = "0001-01-01T00:00:00+00:00"
YEAR_9999 = "9999-12-31T23:59:59-23:59"
NOW_MS = int(NOW.timestamp() * 1000)


def _export(parts: dict[str, Any]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("manifest.json", json.dumps({"format": "chinup-export", "version": 1}))
        for name, value in parts.items():
            zf.writestr(f"{name}.json", json.dumps(value))  # NaN and Infinity spelled as JSON allows them
    return out.getvalue()


CHECKINS = [
    {"at": GOOD_AT, "confidence": 7, "mood": 5, "note": "fine"},
    {"at": GOOD_AT, "confidence": 99},
    {"at": GOOD_AT, "confidence": 5, "mood": -1},
    {"at": YEAR_1, "confidence": 5},
    {"at": YEAR_9999, "confidence": 5},
    {"at": "2024-01-01T10:00:00", "confidence": 5},  # no offset
    {"at": GOOD_AT, "confidence": 5, "note": NUL},
    {"at": GOOD_AT, "confidence": 5, "note": HUGE},
    {"at": GOOD_AT, "confidence": "ten"},
    {"at": (NOW + dt.timedelta(days=30)).isoformat(), "confidence": 5},
    {"confidence": 5},
    "not an object",
]
INTERVIEWS = [
    {"company": "Acme", "role": "Engineer", "at": GOOD_AT,
     "reflection": {"went_well": ["a"], "went_poorly": [], "lessons": ["plain", {"lesson": "l", "next_time": "n"}],
                    "outsider_view": None, "went_well_at": GOOD_AT, "updated_at": GOOD_AT},
     "feedback": [{"requested_at": GOOD_AT, "notes": "ok"}, {"requested_at": YEAR_1},
                  {"requested_at": GOOD_AT, "received_at": "2000-01-01T00:00:00+00:00"}]},
    {"company": "Bad reflection", "role": "R", "at": GOOD_AT,
     "reflection": {"went_well": "not a list", "went_poorly": [], "lessons": [123], "went_well_at": YEAR_1}},
    {"company": HUGE, "role": "R", "at": GOOD_AT},
    {"company": "C", "role": "R", "at": YEAR_9999},
    {"company": NUL, "role": "R", "at": GOOD_AT},
    {"company": "C", "role": 5, "at": GOOD_AT},
]  # fmt: skip
PRACTICE = [
    {"at": GOOD_AT, "questions": ["Tell me about yourself"], "self_rating": 6},
    {"at": GOOD_AT, "questions": ["q"], "self_rating": 11},
    {"at": GOOD_AT, "questions": "not a list", "self_rating": 5},
    {"at": YEAR_1, "questions": ["q"], "self_rating": 5},
    {"at": GOOD_AT, "questions": [HUGE], "self_rating": 5},
    {"at": GOOD_AT, "questions": ["timed"], "self_rating": 5, "started_at": GOOD_AT, "ended_at": LATER},
    {"at": GOOD_AT, "questions": ["q"], "self_rating": 5, "started_at": GOOD_AT},  # one end only
    {"at": GOOD_AT, "questions": ["q"], "self_rating": 5, "started_at": LATER, "ended_at": GOOD_AT},
    {"at": GOOD_AT, "questions": ["q"], "self_rating": 5, "started_at": GOOD_AT, "ended_at": YEAR_9999},
]
APPLICATIONS = [
    {"company": "Acme", "role": "Engineer", "applied_at": GOOD_AT, "status": "applied"},
    {"company": "", "role": "R", "applied_at": GOOD_AT},
    {"company": "C", "role": "R", "applied_at": YEAR_9999},
    {"company": "C", "role": "R", "applied_at": GOOD_AT, "status": HUGE},
    {"company": "Moved", "role": "R", "applied_at": GOOD_AT, "status": "offer",
     "history": [{"status": "offer", "at": LATER}, {"status": "sent", "at": GOOD_AT}]},
    {"company": "C", "role": "R", "applied_at": GOOD_AT, "history": "not a list"},
    {"company": "C", "role": "R", "applied_at": GOOD_AT, "history": [{"status": NUL, "at": GOOD_AT}]},
    {"company": "C", "role": "R", "applied_at": GOOD_AT, "history": [{"status": "s", "at": YEAR_9999}]},
]  # fmt: skip
SESSIONS = [
    {"start_ms": NOW_MS - 7_200_000, "end_ms": NOW_MS - 3_600_000, "source": "manual", "deleted": False,
     "avg_bpm": 120.0, "heartbeat_up_minutes": 40},
    {"start_ms": -62_135_596_800_000, "end_ms": 0, "source": "manual"},
    {"start_ms": NOW_MS, "end_ms": NOW_MS - 1000, "source": "manual"},
    {"start_ms": NOW_MS - 90_000_000, "end_ms": NOW_MS, "source": "manual"},  # 25 hours
    {"start_ms": NOW_MS - 7_200_000, "end_ms": NOW_MS - 3_600_000, "source": "bogus"},
    {"start_ms": NOW_MS - 7_200_000, "end_ms": NOW_MS - 3_500_000, "source": "edited", "avg_bpm": float("nan")},
    {"start_ms": NOW_MS - 7_200_000, "end_ms": NOW_MS - 3_400_000, "source": "edited", "trimp": float("inf")},
    {"start_ms": NOW_MS - 7_200_000, "end_ms": NOW_MS - 3_300_000, "source": "edited", "recovery_note": NUL},
    {"start_ms": NOW_MS - 7_200_000, "end_ms": NOW_MS - 3_200_000, "source": "edited", "heartbeat_up_minutes": 10**9},
]  # fmt: skip
DEVICES = [
    {"name": "Restored strap", "address": "AA:BB:CC:DD:EE:01", "model": "H10"},
    {"name": "Long", "address": "A" * 10_000},
    {"name": NUL, "address": "AA:BB:CC:DD:EE:02"},
]
PROFILE = {"timezone": "Mars/Base", "nudges_enabled": True, "nudge_time": "25:99", "birth_year": 1,
           "resting_hr": 999, "max_hr": "fast", "daily_target_minutes": 0}  # fmt: skip
BAD_ROWS = {
    "checkins.json": 11,
    "practice.json": 4 + 3,
    "applications.json": 3 + 3,
    "sessions.json": 8,
    "devices.json": 2,
    "interviews.json": 4 + 1 + 2,
    "profile.json": 6,
}  # rows, a reflection, 2 feedback
ROUTES = ["/api/v1/me", f"/api/v1/days/{NOW.date()}",
          f"/api/v1/days?from={NOW.date() - dt.timedelta(days=7)}&to={NOW.date()}", "/api/v1/checkins",
          "/api/v1/interviews", "/api/v1/practice", "/api/v1/applications", "/api/v1/nudges/today",
          "/api/v1/sessions", "/api/v1/devices", "/api/v1/export"]  # fmt: skip


@pytest.fixture(scope="module")
def bystander(http: httpx.Client) -> TestUser:
    """Another user with nudges on, who is behind at the nudge time."""
    user = sign_up(http, timezone="UTC")
    answer = http.patch(
        "/api/v1/me", json={"nudges_enabled": True, "nudge_time": "18:00"}, headers=user.headers
    )
    assert answer.status_code == 200, answer.text
    return user


class Watcher:
    """A thread asking GET /me for another user while an attack runs; the slowest answer is kept."""

    def __init__(self, base_url: str, user: TestUser) -> None:
        self.base_url, self.user = base_url, user
        self.slowest_s, self.failures, self.done = 0.0, [], threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(base_url=self.base_url, timeout=10) as client:
            while not self.done.is_set():
                started = time.monotonic()
                answer = client.get("/api/v1/me", headers=self.user.headers)
                self.slowest_s = max(self.slowest_s, time.monotonic() - started)
                if answer.status_code != 200:
                    self.failures.append(answer.status_code)
                time.sleep(0.05)

    def __enter__(self) -> Watcher:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.done.set()
        self.thread.join(15)


@pytest.fixture
def watcher(server: Any, bystander: TestUser) -> Iterator[Watcher]:
    with Watcher(server.url, bystander) as watching:
        yield watching
    assert not watching.failures
    assert watching.slowest_s < 1.0, f"another user waited {watching.slowest_s:.2f} s"


def _restore(http: httpx.Client, user: TestUser, data: bytes) -> httpx.Response:
    files = {"file": ("chinup-export.zip", data, "application/zip")}
    return http.post("/api/v1/imports", files=files, headers=user.headers)


def test_the_session_check_covers_every_stored_column() -> None:
    assert set(SESSION_FIELDS) <= set(SessionRestore.model_fields)


def test_a_crafted_export_restores_its_good_rows_and_counts_the_others(
    http: httpx.Client, engine: Engine, bystander: TestUser, watcher: Watcher
) -> None:
    victim = sign_up(http, timezone="Europe/Berlin")
    parts = {"profile": PROFILE, "devices": DEVICES, "checkins": CHECKINS, "interviews": INTERVIEWS,
             "practice": PRACTICE, "applications": APPLICATIONS, "sessions": SESSIONS}  # fmt: skip
    answer = _restore(http, victim, _export(parts))
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert report["restored"] == {
        "checkins": 1,
        "practice": 2,
        "applications": 2,
        "interviews": 2,
        "sessions": 1,
    }
    by_file: dict[str, int] = {}
    for key, n in report["restore_refused_by_reason"].items():
        file = key.split(": ", 1)[0].split(" ", 1)[0]
        by_file[file] = by_file.get(file, 0) + n
    assert by_file == BAD_ROWS
    assert report["restore_refused"] == sum(BAD_ROWS.values())
    assert len(report["restore_refusals"]) == 20 and report["restore_refusals"][0]["row"] >= 0
    assert all(NUL not in r["reason"] and HUGE not in r["reason"] for r in report["restore_refusals"])

    me = http.get("/api/v1/me", headers=victim.headers).json()
    assert me["timezone"] == "Europe/Berlin" and me["nudges_enabled"] is True  # the good setting applied
    for route in ROUTES:
        got = http.get(route, headers=victim.headers)
        assert got.status_code < 500 and got.status_code in (200, 204), (
            route,
            got.status_code,
            got.text[:200],
        )
    interviews = http.get("/api/v1/interviews", headers=victim.headers).json()
    for interview in interviews:
        for tail in ("", "/reflection", "/feedback", "/recovery-plan", "/stress"):
            got = http.get(f"/api/v1/interviews/{interview['id']}{tail}", headers=victim.headers)
            assert got.status_code in (200, 404), (tail, got.status_code, got.text[:200])
    # An old row without history starts it at its status; a new one keeps its own, oldest first.
    histories = {
        a["company"]: a["history"] for a in http.get("/api/v1/applications", headers=victim.headers).json()
    }
    assert [h["status"] for h in histories["Acme"]] == ["applied"]
    assert [h["status"] for h in histories["Moved"]] == ["sent", "offer"]
    practice = http.get("/api/v1/practice", headers=victim.headers).json()
    assert sorted(p["ended_at"] is not None for p in practice) == [False, True]
    acme = next(i for i in interviews if i["company"] == "Acme")
    detail = http.get(f"/api/v1/interviews/{acme['id']}", headers=victim.headers).json()
    assert [lesson["lesson"] for lesson in detail["reflection"]["lessons"]] == ["plain", "l"]
    assert len(detail["feedback"]) == 1

    # the nudge loop passes over the restored user and still nudges the bystander at the nudge time
    nudge_time = dt.datetime.combine(NOW.date(), dt.time(18, 0), tzinfo=dt.UTC)
    said = Nudger(
        sessionmaker(bind=engine, expire_on_commit=False), LiveHub(), clock=lambda: nudge_time
    ).check_all()
    assert bystander.id in {row.user_id for row in said}
    assert http.get("/api/v1/nudges/today", headers=bystander.headers).status_code == 200

    again = _restore(http, victim, _export(parts)).json()  # idempotent, the same refusals
    assert set(again["restored"].values()) == {0} and again["restore_refused"] == report["restore_refused"]


@pytest.mark.parametrize(
    ("part", "value", "place"),
    [("checkins", {"not": "a list"}, "checkins.json"), ("profile", ["not", "an object"], "profile.json"),
     ("sessions", "text", "sessions.json"), ("devices", [1, 2], "devices.json")],
)  # fmt: skip
def test_an_export_whose_parts_have_the_wrong_shape_is_refused_naming_the_part(
    http: httpx.Client, part: str, value: Any, place: str, watcher: Watcher
) -> None:
    user = sign_up(http)
    answer = _restore(http, user, _export({part: value}))
    assert answer.status_code == 422, answer.text
    assert place in answer.json()["detail"]
    assert http.get("/api/v1/me", headers=user.headers).status_code == 200
