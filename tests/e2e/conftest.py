"""Real Chromium (Debian's build) driving the dashboard of a real uvicorn on a fresh SQLite database."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Playwright, Response, sync_playwright

from service.config import Settings
from tests.support.server import LiveServer
from tests.support.users import TestUser, register_device, sign_up

CHROMIUM = os.environ.get("CHINUP_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1200, "height": 900}
TOKEN_KEY = "chinup.token"
# The workout the session pages show, as `workout_samples` keywords: 2 min easy at 80, the effort at 147-153,
# an exponential recovery (tau 40 s) toward 85, and a strap's wobble of a beat or two throughout (a flat line
# reads as a stuck sensor). Give it the effort's start, its minutes, 150 and `after_s` of recovery.
WORKOUT: dict[str, Any] = {
    "rest_bpm": 80,
    "before_s": 120,
    "recovered_bpm": 85,
    "tau_s": 40,
    "noise_sd": 0,
    "wobble": (-1, 0, 1),
    "effort_wobble": tuple(i % 7 - 3 + i % 3 - 1 for i in range(21)),
}


@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"Chromium not found at {CHROMIUM} (set CHINUP_CHROMIUM or install chromium)")
        pytest.skip(f"Chromium not found at {CHROMIUM}")
    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="package")
def browser(playwright: Playwright) -> Iterator[Browser]:
    """One headless Chromium for the e2e tests (closed after them: Playwright's sync API keeps an event
    loop running in the main thread, which later asyncio tests could not start beside); each test gets its
    own context (own storage)."""
    chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
    yield chromium
    chromium.close()


@dataclass
class BrowserLog:
    """What the page complained about: console errors, uncaught exceptions, server errors from the API."""

    errors: list[str] = field(default_factory=list)

    def on_console(self, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        url = str(message.location.get("url", ""))
        # Chromium logs every 4xx/5xx answer as "Failed to load resource"; API answers are judged by
        # on_response instead. A missing static file (its URL is not under /api/) still fails here.
        if "/api/v1/" in url and "Failed to load resource" in message.text:
            return
        self.errors.append(f"console: {message.text} ({url})")

    def on_page_error(self, error: Exception) -> None:
        self.errors.append(f"pageerror: {error}")

    def on_response(self, response: Response) -> None:
        """5xx is always wrong; a 4xx to a GET the page built itself means it asked a wrong question.

        401 (log-in flow) and 404 (an optional endpoint or a deleted item) are handled by the page;
        4xx to a POST/PUT/PATCH is a form the user can correct, shown as a message."""
        status, method = response.status, response.request.method
        if status >= 500 or (
            method == "GET" and "/api/v1/" in response.url and status not in (401, 404) and status >= 400
        ):
            self.errors.append(f"{method} {response.url} answered {status}")

    def assert_clean(self) -> None:
        assert not self.errors, "\n".join(self.errors)


@dataclass
class Dash:
    """A browser tab on the dashboard of one live server, with its error log and screenshot helper."""

    page: Page
    server: LiveServer
    log: BrowserLog

    def url(self, path: str = "") -> str:
        return f"{self.server.url}/dashboard{path}"

    def goto(self, path: str = "") -> None:
        """Open a page and wait until its script says it has drawn what it loaded."""
        self.page.goto(self.url(path))
        self.page.locator("body[data-ready=true]").wait_for(state="attached")

    def shot(self, name: str, *, full_page: bool = True) -> None:
        """Save the page as it looks now and insist nothing went wrong so far (`full_page=False`: the
        viewport only, for pages so long that rendering them whole takes longer than a screenshot may)."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page)
        self.log.assert_clean()

    def no_sideways_scroll(self) -> None:
        width = self.page.evaluate("document.documentElement.scrollWidth")
        viewport = self.page.evaluate("window.innerWidth")
        assert width <= viewport, f"page is {width}px wide in a {viewport}px viewport"


def open_dash(
    browser: Browser,
    server: LiveServer,
    *,
    viewport: dict[str, int],
    token: str | None = None,
    timezone_id: str = "UTC",
    locale: str | None = None,
    bypass_csp: bool = False,
    timeout_ms: int = 10_000,
) -> Dash:
    """A fresh browser context (own storage), holding the token as the log-in page would leave it.

    `locale` sets the browser's language; `bypass_csp` only for tests that inject a script (axe-core)."""
    storage: dict[str, Any] | None = None
    if token is not None:
        local = [{"name": TOKEN_KEY, "value": token}]
        storage = {"cookies": [], "origins": [{"origin": server.url, "localStorage": local}]}
    # Reduced motion: the ring's fill animation would otherwise be caught half-way on screenshots.
    context = browser.new_context(
        viewport=viewport,
        storage_state=storage,  # type: ignore[arg-type]
        reduced_motion="reduce",
        timezone_id=timezone_id,
        bypass_csp=bypass_csp,
        locale=locale,
    )
    context.set_default_timeout(timeout_ms)
    page = context.new_page()
    log = BrowserLog()
    page.on("console", log.on_console)
    page.on("pageerror", log.on_page_error)
    page.on("response", log.on_response)
    return Dash(page=page, server=server, log=log)


@pytest.fixture(scope="package")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One uvicorn with a fresh SQLite database for the e2e run (starting one per test costs seconds);
    tests stay independent because each signs up its own user."""
    data_dir = tmp_path_factory.mktemp("e2e")
    # One server for the whole e2e run signs up a user or two per test, all from 127.0.0.1: past the
    # per-address sign-up throttle (50 an hour) the run would fail on its own growth, not on a bug.
    server = LiveServer(
        Settings(
            database_url=f"sqlite:///{data_dir / 'e2e.sqlite3'}",
            data_dir=data_dir,
            signups_per_address=100_000,
        )
    )
    server.start()
    yield server
    server.stop()


@pytest.fixture
def dash(browser: Browser, live_server: LiveServer) -> Iterator[Dash]:
    """A desktop-sized tab, signed out, in a browser set to Berlin time."""
    tab = open_dash(browser, live_server, viewport=DESKTOP, timezone_id="Europe/Berlin")
    yield tab
    tab.page.context.close()


@pytest.fixture
def user(live_server: LiveServer) -> TestUser:
    """A user signed up through the API, in UTC, with known heart limits (zones are then predictable)."""
    with httpx.Client(base_url=live_server.url, timeout=10) as client:
        return sign_up(client, timezone="UTC", resting_hr=60, max_hr=190)


@pytest.fixture
def signed_in(browser: Browser, live_server: LiveServer, user: TestUser) -> Iterator[Dash]:
    """A desktop-sized tab with the user's token already stored, as after logging in."""
    tab = open_dash(browser, live_server, viewport=DESKTOP, token=user.token)
    yield tab
    tab.page.context.close()


@pytest.fixture
def phone(browser: Browser, live_server: LiveServer, user: TestUser) -> Iterator[Dash]:
    """A 390 px wide tab (a phone), signed in."""
    tab = open_dash(browser, live_server, viewport=PHONE, token=user.token)
    yield tab
    tab.page.context.close()


@dataclass
class Strap:
    """A registered device that uploads samples with its own upload token, as `chinup record` does."""

    server: LiveServer
    device_id: int
    upload_token: str

    def send(self, samples: list[dict[str, Any]]) -> dict[str, Any]:
        answer = httpx.post(
            f"{self.server.url}/api/v1/devices/{self.device_id}/samples",
            json={"samples": samples},
            headers={"Authorization": f"Bearer {self.upload_token}"},
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        assert not body["rejected"], body
        return body


@pytest.fixture
def strap(live_server: LiveServer, user: TestUser) -> Strap:
    with httpx.Client(base_url=live_server.url, timeout=10) as client:
        device = register_device(client, user, name="Chest strap")
    return Strap(server=live_server, device_id=device["id"], upload_token=device["upload_token"])


def now_ms() -> int:
    return int(time.time() * 1000)


def api(server: LiveServer, user: TestUser, method: str, path: str, **kwargs: Any) -> Any:
    """Set up data through the public API (the browser then shows it)."""
    answer = httpx.request(method, f"{server.url}/api/v1{path}", headers=user.headers, timeout=30, **kwargs)
    assert answer.status_code < 300, answer.text
    return answer.json() if answer.content else None
