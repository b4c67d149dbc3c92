"""FIT records in one second keep all their RR intervals, and the reader passes every RR on for ingest to judge."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.importers import open_import, read_file
from service.pipeline.ingest import RR_MAX_MS, RR_MIN_MS
from tests.service.test_importers_support import REAL_FITS, build_fit
from tests.support.users import TestUser, sign_up

T0_MS = 1_700_000_000_000
# Garmin writes two records in one second now and then (FIT times have 1 s resolution): seconds 10 and 30 here.
REPEATED_S = (10, 30)
TOO_LONG_S = 3.5  # beyond ingest's 3000 ms: dropped alone and counted, never by the reader


def _recording() -> tuple[list[tuple[int, int]], list[list[float]]]:
    """40 s of records, each followed by an hrv message; the second record in second 10 carries 3.5 s too."""
    samples: list[tuple[int, int]] = []
    rr_s: list[list[float]] = []
    for second in range(40):
        samples.append((T0_MS + second * 1000, 70 + second % 5))
        rr_s.append([0.800 + second / 1000, 0.810])
        if second in REPEATED_S:
            samples.append((T0_MS + second * 1000, 90))  # a second heart rate in the same second
            rr_s.append([0.820, TOO_LONG_S] if second == REPEATED_S[0] else [0.830])
    return samples, rr_s


def _expected_rr_ms() -> dict[int, list[float]]:
    """Per second, the RR intervals (ms) of all its records in file order."""
    out: dict[int, list[float]] = {}
    for (t_ms, _), rr in zip(*_recording(), strict=True):
        out.setdefault(t_ms, []).extend(round(x * 1000, 3) for x in rr)
    return out


def _rr_count(items: list[dict[str, Any]]) -> int:
    return sum(len(item.get("rr_ms") or []) for item in items)


def test_records_of_one_second_merge_keeping_the_first_heart_rate_and_every_rr() -> None:
    samples, rr_s = _recording()
    opened = open_import(io.BytesIO(build_fit(samples, rr_s)), "garmin.fit")
    items = [item for _, item in opened.entries()]
    assert [item["t"] for item in items] == [T0_MS + s * 1000 for s in range(40)]
    assert [item["bpm"] for item in items] == [70 + s % 5 for s in range(40)]  # the first of each second
    assert {item["t"]: item["rr_ms"] for item in items} == {
        t: pytest.approx(rr) for t, rr in _expected_rr_ms().items()
    }
    assert _rr_count(items) == sum(len(rr) for rr in rr_s)  # nothing lost, 3.5 s included
    assert TOO_LONG_S * 1000 in items[REPEATED_S[0]]["rr_ms"]


def _upload(client: TestClient, user: TestUser, name: str, data: bytes) -> dict[str, Any]:
    answer = client.post("/api/v1/imports", files={"file": (name, data)}, headers=user.headers)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def _stored(client: TestClient, user: TestUser, device_id: int) -> list[dict[str, Any]]:
    answer = client.get(f"/api/v1/devices/{device_id}/samples", headers=user.headers)
    assert answer.status_code == 200, answer.text
    return list(answer.json())


def test_import_stores_every_rr_in_range_and_counts_the_one_beyond(client: TestClient) -> None:
    user = sign_up(client, timezone="UTC")
    body = _upload(client, user, "garmin.fit", build_fit(*_recording()))
    assert (body["format"], body["accepted"], body["duplicates"], body["rejected"]) == ("fit", 40, 0, 0)
    assert body["rr_dropped"] == 1  # the 3.5 s interval; its sample is kept
    stored = _stored(client, user, body["device_ids"][0])
    in_range = {t: [x for x in rr if RR_MIN_MS <= x <= RR_MAX_MS] for t, rr in _expected_rr_ms().items()}
    assert {s["t_ms"]: s["rr_ms"] for s in stored} == {t: pytest.approx(rr) for t, rr in in_range.items()}
    assert sum(len(s["rr_ms"]) for s in stored) == 40 * 2 + len(REPEATED_S)  # 82: both records' of a second


@pytest.mark.parametrize("stem", REAL_FITS)
def test_real_fit_rr_read_is_rr_stored_or_counted(client: TestClient, shared_data: Path, stem: str) -> None:
    with read_file(shared_data / f"{stem}.fit") as opened:
        items = [item for _, item in opened.entries()]
    user = sign_up(client, timezone="UTC")
    body = _upload(client, user, f"{stem}.fit", (shared_data / f"{stem}.fit").read_bytes())
    stored = _stored(client, user, body["device_ids"][0])
    assert (body["accepted"], body["duplicates"], len(stored)) == (len(items), 0, len(items))
    assert _rr_count(stored) + body["rr_dropped"] == _rr_count(items)
