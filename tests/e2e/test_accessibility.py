"""axe-core (vendored from npm, tests/e2e/vendor/axe-core) on every dashboard page, with data and without.

Each page is visited in the state a new user sees (nothing recorded, missing items) and in the state of a
user with a run, a live session, a check-in and an interview, at 1280 and 390 px wide; no violation of
`serious` or `critical` impact may remain. The pages forbid inline scripts (CSP script-src 'self'), so the
contexts bypass the CSP to let Playwright inject axe; other tests hold the pages to the policy.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page

from tests.e2e.conftest import SCREENSHOTS, Strap, api, now_ms, open_dash
from tests.support.server import LiveServer
from tests.support.settle import wait_for_analysis
from tests.support.users import TestUser, register_device, sign_up

pytestmark = pytest.mark.e2e

AXE = Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe.min.js"
RUN = Path("/work/shared/data/fitparse_fenix2_run.fit")
SIZES = {"1280": {"width": 1280, "height": 900}, "390": {"width": 390, "height": 844}}
BLOCKING = ("serious", "critical")
SIGNED_IN = [
    "",
    "/weeks",
    "/mood",
    "/sessions",
    "/recovery",
    "/interviews",
    "/journal",
    "/devices",
    "/profile",
]
MISSING_ID = 2_000_000_000
RUN_AXE = """async () => {
  const result = await axe.run(document, { resultTypes: ["violations"] });
  return result.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 4).map((n) => `${n.target.join(" ")}: ${n.failureSummary.replace(/\\s+/g, " ")}`),
  }));
}"""


def _user(server: LiveServer) -> TestUser:
    with httpx.Client(base_url=server.url, timeout=10) as client:
        return sign_up(client, timezone="Europe/Berlin", resting_hr=60, max_hr=190)


def _with_data(server: LiveServer) -> tuple[TestUser, dict[str, int]]:
    """A user with an imported run, a live session, a check-in and an interview with its reflection."""
    user = _user(server)
    answer = httpx.post(
        f"{server.url}/api/v1/imports",
        files={"file": (RUN.name, RUN.read_bytes())},
        headers=user.headers,
        timeout=60,
    )
    assert answer.status_code < 300, answer.text
    with httpx.Client(base_url=server.url, timeout=10) as client:
        device = register_device(client, user, name="Chest strap")
    strap = Strap(server=server, device_id=device["id"], upload_token=device["upload_token"])
    start = now_ms() - 15 * 60_000
    strap.send(
        [{"t": start + i * 1000, "bpm": 95 + (i // 60) * 5 + i % 3, "contact": True} for i in range(14 * 60)]
    )
    api(server, user, "POST", "/checkins", json={"confidence": 6, "mood": 7, "note": "Felt steady"})
    at = (dt.datetime.now(dt.UTC) - dt.timedelta(days=1)).isoformat()
    interview = api(
        server, user, "POST", "/interviews", json={"company": "Acme", "role": "Analyst", "at": at}
    )
    api(
        server,
        user,
        "PUT",
        f"/interviews/{interview['id']}/reflection",
        json={"went_well": ["Rapport"], "went_poorly": ["Nerves"], "lessons": ["Breathe first"]},
    )
    with httpx.Client(base_url=server.url, timeout=10) as client:
        wait_for_analysis(client)
    sessions = api(
        server,
        user,
        "GET",
        "/sessions",
        params={
            "from": "2015-01-01T00:00:00Z",
            "to": (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)).isoformat(),
        },
    )
    assert sessions
    return user, {"session": int(sessions[0]["id"]), "interview": int(interview["id"])}


def _page(browser: Browser, server: LiveServer, size: dict[str, int], token: str | None) -> Page:
    # The pages' CSP would block the injected axe-core script: only these audit tabs bypass it.
    dash = open_dash(browser, server, viewport=size, token=token, timezone_id="Europe/Berlin", bypass_csp=True,
                     timeout_ms=15_000)  # fmt: skip
    return dash.page


def _audit(page: Page, url: str, name: str, *, ready: bool = True) -> list[str]:
    page.goto(url)
    if ready:
        page.locator("body[data-ready=true]").wait_for(state="attached")
    else:
        page.wait_for_load_state("load")
    page.wait_for_timeout(300)  # the live stream and late fetches settle
    page.add_script_tag(path=str(AXE))
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"a11y-{name}.png"), full_page=True)
    found = page.evaluate(RUN_AXE)
    return [
        f"{url} [{v['impact']}] {v['id']}: {v['help']}\n    " + "\n    ".join(v["nodes"])
        for v in found
        if v["impact"] in BLOCKING
    ]


@pytest.fixture(scope="module")
def data_user(live_server: LiveServer) -> tuple[TestUser, dict[str, int]]:
    return _with_data(live_server)


@pytest.fixture(params=list(SIZES))
def width(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_no_serious_violations_for_a_new_user(browser: Browser, live_server: LiveServer, width: str) -> None:
    user = _user(live_server)
    base = f"{live_server.url}/dashboard"
    found: list[str] = []
    signed_out = _page(browser, live_server, SIZES[width], None)
    signed_in = _page(browser, live_server, SIZES[width], user.token)
    try:
        found += _audit(signed_out, f"{base}/login", f"login-{width}")
        found += _audit(signed_out, f"{base}/signup", f"signup-{width}")
        found += _audit(signed_out, f"{base}/no-such-page", f"not-found-{width}", ready=False)
        for path in SIGNED_IN:
            found += _audit(signed_in, f"{base}{path}", f"empty{path.replace('/', '-') or '-today'}-{width}")
        found += _audit(signed_in, f"{base}/sessions/{MISSING_ID}", f"missing-session-{width}")
        found += _audit(signed_in, f"{base}/interviews/{MISSING_ID}", f"missing-interview-{width}")
    finally:
        signed_out.context.close()
        signed_in.context.close()
    assert not found, "\n".join(found)


def test_no_serious_violations_with_data(
    browser: Browser, live_server: LiveServer, width: str, data_user: tuple[TestUser, dict[str, int]]
) -> None:
    user, ids = data_user
    base = f"{live_server.url}/dashboard"
    found: list[str] = []
    page = _page(browser, live_server, SIZES[width], user.token)
    try:
        for path in [*SIGNED_IN, f"/sessions/{ids['session']}", f"/interviews/{ids['interview']}"]:
            found += _audit(page, f"{base}{path}", f"data{path.replace('/', '-') or '-today'}-{width}")
    finally:
        page.context.close()
    assert not found, "\n".join(found)
