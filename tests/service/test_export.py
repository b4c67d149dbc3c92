"""The account export: a zip that imports back into a fresh account with nothing lost; sessions as TCX;
deleting an account leaves no row of it in any table."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from service.core.models import Base
from service.importers import open_import
from tests.service.test_importers_support import first_of_each_time, reference_samples
from tests.support.settle import wait_for_analysis
from tests.support.users import TestUser, register_device, sign_up

RUN = "fitparse_edge800_indoor_trainer"
VOLATILE = {"id", "created_at", "email", "exported_at", "updated_at", "samples", "interview_id"}


def _fill(client: TestClient, user: TestUser, shared_data: Path) -> None:
    """A lived-in account: a strap's samples with RR, a FIT import, the whole journal, a deleted session."""
    h = user.headers
    strap = register_device(client, user, name="H10", address="AA:00:00:00:00:01", model="Polar H10")
    samples = first_of_each_time(reference_samples(shared_data / f"{RUN}.csv"))
    live = [
        {"t": t + 250, "bpm": b, "rr_ms": [round(60000 / b, 1)], "contact": True} for t, b in samples[:1200]
    ]
    live.append({"t": samples[1200][0], "bpm": 0, "contact": False})
    assert (
        client.post(f"/api/v1/devices/{strap['id']}/samples", json={"samples": live}, headers=h).status_code
        == 200
    )
    fit = (shared_data / f"{RUN}.fit").read_bytes()
    assert client.post("/api/v1/imports", files={"file": ("ride.fit", fit)}, headers=h).status_code == 200
    wait_for_analysis(client)
    register_device(client, user, name="Spare strap")  # no address, no samples
    assert (
        client.post(
            "/api/v1/checkins",
            json={"at": "2011-11-02T20:00:00+01:00", "confidence": 6, "mood": 7, "note": "é ✓"},
            headers=h,
        ).status_code
        == 201
    )
    interview = client.post(
        "/api/v1/interviews",
        json={
            "company": "Acme",
            "role": "Dev",
            "at": "2011-11-01T10:00:00+00:00",
            "stage": "onsite",
            "outcome": "rejected",
        },
        headers=h,
    ).json()
    reflection = {
        "went_well": ["rapport"],
        "went_poorly": ["system design"],
        "lessons": ["practise aloud"],
        "outsider_view": "fine",
    }
    assert (
        client.put(f"/api/v1/interviews/{interview['id']}/reflection", json=reflection, headers=h).status_code
        == 200
    )
    feedback = {"requested_at": "2011-11-02T09:00:00+00:00", "notes": "asked the recruiter"}
    assert client.post(
        f"/api/v1/interviews/{interview['id']}/feedback", json=feedback, headers=h
    ).status_code in (200, 201)
    assert (
        client.post(
            "/api/v1/practice",
            json={
                "at": "2011-11-03T18:00:00+00:00",
                "questions": ["Tell me about a failure"],
                "self_rating": 5,
                "started_at": "2011-11-03T18:00:00+00:00",
                "ended_at": "2011-11-03T18:25:00+00:00",
            },
            headers=h,
        ).status_code
        == 201
    )
    assert (
        client.post(
            "/api/v1/applications",
            json={
                "company": "Beta",
                "role": "SRE",
                "applied_at": "2011-11-04T08:00:00+00:00",
                "status": "sent",
            },
            headers=h,
        ).status_code
        == 201
    )
    application = client.get("/api/v1/applications", headers=h).json()[0]
    moved = client.patch(f"/api/v1/applications/{application['id']}", json={"status": "screen"}, headers=h)
    assert len(moved.json()["history"]) == 2, moved.text  # the export carries the history
    sessions = client.get("/api/v1/sessions", headers=h).json()
    assert sessions, "the ride holds a workout"
    assert client.delete(f"/api/v1/sessions/{sessions[-1]['id']}", headers=h).status_code == 204
    wait_for_analysis(client)


def _export(client: TestClient, user: TestUser) -> bytes:
    answer = client.get("/api/v1/export", headers=user.headers)
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/zip"
    return answer.content


def _strip(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def _contents(data: bytes) -> dict[str, Any]:
    """Every part of an export, ids and creation times aside; sample files keyed by device name."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        devices = json.loads(zf.read("devices.json"))
        out: dict[str, Any] = {
            n: _strip(json.loads(zf.read(n))) for n in zf.namelist() if n.endswith(".json")
        }
        out.pop("manifest.json")
        out["samples"] = {d["name"]: zf.read(d["samples"]).decode() for d in devices}
        out["sessions.csv"] = zf.read("sessions.csv").decode()
        out["days.csv"] = [line.rsplit(",", 1)[0] for line in zf.read("days.csv").decode().splitlines()]
    return out


def test_export_imports_back_into_a_fresh_account_with_nothing_lost(
    client: TestClient, shared_data: Path
) -> None:
    original = sign_up(
        client, timezone="Europe/Zurich", birth_year=1980, resting_hr=55, daily_target_minutes=45
    )
    _fill(client, original, shared_data)
    exported = _export(client, original)
    fresh = sign_up(client)
    answer = client.post(
        "/api/v1/imports", files={"file": ("chinup-export.zip", exported)}, headers=fresh.headers
    )
    assert answer.status_code == 200, answer.text
    wait_for_analysis(client)
    body = answer.json()
    assert body["format"] == "chinup-export" and body["rejected"] == 0 and body["truncated_at"] is None
    assert body["restored"] == {
        "checkins": 1,
        "practice": 1,
        "applications": 1,
        "interviews": 1,
        "sessions": 1,
    }
    before, after = _contents(exported), _contents(_export(client, fresh))
    assert after["samples"]["H10"].count("\n") == 1202 and after["samples"]["Spare strap"].count("\n") == 1
    assert after["profile.json"] == before["profile.json"]
    assert after == before
    again = client.post(
        "/api/v1/imports", files={"file": ("chinup-export.zip", exported)}, headers=fresh.headers
    ).json()
    assert again["accepted"] == 0 and set(again["restored"].values()) == {0}
    assert _contents(_export(client, fresh)) == before


def test_session_as_tcx_reads_back_through_the_tcx_importer(client: TestClient, shared_data: Path) -> None:
    user = sign_up(client, birth_year=1980)
    fit = (shared_data / f"{RUN}.fit").read_bytes()
    assert (
        client.post("/api/v1/imports", files={"file": ("ride.fit", fit)}, headers=user.headers).status_code
        == 200
    )
    wait_for_analysis(client)
    session = client.get("/api/v1/sessions", headers=user.headers).json()[0]
    tcx = client.get(f"/api/v1/sessions/{session['id']}/export.tcx", headers=user.headers)
    assert tcx.status_code == 200
    opened = open_import(io.BytesIO(tcx.content), "session.tcx")
    points = [(item["t"], item["bpm"]) for _, item in opened.entries()]
    inside = client.get(f"/api/v1/sessions/{session['id']}/samples", headers=user.headers).json()
    assert opened.format == "tcx" and len(points) == len([s for s in inside if s["bpm"] > 0]) > 100
    other = sign_up(client)
    assert (
        client.get(f"/api/v1/sessions/{session['id']}/export.tcx", headers=other.headers).status_code == 404
    )


def _owned_rows(engine: Engine, user_id: int) -> dict[str, set[tuple[Any, ...]]]:
    """Every row that belongs to the user, table by table, following foreign keys down from users."""
    owned: dict[str, set[tuple[Any, ...]]] = {"users": {(user_id,)}}
    with engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            for fk in table.foreign_keys:
                parent = fk.column.table.name
                if parent not in owned or parent == table.name:
                    continue
                parent_ids = {k[0] for k in owned[parent]}
                pk = list(table.primary_key.columns)
                rows = conn.execute(select(*pk).where(fk.parent.in_(parent_ids))).all()
                owned.setdefault(table.name, set()).update(tuple(r) for r in rows)
    return owned


def test_deleting_an_account_leaves_no_row_of_it(
    client: TestClient, engine: Engine, shared_data: Path
) -> None:
    user = sign_up(client, birth_year=1980)
    _fill(client, user, shared_data)
    keeper = sign_up(client)
    register_device(client, keeper, name="Keeper's strap")
    before = _owned_rows(engine, user.id)
    reached = set(before)
    # log-in events name an account by its email (it may not exist): checked by that below
    by_email = {"login_events"}
    assert reached | by_email == {t.name for t in Base.metadata.sorted_tables}, "every table reachable"
    assert client.post("/api/v1/auth/token", data={"username": user.email, "password": "wrong guess"}).status_code
    assert all(
        before[name]
        for name in (
            "samples",
            "devices",
            "minute_rollups",
            "day_rollups",
            "reflections",
            "feedback",
            "workout_sessions",
        )
    )
    answer = client.request("DELETE", "/api/v1/me", json={"password": user.password}, headers=user.headers)
    assert answer.status_code == 204, answer.text
    assert all(not rows for rows in _owned_rows(engine, user.id).values() if rows != {(user.id,)})
    with engine.connect() as conn:
        users = Base.metadata.tables["users"]
        assert conn.execute(select(users.c.id).where(users.c.id == user.id)).first() is None
        events = Base.metadata.tables["login_events"]
        assert conn.execute(select(events.c.id).where(events.c.account == user.email)).first() is None
    assert client.get("/api/v1/devices", headers=keeper.headers).json()[0]["name"] == "Keeper's strap"
