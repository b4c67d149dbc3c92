"""Sessions, interviews with their plan, the profile, and every page at phone width and by keyboard."""

from __future__ import annotations

import datetime as dt
import re
import time

import httpx
import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import WORKOUT, Dash, Strap, api, now_ms
from tests.support.server import LiveServer
from tests.support.users import TestUser
from tests.support.workouts import workout_samples

pytestmark = pytest.mark.e2e
# An inline script (a <script> without src), a style attribute or element, an inline event handler.
INLINE = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>|\sstyle=|<style|\son[a-z]+=", re.IGNORECASE)
PAGES = ["", "/mood", "/sessions", "/recovery", "/interviews", "/profile"]


def _wait_for_sessions(server: LiveServer, user: TestUser, timeout_s: float = 10) -> list[dict[str, object]]:
    now = dt.datetime.now(dt.UTC)
    query = {
        "from": (now - dt.timedelta(days=1)).isoformat(),
        "to": (now + dt.timedelta(minutes=1)).isoformat(),
    }
    deadline = time.monotonic() + timeout_s
    while True:
        answer = httpx.get(f"{server.url}/api/v1/sessions", params=query, headers=user.headers, timeout=10)
        if answer.status_code == 200 and answer.json():
            return list(answer.json())
        assert time.monotonic() < deadline, f"no session found: {answer.status_code} {answer.text[:200]}"
        time.sleep(0.5)


def test_session_chart_with_zones_and_recovery(
    signed_in: Dash, strap: Strap, user: TestUser, live_server: LiveServer
) -> None:
    # 2 min easy from 25 minutes ago, 12 min hard, then 6 min of exponential recovery at 1 Hz.
    strap.send(workout_samples(now_ms() / 1000 - 23 * 60, 12, 150, after_s=6 * 60, **WORKOUT))
    _wait_for_sessions(live_server, user)
    page = signed_in.page
    signed_in.goto("/sessions")
    page.locator("#session-list a").first.click()
    expect(page).to_have_url(re.compile(r"/dashboard/sessions/\d+$"))
    expect(page.locator("#session-summary")).to_contain_text("minutes with your heartbeat up")
    expect(page.locator("#hr-chart canvas")).to_have_count(1)
    assert int(page.locator("#hr-chart").get_attribute("data-points") or 0) > 600
    expect(page.locator("#recovery-statement")).to_contain_text("in the first minute")
    expect(page.locator("#recovery-chart canvas")).to_have_count(1)
    signed_in.shot("session")


def _interview(server: LiveServer, user: TestUser) -> dict[str, object]:
    at = (dt.datetime.now(dt.UTC) - dt.timedelta(days=2)).isoformat()
    return dict(
        api(
            server,
            user,
            "POST",
            "/interviews",
            json={"company": "Acme", "role": "Analyst", "at": at, "outcome": "went badly"},
        )
    )


def test_log_an_interview_and_write_the_reflection(signed_in: Dash) -> None:
    page = signed_in.page
    signed_in.goto("/interviews")
    expect(page.locator("#timeline")).to_contain_text("No interviews logged")
    page.get_by_label("Company").fill("Globex")
    page.get_by_label("Role").fill("Data engineer")
    page.get_by_label("When").fill("2025-03-04T10:30")
    page.get_by_label("How it went").select_option("went badly")
    page.get_by_role("button", name="Save interview").click()
    expect(page).to_have_url(re.compile(r"/dashboard/interviews/\d+$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Data engineer at Globex")

    page.get_by_label("What went well").fill("Clear intro\nGood questions for them")
    page.get_by_label("What did not go so well").fill("Froze on the system design")
    page.get_by_label("Lesson 1", exact=True).fill("Practise whiteboarding")
    page.get_by_label("Next time, for lesson 1").fill("two mock sessions a week")
    page.get_by_role("button", name="Save reflection").click()
    expect(page.locator("#reflection-status")).to_have_text(re.compile("Reflection saved"))
    page.reload()
    expect(page.get_by_label("What went well")).to_have_value("Clear intro\nGood questions for them")
    expect(page.get_by_label("Next time, for lesson 1")).to_have_value("two mock sessions a week")
    page.get_by_role("link", name="All interviews").click()
    expect(page.locator("#timeline")).to_contain_text("Data engineer at Globex")
    signed_in.shot("interviews")


def test_interview_recovery_plan_and_stress(signed_in: Dash, user: TestUser, live_server: LiveServer) -> None:
    interview = _interview(live_server, user)
    api(
        live_server,
        user,
        "PUT",
        f"/interviews/{interview['id']}/reflection",
        json={"went_well": ["Rapport"], "went_poorly": ["Nerves"], "lessons": ["Breathe first"]},
    )
    page = signed_in.page
    signed_in.goto(f"/interviews/{interview['id']}")
    expect(page.locator("#plan .plan-step")).to_have_count(7)
    expect(page.locator('#plan .plan-step[data-step="reflect"]')).to_have_class(re.compile(r"\bdone\b"))
    expect(page.locator("#plan-progress")).to_contain_text("of 7 steps done")
    expect(page.locator("#stress-statement")).not_to_have_text("Loading…")
    signed_in.shot("interview")


def test_profile_changes_zones_and_target(signed_in: Dash) -> None:
    page = signed_in.page
    signed_in.goto("/profile")
    expect(page.get_by_label("Resting heart rate")).to_have_value("60")
    page.get_by_label("Time zone").fill("Europe/Berlin")
    page.get_by_label("Birth year").fill("1988")
    page.get_by_label("Maximum heart rate").fill("")
    page.get_by_label("Daily target").fill("45")
    page.get_by_role("button", name="Save profile").click()
    expect(page.locator("#profile-status")).to_contain_text("Saved")
    page.get_by_label("Time zone").fill("Not/AZone")
    page.get_by_role("button", name="Save profile").click()
    expect(page.get_by_role("alert")).to_contain_text("time zone")
    page.reload()
    expect(page.get_by_label("Time zone")).to_have_value("Europe/Berlin")
    expect(page.get_by_label("Birth year")).to_have_value("1988")
    expect(page.get_by_label("Maximum heart rate")).to_have_value("")
    signed_in.shot("profile")
    page.get_by_role("link", name="Today").click()
    expect(page.locator("#ring-target")).to_have_text("45")


def test_every_page_fits_a_phone_and_works_by_keyboard(phone: Dash) -> None:
    page = phone.page
    for path in PAGES:
        phone.goto(path)
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        page.keyboard.press("Tab")
        skip = page.get_by_role("link", name="Skip to main content")
        expect(skip).to_be_focused()
        page.keyboard.press("Enter")
        expect(page.locator("main")).to_be_focused()
        phone.no_sideways_scroll()
        phone.shot(f"phone{path.replace('/', '-') or '-today'}")
    page.emulate_media(color_scheme="dark")
    phone.goto("/mood")
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(17, 22, 28)", background  # the dark palette follows the system setting
    phone.shot("phone-mood-dark")
    for path in ("/login", "/signup"):
        phone.goto(path)
        phone.no_sideways_scroll()
        phone.shot(f"phone-{path[1:]}")


def test_pages_are_served_with_a_strict_content_security_policy(live_server: LiveServer) -> None:
    for path in ["", *PAGES[1:], "/login", "/signup", "/sessions/1", "/interviews/1"]:
        answer = httpx.get(f"{live_server.url}/dashboard{path}")
        assert answer.status_code == 200
        assert "default-src 'self'" in answer.headers["content-security-policy"]
        assert not INLINE.search(answer.text), INLINE.search(answer.text)
    assert httpx.get(f"{live_server.url}/dashboard/nowhere").status_code == 404
    root = httpx.get(f"{live_server.url}/", follow_redirects=False)
    assert root.status_code in (302, 307) and root.headers["location"] == "/dashboard"
    license_text = httpx.get(f"{live_server.url}/dashboard/static/vendor/uplot/LICENSE").text
    assert "MIT" in license_text
