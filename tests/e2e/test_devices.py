"""Devices page against `chinup serve` on the virtual transport, with virtual straps on the same radio link.

The virtual link is per event loop, so the server (uvicorn, real socket) and the straps share one loop in
a thread of their own; restarting the service replaces the app and its lifespan while the straps go on.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import re
import threading
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from playwright.sync_api import Browser, expect

from devices.simulator import StrapProfile, VirtualStrap, generate_workout
from service.app import create_app
from service.coaching.nudges import BEHIND, Nudger
from service.config import Settings
from tests.e2e.conftest import DESKTOP, Dash, open_dash
from tests.support.server import free_port
from tests.support.users import TestUser, sign_up

pytestmark = pytest.mark.e2e
_T = TypeVar("_T")

STRAPS = {  # three kinds: 8-bit with RR and contact, 16-bit without RR, 8-bit without contact detection
    "Polar H10": StrapProfile(uint16_bpm=False, sends_rr=True, contact_supported=True, battery_pct=90),
    "Garmin HRM": StrapProfile(uint16_bpm=True, sends_rr=False, contact_supported=True, battery_pct=64),
    "Budget Band": StrapProfile(uint16_bpm=False, sends_rr=True, contact_supported=False, battery_pct=20),
}


class StrapServer:
    """uvicorn serving the app with CHINUP_BLE_TRANSPORT=virtual, and virtual straps, on one loop thread."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.port = free_port()
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="straps-and-server", daemon=True)
        self._thread.start()
        self._straps = contextlib.AsyncExitStack()
        self.straps: dict[str, VirtualStrap] = {}
        self.app: FastAPI | None = None
        self._server: uvicorn.Server | None = None
        self._serving: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def run(self, coro: Coroutine[Any, Any, _T], timeout_s: float = 30.0) -> _T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout_s)

    async def _add_straps(self) -> None:
        for seed, (name, profile) in enumerate(STRAPS.items()):
            strap = VirtualStrap(
                "virtual", generate_workout(seed=seed), name=name, profile=profile, loop=True
            )
            self.straps[name] = await self._straps.enter_async_context(strap)

    async def _start(self) -> None:
        self.app = create_app(self.settings)
        # A short graceful shutdown: the page's open live stream would otherwise hold a restart.
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on",
                                timeout_graceful_shutdown=1)  # fmt: skip
        self._server = uvicorn.Server(config)
        self._serving = asyncio.create_task(self._server.serve())
        while not self._server.started:
            if self._serving.done():
                self._serving.result()
            await asyncio.sleep(0.05)

    async def _stop(self) -> None:
        if self._server is not None and self._serving is not None:
            self._server.should_exit = True
            await self._serving

    def start(self) -> None:
        self.run(self._start())

    def restart(self) -> None:
        self.run(self._stop())
        self.run(self._start())

    def subscribers(self, name: str) -> int:
        async def count() -> int:
            return self.straps[name]._subscriber_count()

        return self.run(count())

    def close(self) -> None:
        self.run(self._stop())
        self.run(self._straps.aclose())
        self.run(_cancel_leftovers())  # e.g. the live stream's shutdown watchers
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()


async def _cancel_leftovers() -> None:
    leftovers = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    for task in leftovers:
        task.cancel()
    await asyncio.gather(*leftovers, return_exceptions=True)


@pytest.fixture(scope="module")
def strap_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StrapServer]:
    data_dir: Path = tmp_path_factory.mktemp("devices-e2e")
    settings = Settings(database_url=f"sqlite:///{data_dir / 'e2e.sqlite3'}", data_dir=data_dir,
                        ble_transport="virtual")  # fmt: skip
    server = StrapServer(settings)
    server.run(server._add_straps())
    server.start()
    yield server
    server.close()


def new_user(server: StrapServer) -> TestUser:
    with httpx.Client(timeout=10) as client:
        return sign_up(client, server.url, timezone="UTC", resting_hr=60, max_hr=190)


@contextlib.contextmanager
def tab(browser: Browser, server: StrapServer, user: TestUser) -> Iterator[Dash]:
    dash = open_dash(browser, server, viewport=DESKTOP, token=user.token)  # type: ignore[arg-type]
    try:
        yield dash
    finally:
        dash.page.context.close()


def stored(server: StrapServer, user: TestUser, device_id: int) -> int:
    answer = httpx.get(f"{server.url}/api/v1/devices/{device_id}/samples", headers=user.headers, timeout=10)
    return len(answer.json())


def test_scan_pair_live_restart_refuse_forget(browser: Browser, strap_server: StrapServer) -> None:
    alice, bob = new_user(strap_server), new_user(strap_server)
    with tab(browser, strap_server, alice) as dash:
        page = dash.page
        dash.goto("/devices")
        expect(page.get_by_role("link", name="Devices")).to_have_attribute("aria-current", "page")
        page.get_by_role("button", name="Scan for straps").click()
        found = page.locator("#found tbody tr")
        expect(found).to_have_count(3)
        for name in STRAPS:
            expect(page.locator("#found")).to_contain_text(name)
        expect(page.locator("#found")).to_contain_text(strap_server.straps["Garmin HRM"].address)
        expect(page.locator("#found")).to_contain_text("dBm")
        dash.shot("devices-scan")

        page.get_by_role("button", name="Pair Garmin HRM").click()
        strap = page.locator("#paired li[data-device]")
        expect(strap.locator('[data-fact="heart-rate"]')).to_have_text(re.compile(r"^\d+ bpm$"), timeout=5000)
        expect(strap.locator('[data-fact="state"]')).to_have_text("recording")
        expect(strap.locator('[data-fact="battery"]')).to_have_text("64 %")
        expect(strap.locator('[data-fact="worn-on"]')).to_have_text("chest")
        expect(strap.locator('[data-fact="last-sample"]')).not_to_have_text("none yet")
        device_id = int(strap.get_attribute("data-device") or 0)
        dash.shot("devices-recording")

        # Bob types Alice's strap's address without ever hearing it (a connected strap no longer advertises):
        # a typed address is no claim, so nobody holds a neighbour's strap from afar.
        refused = httpx.post(f"{strap_server.url}/api/v1/straps", headers=bob.headers, timeout=10,
                             json={"address": strap_server.straps["Garmin HRM"].address})  # fmt: skip
        assert refused.status_code == 409 and "scan near the strap first" in refused.json()["detail"]

        strap_server.restart()  # the service goes away and comes back: nobody pairs again
        before = stored(strap_server, alice, device_id)
        dash.goto("/devices")
        expect(strap.locator('[data-fact="state"]')).to_have_text("recording", timeout=10_000)
        expect(strap.locator('[data-fact="heart-rate"]')).to_have_text(re.compile(r"^\d+ bpm$"))
        deadline = dt.datetime.now() + dt.timedelta(seconds=10)
        while stored(strap_server, alice, device_id) <= before and dt.datetime.now() < deadline:
            page.wait_for_timeout(200)
        assert stored(strap_server, alice, device_id) > before

        strap.get_by_role("button", name="Forget").click()
        page.get_by_role("dialog").get_by_role("button", name="Yes, forget it").click()  # it asks first
        expect(page.locator("#paired")).to_contain_text("No strap paired yet")
        expect(page.locator("#paired-status")).to_contain_text("is forgotten. Its recorded history stays")
        deadline = dt.datetime.now() + dt.timedelta(seconds=5)
        while strap_server.subscribers("Garmin HRM") and dt.datetime.now() < deadline:
            page.wait_for_timeout(100)
        assert strap_server.subscribers("Garmin HRM") == 0
        kept = stored(strap_server, alice, device_id)
        page.wait_for_timeout(2000)
        assert stored(strap_server, alice, device_id) == kept  # forgotten: nothing more is recorded
        dash.log.assert_clean()


def test_nudges_ask_permission_only_when_turned_on(browser: Browser, strap_server: StrapServer) -> None:
    user = new_user(strap_server)
    with tab(browser, strap_server, user) as dash:
        page = dash.page
        page.add_init_script(
            "window.__permissionAsks = 0;"
            "const ask = Notification.requestPermission.bind(Notification);"
            "Notification.requestPermission = (...a) => { window.__permissionAsks += 1; return ask(...a); };"
        )
        dash.goto()
        toggle = page.get_by_label(re.compile("Nudge me toward my target by 18:00"))
        expect(toggle).not_to_be_checked()
        assert page.evaluate("window.__permissionAsks") == 0
        toggle.check()
        page.wait_for_function("window.__permissionAsks === 1")
        deadline = dt.datetime.now() + dt.timedelta(seconds=5)
        while not _me(strap_server, user)["nudges_enabled"] and dt.datetime.now() < deadline:
            page.wait_for_timeout(100)
        assert _me(strap_server, user)["nudges_enabled"] is True

        # The service's nudger, on a clock set to six in the evening of today: one nudge, shown live.
        app = strap_server.app
        assert app is not None
        ctx = app.state.ctx
        six_pm = dt.datetime.combine(dt.datetime.now(dt.UTC).date(), dt.time(18), tzinfo=dt.UTC)
        nudger = Nudger(ctx.sessions, ctx.live, clock=lambda: six_pm)

        async def check() -> None:
            nudger.check_all()

        strap_server.run(check())
        banner = page.locator("#nudge")
        expect(banner).to_contain_text("60 heartbeat-up minutes to go")
        strap_server.run(check())
        dash.goto()  # after a reload the page still says it, once
        expect(banner).to_contain_text("60 heartbeat-up minutes to go")
        said = httpx.get(f"{strap_server.url}/api/v1/nudges/today", headers=user.headers, timeout=10).json()
        assert [n["kind"] for n in said] == [BEHIND]
        assert page.evaluate("window.__permissionAsks") == 0  # a reload asks nothing
        dash.shot("today-nudge")


def _me(server: StrapServer, user: TestUser) -> dict[str, Any]:
    return dict(httpx.get(f"{server.url}/api/v1/me", headers=user.headers, timeout=10).json())


def test_a_server_without_bluetooth_says_why_on_the_devices_page(signed_in: Dash, user: TestUser) -> None:
    """The package's server runs the default transport `os`, which has no stack on a machine without BlueZ:
    the scan answers 503 with what is missing, and the page shows that reason, not "a problem"."""
    answer = httpx.get(
        f"{signed_in.server.url}/api/v1/straps/scan?seconds=1", headers=user.headers, timeout=30
    )
    if answer.status_code != 503:
        pytest.skip("this machine's server can use Bluetooth")
    reason = answer.json()["detail"]
    signed_in.goto("/devices")
    signed_in.page.get_by_role("button", name="Scan for straps").click()
    expect(signed_in.page.locator("#scan-status")).to_have_text(reason, timeout=30_000)
    signed_in.log.errors = [
        e for e in signed_in.log.errors if "/straps/scan" not in e
    ]  # the 503 is the point
    signed_in.log.assert_clean()
