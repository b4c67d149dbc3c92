"""The service records paired straps itself: virtual straps on the Bumble link, the app's real lifespan.

The app runs in the test's own event loop (its lifespan entered directly, requests through httpx's ASGI
transport), so the supervisor's central and the simulated straps meet on the same per-loop virtual link.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, delete, func, select

from devices.simulator import StrapProfile, VirtualStrap, generate_workout
from devices.strap import LinkState
from service.app import create_app
from service.config import Settings
from service.core.db import make_session_factory
from service.core.models import DeviceToken
from service.recording.supervisor import (
    HEALTHY_RUN_S,
    RESTART_FIRST_S,
    RESTART_MAX_S,
    StrapState,
    StrapSupervisor,
    restart_delay_s,
    strap_state,
)
from tests.support.users import TestUser

pytestmark = pytest.mark.anyio

KINDS = {
    "Polar 8-bit RR": StrapProfile(uint16_bpm=False, sends_rr=True, contact_supported=True),
    "Garmin 16-bit": StrapProfile(uint16_bpm=True, sends_rr=False, contact_supported=False, battery_pct=41),
}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@contextlib.asynccontextmanager
async def serving(settings: Settings, engine: Engine) -> AsyncIterator[tuple[httpx.AsyncClient, FastAPI]]:
    """The app with its real lifespan (supervisor included) in this loop, a client to it, and the app."""
    app = create_app(settings, engine=engine, migrate_db=False)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test", timeout=30) as client:
            yield client, app


@contextlib.asynccontextmanager
async def running(settings: Settings, engine: Engine) -> AsyncIterator[httpx.AsyncClient]:
    """The app with its real lifespan (supervisor included) in this loop, and a client to it."""
    async with serving(settings, engine) as (client, _app):
        yield client


async def new_user(client: httpx.AsyncClient) -> TestUser:
    """Sign up through the API (the async twin of tests.support.users.sign_up)."""
    email, password = f"u-{uuid.uuid4().hex[:10]}@example.org", "correct horse battery"
    created = await client.post("/api/v1/users", json={"email": email, "password": password})
    assert created.status_code == 201, created.text
    token = await client.post("/api/v1/auth/token", data={"username": email, "password": password})
    return TestUser(
        id=created.json()["id"], email=email, password=password, token=token.json()["access_token"]
    )


async def eventually(check: Callable[[], Any], timeout_s: float = 10.0) -> Any:
    """Poll an async check until it returns something truthy."""
    async with asyncio.timeout(timeout_s):
        while True:
            value = await check()
            if value:
                return value
            await asyncio.sleep(0.1)


async def strap_of(client: httpx.AsyncClient, user: TestUser, device_id: int) -> dict[str, Any]:
    answer = await client.get("/api/v1/straps", headers=user.headers)
    assert answer.status_code == 200, answer.text
    return next(s for s in answer.json() if s["device_id"] == device_id)


async def stored_count(client: httpx.AsyncClient, user: TestUser, device_id: int) -> int:
    answer = await client.get(f"/api/v1/devices/{device_id}/samples", headers=user.headers)
    assert answer.status_code == 200, answer.text
    return len(answer.json())


@contextlib.asynccontextmanager
async def straps() -> AsyncIterator[dict[str, VirtualStrap]]:
    async with contextlib.AsyncExitStack() as stack:
        out = {}
        for seed, (name, profile) in enumerate(KINDS.items()):
            strap = VirtualStrap(
                "virtual", generate_workout(seed=seed), name=name, profile=profile, loop=True
            )
            out[name] = await stack.enter_async_context(strap)
        yield out


def test_link_states_in_the_users_words() -> None:
    assert strap_state(LinkState.SEARCHING, 0) == StrapState.CONNECTING
    assert strap_state(LinkState.CONNECTING, 0) == StrapState.CONNECTING
    assert strap_state(LinkState.STREAMING, 1) == StrapState.RECORDING
    assert strap_state(LinkState.STALE, 1) == StrapState.STALE
    assert strap_state(LinkState.SEARCHING, 1) == StrapState.RECONNECTING
    assert strap_state(LinkState.WAITING, 0) == StrapState.RECONNECTING
    assert strap_state(LinkState.STOPPED, 3) == StrapState.STOPPED


def test_restart_backoff_doubles_and_starts_over_after_a_healthy_run() -> None:
    delays = [restart_delay_s(None, 0.0)]
    for _ in range(8):
        delays.append(restart_delay_s(delays[-1], 0.5))
    assert delays[:3] == [RESTART_FIRST_S, 2 * RESTART_FIRST_S, 4 * RESTART_FIRST_S]
    assert max(delays) == RESTART_MAX_S == delays[-1]
    assert restart_delay_s(RESTART_MAX_S, HEALTHY_RUN_S) == RESTART_FIRST_S


async def test_scan_pair_stop_resume_restart_forget(app_settings: Settings, engine: Engine) -> None:
    async with straps() as virtual:
        polar, garmin = virtual["Polar 8-bit RR"], virtual["Garmin 16-bit"]
        async with running(app_settings, engine) as client:
            alice, bob = await new_user(client), await new_user(client)
            scan = await client.get("/api/v1/straps/scan?seconds=1", headers=alice.headers)
            assert scan.status_code == 200, scan.text
            heard = {s["address"]: s for s in scan.json()}
            assert {polar.address, garmin.address} <= heard.keys()
            assert heard[polar.address]["name"] == "Polar 8-bit RR" and heard[polar.address]["paired"] is None
            assert isinstance(heard[polar.address]["rssi"], int)

            paired = await client.post(
                "/api/v1/straps",
                json={"address": garmin.address, "name": "Garmin 16-bit"},
                headers=alice.headers,
            )
            assert paired.status_code == 201, paired.text
            device_id = paired.json()["device_id"]

            async def recording() -> dict[str, Any] | None:
                s = await strap_of(client, alice, device_id)
                return s if s["state"] == StrapState.RECORDING and s["last_bpm"] else None

            status = await eventually(recording)
            assert status["battery_pct"] == 41 and status["body_location"] == "chest"
            await eventually(lambda: stored_count(client, alice, device_id))

            # Bob never heard it (a connected strap no longer advertises): a typed address is not a claim.
            refused = await client.post(
                "/api/v1/straps", json={"address": garmin.address}, headers=bob.headers
            )
            assert refused.status_code == 409 and "scan near the strap first" in refused.json()["detail"]
            assert (
                await client.post(f"/api/v1/straps/{device_id}/stop", headers=bob.headers)
            ).status_code == 404

            stopped = await client.post(f"/api/v1/straps/{device_id}/stop", headers=alice.headers)
            assert stopped.json()["state"] == StrapState.STOPPED and stopped.json()["recording"] is False
            before = await stored_count(client, alice, device_id)
            # A connected strap stops advertising; once let go it is heard again, marked as taken.
            scan_b = await client.get("/api/v1/straps/scan?seconds=1.5", headers=bob.headers)
            assert {s["address"]: s["paired"] for s in scan_b.json()}[garmin.address] == "another user"
            refused = await client.post(
                "/api/v1/straps", json={"address": garmin.address}, headers=bob.headers
            )
            assert refused.status_code == 409 and "another account" in refused.json()["detail"]
            assert await stored_count(client, alice, device_id) <= before + 1  # at most one batch in flight

            resumed = await client.post(f"/api/v1/straps/{device_id}/resume", headers=alice.headers)
            assert resumed.json()["recording"] is True
            await eventually(recording)

        # The service stops and starts again: the strap records by itself, with no one asking.
        async with running(app_settings, engine) as client:
            await eventually(recording)
            before = await stored_count(client, alice, device_id)
            await eventually(lambda: _grew(client, alice, device_id, before))

            forgot = await client.delete(f"/api/v1/straps/{device_id}", headers=alice.headers)
            assert forgot.status_code == 204
            assert (await client.get("/api/v1/straps", headers=alice.headers)).json() == []
            await eventually(lambda: _no_subscriber(garmin))
            kept = await stored_count(client, alice, device_id)
            assert kept > 0  # forgetting unpairs; the history stays with the device

            # Free again: another user may pair it now, once their scan (through this new process) hears it.
            await eventually(lambda: _heard(client, bob, garmin))
            taken = await client.post("/api/v1/straps", json={"address": garmin.address}, headers=bob.headers)
            assert taken.status_code == 201 and taken.json()["device_id"] != device_id
            # Paired by its address alone, it takes the name it gives itself once connected, and keeps it
            # after it stops (the page then named it by its address, and its buttons lost their names).
            bobs = taken.json()["device_id"]

            async def named() -> bool:
                s = await strap_of(client, bob, bobs)
                return s["state"] == StrapState.RECORDING and s["name"] == "Garmin 16-bit"

            await eventually(named)
            stopped = await client.post(f"/api/v1/straps/{bobs}/stop", headers=bob.headers)
            assert stopped.json()["name"] == "Garmin 16-bit", stopped.text
            devices = (await client.get("/api/v1/devices", headers=bob.headers)).json()
            assert [d["name"] for d in devices if d["id"] == bobs] == ["Garmin 16-bit"]


async def _heard(client: httpx.AsyncClient, user: TestUser, *straps: VirtualStrap) -> bool:
    """The user's scan through the service hears these straps (what a pairing needs first)."""
    answer = await client.get("/api/v1/straps/scan?seconds=1", headers=user.headers)
    assert answer.status_code == 200, answer.text
    return {strap.address for strap in straps} <= {s["address"] for s in answer.json()}


async def _grew(client: httpx.AsyncClient, user: TestUser, device_id: int, before: int) -> bool:
    return await stored_count(client, user, device_id) > before


async def _no_subscriber(strap: VirtualStrap) -> bool:
    return strap._subscriber_count() == 0


@pytest.mark.timeout(120)
async def test_restarts_reuse_one_recorder_token(app_settings: Settings, engine: Engine) -> None:
    async with straps() as virtual:
        polar = virtual["Polar 8-bit RR"]
        for start in range(3):
            async with running(app_settings, engine) as client:
                if start == 0:
                    user = await new_user(client)
                    device_id = await _pair(client, user, polar)
                if start < 2:  # the last start stops at once, maybe before its recorder minted anything
                    await eventually(functools.partial(_recording, client, user, device_id), timeout_s=30)
        # each start replaces the token the service minted before
        assert await asyncio.to_thread(_token_count, engine, device_id) == 1


def _token_count(engine: Engine, device_id: int) -> int:
    with make_session_factory(engine)() as db:
        return int(
            db.scalar(select(func.count()).select_from(DeviceToken).where(DeviceToken.device_id == device_id))
        )


def _delete_tokens(engine: Engine, device_id: int) -> None:
    with make_session_factory(engine)() as db:
        db.execute(delete(DeviceToken).where(DeviceToken.device_id == device_id))
        db.commit()


async def _recording(client: httpx.AsyncClient, user: TestUser, device_id: int) -> bool:
    s = await strap_of(client, user, device_id)
    return bool(s["state"] == StrapState.RECORDING and s["last_bpm"])


async def _pair(
    client: httpx.AsyncClient, user: TestUser, strap: VirtualStrap, *, scanned: bool = False
) -> int:
    """Pair the way a user does: scan near the strap (unless just done), then pair what was heard."""
    if not scanned:
        assert await _heard(client, user, strap)
    answer = await client.post("/api/v1/straps", json={"address": strap.address}, headers=user.headers)
    assert answer.status_code == 201, answer.text
    return int(answer.json()["device_id"])


def _recorder_tasks(strap: VirtualStrap) -> int:
    """Recorder tasks running for the strap (the supervisor names each after its address)."""
    name = f"record {strap.address}"
    return sum(1 for task in asyncio.all_tasks() if task.get_name() == name and not task.done())


def _supervisor(app: FastAPI) -> StrapSupervisor:
    return app.state.recording  # type: ignore[no-any-return]


@pytest.mark.timeout(120)
async def test_ten_concurrent_resumes_start_one_recorder(app_settings: Settings, engine: Engine) -> None:
    async with straps() as virtual:
        polar = virtual["Polar 8-bit RR"]
        async with serving(app_settings, engine) as (client, app):
            user = await new_user(client)
            device_id = await _pair(client, user, polar)
            await eventually(lambda: _recording(client, user, device_id), timeout_s=30)
            stopped = await client.post(f"/api/v1/straps/{device_id}/stop", headers=user.headers)
            assert stopped.status_code == 200 and _recorder_tasks(polar) == 0
            await eventually(lambda: _no_subscriber(polar))

            answers = await asyncio.gather(
                *(client.post(f"/api/v1/straps/{device_id}/resume", headers=user.headers) for _ in range(10))
            )
            assert [a.status_code for a in answers] == [200] * 10
            assert _recorder_tasks(polar) == 1
            await eventually(lambda: _recording(client, user, device_id), timeout_s=30)
            before = await stored_count(client, user, device_id)
            await eventually(lambda: _grew(client, user, device_id, before), timeout_s=30)
            assert polar._subscriber_count() == 1  # one central connected and subscribed, not ten
            assert _recorder_tasks(polar) == 1
            assert await asyncio.to_thread(_token_count, engine, device_id) == 1


@pytest.mark.timeout(120)
async def test_a_refused_token_is_replaced_and_deleting_the_device_stops_its_recorder(
    app_settings: Settings, engine: Engine
) -> None:
    async with straps() as virtual:
        garmin = virtual["Garmin 16-bit"]
        async with serving(app_settings, engine) as (client, app):
            user = await new_user(client)
            device_id = await _pair(client, user, garmin)
            await eventually(lambda: _recording(client, user, device_id), timeout_s=30)
            recorder = _supervisor(app)._recordings[device_id]
            first_token = recorder.token

            await asyncio.to_thread(_delete_tokens, engine, device_id)  # as if revoked: uploads get 401
            await eventually(lambda: _token_changed(recorder, first_token), timeout_s=30)
            before = await stored_count(client, user, device_id)
            await eventually(lambda: _grew(client, user, device_id, before), timeout_s=30)
            assert _supervisor(app)._recordings.get(device_id) is recorder  # the same recorder went on

            deleted = await client.delete(f"/api/v1/devices/{device_id}", headers=user.headers)
            assert deleted.status_code == 204, deleted.text
            await eventually(lambda: _not_recorded(app, device_id), timeout_s=30)
            await eventually(lambda: _no_subscriber(garmin), timeout_s=30)
            assert recorder.task is not None and recorder.task.done()


async def _token_changed(recorder: Any, first: str | None) -> bool:
    return recorder.token is not None and recorder.token != first


async def _not_recorded(app: FastAPI, device_id: int) -> bool:
    return _supervisor(app).status(device_id) is None


@pytest.mark.timeout(120)
async def test_shutdown_finishes_within_5_s_while_straps_stream(
    app_settings: Settings, engine: Engine
) -> None:
    loop = asyncio.get_running_loop()
    async with straps() as virtual:
        async with contextlib.AsyncExitStack() as stack:
            client, app = await stack.enter_async_context(serving(app_settings, engine))
            user = await new_user(client)
            assert await _heard(client, user, *virtual.values())  # one scan hears both
            ids = [await _pair(client, user, strap, scanned=True) for strap in virtual.values()]
            for device_id in ids:
                await eventually(lambda d=device_id: _recording(client, user, d), timeout_s=30)
            started = loop.time()
            await stack.aclose()
            took_s = loop.time() - started
        assert took_s < 5.0, f"shutdown took {took_s:.1f} s"
        assert _supervisor(app).recorder_count == 0
        assert not [t for t in asyncio.all_tasks() if t.get_name().startswith("record ")]
