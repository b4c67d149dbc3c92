"""Devices lists every device that records for the user, with its live state; Today says which strap it shows.

Uploading devices are driven through the public API (as `chinup record` or a phone does); the straps this
server records itself come from the virtual Bluetooth link of test_devices.py.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from service.config import Settings
from tests.e2e.conftest import PHONE, Dash, Strap, now_ms, open_dash
from tests.e2e.test_devices import StrapServer, new_user, tab
from tests.support.server import LiveServer
from tests.support.users import TestUser, register_device

pytestmark = pytest.mark.e2e

HOUR_MS = 3600 * 1000


def _stream(straps: list[Strap], bpm: int, stop: threading.Event, period_s: float = 0.5) -> None:
    """One sample now from each strap every period, as recorders do while straps stream."""
    i = 0
    while not stop.wait(period_s):
        for k, strap in enumerate(straps):
            strap.send([{"t": now_ms(), "bpm": bpm + 10 * k + i % 3, "contact": True}])
        i += 1


@pytest.fixture
def streaming(strap: Strap) -> Iterator[list[Strap]]:
    """The `strap` device uploading a sample every half second for the length of the test."""
    feeds = [strap]
    stop = threading.Event()
    feeder = threading.Thread(target=_stream, args=(feeds, 130, stop), daemon=True)
    feeder.start()
    yield feeds
    stop.set()
    feeder.join()


def _other_strap(server: LiveServer, user: TestUser, name: str) -> Strap:
    with httpx.Client(base_url=server.url, timeout=10) as client:
        device = register_device(client, user, name=name, address=f"AA:BB:CC:00:00:{len(name):02X}")
    return Strap(server=server, device_id=device["id"], upload_token=device["upload_token"])


def assert_buttons_on_screen(page: Page) -> None:
    """Every visible button lies inside the viewport's width (nothing off to the right)."""
    outside = page.evaluate(
        """() => [...document.querySelectorAll('button')]
            .filter((b) => b.offsetParent !== null)
            .filter((b) => { const r = b.getBoundingClientRect(); return r.left < 0 || r.right > innerWidth; })
            .map((b) => b.textContent.trim())"""
    )
    assert not outside, f"buttons off-screen: {outside}"


def test_an_uploading_device_is_listed_with_its_state(
    signed_in: Dash, phone: Dash, user: TestUser, live_server: LiveServer, streaming: list[Strap]
) -> None:
    old = _other_strap(live_server, user, "Old wrist band")
    old.send([{"t": now_ms() - 3 * HOUR_MS + i * 1000, "bpm": 80 + i % 5, "contact": True} for i in range(60)])
    page = signed_in.page
    signed_in.goto("/devices")
    live = page.locator(f'#others li[data-device="{streaming[0].device_id}"]')
    expect(live.locator("h4")).to_have_text("Chest strap")
    expect(live.locator('[data-fact="recorded-by"]')).to_have_text("an uploader or phone")
    expect(live.locator("[data-part=live]")).to_have_text(re.compile(r"^streaming now, 1[23]\d bpm$"))
    expect(live.locator('[data-fact="last-sample"]')).not_to_have_text("none yet")
    quiet = page.locator(f'#others li[data-device="{old.device_id}"]')
    expect(quiet.locator("[data-part=live]")).to_have_text(re.compile(r"^last heard (3 h|1\d\d min) ago$"))
    expect(page.locator("#paired")).to_contain_text("No strap paired yet")
    signed_in.shot("devices-list-1280")

    phone.goto("/devices")
    expect(phone.page.locator(f'#others li[data-device="{streaming[0].device_id}"] [data-part=live]')).to_have_text(
        re.compile(r"^streaming now")
    )
    phone.no_sideways_scroll()
    assert_buttons_on_screen(phone.page)
    phone.shot("devices-list-390")


def test_two_streaming_devices_today_says_which(
    signed_in: Dash, phone: Dash, strap: Strap, user: TestUser, live_server: LiveServer
) -> None:
    second = _other_strap(live_server, user, "Polar H10")
    stop = threading.Event()
    feeder = threading.Thread(target=_stream, args=([strap, second], 120, stop), daemon=True)
    feeder.start()
    try:
        page = signed_in.page
        signed_in.goto()
        source = page.locator("#live-source")
        expect(source).to_have_text(re.compile(r"^from (Chest strap|Polar H10) · 2 straps live$"))
        shown = int(source.get_attribute("data-device") or 0)
        first_bpm = int(page.locator("#live-bpm").inner_text())
        # the number is the named strap's: Chest strap streams 120-122, Polar H10 130-132
        assert (120 <= first_bpm <= 122) == (shown == strap.device_id), (shown, first_bpm)
        page.wait_for_timeout(1500)
        assert int(source.get_attribute("data-device") or 0) == shown  # it does not flicker between them
        signed_in.shot("today-two-straps-1280")
        phone.goto()
        expect(phone.page.locator("#live-source")).to_contain_text("2 straps live")
        phone.no_sideways_scroll()
        assert_buttons_on_screen(phone.page)
        phone.shot("today-two-straps-390")
    finally:
        stop.set()
        feeder.join()
    expect(page.locator("#live-source")).to_have_text(re.compile(r"^from (Chest strap|Polar H10)$"), timeout=25_000)


@pytest.fixture(scope="module")
def strap_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StrapServer]:
    data_dir = tmp_path_factory.mktemp("devices-list-e2e")
    settings = Settings(database_url=f"sqlite:///{data_dir / 'e2e.sqlite3'}", data_dir=data_dir,
                        ble_transport="virtual")  # fmt: skip
    server = StrapServer(settings)
    server.run(server._add_straps())
    server.start()
    yield server
    server.close()


def test_stop_reads_stopped_and_forget_asks_first(browser: Browser, strap_server: StrapServer) -> None:
    user = new_user(strap_server)
    address = strap_server.straps["Polar H10"].address
    scan = httpx.get(f"{strap_server.url}/api/v1/straps/scan?seconds=1", headers=user.headers, timeout=30)
    assert address in {s["address"] for s in scan.json()}, scan.text  # pairing needs the user's own scan
    paired = httpx.post(f"{strap_server.url}/api/v1/straps", headers=user.headers, timeout=10,
                        json={"address": address})  # fmt: skip
    assert paired.status_code == 201, paired.text
    device_id = paired.json()["device_id"]
    with tab(browser, strap_server, user) as dash:
        page = dash.page
        dash.goto("/devices")
        strap = page.locator(f'#paired li[data-device="{device_id}"]')
        expect(strap.locator('[data-fact="recorded-by"]')).to_have_text("this server's Bluetooth")
        expect(strap.locator("[data-part=live]")).to_have_text(re.compile(r"^streaming now, \d+ bpm$"), timeout=10_000)
        dash.shot("devices-paired-1280")

        strap.get_by_role("button", name="Stop recording Polar H10").click()
        expect(strap.locator('[data-fact="state"]')).to_have_text("stopped")
        expect(strap.locator("[data-part=live]")).to_have_text(re.compile(r"^stopped"))
        page.wait_for_timeout(3000)  # the recorder's last events and the page's tick come and go
        expect(strap.locator('[data-fact="state"]')).to_have_text("stopped")
        expect(strap.locator("[data-part=live]")).to_have_text(re.compile(r"^stopped · last heard"))
        strap.get_by_role("button", name="Resume recording Polar H10").click()
        expect(strap.locator('[data-fact="state"]')).to_have_text("recording", timeout=10_000)

        dialog = page.get_by_role("dialog", name="Forget Polar H10?")
        strap.get_by_role("button", name="Forget Polar H10").click()
        expect(dialog).to_be_visible()
        expect(dialog).to_contain_text("history stays")
        dash.shot("devices-forget-confirm-1280")
        dialog.get_by_role("button", name="Keep it paired").click()
        expect(dialog).to_be_hidden()
        expect(strap).to_be_visible()
        expect(strap.get_by_role("button", name="Forget Polar H10")).to_be_focused()
        listed = httpx.get(f"{strap_server.url}/api/v1/straps", headers=user.headers, timeout=10).json()
        assert [s["device_id"] for s in listed] == [device_id]

        page.keyboard.press("Enter")  # the keyboard reopens it from the focused button
        expect(dialog).to_be_visible()
        dialog.get_by_role("button", name="Yes, forget it").click()
        expect(page.locator("#paired")).to_contain_text("No strap paired yet")
        expect(page.locator("#paired-status")).to_contain_text("history stays")
        kept = page.locator(f'#others li[data-device="{device_id}"]')
        expect(kept).to_contain_text("Polar H10")
        expect(kept.locator("[data-part=live]")).to_have_text(re.compile(r"^not recorded now"))
        assert httpx.get(f"{strap_server.url}/api/v1/straps", headers=user.headers, timeout=10).json() == []
        dash.shot("devices-forgotten-1280")
        dash.log.assert_clean()

    phone = open_dash(browser, strap_server, viewport=PHONE, token=user.token)  # type: ignore[arg-type]
    try:
        phone.goto("/devices")
        phone.page.get_by_role("button", name="Scan for straps").click()
        expect(phone.page.locator("#found tbody tr")).to_have_count(3)
        expect(phone.page.get_by_role("button", name="Pair Garmin HRM")).to_be_visible()
        phone.no_sideways_scroll()
        assert_buttons_on_screen(phone.page)
        phone.shot("devices-scan-390")
    finally:
        phone.page.context.close()
