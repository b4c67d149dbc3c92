"""Days and sessions kept current on ingest: known answers, local days, chunking, and equality with a rescan."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from fastapi.testclient import TestClient

from tests.support.settle import wait_for_analysis
from tests.support.users import TestUser, register_device, sign_up, upload_samples
from tests.support.workouts import workout_curve

REST, MAX = 60, 190  # 40 % HRR = 112 bpm, 70 % HRR = 151 bpm


def _at(day: str, hhmm: str, tz: str) -> float:
    return dt.datetime.fromisoformat(f"{day}T{hhmm}").replace(tzinfo=ZoneInfo(tz)).timestamp()


def workout(start_s: float, minutes: float, bpm: float, **shape: Any) -> tuple[np.ndarray, np.ndarray]:
    """1 Hz (seconds, bpm) from the shared generator: rest at 70, the block, a fast recovery (tau 20 s, under
    30 s above the threshold after the block); its noise seeded by the start, as these numbers were taken."""
    return workout_curve(start_s, minutes, bpm, seed=int(start_s) % 1000, **shape)


def upload(
    client: TestClient, user: TestUser, device_id: int, t: np.ndarray, hr: np.ndarray, chunk: int = 5000
) -> None:
    samples = [{"t": int(ts * 1000), "bpm": int(b), "contact": True} for ts, b in zip(t, hr, strict=True)]
    upload_samples(client, user, device_id, samples, chunk=chunk)
    wait_for_analysis(client)


def _user(client: TestClient, tz: str = "Europe/London") -> tuple[TestUser, int]:
    user = sign_up(client, timezone=tz, resting_hr=REST, max_hr=MAX)
    return user, register_device(client, user)["id"]


def test_a_25_minute_block_at_70_percent_hrr_gives_25_minutes(client: TestClient) -> None:
    user, device = _user(client)
    t, hr = workout(_at("2026-06-10", "07:00:00", "Europe/London"), 25, 151)
    upload(client, user, device, t, hr)
    day = client.get("/api/v1/days/2026-06-10", headers=user.headers).json()
    assert day["heartbeat_up_minutes"] == 25
    assert day["zone_minutes"]["vigorous"] == 25
    assert day["target_met"] is False
    assert len(day["sessions"]) == 1
    session = day["sessions"][0]
    assert session["heartbeat_up_minutes"] == 25
    assert session["start"].startswith("2026-06-10T07:00")
    assert session["hrr60_bpm"] is not None and session["hrr60_bpm"] > 30


def test_a_hole_inside_a_workout_is_not_counted(client: TestClient) -> None:
    user, device = _user(client)
    t, hr = workout(_at("2026-06-11", "07:00:00", "Europe/London"), 30, 151)
    start = _at("2026-06-11", "07:10:00", "Europe/London")
    keep = (t < start) | (t >= start + 600)  # ten minutes of the workout never arrived
    upload(client, user, device, t[keep], hr[keep])
    day = client.get("/api/v1/days/2026-06-11", headers=user.headers).json()
    assert day["heartbeat_up_minutes"] == 20


def test_a_workout_across_local_midnight_splits_between_days(client: TestClient) -> None:
    user, device = _user(client, "America/New_York")
    t, hr = workout(_at("2026-06-12", "23:40:00", "America/New_York"), 40, 151)
    upload(client, user, device, t, hr)
    days = client.get("/api/v1/days?from=2026-06-12&to=2026-06-13", headers=user.headers).json()
    assert [d["heartbeat_up_minutes"] for d in days] == [20, 20]


def test_a_day_of_25_hours_counts_all_its_minutes(client: TestClient) -> None:
    user, device = _user(client, "Europe/London")
    # 2026-10-25 has 25 hours in London: 01:00-02:00 happens twice. Two workouts, one in each 01:xx hour.
    first = dt.datetime(2026, 10, 25, 0, 10, tzinfo=dt.UTC).timestamp()  # 01:10 BST
    second = dt.datetime(2026, 10, 25, 1, 10, tzinfo=dt.UTC).timestamp()  # 01:10 GMT
    for start in (first, second):
        t, hr = workout(start, 15, 151, before_s=300, after_s=300)
        upload(client, user, device, t, hr)
    day = client.get("/api/v1/days/2026-10-25", headers=user.headers).json()
    assert day["heartbeat_up_minutes"] == 30


def test_chunking_does_not_change_the_days(client: TestClient) -> None:
    t, hr = workout(_at("2026-06-14", "18:00:00", "Europe/London"), 45, 140)
    results = []
    for chunk in (len(t), 997, 60):
        user, device = _user(client)
        order = np.random.default_rng(chunk).permutation(t.size) if chunk == 60 else np.arange(t.size)
        upload(client, user, device, t[order], hr[order], chunk=chunk)
        day = client.get("/api/v1/days/2026-06-14", headers=user.headers).json()
        results.append((day["heartbeat_up_minutes"], day["zone_minutes"], [
            (s["start"], s["end"], s["heartbeat_up_minutes"]) for s in day["sessions"]]))  # fmt: skip
    assert results[0] == results[1] == results[2]
    assert results[0][0] == 45


def test_incremental_days_equal_a_recomputation_from_scratch(client: TestClient) -> None:
    user, device = _user(client)
    for hhmm, minutes, bpm in (("06:30:00", 20, 125), ("12:00:00", 35, 160), ("19:00:00", 50, 140)):
        t, hr = workout(_at("2026-06-15", hhmm, "Europe/London"), minutes, bpm)
        if hhmm == "12:00:00":  # a strap stuck at one value for 200 s, across three upload batches
            hr[1000:1200] = 158
        upload(client, user, device, t, hr, chunk=90)
    incremental = client.get("/api/v1/days/2026-06-15", headers=user.headers).json()
    client.app.state.ctx.rollups.request_history(user.id)  # type: ignore[attr-defined]
    wait_for_analysis(client)
    scratch = client.get("/api/v1/days/2026-06-15", headers=user.headers).json()
    for summary in (incremental, scratch):
        for s in summary["sessions"]:
            s.pop("id")
    assert incremental == scratch
    # 105 minutes of effort, less the 3 that the stuck strap leaves with under 30 s of valid data
    assert incremental["heartbeat_up_minutes"] == 102 and incremental["target_met"] is True
    assert incremental["target_met_at"].startswith("2026-06-15T19:")


def test_corrections_survive_recomputation(client: TestClient) -> None:
    user, device = _user(client)
    for hhmm in ("08:00:00", "08:40:00"):
        t, hr = workout(_at("2026-06-16", hhmm, "Europe/London"), 20, 150, before_s=60, after_s=600)
        upload(client, user, device, t, hr)
    sessions = client.get(
        "/api/v1/sessions?from=2026-06-16T00:00:00Z&to=2026-06-17T00:00:00Z", headers=user.headers
    ).json()
    assert len(sessions) == 2
    merged = client.post(
        "/api/v1/sessions/merge", json={"ids": [s["id"] for s in sessions]}, headers=user.headers
    )
    assert merged.status_code == 200 and merged.json()["source"] == "merged"
    assert merged.json()["heartbeat_up_minutes"] == 40
    client.app.state.ctx.rollups.recompute_history(user.id)  # type: ignore[attr-defined]
    after = client.get(
        "/api/v1/sessions?from=2026-06-16T00:00:00Z&to=2026-06-17T00:00:00Z", headers=user.headers
    ).json()
    assert [s["source"] for s in after] == ["merged"]
    assert client.delete(f"/api/v1/sessions/{after[0]['id']}", headers=user.headers).status_code == 204
    client.app.state.ctx.rollups.recompute_history(user.id)  # type: ignore[attr-defined]
    assert (
        client.get(
            "/api/v1/sessions?from=2026-06-16T00:00:00Z&to=2026-06-17T00:00:00Z", headers=user.headers
        ).json()
        == []
    )


def test_manual_and_edited_sessions(client: TestClient) -> None:
    user, device = _user(client)
    t, hr = workout(_at("2026-06-17", "10:00:00", "Europe/London"), 30, 150)
    upload(client, user, device, t, hr)
    [detected] = client.get("/api/v1/days/2026-06-17", headers=user.headers).json()["sessions"]
    edited = client.patch(
        f"/api/v1/sessions/{detected['id']}",
        headers=user.headers,
        json={"start": "2026-06-17T10:10:00+01:00", "end": "2026-06-17T10:30:00+01:00"},
    )
    assert edited.status_code == 200 and edited.json()["source"] == "edited"
    assert edited.json()["heartbeat_up_minutes"] == 20
    manual = client.post(
        "/api/v1/sessions",
        headers=user.headers,
        json={"start": "2026-06-17T15:00:00+01:00", "end": "2026-06-17T15:30:00+01:00"},
    )
    assert manual.status_code == 201 and manual.json()["heartbeat_up_minutes"] == 0
    bad = client.post(
        "/api/v1/sessions",
        headers=user.headers,
        json={"start": "2026-06-17T15:00:00+01:00", "end": "2026-06-17T14:30:00+01:00"},
    )
    assert bad.status_code == 422
    samples = client.get(f"/api/v1/sessions/{detected['id']}/samples", headers=user.headers).json()
    assert len(samples) == 20 * 60 + 1 and samples[0]["t"].startswith("2026-06-17T09:10:00")


@pytest.mark.parametrize("bad", ["2026-13-01", "yesterday"])
def test_bad_dates_are_422(client: TestClient, bad: str) -> None:
    user, _ = _user(client)
    assert client.get(f"/api/v1/days/{bad}", headers=user.headers).status_code == 422
    assert client.get(f"/api/v1/days?from={bad}&to=2026-01-01", headers=user.headers).status_code == 422


def test_two_straps_on_the_same_heart_do_not_double_the_beats(client: TestClient) -> None:
    from service.demo.history import rest_curve, segment_curve

    user, first = _user(client, "UTC")
    second = register_device(client, user, name="second strap")["id"]
    start = _at("2026-06-20", "06:30:00", "UTC")
    rest = segment_curve(start, rest_curve(40, 58.0), np.random.default_rng(3), 40.0)
    batch = [{"t": s.t_ms, "bpm": s.bpm, "rr_ms": list(s.rr_ms), "contact": True} for s in rest]
    client.post(f"/api/v1/devices/{first}/samples", json={"samples": batch}, headers=user.headers)
    wait_for_analysis(client)
    alone = client.get("/api/v1/days/2026-06-20", headers=user.headers).json()
    assert alone["hrv"] is not None and alone["hrv"]["rmssd_ms"] is not None
    shifted = [{**item, "t": item["t"] + 300} for item in batch]  # the same beats, heard by another strap
    client.post(f"/api/v1/devices/{second}/samples", json={"samples": shifted}, headers=user.headers)
    wait_for_analysis(client)
    both = client.get("/api/v1/days/2026-06-20", headers=user.headers).json()
    assert both["hrv"]["rmssd_ms"] == pytest.approx(alone["hrv"]["rmssd_ms"], rel=0.02)
    assert both["heartbeat_up_minutes"] == alone["heartbeat_up_minutes"] == 0


def test_coalesced_updates_follow_ingest_within_a_second(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from service.app import create_app
    from service.config import Settings

    settings = Settings(database_url=f"sqlite:///{tmp_path / 'c.sqlite3'}", data_dir=tmp_path)
    with TestClient(create_app(settings)) as app_client:
        user, device = _user(app_client)
        t, hr = workout(_at("2026-06-21", "07:00:00", "Europe/London"), 25, 151)
        samples = [{"t": int(ts * 1000), "bpm": int(b), "contact": True} for ts, b in zip(t, hr, strict=True)]
        for i in range(0, len(samples), 200):  # 15 batches, counted together
            url = f"/api/v1/devices/{device}/samples"
            app_client.post(url, json={"samples": samples[i : i + 200]}, headers=user.headers)
        deadline = time.monotonic() + 10
        while app_client.get("/health").json()["analysis_backlog"] and time.monotonic() < deadline:
            time.sleep(0.05)
        day = app_client.get("/api/v1/days/2026-06-21", headers=user.headers).json()
        assert day["heartbeat_up_minutes"] == 25
        while app_client.get("/health").json()["days_awaiting_analysis"] and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(app_client.get("/api/v1/days/2026-06-21", headers=user.headers).json()["sessions"]) == 1
