"""Exercise vs confidence on days built from real uploads and check-ins, checked against scipy's Spearman."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from fastapi.testclient import TestClient
from scipy import stats

from tests.support.settle import wait_for_analysis
from tests.support.users import TestUser, register_device, sign_up

TZ = "America/New_York"  # evening check-ins fall on the next UTC day: grouping must use the local day
NEW_YORK = ZoneInfo(TZ)
URL = "/api/v1/insights/exercise-vs-confidence"
# One workout a day of these lengths (distinct, so the ranks are known), at 150 bpm: as many minutes up.
MINUTES = [4, 31, 12, 25, 8, 38, 17, 22, 6, 35, 14, 28, 10, 33, 19, 26]
# Mood drawn at random (numpy seed 0, 3..8), unrelated to the minutes: Spearman's rho 0.003.
MOOD = [8, 6, 6, 4, 4, 3, 3, 3, 4, 7, 6, 8, 6, 6, 8, 7]


def _local(day: dt.date, hh: int, mm: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hh, mm), tzinfo=NEW_YORK)


def _samples(start: dt.datetime, minutes: int, bpm: float) -> list[dict[str, Any]]:
    """1 Hz with a little noise (a flat line reads as a fault): rest, a block at `bpm`, a fast fall."""
    t0 = start.timestamp()
    t = np.arange(t0 - 120, t0 + minutes * 60 + 180, 1.0)
    hr = np.where((t >= t0) & (t < t0 + minutes * 60), bpm, 70.0)
    after = t >= t0 + minutes * 60
    hr[after] = 70 + (bpm - 70) * np.exp(-(t[after] - (t0 + minutes * 60)) / 20.0)
    hr += np.random.default_rng(int(t0) % 10_000).normal(0.0, 1.0, t.size)
    return [{"t": int(s * 1000), "bpm": int(round(b)), "contact": True} for s, b in zip(t, hr, strict=True)]


def _upload(client: TestClient, user: TestUser, device_id: int, samples: list[dict[str, Any]]) -> None:
    answer = client.post(
        f"/api/v1/devices/{device_id}/samples", json={"samples": samples}, headers=user.headers
    )
    assert answer.status_code == 200 and not answer.json()["rejected"], answer.text


def _check_in(client: TestClient, user: TestUser, at: dt.datetime, confidence: int, mood: int | None) -> None:
    body = {"at": at.isoformat(), "confidence": confidence, "mood": mood}
    answer = client.post("/api/v1/checkins", json=body, headers=user.headers)
    assert answer.status_code == 201, answer.text


def _insight(client: TestClient, user: TestUser, **params: Any) -> dict[str, Any]:
    answer = client.get(URL, params=params, headers=user.headers)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


@dataclass(frozen=True)
class History:
    user: TestUser
    first: dt.date
    last: dt.date  # a day with a check-in but no strap data
    confidence: list[float]  # mean of the day's two check-ins


@pytest.fixture(scope="module")
def history(client: TestClient) -> History:
    """16 days with a workout and two check-ins (morning, and 20:30 local = next day UTC), then a day without strap."""
    user = sign_up(client, timezone=TZ, resting_hr=60, max_hr=190, daily_target_minutes=20)
    device = register_device(client, user)["id"]
    first = dt.datetime.now(NEW_YORK).date() - dt.timedelta(days=20)
    confidence = []
    for i, minutes in enumerate(MINUTES):
        day = first + dt.timedelta(days=i)
        _upload(client, user, device, _samples(_local(day, 7), minutes, 150.0))
        morning, evening = 2 + minutes // 7, min(10, 3 + minutes // 6 + i % 3)
        _check_in(client, user, _local(day, 8), morning, None)
        _check_in(client, user, _local(day, 20, 30), evening, MOOD[i])
        confidence.append((morning + evening) / 2)
    last = first + dt.timedelta(days=len(MINUTES))
    _check_in(client, user, _local(last, 21), 9, 9)
    wait_for_analysis(client)
    return History(user, first, last, confidence)


def test_same_day_matches_scipy_and_skips_days_without_the_strap(
    client: TestClient, history: History
) -> None:
    out = _insight(client, history.user, lag_days=0, **{"from": history.first, "to": history.last})
    assert [p["minutes"] for p in out["points"]] == MINUTES  # from the rollups of the uploaded samples
    assert [p["rating"] for p in out["points"]] == history.confidence
    expected = stats.spearmanr(MINUTES, history.confidence)
    assert out["n_days"] == 16 and out["min_days"] == 14
    assert out["rho"] == pytest.approx(expected.statistic, abs=1e-12)
    assert out["p_value"] == pytest.approx(expected.pvalue, rel=1e-9)
    lo, hi = out["ci95"]
    assert lo < out["rho"] < hi and lo > 0  # a strong link: the interval stays above zero
    met = [c for m, c in zip(MINUTES, history.confidence, strict=True) if m >= 20]
    missed = [c for m, c in zip(MINUTES, history.confidence, strict=True) if m < 20]
    assert out["mean_when_target_met"] == pytest.approx(np.mean(met))
    assert out["mean_when_target_missed"] == pytest.approx(np.mean(missed))
    assert "strong" in out["statement"] and "16 days" in out["statement"]
    again = _insight(client, history.user, lag_days=0, **{"from": history.first, "to": history.last})
    assert again["ci95"] == out["ci95"]  # the bootstrap is seeded


def test_next_day_pairs_minutes_with_the_following_days_rating(client: TestClient, history: History) -> None:
    out = _insight(client, history.user, lag_days=1, **{"from": history.first, "to": history.last})
    ratings = [*history.confidence[1:], 9.0]  # the last workout day's next day has a check-in only
    expected = stats.spearmanr(MINUTES, ratings)
    assert out["n_days"] == 16 and out["lag_days"] == 1
    assert out["rho"] == pytest.approx(expected.statistic, abs=1e-12)
    assert out["p_value"] == pytest.approx(expected.pvalue, rel=1e-9)
    assert out["points"][0]["rating_date"] == (history.first + dt.timedelta(days=1)).isoformat()


def test_no_relation_gives_an_interval_that_includes_zero(client: TestClient, history: History) -> None:
    out = _insight(client, history.user, metric="mood", **{"from": history.first, "to": history.last})
    expected = stats.spearmanr(MINUTES, MOOD)
    assert out["n_days"] == 16 and out["metric"] == "mood"
    assert out["rho"] == pytest.approx(expected.statistic, abs=1e-12)
    lo, hi = out["ci95"]
    assert lo < 0 < hi
    assert "chance" in out["statement"]


def test_below_fourteen_days_no_claim_is_made(client: TestClient) -> None:
    user = sign_up(client, timezone=TZ, resting_hr=60, max_hr=190)
    device = register_device(client, user)["id"]
    today = dt.datetime.now(NEW_YORK).date()
    for back, minutes, confidence in ((5, 30, 7), (4, 10, 5)):
        day = today - dt.timedelta(days=back)
        _upload(client, user, device, _samples(_local(day, 7), minutes, 150.0))
        _check_in(client, user, _local(day, 19), confidence, None)
    rest_day = today - dt.timedelta(days=3)  # the strap worn, no exercise: a real 0
    _upload(client, user, device, _samples(_local(rest_day, 7), 0, 70.0))
    _check_in(client, user, _local(rest_day, 19), 4, None)
    _check_in(client, user, _local(today - dt.timedelta(days=2), 19), 8, None)  # no strap: not a 0
    wait_for_analysis(client)
    out = _insight(client, user)  # the default range: the last 90 days
    assert out["n_days"] == 3
    assert (out["rho"], out["ci95"], out["p_value"]) == (None, None, None)
    assert [(p["minutes"], p["rating"]) for p in out["points"]] == [(30, 7.0), (10, 5.0), (0, 4.0)]
    assert "11 more" in out["statement"]
    assert out["mean_when_target_missed"] == pytest.approx(16 / 3)
    assert out["mean_when_target_met"] is None


def test_another_users_data_never_counts(client: TestClient, history: History) -> None:
    stranger = sign_up(client, timezone=TZ)
    out = _insight(client, stranger, **{"from": history.first, "to": history.last})
    assert out["n_days"] == 0 and out["points"] == [] and out["rho"] is None


@pytest.mark.parametrize(
    "params",
    [
        {"lag_days": 2},
        {"lag_days": -1},
        {"lag_days": "x"},
        {"metric": "sleep"},
        {"from": "2026-02-30"},
        {"from": "2026-03-10", "to": "2026-03-01"},
        {"from": "2024-01-01", "to": "2026-01-01"},
    ],
)
def test_bad_parameters_are_422(client: TestClient, history: History, params: dict[str, Any]) -> None:
    answer = client.get(URL, params=params, headers=history.user.headers)
    assert answer.status_code == 422, answer.text
    assert "detail" in answer.json()
