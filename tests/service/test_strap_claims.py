"""Attacks on strap claims and per-user caps, against the running service (its real lifespan in this loop, a
virtual strap on the Bumble link), and an upload of 1,000 rejected samples logging one line.

The issue: any user could claim a neighbour's strap address first (the address is unique service-wide, so
the owner then got 409), and fake straps and rejected samples each wrote a log line per attempt.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import sessionmaker

from devices.simulator import VirtualStrap, generate_workout
from devices.spool import Spool, SpooledSample
from devices.uploader import Uploader
from service.config import Settings
from service.core.db import make_session_factory
from service.core.models import Device, PairedStrap
from service.pipeline.live import LiveHub
from service.recording.supervisor import MAX_SIGHTINGS, StrapSupervisor
from tests.service.test_recording import new_user, serving
from tests.support.users import TestUser

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"

SCAN_FIRST = "scan near the strap first"
UNSEEN = "C0:FF:EE:00:00:99"  # an address typed in, on no radio anywhere


async def _claim(client: httpx.AsyncClient, user: TestUser, address: str) -> httpx.Response:
    return await client.post("/api/v1/straps", json={"address": address}, headers=user.headers)


async def _heard(client: httpx.AsyncClient, user: TestUser) -> set[str]:
    answer = await client.get("/api/v1/straps/scan?seconds=1", headers=user.headers)
    assert answer.status_code == 200, answer.text
    return {s["address"] for s in answer.json()}


def _seed(engine: Engine, user_id: int, *, devices: int, paired: int) -> None:
    """Devices (the first `paired` of them paired straps, not recording: no recorder starts) for a user."""
    with make_session_factory(engine)() as db:
        for i in range(devices):
            address = f"5E:ED:{user_id % 256:02X}:00:{i // 256:02X}:{i % 256:02X}"
            device = Device(user_id=user_id, name=f"seeded {i}", address=address, model="seeded")
            db.add(device)
            db.flush()
            if i < paired:
                db.add(PairedStrap(user_id=user_id, device_id=device.id, address=address, name=device.name,
                                   recording=False))  # fmt: skip
        db.commit()


def _device_count(engine: Engine, user_id: int) -> int:
    with make_session_factory(engine)() as db:
        return int(db.scalar(select(func.count()).select_from(Device).where(Device.user_id == user_id)) or 0)


@pytest.mark.timeout(60)
async def test_claims_need_the_users_own_recent_scan_and_the_caps_answer(
    app_settings: Settings, engine: Engine
) -> None:
    strap = VirtualStrap("virtual", generate_workout(seed=7), name="Neighbour's strap", loop=True)
    async with strap, serving(app_settings, engine) as (client, _app):
        owner, mallory, crowded = [await new_user(client) for _ in range(3)]
        # Mallory, anywhere on the internet, types the neighbour's address (in any case) and a made-up one.
        for address in (strap.address, strap.address.lower(), UNSEEN):
            refused = await _claim(client, mallory, address)
            assert refused.status_code == 409 and SCAN_FIRST in refused.json()["detail"], refused.text

        # A user at the caps (8 paired straps, 100 devices by default) hears it, but may not take one more.
        await asyncio.to_thread(_seed, engine, crowded.id, devices=95, paired=8)
        assert strap.address in await _heard(client, crowded)
        over = await _claim(client, crowded, strap.address)
        assert over.status_code == 409 and "max_straps_per_user = 8" in over.json()["detail"], over.text

        assert strap.address in await _heard(client, owner)  # the owner scans, near the strap
        paired = await _claim(client, owner, strap.address)
        assert paired.status_code == 201, paired.text
        again = await _claim(client, owner, strap.address)  # the owner's own pairing needs no new scan
        assert again.status_code == 201 and again.json()["device_id"] == paired.json()["device_id"]
        refused = await _claim(client, mallory, strap.address)  # never heard it: told nothing of its owner
        assert refused.status_code == 409 and SCAN_FIRST in refused.json()["detail"]
        taken = await _claim(client, crowded, strap.address)  # heard it: the first pairing holds it
        assert taken.status_code == 409 and "another account" in taken.json()["detail"]

        # 10 new devices racing at 95 of 100: exactly 5 get in, whatever the interleaving.
        answers = await asyncio.gather(*(
            client.post("/api/v1/devices", json={"name": f"fake {i}", "address": f"FA:KE:00:00:00:{i:02X}"},
                        headers=crowded.headers)
            for i in range(10)
        ))  # fmt: skip
        codes = sorted(a.status_code for a in answers)
        assert codes == [201] * 5 + [409] * 5, [a.text for a in answers]
        assert all(
            "max_devices_per_user = 100" in a.json()["detail"] for a in answers if a.status_code == 409
        )
        assert await asyncio.to_thread(_device_count, engine, crowded.id) == 100
        kept = next(a.json() for a in answers if a.status_code == 201)
        same = await client.post("/api/v1/devices", json={"name": kept["name"], "address": kept["address"]},
                                 headers=crowded.headers)  # fmt: skip
        assert same.status_code == 200 and same.json()["id"] == kept["id"]  # a device it has is not a new one


async def test_an_upload_with_1000_rejected_samples_logs_one_line(
    app_settings: Settings, engine: Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with serving(app_settings, engine) as (client, app):
        user = await new_user(client)
        device = await client.post("/api/v1/devices", json={"name": "bad strap"}, headers=user.headers)
        key = f"BA:D0:{uuid.uuid4().hex[:8].upper()}"
        t0_ms = int(time.time() * 1000) - 30 * 60_000
        with Spool(tmp_path / "spool.sqlite3") as spool:
            # 300 bpm: no heart beats that fast, so the service rejects every one of them
            spool.append(key, [SpooledSample(t0_ms + i * 1000, 300) for i in range(1000)])
            uploader = Uploader(spool, client=client, server_url="http://test", device_key=key,
                                device_id=device.json()["id"], token=device.json()["upload_token"])  # fmt: skip
            with caplog.at_level(logging.INFO, logger="devices.uploader"):
                result = await uploader.upload_once()
    assert (result.sent, result.accepted, len(result.rejected)) == (1000, 0, 1000)
    [line] = [r.getMessage() for r in caplog.records if r.name == "devices.uploader"]
    assert "1000 of 1000 samples rejected" in line and result.rejected[0].reason in line


def test_sightings_are_per_user_expire_and_stay_bounded(tmp_path: Path) -> None:
    now_s = [0.0]
    supervisor = StrapSupervisor(transport="virtual", data_dir=tmp_path, sessions=sessionmaker(), live=LiveHub(),
                                 asgi_app=FastAPI(), monotonic=lambda: now_s[0])  # fmt: skip
    supervisor.saw(1, ["c0:ff:ee:00:00:01"], keep_s=600)
    assert supervisor.seen_by(1, "C0:FF:EE:00:00:01", within_s=600)
    assert not supervisor.seen_by(2, "C0:FF:EE:00:00:01", within_s=600)  # another user's scan is no claim
    now_s[0] = 600.5
    assert not supervisor.seen_by(1, "C0:FF:EE:00:00:01", within_s=600)  # ten minutes on: scan again
    # A crowd of fake adverts in one scan: the oldest sightings go, the count stays bounded.
    supervisor.saw(3, (f"FA:KE:{i:08X}" for i in range(MAX_SIGHTINGS + 500)), keep_s=600)
    assert supervisor.sighting_count == MAX_SIGHTINGS
