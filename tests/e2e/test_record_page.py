"""The Record page in real Chromium: Web Bluetooth pairing, the IndexedDB queue, uploads, the installable app.

The strap is Chromium's own Bluetooth emulation (DevTools `BluetoothEmulation` on the browser session),
the chooser is answered through `DeviceAccess` (page session): the page's real requestDevice, connect,
service discovery, startNotifications and gattserverdisconnected all run. Chromium 156 cannot push a
notification value, so values enter through the page's exported handler (see SEAM below), with real
payload bytes encoded by devices.hrs from a real recording in ../shared/data (the vectors otherwise).
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.sync_api import Browser, CDPSession, Page, Playwright, expect
from playwright.sync_api import Error as PlaywrightError

from devices.hrs import HeartRateMeasurement, encode_measurement
from tests.conftest import SHARED_DATA
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, PHONE, Dash, open_dash
from tests.support.server import LiveServer
from tests.support.settle import wait_for_analysis
from tests.support.users import TestUser

pytestmark = pytest.mark.e2e
ADDRESS = "09:09:09:01:02:03"
STRAP_NAME = "Chin Up Test Strap"
HEART_RATE = "0000180d-0000-1000-8000-00805f9b34fb"
MEASUREMENT = "00002a37-0000-1000-8000-00805f9b34fb"
CCCD = "00002902-0000-1000-8000-00805f9b34fb"
VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "hrs_measurements.json"
RECORDING = SHARED_DATA / "fitparse_fenix2_run.csv"
# SEAM: the one place values enter without the radio: the page's own characteristicvaluechanged handler.
FEED = """async ([payloads, t0, stepMs]) => {
  const { onMeasurement } = await import("/dashboard/static/js/pages/record.js");
  const started = performance.now();
  for (let i = 0; i < payloads.length; i++) await onMeasurement(Uint8Array.from(payloads[i]), t0 + i * stepMs);
  return performance.now() - started;
}"""


def real_payloads(n: int, offset: int = 0) -> list[list[int]]:
    """`n` notifications encoded by devices.hrs from a real run (bpm, contact, an RR interval each)."""
    if RECORDING.is_file():
        with RECORDING.open() as handle:
            bpms = [int(row["heart_rate_bpm"]) for row in csv.DictReader(handle) if row["heart_rate_bpm"]]
    else:  # ../shared/data absent: the shared vectors' valid bpm values stand in
        cases = json.loads(VECTORS.read_text())["cases"]
        bpms = [c["decoded"]["bpm"] for c in cases if "decoded" in c and 40 <= c["decoded"]["bpm"] <= 200]
    out = []
    for i in range(offset, offset + n):
        bpm = bpms[i % len(bpms)]
        m = HeartRateMeasurement(bpm=bpm, sensor_contact=True, rr_intervals_ms=(60_000 / bpm,))
        out.append(list(encode_measurement(m)))
    return out


class EmulatedStrap:
    """One emulated heart-rate strap: answers every GATT operation the page makes, counts subscriptions."""

    def __init__(self, browser: Browser) -> None:
        self.cdp: CDPSession = browser.new_browser_cdp_session()
        self.subscriptions = 0
        self.connections = 0
        self.cdp.on("BluetoothEmulation.gattOperationReceived", self._gatt)
        self.cdp.on("BluetoothEmulation.characteristicOperationReceived", self._characteristic)
        self.cdp.on("BluetoothEmulation.descriptorOperationReceived", self._descriptor)
        self.power_on()

    def power_on(self) -> None:
        """A powered adapter with the strap in range."""
        self.cdp.send("BluetoothEmulation.enable", {"state": "powered-on", "leSupported": True})
        self.cdp.send(
            "BluetoothEmulation.simulatePreconnectedPeripheral",
            {
                "address": ADDRESS,
                "name": STRAP_NAME,
                "manufacturerData": [],
                "knownServiceUuids": [HEART_RATE],
            },
        )
        self._add_gatt()

    def restart(self) -> None:
        """A fresh adapter: a reloaded page no longer sees the emulated one (Chromium 156)."""
        self.cdp.send("BluetoothEmulation.disable")
        self.power_on()

    def _add_gatt(self) -> None:
        """The Heart Rate service with its notifying measurement and the CCCD."""
        service = self.cdp.send(
            "BluetoothEmulation.addService", {"address": ADDRESS, "serviceUuid": HEART_RATE}
        )
        characteristic = self.cdp.send(
            "BluetoothEmulation.addCharacteristic",
            {
                "serviceId": service["serviceId"],
                "characteristicUuid": MEASUREMENT,
                "properties": {"notify": True},
            },
        )
        self.cdp.send(
            "BluetoothEmulation.addDescriptor",
            {"characteristicId": characteristic["characteristicId"], "descriptorUuid": CCCD},
        )

    def _gatt(self, event: dict[str, Any]) -> None:
        self.connections += event["type"] == "connection"
        self.cdp.send(
            "BluetoothEmulation.simulateGATTOperationResponse",
            {"address": event["address"], "type": event["type"], "code": 0},
        )

    def _characteristic(self, event: dict[str, Any]) -> None:
        self.subscriptions += event["type"] == "subscribe-to-notifications"
        self.cdp.send(
            "BluetoothEmulation.simulateCharacteristicOperationResponse",
            {"characteristicId": event["characteristicId"], "type": event["type"], "code": 0},
        )

    def _descriptor(self, event: dict[str, Any]) -> None:
        self.cdp.send(
            "BluetoothEmulation.simulateDescriptorOperationResponse",
            {"descriptorId": event["descriptorId"], "type": event["type"], "code": 0},
        )

    def disconnect(self) -> None:
        """The link drops; the strap's GATT table is gone with it (the emulation forgets it), so it is built again."""
        self.cdp.send("BluetoothEmulation.simulateGATTDisconnection", {"address": ADDRESS})
        self._add_gatt()


class Chooser:
    """Picks the strap in every Bluetooth chooser the page opens. Chromium 156 announces each prompt twice:
    each prompt id is answered once. `enable()` again after a reload (the domain is per document)."""

    def __init__(self, page: Page) -> None:
        self.cdp = page.context.new_cdp_session(page)
        self.answered: set[str] = set()
        self.cdp.on("DeviceAccess.deviceRequestPrompted", self._prompted)
        self.enable()

    def enable(self) -> None:
        self.cdp.send("DeviceAccess.enable")

    def _prompted(self, event: dict[str, Any]) -> None:
        if event["id"] in self.answered or not event["devices"]:
            return
        self.answered.add(event["id"])
        self.cdp.send("DeviceAccess.selectPrompt", {"id": event["id"], "deviceId": event["devices"][0]["id"]})


@pytest.fixture(scope="module")
def bluetooth_browser(playwright: Playwright) -> Iterator[Browser]:
    """Headless Chromium with Web Bluetooth switched on (off by default on Linux, and so headless), and
    its new permissions backend, which gives navigator.bluetooth.getDevices() (Chrome's own flag)."""
    features = "--enable-features=WebBluetooth,WebBluetoothNewPermissionsBackend"
    browser = playwright.chromium.launch(
        executable_path=CHROMIUM, headless=True, args=[*CHROMIUM_ARGS, features]
    )
    yield browser
    browser.close()


@pytest.fixture
def recorder(bluetooth_browser: Browser, live_server: LiveServer, user: TestUser) -> Iterator[Dash]:
    tab = open_dash(bluetooth_browser, live_server, viewport=PHONE, token=user.token)
    yield tab
    tab.page.context.close()


def count(page: Page, selector: str) -> int:
    return int(page.locator(selector).get_attribute("data-count") or 0)


def wait_count(page: Page, selector: str, n: int, timeout_s: float = 10) -> None:
    deadline = time.monotonic() + timeout_s
    while count(page, selector) != n:
        assert time.monotonic() < deadline, f"{selector} is {count(page, selector)}, expected {n}"
        page.wait_for_timeout(50)


def server_samples(server: LiveServer, user: TestUser, device_id: int) -> list[dict[str, Any]]:
    answer = httpx.get(f"{server.url}/api/v1/devices/{device_id}/samples", headers=user.headers, timeout=30)
    assert answer.status_code == 200, answer.text
    return list(answer.json())


def phone_device(page: Page) -> dict[str, Any]:
    """The phone device the page registered (as kept in its IndexedDB)."""
    script = """async () => {
      const { openQueue } = await import("/dashboard/static/js/record-queue.js");
      return (await openQueue()).getMeta("device");
    }"""
    return dict(page.evaluate(script))


# Until a service worker whose URL ends with the argument controls the page (a promise, so no polling).
CONTROLLED = """(suffix) => new Promise((resolve) => {
  const check = () => {
    if (navigator.serviceWorker.controller?.scriptURL.endsWith(suffix)) resolve(true);
    else navigator.serviceWorker.addEventListener("controllerchange", check, { once: true });
  };
  check();
})"""


def cdp_retry(cdp: CDPSession, method: str) -> dict[str, Any]:
    """A page-state query that Chromium may refuse while it is still fetching the manifest: asked again."""
    for _ in range(10):
        try:
            return dict(cdp.send(method))
        except PlaywrightError:
            time.sleep(0.2)
    return dict(cdp.send(method))


def away_from_utc() -> str:
    """A fixed-offset zone 3 h from the browser's (UTC), chosen so that it is now between 03:00 and 23:59
    there: the streamed hour (from two hours ago) falls on today whatever the hour of the run."""
    offset = -3 if dt.datetime.now(dt.UTC).hour >= 21 else 3
    return f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}"  # POSIX signs: Etc/GMT-3 is UTC+3


def settled_day(server: LiveServer, user: TestUser, zone: str) -> dict[str, Any]:
    """Today's summary in `zone` once the service has counted everything it holds."""
    with httpx.Client(base_url=server.url, headers=user.headers, timeout=30) as client:
        wait_for_analysis(client)
        today = dt.datetime.now(ZoneInfo(zone)).date().isoformat()
        day = client.get(f"/api/v1/days/{today}").json()
    assert not day["analysis_pending"], day
    return dict(day)


def check_the_day(page: Page, day: dict[str, Any]) -> None:
    """The ring shows the minutes the server counted, and the detected session, at its time in the profile's zone."""
    assert day["heartbeat_up_minutes"] > 0 and day["sessions"], day  # a run: minutes and a session
    minutes = str(day["heartbeat_up_minutes"])
    expect(page.locator("#ring")).to_have_attribute("data-minutes", minutes, timeout=20_000)  # <= 15 s apart
    expect(page.locator("#ring-minutes")).to_have_text(minutes)
    expect(page.locator("#record-day")).to_have_attribute("data-state", "current")
    for session in day["sessions"]:
        item = page.locator(f'#day-sessions li[data-session="{session["id"]}"]')
        expect(item).to_be_visible(timeout=20_000)
        hour, minute = (
            int(session["start"][11:13]),
            session["start"][14:16],
        )  # local time, as the API wrote it
        text = item.inner_text()
        assert f"{hour:02d}:{minute}" in text or f"{hour % 12 or 12:02d}:{minute}" in text, (text, session)
        assert f"{session['heartbeat_up_minutes']} heartbeat-up min" in text


def check_installable(recorder: Dash) -> None:
    """Lighthouse's installability checks, done here: manifest fields, a controlling worker, offline shell."""
    page, base = recorder.page, recorder.server.url
    href = page.locator('link[rel="manifest"]').get_attribute("href")
    manifest = httpx.get(f"{base}{href}").json()
    assert (manifest["name"], manifest["short_name"], manifest["display"]) == (
        "Chin Up",
        "Chin Up",
        "standalone",
    )
    assert manifest["start_url"].startswith(manifest["scope"]) and manifest["theme_color"]
    icons = {(icon["sizes"], icon["purpose"]) for icon in manifest["icons"]}
    assert {("192x192", "any"), ("512x512", "any"), ("512x512", "maskable")} <= icons
    for icon in manifest["icons"]:
        assert httpx.get(f"{base}{icon['src']}").headers["content-type"] == "image/png"
    page.evaluate(
        CONTROLLED, ""
    )  # not wait_for_function: its polling evaluates a string, which the CSP refuses
    assert page.evaluate("navigator.serviceWorker.controller.scriptURL") == f"{base}/dashboard/sw.js"
    cdp = page.context.new_cdp_session(page)  # Chromium's own verdict, as its install prompt would judge
    parsed = cdp_retry(cdp, "Page.getAppManifest")
    assert not parsed["errors"], parsed["errors"]
    errors = {e["errorId"] for e in cdp_retry(cdp, "Page.getInstallabilityErrors")["installabilityErrors"]}
    assert errors <= {"in-incognito"}, errors  # Playwright's contexts are incognito: the one thing allowed
    cdp.detach()


HOUR = 3600  # measurements: an hour at 1 Hz
MEASURE = """async () => {
  const { openQueue } = await import("/dashboard/static/js/record-queue.js");
  const queue = await openQueue();
  const all = await queue.peek(100000);
  return { n: all.length, json_bytes: JSON.stringify(all).length, usage: (await navigator.storage.estimate()).usage };
}"""


def measure_an_hour_offline(recorder: Dash, t_ms: int) -> tuple[float, int]:
    """Feed an hour of 1 Hz notifications as fast as the page takes them, offline; how fast, and how big."""
    page = recorder.page
    page.context.set_offline(True)
    before = page.evaluate(MEASURE)
    took_ms = float(page.evaluate(FEED, [real_payloads(HOUR), t_ms, 1000]))
    after = page.evaluate(MEASURE)
    assert after["n"] == HOUR, after
    print(
        f"\nIndexedDB after an hour offline: {after['n']} samples, {after['json_bytes']:,} bytes as JSON, "
        f"origin storage grew by {after['usage'] - before['usage']:,} bytes"
    )
    page.context.set_offline(False)
    return HOUR / took_ms * 1000, int(after["json_bytes"])


def check_shell_offline(recorder: Dash) -> None:
    """With the network gone, a new tab still opens the app's start page and the Record page."""
    shell = recorder.page.context.new_page()
    for path in ("", "/record"):
        answer = shell.goto(recorder.url(path))
        assert answer is not None and answer.ok and answer.from_service_worker, path
    expect(shell.get_by_role("link", name="Record")).to_be_visible()
    shell.close()


def test_record_offline_reload_reconnect_and_install(
    recorder: Dash, bluetooth_browser: Browser, live_server: LiveServer, user: TestUser
) -> None:
    zone = away_from_utc()
    answer = httpx.patch(f"{live_server.url}/api/v1/me", json={"timezone": zone}, headers=user.headers)
    assert answer.status_code == 200, answer.text
    strap = EmulatedStrap(bluetooth_browser)
    page = recorder.page
    chooser = Chooser(page)
    recorder.goto("/record")
    check_installable(recorder)

    page.get_by_role("button", name="Pair a strap").click()
    expect(page.locator("#record-state")).to_have_attribute("data-state", "recording")
    assert len(chooser.answered) == 1 and strap.subscriptions == 1
    t0 = int(time.time() * 1000) - 2 * 3_600_000  # two hours ago, at 1 Hz, so nothing lands in the future
    fed = 0

    def feed(n: int, gap_ms: int = 0) -> float:
        nonlocal fed, t0
        t0 += gap_ms
        took = float(page.evaluate(FEED, [real_payloads(n, fed), t0 + fed * 1000, 1000]))
        fed += n
        return took

    feed(20)
    lost = bytes([0x04, 0])  # contact supported, not detected, 0 bpm: the strap slipped off
    page.evaluate(FEED, [[list(lost)], t0 + fed * 1000, 1000])
    fed += 1
    wait_count(page, "#uploaded", 21)
    device = phone_device(page)
    device_id = device["id"]
    assert device["user_id"] == user.id and device["upload_token"] != user.token  # its own upload token

    recorder.page.context.set_offline(True)
    feed(15)
    wait_count(page, "#queued", 15)
    expect(page.locator("#upload-state")).to_have_attribute("data-state", "waiting")
    check_shell_offline(recorder)
    # Reload mid-recording, offline: the worker serves the shell, and the queue is still there.
    reloaded = page.reload()
    assert reloaded is not None and reloaded.from_service_worker
    page.locator("body[data-ready=true]").wait_for(state="attached")
    wait_count(page, "#queued", 15)
    # Offline, the day's ring keeps the last figures the server gave, marked as such.
    expect(page.locator("#record-day")).to_have_attribute("data-state", "offline")
    expect(page.locator("#day-freshness")).to_contain_text("Offline: last known figures")
    recorder.shot("record-phone-offline")
    # getDevices() still lists the granted strap; the reloaded page's adapter is gone until the emulation
    # restarts (Chromium 156), so its first attempts fail, and the page says the chooser is the way back.
    expect(page.locator("#record-status")).to_contain_text("Tap Pair a strap to reconnect.")
    expect(page.get_by_role("button", name="Pair a strap")).to_be_visible()
    chooser.enable()
    connections = strap.connections
    strap.restart()
    expect(page.locator("#record-state")).to_have_attribute("data-state", "recording")  # by itself
    assert len(chooser.answered) == 1 and strap.connections > connections  # reconnected with no chooser
    feed(15)
    wait_count(page, "#queued", 30)
    recorder.page.context.set_offline(False)
    wait_count(page, "#queued", 0)
    wait_count(page, "#uploaded", fed)

    subscriptions = strap.subscriptions
    strap.disconnect()
    expect(page.locator("#record-state")).not_to_have_attribute("data-state", "recording")
    expect(page.locator("#record-state")).to_have_attribute("data-state", "recording")
    assert strap.subscriptions == subscriptions + 1  # notifications enabled again after the reconnect
    before_gap = fed
    feed(10, gap_ms=30_000)
    wait_count(page, "#uploaded", fed)

    rate, queue_bytes = measure_an_hour_offline(recorder, t0 + fed * 1000 + 60_000)
    fed += HOUR
    print(
        f"\nRecord page: {rate:,.0f} measurements/s decoded and queued; an hour offline queues {queue_bytes:,} bytes"
    )
    assert rate > 100  # a strap sends 1-4 a second
    wait_count(page, "#uploaded", fed, timeout_s=20)
    stored = server_samples(live_server, user, device_id)
    times = [round(dt.datetime.fromisoformat(s["t"]).timestamp() * 1000) for s in stored]
    assert len(stored) == fed and len(set(times)) == fed  # every measurement exactly once
    lost_sample = stored[20]
    assert (lost_sample["bpm"], lost_sample["contact"]) == (0, False)
    steps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert steps.count(31_000) == 1 and steps.index(31_000) == before_gap - 1  # the reconnect's gap
    assert steps.count(1000) == fed - 3  # all else 1 s apart: the gap, and the hour fed a minute later
    uploaded_at = time.monotonic()
    settled = settled_day(live_server, user, zone)
    settled_at = time.monotonic()
    check_the_day(page, settled)
    print(
        f"\nThe day: counted {settled_at - uploaded_at:.1f} s after the upload, "
        f"on the page {time.monotonic() - settled_at:.1f} s later"
    )
    recorder.no_sideways_scroll()
    recorder.shot("record-phone")
    page.set_viewport_size({"width": 1280, "height": 900})
    recorder.shot("record-desktop")
    offers_the_new_version(recorder)


def offers_the_new_version(recorder: Dash) -> None:
    """A new worker waiting: the page offers "A new version is ready — Reload", which hands the tab over.

    The server's worker is fixed for its lifetime (its version is a hash taken at start), so the new
    worker is the same script under a new URL, which the browser installs as an update all the same."""
    page = recorder.page
    page.evaluate("navigator.serviceWorker.register('/dashboard/sw.js?deploy=2', { scope: '/dashboard' })")
    prompt = page.get_by_role("status").filter(has_text="A new version is ready")
    expect(prompt).to_be_visible()
    recorder.shot("record-new-version")
    with page.expect_navigation():
        prompt.get_by_role("button", name="Reload").click()
    page.evaluate(CONTROLLED, "?deploy=2")


def test_without_web_bluetooth_the_page_points_elsewhere(signed_in: Dash) -> None:
    """The shared browser has no Web Bluetooth (Linux Chromium without the flag), as Safari and Firefox."""
    page = signed_in.page
    signed_in.goto("/record")
    assert page.evaluate("navigator.bluetooth === undefined")
    expect(page.get_by_role("heading", name="This browser cannot talk to a strap")).to_be_visible()
    expect(page.get_by_role("button", name="Pair a strap")).to_be_disabled()
    expect(page.get_by_role("link", name="pair it on the Devices page")).to_be_visible()
    signed_in.shot("record-no-bluetooth")
