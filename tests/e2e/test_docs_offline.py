"""/docs and /redoc render with the network blocked (issue 16): Swagger UI and ReDoc are vendored under
dashboards/static/vendor and served by this origin, under a Content-Security-Policy of 'self'."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Route, expect

from tests.e2e.conftest import PHONE, Dash, open_dash
from tests.support.server import LiveServer

pytestmark = pytest.mark.e2e

WIDTHS = {"1280": {"width": 1280, "height": 900}, "390": PHONE}
# The one outside address in ReDoc's bundle: the "API docs by Redocly" logo, hard-coded. The policy blocks it
# before any request leaves (Chromium logs that), and ReDoc drops the image when it fails to load.
REDOC_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"


@pytest.fixture(params=list(WIDTHS))
def offline(
    request: pytest.FixtureRequest, browser: Browser, live_server: LiveServer
) -> Iterator[tuple[Dash, list[str]]]:
    """A tab whose every request not to the server is aborted (and noted)."""
    tab = open_dash(browser, live_server, viewport=WIDTHS[request.param])
    blocked: list[str] = []

    def only_the_server(route: Route) -> None:
        if route.request.url.startswith(live_server.url) or route.request.url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    tab.page.route("**/*", only_the_server)
    tab.page.on(
        "console",
        lambda m: (
            blocked.append(f"console {m.type}: {m.text}") if "Content Security Policy" in m.text else None
        ),
    )
    yield tab, blocked
    tab.page.context.close()


def test_swagger_ui_renders_the_operations_offline(
    offline: tuple[Dash, list[str]], request: pytest.FixtureRequest
) -> None:
    tab, blocked = offline
    answer = tab.page.goto(f"{tab.server.url}/docs")
    assert answer is not None and "script-src 'self'" in answer.headers["content-security-policy"]
    expect(tab.page.locator(".swagger-ui .info .title")).to_contain_text("Chin Up")
    operations = tab.page.locator(".opblock")
    expect(operations.first).to_be_visible(timeout=15_000)
    assert operations.count() > 20
    expect(tab.page.locator('.opblock-summary-path[data-path="/api/v1/me/heart"]')).to_have_count(1)
    tab.page.locator('.opblock-summary-path[data-path="/api/v1/me/heart"]').click()
    expect(
        tab.page.get_by_text("The resting HR and HRmax every rollup of yours uses", exact=False)
    ).to_be_visible()
    assert not blocked, blocked
    tab.shot(f"docs-swagger-{request.node.callspec.id}")


def test_redoc_renders_offline(offline: tuple[Dash, list[str]], request: pytest.FixtureRequest) -> None:
    tab, blocked = offline
    tab.page.goto(f"{tab.server.url}/redoc")
    expect(tab.page.locator("h1").first).to_contain_text("Chin Up", timeout=20_000)
    expect(tab.page.get_by_role("heading", name="Read Heart Profile").first).to_be_attached()
    expect(tab.page.locator(f'img[src="{REDOC_LOGO}"]')).to_have_count(0)
    blocked[:] = [b for b in blocked if REDOC_LOGO not in b]
    tab.log.errors[:] = [e for e in tab.log.errors if REDOC_LOGO not in e]
    assert not blocked, blocked
    # ReDoc lays every operation out on one page (62,000 px tall at 1280, 117,000 at 390): rendering it whole took over the
    # screenshot's 10 s under load, and the first screen shows what renders (the menu, the title, the first
    # operations).
    tab.shot(f"docs-redoc-{request.node.callspec.id}", full_page=False)
