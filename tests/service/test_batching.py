"""The numbers a user sees do not depend on how the samples arrived.

Real recordings of ../shared/data (FIT, CSV, RR text, and TCX made from a real run) and a generated day go
through a real HTTP server (uvicorn, the app with its production settings: analysis debounced in the
background) on SQLite and PostgreSQL, whole, in the uploader's 1,000-sample batches, in a strap's 5-second
batches, and in any batching, order and repetition Hypothesis picks. After the service says its analysis
is done, the days, minutes, zone minutes, sessions, recovery and HRV must equal a from-scratch
recomputation of the same user's history.
"""

from __future__ import annotations

import datetime as dt
import io
import random
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.importers.detect import open_import
from service.pipeline.ingest import parse_time_ms
from tests.support.server import LiveServer
from tests.support.settle import wait_for_analysis
from tests.support.users import TestUser, register_device, sign_up

RR_START = "2026-03-01T06:30:00+00:00"
PROFILE = {"timezone": "Europe/London", "resting_hr": 55, "max_hr": 185}
WORKOUTS = (
    "fitparse_fenix2_run.fit",
    "fitparse_edge800_indoor_trainer.fit",
    "fitparse_fr110_run_smart_recording.fit",
)
RECORDINGS = (*WORKOUTS, "fitparse_fenix2_run.csv", "hrv_supine_rest_rri.txt", "hrv_submax_cycling_rri.hrm")



def _hrm_as_rr_text(path: Path) -> bytes:
    """A Polar HRM file's [HRData] RR intervals as RR text (the importer reads RR text; HRM is the simulator's)."""
    text = path.read_text()
    return text.split("[HRData]", 1)[1].strip().replace("\r", "").encode() + b"\n"


def recording_bytes(shared_data: Path, name: str) -> tuple[str, bytes]:
    path = shared_data / name
    if name.endswith(".hrm"):
        return "submax_cycling_rri.txt", _hrm_as_rr_text(path)
    return name, path.read_bytes()


def items_of(name: str, data: bytes) -> list[dict[str, Any]]:
    """The wire samples the importer reads from a file: what a client would upload in batches."""
    start_ms = parse_time_ms(RR_START)
    opened = open_import(io.BytesIO(data), name, start_ms=start_ms)
    return [item for _, item in opened.entries()]


def strap_batches(items: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Five seconds of samples a request, as `chinup record` sends a strap's notifications."""
    batches: list[list[dict[str, Any]]] = []
    first_t: int | None = None
    for item in items:
        t = parse_time_ms(item["t"])
        if first_t is None or t - first_t >= 5000:
            batches.append([])
            first_t = t
        batches[-1].append(item)
    return batches


def upload(http: httpx.Client, user: TestUser, device_id: int, batches: list[list[dict[str, Any]]]) -> None:
    for batch in batches:
        answer = http.post(
            f"/api/v1/devices/{device_id}/samples", json={"samples": batch}, headers=user.headers
        )
        assert answer.status_code == 200, answer.text


def what_the_user_sees(http: httpx.Client, user: TestUser, items: list[dict[str, Any]]) -> dict[str, Any]:
    """Days (totals, zones, resting HR, HRV) and sessions (minutes, recovery) around the recording."""
    wait_for_analysis(http)
    times = [parse_time_ms(i["t"]) for i in items]
    first = dt.datetime.fromtimestamp(min(times) / 1000, dt.UTC).date() - dt.timedelta(days=1)
    last = dt.datetime.fromtimestamp(max(times) / 1000, dt.UTC).date() + dt.timedelta(days=1)
    days = http.get("/api/v1/days", params={"from": str(first), "to": str(last)}, headers=user.headers).json()
    sessions = http.get(
        "/api/v1/sessions", params={"from": f"{first}T00:00:00+00:00", "to": f"{last}T00:00:00+00:00"},
        headers=user.headers,
    ).json()  # fmt: skip
    assert not any(d["analysis_pending"] for d in days), "settled, yet a day says it is still counting"
    keep_day = ("date", "heartbeat_up_minutes", "zone_minutes", "target_met", "target_met_at", "resting_hr",
                "hrv", "data_quality", "counted_until")  # fmt: skip
    keep_session = ("start", "end", "duration_s", "avg_bpm", "max_bpm", "heartbeat_up_minutes", "zone_minutes",
                    "trimp", "hrr60_bpm", "hrr120_bpm", "recovery_tau_s")  # fmt: skip
    return {
        "days": [{k: d[k] for k in keep_day} for d in days],
        "sessions": [{k: s[k] for k in keep_session} for s in sessions],
    }


def from_scratch(
    server: LiveServer, http: httpx.Client, user: TestUser, items: list[dict[str, Any]]
) -> dict[str, Any]:
    """The same user's history recomputed from its stored samples (what a change of profile does)."""
    server.app.state.ctx.rollups.request_history(user.id)
    return what_the_user_sees(http, user, items)


@pytest.mark.parametrize("name", RECORDINGS)
def test_a_real_recording_gives_the_same_days_whole_in_1000s_and_in_5_second_batches(
    server: LiveServer, http: httpx.Client, shared_data: Path, name: str
) -> None:
    file_name, data = recording_bytes(shared_data, name)
    items = items_of(file_name, data)
    seen = {}
    for how in ("whole file", "1000", "5 s"):
        user = sign_up(http, **PROFILE)
        if how == "whole file":
            answer = http.post("/api/v1/imports", files={"file": (file_name, data)}, data={"start": RR_START},
                               headers=user.headers)  # fmt: skip
            assert answer.status_code == 200 and answer.json()["accepted"] > 0, answer.text
        else:
            device = register_device(http, user)["id"]
            batches = (
                strap_batches(items)
                if how == "5 s"
                else [items[i : i + 1000] for i in range(0, len(items), 1000)]
            )
            upload(http, user, device, batches)
        seen[how] = what_the_user_sees(http, user, items)
        assert seen[how] == from_scratch(server, http, user, items), how
    assert seen["whole file"] == seen["1000"] == seen["5 s"]
    if name in WORKOUTS:  # a day holding only that workout counts what its session counts
        (day,) = [d for d in seen["5 s"]["days"] if d["heartbeat_up_minutes"]]
        (session,) = seen["5 s"]["sessions"]
        assert day["heartbeat_up_minutes"] == session["heartbeat_up_minutes"] > 30
        assert session["heartbeat_up_minutes"] <= session["duration_s"] / 60 + 1


def test_a_tcx_made_from_a_real_run_gives_the_days_of_its_fit(
    server: LiveServer, http: httpx.Client, shared_data: Path
) -> None:
    """The run's session exported as TCX (Garmin's XML) and imported into a fresh account counts the same."""
    fit = (shared_data / WORKOUTS[0]).read_bytes()
    source = sign_up(http, **PROFILE)
    assert (
        http.post("/api/v1/imports", files={"file": ("run.fit", fit)}, headers=source.headers).status_code
        == 200
    )
    wait_for_analysis(http)
    (session,) = http.get("/api/v1/sessions", headers=source.headers).json()
    tcx = http.get(f"/api/v1/sessions/{session['id']}/export.tcx", headers=source.headers).content
    items = items_of("run.tcx", tcx)
    results = []
    for batches in ([items], [items[i : i + 1000] for i in range(0, len(items), 1000)], strap_batches(items)):
        user = sign_up(http, **PROFILE)
        upload(http, user, register_device(http, user)["id"], batches)
        results.append(what_the_user_sees(http, user, items))
        assert results[-1] == from_scratch(server, http, user, items)
    assert results[0] == results[1] == results[2]
    assert results[0]["sessions"][0]["heartbeat_up_minutes"] == session["heartbeat_up_minutes"]


def generated_day() -> list[dict[str, Any]]:
    """A morning rest with RR intervals, a run with intervals, an evening ride: 1 Hz, with a 3-minute hole."""
    rng = np.random.default_rng(11)
    t0 = int(dt.datetime(2026, 4, 2, 6, 0, tzinfo=dt.UTC).timestamp())
    parts = [(1200, 58.0, 2.0), (300, 100.0, 4.0), (1500, 155.0, 6.0), (400, 120.0, 4.0), (900, 165.0, 5.0),
             (1200, 80.0, 4.0)]  # fmt: skip
    hr = np.concatenate([rng.normal(mean, sd, n) for n, mean, sd in parts])
    t = t0 + np.arange(hr.size)
    keep = (t < t0 + 2500) | (t > t0 + 2680)
    out = []
    for ts, bpm in zip(t[keep], np.round(hr[keep]).astype(int), strict=True):
        item: dict[str, Any] = {"t": int(ts) * 1000, "bpm": int(bpm), "contact": True}
        if ts - t0 < 1200:
            item["rr_ms"] = [round(60_000 / bpm + rng.normal(0, 25), 1)]
        out.append(item)
    return out


GENERATED = generated_day()


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    sizes=st.lists(st.sampled_from([1, 7, 60, 1000, 10_000]), min_size=1, max_size=4),
    shuffle=st.booleans(),
    resend=st.floats(0, 0.3),
    seed=st.integers(0, 2**16),
)
def test_any_batching_order_and_retry_gives_the_days_of_a_scratch_recomputation(
    server: LiveServer, http: httpx.Client, sizes: list[int], shuffle: bool, resend: float, seed: int
) -> None:
    """Hypothesis cuts the generated day into batches of mixed sizes, shuffles them, and re-sends some."""
    rnd = random.Random(seed)
    items = list(GENERATED)
    batches, i = [], 0
    while i < len(items):
        size = sizes[len(batches) % len(sizes)]
        batches.append(items[i : i + size])
        i += size
    if len(batches) > 400:  # batches of one sample stand for a whole request each: keep some, merge the rest
        batches = batches[:200] + [sum(batches[200:], [])]
    if shuffle:
        rnd.shuffle(batches)
    batches += [b for b in batches if rnd.random() < resend]  # retries after a lost acknowledgement
    user = sign_up(http, **PROFILE)
    upload(http, user, register_device(http, user)["id"], batches)
    seen = what_the_user_sees(http, user, items)
    assert seen == from_scratch(server, http, user, items)
    reference = _reference(server, http)
    assert seen == reference


_REFERENCE: dict[str, dict[str, Any]] = {}


def _reference(server: LiveServer, http: httpx.Client) -> dict[str, Any]:
    """The generated day uploaded whole once per server: what every batching must give."""
    if server.url not in _REFERENCE:
        user = sign_up(http, **PROFILE)
        upload(http, user, register_device(http, user)["id"], [GENERATED])
        _REFERENCE[server.url] = what_the_user_sees(http, user, GENERATED)
        assert _REFERENCE[server.url]["sessions"], "the generated day holds workouts"
    return _REFERENCE[server.url]
