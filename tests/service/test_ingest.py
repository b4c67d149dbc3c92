"""Batch ingest: validation with counted rejections, idempotency on (device, t), device upload tokens."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient

from tests.support.users import register_device, sign_up

NOW_MS = int(time.time() * 1000) - 3_600_000


def _samples(n: int, start_ms: int = NOW_MS, step_ms: int = 1000) -> list[dict[str, object]]:
    return [
        {"t": start_ms + i * step_ms, "bpm": 60 + i % 50, "rr_ms": [1000.0], "contact": True}
        for i in range(n)
    ]


def test_batch_is_stored_once_and_read_back_in_order(client: TestClient) -> None:
    user = sign_up(client)
    device = register_device(client, user, address="AA:BB:CC:00:00:01")
    url = f"/api/v1/devices/{device['id']}/samples"
    batch = _samples(500)
    first = client.post(url, json={"samples": batch[::-1]}, headers=user.headers)
    assert first.json() == {"accepted": 500, "duplicates": 0, "rejected": [], "rr_dropped": 0, "conflicts": 0}
    again = client.post(url, json={"samples": batch}, headers=user.headers)
    assert again.json() == {"accepted": 0, "duplicates": 500, "rejected": [], "rr_dropped": 0, "conflicts": 0}
    stored = client.get(url, headers=user.headers).json()
    assert [s["t_ms"] for s in stored] == [s["t"] for s in batch]
    assert stored[0]["rr_ms"] == [1000.0] and stored[0]["contact"] is True


def test_each_bad_item_is_rejected_with_its_index_and_reason(client: TestClient) -> None:
    user = sign_up(client)
    device = register_device(client, user)
    future = int(time.time() * 1000) + 10 * 60_000
    items = [
        {"t": NOW_MS, "bpm": 70},
        {"t": NOW_MS + 1000, "bpm": 300},
        {"t": NOW_MS + 2000, "bpm": 0, "contact": False},
        {"t": NOW_MS + 3000, "bpm": 0},
        {"t": NOW_MS + 4000, "bpm": 80, "rr_ms": [150, 0, 800]},
        {"t": future, "bpm": 80},
        {"t": "yesterday", "bpm": 80},
        {"t": "2026-01-01T10:00:00", "bpm": 80},
        {"t": "2026-01-01T10:00:00+01:00", "bpm": 81, "rr_ms": [812.5, 790]},
        {"bpm": 80},
        "not an object",
        {"t": NOW_MS, "bpm": 71},
    ]
    answer = client.post(
        f"/api/v1/devices/{device['id']}/samples", json={"samples": items}, headers=user.headers
    )
    assert answer.status_code == 200
    body = answer.json()
    assert body["accepted"] == 4
    assert body["duplicates"] == 1
    # An impossible RR interval is dropped alone (counted); RR = 0 is "no interval"; the heart rate stays.
    assert body["rr_dropped"] == 1
    reasons = {r["index"]: r["reason"] for r in body["rejected"]}
    assert sorted(reasons) == [1, 3, 5, 6, 7, 9, 10]
    assert "outside 25-240" in reasons[1]
    assert "more than 5 minutes in the future" in reasons[5] and "malformed" in reasons[6] and "offset" in reasons[7]
    stored = client.get(f"/api/v1/devices/{device['id']}/samples", headers=user.headers).json()
    lost = [s for s in stored if s["bpm"] == 0]
    assert len(lost) == 1 and lost[0]["contact"] is False
    assert any(s["rr_ms"] == [812.5, 790.0] for s in stored)
    assert any(s["t_ms"] == NOW_MS + 4000 and s["bpm"] == 80 and s["rr_ms"] == [800.0] for s in stored)


def test_upload_token_may_only_ingest_for_its_device(client: TestClient) -> None:
    user = sign_up(client)
    own = register_device(client, user, address="AA:BB:CC:00:00:02")
    other = register_device(client, user, address="AA:BB:CC:00:00:03")
    headers = {"Authorization": f"Bearer {own['upload_token']}"}
    ok = client.post(f"/api/v1/devices/{own['id']}/samples", json={"samples": _samples(3)}, headers=headers)
    assert ok.status_code == 200 and ok.json()["accepted"] == 3
    refused = client.post(
        f"/api/v1/devices/{other['id']}/samples", json={"samples": _samples(3)}, headers=headers
    )
    assert refused.status_code == 403
    assert client.get("/api/v1/me", headers=headers).status_code == 401
    assert client.get(f"/api/v1/devices/{own['id']}/samples", headers=headers).status_code == 401
    current = client.get("/api/v1/devices/current", headers=headers)
    assert current.status_code == 200 and current.json()["id"] == own["id"]
    assert "upload_token" not in current.json()


def test_same_address_registers_the_same_device(client: TestClient) -> None:
    user = sign_up(client)
    first = register_device(client, user, address="AA:BB:CC:00:00:04", name="H10")
    second = client.post(
        "/api/v1/devices", json={"address": "AA:BB:CC:00:00:04", "name": "H10"}, headers=user.headers
    )
    assert second.status_code == 200 and second.json()["id"] == first["id"]
    assert second.json()["upload_token"] != first["upload_token"]


def test_oversized_batch_and_bad_body_are_4xx(client: TestClient) -> None:
    user = sign_up(client)
    device = register_device(client, user)
    url = f"/api/v1/devices/{device['id']}/samples"
    assert client.post(url, json={"samples": _samples(10_001)}, headers=user.headers).status_code == 413
    assert client.post(url, json={"samples": "nope"}, headers=user.headers).status_code == 422
    assert (
        client.post(
            url, content=b"{not json", headers={**user.headers, "Content-Type": "application/json"}
        ).status_code
        == 422
    )
