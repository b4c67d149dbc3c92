"""POST /imports and `chinup import`: the ingest path's idempotency, ends of files, refusals, overlapping devices."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from service.cli.main import app as cli_app
from tests.service.test_importers_support import (
    build_apple_health,
    first_of_each_time,
    reference_samples,
    zip_bytes,
)
from tests.support.server import LiveServer
from tests.support.settle import wait_for_analysis
from tests.support.users import TestUser, register_device, sign_up

RUN = "fitparse_fenix2_run"


@pytest.fixture(scope="module")
def idle_user(client: TestClient) -> TestUser:
    """One account for the refusals: none of them may leave anything behind."""
    return sign_up(client)


def upload(client: TestClient, user: TestUser, name: str, data: bytes, **form: Any) -> Any:
    return client.post("/api/v1/imports", files={"file": (name, data)}, data=form, headers=user.headers)


def day_minutes(client: TestClient, user: TestUser, t_ms: int) -> int:
    day = dt.datetime.fromtimestamp(t_ms / 1000, dt.UTC).date().isoformat()
    wait_for_analysis(client)
    return int(client.get(f"/api/v1/days/{day}", headers=user.headers).json()["heartbeat_up_minutes"])


def stored(client: TestClient, user: TestUser, device_id: int) -> list[dict[str, Any]]:
    return client.get(f"/api/v1/devices/{device_id}/samples", headers=user.headers).json()


def test_fit_import_is_idempotent_and_analysed(client: TestClient, shared_data: Path) -> None:
    user = sign_up(client, timezone="UTC", birth_year=1985)
    data = (shared_data / f"{RUN}.fit").read_bytes()
    first = upload(client, user, f"{RUN}.fit", data)
    assert first.status_code == 200, first.text
    body = first.json()
    expected = first_of_each_time(reference_samples(shared_data / f"{RUN}.csv"))
    assert (body["format"], body["accepted"], body["rejected"], body["truncated_at"]) == (
        "fit",
        len(expected),
        0,
        None,
    )
    again = upload(client, user, "copy.fit", data).json()
    assert (again["accepted"], again["duplicates"], again["device_ids"]) == (
        0,
        len(expected),
        body["device_ids"],
    )
    device = client.get(f"/api/v1/devices/{body['device_ids'][0]}", headers=user.headers).json()
    assert device["name"] == "Garmin fenix2" and device["model"] == "fenix2"
    assert [(s["t_ms"], s["bpm"]) for s in stored(client, user, device["id"])] == expected
    assert day_minutes(client, user, expected[0][0]) >= 30  # a 47-min run with HR 125-178 (waits)
    sessions = client.get(
        "/api/v1/sessions",
        params={"from": "2015-08-15T00:00:00+00:00", "to": "2015-08-16T00:00:00+00:00"},
        headers=user.headers,
    )
    assert len(sessions.json()) >= 1


def test_truncated_file_imports_its_start_and_strict_refuses_it_whole(
    client: TestClient, shared_data: Path
) -> None:
    user = sign_up(client)
    data = (shared_data / f"{RUN}.fit").read_bytes()[:60_000]
    strict = upload(client, user, "died.fit", data, strict="true")
    assert (
        strict.status_code == 422
        and "died.fit" in strict.json()["detail"]
        and "byte 60000" in strict.json()["detail"]
    )
    assert client.get("/api/v1/devices", headers=user.headers).json() == []
    body = upload(client, user, "died.fit", data).json()
    assert 1300 < body["accepted"] < 1400 and body["truncated_at"].startswith("byte 60000 of 60000")


@pytest.mark.parametrize(
    ("name", "data", "status"),
    [
        ("ride.fit", b"t,bpm\n1700000000000,70\n", 415),
        ("photo.png", b"\x89PNG\r\n\x1a\n" + bytes(64), 415),
        ("ride.tcx", b'<?xml version="1.0"?><TrainingCenterDatabase><Activities>', 422),
        ("rest.txt", b"1000\n900\n", 422),  # RR text needs a start time
    ],
)
def test_refused_files_store_nothing(
    client: TestClient, idle_user: TestUser, name: str, data: bytes, status: int
) -> None:
    user = idle_user
    answer = upload(client, user, name, data)
    assert answer.status_code == status and name in answer.json()["detail"]
    assert client.get("/api/v1/devices", headers=user.headers).json() == []


def test_csv_with_start_rr_text_and_apple_health_zip(client: TestClient) -> None:
    user = sign_up(client)
    start = "2024-03-01T07:00:00+01:00"
    start_ms = int(dt.datetime.fromisoformat(start).timestamp() * 1000)
    csv = upload(
        client, user, "ride.csv", b"t,bpm,rr_ms\n0,80,750 751\n1.5,82,\n3,300,\n", start=start
    ).json()
    assert (csv["accepted"], csv["rejected"]) == (2, 1) and csv["rejections"][0]["sample"] == 3
    rr = upload(client, user, "rest.txt", b"1000\n1000\n", start=start).json()
    assert rr["accepted"] == 2
    assert [s["t_ms"] for s in stored(client, user, rr["device_ids"][0])] == [
        start_ms + 1000,
        start_ms + 2000,
    ]
    hr = [(start_ms + i * 60_000, 70 + i) for i in range(30)]
    apple = upload(
        client, user, "export.zip", zip_bytes({"apple_health_export/export.xml": build_apple_health(hr)})
    ).json()
    assert (apple["format"], apple["accepted"]) == ("apple-health-zip", 30)


def test_overlapping_live_and_imported_data_do_not_double_the_minutes(
    client: TestClient, shared_data: Path
) -> None:
    """The same run from a live strap (arriving 0.4 s later) and from the watch's FIT file: minutes count once."""
    user = sign_up(client, timezone="UTC", birth_year=1985)
    samples = first_of_each_time(reference_samples(shared_data / f"{RUN}.csv"))
    live = register_device(client, user, name="Strap", address="AA:BB:CC:DD:EE:01")
    batch = [{"t": t + 400, "bpm": b} for t, b in samples]
    assert (
        client.post(
            f"/api/v1/devices/{live['id']}/samples", json={"samples": batch}, headers=user.headers
        ).status_code
        == 200
    )
    alone = day_minutes(client, user, samples[0][0])
    body = upload(client, user, f"{RUN}.fit", (shared_data / f"{RUN}.fit").read_bytes()).json()
    assert body["accepted"] == len(samples) and body["device_ids"] != [live["id"]]
    assert alone >= 30 and day_minutes(client, user, samples[0][0]) == alone


def test_import_onto_a_given_device(client: TestClient) -> None:
    user = sign_up(client)
    device = register_device(client, user, name="Old watch")
    data = b"t,bpm\n1700000000000,70\n1700000001000,71\n"
    body = upload(client, user, "run.csv", data, device_id=str(device["id"])).json()
    assert body["device_ids"] == [device["id"]] and body["accepted"] == 2
    other = sign_up(client)
    assert upload(client, other, "run.fit", data, device_id=str(device["id"])).status_code == 404


def test_cli_import_uploads_in_batches_and_says_where_a_file_ended(
    live_server: LiveServer, shared_data: Path, tmp_path: Path
) -> None:
    import httpx

    with httpx.Client(base_url=live_server.url) as http:
        user = sign_up(http)
    cut = tmp_path / "died.fit"
    cut.write_bytes((shared_data / f"{RUN}.fit").read_bytes()[:90_000])
    args = ["import", str(cut), "--server", live_server.url, "--token", user.token]
    strict = CliRunner().invoke(cli_app, [*args, "--strict"])
    assert strict.exit_code == 1 and "died.fit" in strict.output and "byte 90000" in strict.output
    result = CliRunner().invoke(cli_app, args)
    assert result.exit_code == 0, result.output
    assert "ends early" in result.output and "byte 90000" in result.output
    again = CliRunner().invoke(cli_app, args)
    assert " 0 new samples" in again.output and "already stored" in again.output
    devices = httpx.get(f"{live_server.url}/api/v1/devices", headers=user.headers).json()
    assert len(devices) == 1 and devices[0]["name"] == "Garmin fenix2"
