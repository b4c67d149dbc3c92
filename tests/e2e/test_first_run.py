"""A new user from sign-up through the first-run checklist on Today, at 1280 and 390 px (issue 16).

Each step ticks itself off from what the API holds: the profile saved in the checklist itself, a file
imported on the Devices page, an interview logged, the first check-in on Today. The list stays, ticked,
when its last step is done on the page, and is gone on the next visit. The Profile page then shows the
resting and maximum heart rate the server computes with (GET /me/heart).
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Locator, expect

from tests.e2e.conftest import Dash, open_dash
from tests.support.server import LiveServer

pytestmark = pytest.mark.e2e

WIDTHS = {"1280": {"width": 1280, "height": 900}, "390": {"width": 390, "height": 844}}
RUN = "fitparse_fenix2_run.fit"
PASSWORD = "a long enough secret"


@pytest.fixture(params=list(WIDTHS))
def newcomer(
    request: pytest.FixtureRequest, browser: Browser, live_server: LiveServer
) -> Iterator[tuple[Dash, str]]:
    tab = open_dash(browser, live_server, viewport=WIDTHS[request.param], timezone_id="Europe/Berlin")
    yield tab, request.param
    tab.page.context.close()


def _sign_up(tab: Dash) -> dict[str, str]:
    email = f"new-{uuid.uuid4().hex[:8]}@example.org"
    tab.goto("/signup")
    tab.page.get_by_label("Email").fill(email)
    tab.page.get_by_label("Password").fill(PASSWORD)
    tab.page.get_by_role("button", name="Create account").click()
    expect(tab.page).to_have_url(tab.url())
    tab.page.locator("body[data-ready=true]").wait_for(state="attached")
    token = tab.page.evaluate("localStorage.getItem('chinup.token')")
    return {"Authorization": f"Bearer {token}"}


def _step(tab: Dash, name: str) -> Locator:
    return tab.page.locator(f'#first-run-steps [data-step="{name}"]')


def _shoot(tab: Dash, name: str, width: str) -> None:
    tab.no_sideways_scroll()
    tab.shot(f"{name}-{width}")


def test_a_new_user_ticks_off_the_checklist(newcomer: tuple[Dash, str], shared_data: Path) -> None:
    tab, width = newcomer
    page = tab.page
    headers = _sign_up(tab)
    checklist = page.locator("#first-run")
    expect(checklist).to_be_visible()
    expect(page.get_by_role("heading", name="Welcome to Chin Up")).to_be_visible()
    expect(page.locator("#hbu-explainer")).to_contain_text("heartbeat-up minute")
    expect(page.locator("#first-run-progress")).to_have_text("Four small steps to get started.")
    for name in ("profile", "data", "checkin", "interview"):
        expect(_step(tab, name)).not_to_have_class(re.compile(r"\bdone\b"))
    _shoot(tab, "first-run-new", width)

    # 1. the profile, in place: a birth year, and "estimate it" for the resting heart rate
    page.get_by_role("button", name="Save", exact=True).click()
    expect(checklist.get_by_role("alert")).to_contain_text("birth year")
    page.get_by_label("Birth year").fill("1990")
    page.get_by_label("I don't know it: estimate it").check()
    expect(page.get_by_label("Resting heart rate")).to_be_disabled()
    page.get_by_role("button", name="Save", exact=True).click()
    expect(_step(tab, "profile")).to_have_class(re.compile(r"\bdone\b"))
    expect(page.locator("#first-run-progress")).to_contain_text("1 of 4 done")
    heart = httpx.get(f"{tab.server.url}/api/v1/me/heart", headers=headers, timeout=10).json()
    assert heart["max_hr_source"] == "age" and heart["resting_hr_source"] == "default"
    expect(page.locator("#hbu-explainer")).to_contain_text(
        f"about {round(heart['zones']['moderate_bpm'])} bpm"
    )

    # 2. a file imported on the Devices page (reached from the checklist's own link)
    _step(tab, "data").get_by_role("link", name="Go to Devices").click()
    page.locator("body[data-ready=true]").wait_for(state="attached")
    page.get_by_label("Recording file").set_input_files(shared_data / RUN)
    page.get_by_role("button", name="Import", exact=True).click()
    expect(page.locator("#import-report")).to_contain_text("new samples stored", timeout=30_000)
    tab.goto()
    expect(_step(tab, "data")).to_have_class(re.compile(r"\bdone\b"))
    expect(page.locator("#first-run-progress")).to_contain_text("2 of 4 done")

    # 3. the interview (its form belongs to the Interviews page; here it only has to exist)
    interview = {
        "company": "Northwind",
        "role": "Analyst",
        "at": (dt.datetime.now(dt.UTC) - dt.timedelta(days=2)).isoformat(),
    }
    answer = httpx.post(f"{tab.server.url}/api/v1/interviews", json=interview, headers=headers, timeout=10)
    assert answer.status_code == 201, answer.text
    tab.goto()
    expect(_step(tab, "interview")).to_have_class(re.compile(r"\bdone\b"))
    _shoot(tab, "first-run-three-done", width)

    # 4. the first check-in, on Today: the last step ticks, the list stays until closed or the next visit
    page.get_by_role("button", name="Save check-in").click()
    expect(page.locator("#checkin-status")).to_contain_text("Check-in saved")
    expect(_step(tab, "checkin")).to_have_class(re.compile(r"\bdone\b"))
    expect(page.locator("#first-run-progress")).to_contain_text("4 of 4 done. All set")
    expect(page.locator("#first-run .plan-step.done")).to_have_count(4)
    _shoot(tab, "first-run-all-done", width)
    tab.goto()
    expect(checklist).to_be_hidden()

    # the Profile page shows what the server computes with
    tab.goto("/profile")
    facts = page.locator("#heart-facts")
    expect(facts).to_contain_text(f"{round(heart['resting_hr'])} bpm")
    expect(facts).to_contain_text(f"{round(heart['max_hr'])} bpm")
    expect(facts).to_contain_text("Tanaka")
    expect(page.locator("#heart-zones")).to_contain_text(f"from {round(heart['zones']['vigorous_bpm'])} bpm")
    _shoot(tab, "profile-heart", width)


def test_the_checklist_can_be_hidden_with_the_keyboard(newcomer: tuple[Dash, str]) -> None:
    tab, width = newcomer
    if width != "1280":
        pytest.skip("one width is enough for the keyboard")
    _sign_up(tab)
    hide = tab.page.get_by_role("button", name="Hide this list")
    hide.focus()
    tab.page.keyboard.press("Enter")
    expect(tab.page.locator("#first-run")).to_be_hidden()
    tab.goto()
    expect(tab.page.locator("#first-run")).to_be_hidden()
    tab.log.assert_clean()
