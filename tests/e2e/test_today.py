"""Sign up, log in and out, the Today ring, a check-in on the mood chart, live heart rate and the target."""

from __future__ import annotations

import datetime as dt
import re
import threading
import uuid
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import Dash, Strap, api, now_ms
from tests.support.server import LiveServer
from tests.support.users import TestUser

pytestmark = pytest.mark.e2e


def test_sign_up_log_out_and_log_in_again(dash: Dash) -> None:
    email = f"ada-{uuid.uuid4().hex[:8]}@example.org"  # the server is shared by the whole e2e run
    dash.goto()
    expect(dash.page).to_have_url(re.compile(r"/dashboard/login\?next=%2Fdashboard$"))
    dash.shot("login")
    dash.page.get_by_role("link", name="Create an account").click()
    expect(dash.page.get_by_role("heading", name="Create your account")).to_be_visible()
    expect(dash.page.get_by_label("Time zone")).to_have_value("Europe/Berlin")  # from the browser
    dash.shot("signup")

    dash.page.get_by_label("Email").fill(email)
    dash.page.get_by_label("Password").fill("short")
    dash.page.get_by_role("button", name="Create account").click()
    expect(dash.page.get_by_role("alert")).to_contain_text("at least 10 characters")
    dash.page.get_by_label("Password").fill("a long enough secret")
    dash.page.get_by_role("button", name="Create account").click()

    expect(dash.page).to_have_url(dash.url())
    expect(dash.page.locator("#ring-minutes")).to_have_text("0")
    expect(dash.page.locator("#ring-target")).to_have_text("60")
    expect(dash.page.get_by_role("img", name="0 of 60 heartbeat-up minutes")).to_be_visible()
    token = dash.page.evaluate("localStorage.getItem('chinup.token')")
    assert token
    me = httpx.get(f"{dash.server.url}/api/v1/me", headers={"Authorization": f"Bearer {token}"}).json()
    assert me["timezone"] == "Europe/Berlin" and me["email"] == email

    dash.page.get_by_role("button", name="Log out").click()
    expect(dash.page).to_have_url(re.compile(r"/dashboard/login"))
    assert dash.page.evaluate("localStorage.getItem('chinup.token')") is None
    revoked = httpx.get(f"{dash.server.url}/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert revoked.status_code == 401

    dash.page.get_by_label("Email").fill(email)
    dash.page.get_by_label("Password").fill("not the password")
    dash.page.get_by_role("button", name="Log in").click()
    expect(dash.page.get_by_role("alert")).to_have_text("That email and password do not match.")
    dash.page.get_by_label("Password").fill("a long enough secret")
    dash.page.get_by_role("button", name="Log in").click()
    expect(dash.page).to_have_url(dash.url())
    expect(dash.page.locator("#ring-target")).to_have_text("60")
    dash.shot("today-empty")


def test_an_expired_session_sends_the_user_to_log_in(signed_in: Dash, user: TestUser) -> None:
    api(signed_in.server, user, "POST", "/auth/logout")
    signed_in.page.goto(signed_in.url("/mood"))
    expect(signed_in.page).to_have_url(re.compile(r"/dashboard/login\?next=%2Fdashboard%2Fmood$"))
    signed_in.log.assert_clean()


def test_check_in_shows_on_the_mood_chart(signed_in: Dash) -> None:
    page = signed_in.page
    signed_in.goto()
    page.get_by_label("Confidence").fill("8")
    page.get_by_label("Mood", exact=True).fill("6")
    expect(page.locator("#confidence-out")).to_have_text("8")
    page.get_by_label("A note for yourself").fill("Went for a run before the call")
    page.get_by_role("button", name="Save check-in").click()
    expect(page.locator("#checkin-status")).to_have_text(re.compile("Check-in saved"))
    expect(page.locator("#today-checkins")).to_contain_text("confidence 8 · mood 6")
    signed_in.shot("today-checkin")

    page.get_by_role("link", name="Mood").click()
    today = dt.datetime.now(dt.UTC).date().isoformat()
    expect(page.locator("#daily-chart canvas")).to_have_count(1)
    assert int(page.locator("#daily-chart").get_attribute("data-points") or 0) >= 28
    page.get_by_text("Show as a table").click()
    row = page.locator(f'#daily-table tr[data-date="{today}"]')
    expect(row.locator("td").nth(1)).to_have_text("8")
    expect(row.locator("td").nth(2)).to_have_text("6")
    expect(page.locator("#insight-statement")).not_to_have_text("Looking at your data…")
    expect(page.locator("#scatter-chart canvas")).to_have_count(1)  # today: 0 minutes against 8
    page.get_by_text("Next day").click()
    page.locator("label[for=metric-mood]").click()
    signed_in.shot("mood")


def _zone_far_from_midnight() -> str:
    """A time zone whose calendar day does not change during the test (five minutes of samples)."""
    for zone in ("UTC", "Asia/Tokyo", "America/New_York"):
        local = dt.datetime.now(ZoneInfo(zone))
        if 0 < local.hour < 23:
            return zone
    raise AssertionError("unreachable: these zones are at least 5 hours apart")


def _stream(strap: Strap, bpms: list[int], stop: threading.Event, period_s: float = 0.5) -> None:
    """Upload one sample at a time, stamped now, as a recorder does while a strap streams."""
    for bpm in bpms:
        if stop.wait(period_s):
            return
        strap.send([{"t": now_ms(), "bpm": bpm, "contact": True}])


def test_live_heart_rate_follows_the_strap(signed_in: Dash, strap: Strap) -> None:
    page = signed_in.page
    signed_in.goto()
    expect(page.locator("#live-link")).to_have_text("live")
    stop = threading.Event()
    feeder = threading.Thread(target=_stream, args=(strap, [72] * 4 + [150] * 40, stop), daemon=True)
    feeder.start()
    try:
        expect(page.locator("#live-bpm")).to_have_text("72")
        expect(page.locator("#live-hr")).to_have_class(re.compile(r"\bzone-rest\b"))
        expect(page.locator("#live-bpm")).to_have_text("150")
        expect(page.locator("#live-hr")).to_have_class(re.compile(r"\bzone-vigorous\b"))
        expect(page.locator("#live-zone")).to_have_text("Vigorous")
        signed_in.shot("today-live")
    finally:
        stop.set()
        feeder.join()


def test_ring_fills_live_and_reaches_the_target(
    signed_in: Dash, strap: Strap, user: TestUser, live_server: LiveServer
) -> None:
    api(
        live_server,
        user,
        "PATCH",
        "/me",
        json={"daily_target_minutes": 3, "timezone": _zone_far_from_midnight()},
    )
    page = signed_in.page
    signed_in.goto()
    expect(page.locator("#ring-target")).to_have_text("3")
    expect(page.locator("#live-link")).to_have_text("live")
    start_ms = now_ms() - 5 * 60_000
    # Real heart rate wobbles; a flat line is what a stuck sensor sends, and the cleaning refuses it.
    strap.send([{"t": start_ms + i * 1000, "bpm": 150 + i % 7 - 3, "contact": True} for i in range(5 * 60)])
    expect(page.locator("#ring")).to_have_attribute("data-met", "true", timeout=15_000)
    expect(page.locator("#ring-status")).to_have_text("Target met today. Well done!")
    signed_in.shot("today-target-met")
    page.reload()
    expect(page.locator("#ring")).to_have_attribute("data-met", "true")
    expect(page.locator("#streak-days")).to_have_text("1")


def test_a_workout_uploaded_after_the_fact_shows_counting_then_its_minutes(
    signed_in: Dash, phone: Dash, strap: Strap
) -> None:
    """A catch-up upload (the uploader after an outage, or an import): never a false 0 while it is counted."""
    end_ms = now_ms() - 5 * 60_000
    start_ms = end_ms - 30 * 60_000
    if dt.datetime.fromtimestamp(start_ms / 1000, dt.UTC).date() != dt.datetime.now(dt.UTC).date():
        pytest.skip("the workout would start yesterday (the run is just after midnight)")
    samples = [{"t": start_ms + i * 1000, "bpm": 150 + (i * 7) % 9 - 4, "contact": True}
               for i in range((end_ms - start_ms) // 1000)]  # fmt: skip
    for i in range(0, len(samples), 1000):
        strap.send(samples[i : i + 1000])
    signed_in.goto()
    ring = signed_in.page.locator("#ring")
    status = signed_in.page.locator("#ring-status")
    if ring.get_attribute("data-counting") == "true":
        expect(status).to_have_text("Counting your latest minutes…")
        signed_in.shot("today-counting")
    expect(ring).to_have_attribute("data-counting", "false", timeout=20_000)
    thirty = re.compile(r"^(29|30|31)$")  # clock minutes: a 30-minute block not aligned to them
    expect(signed_in.page.locator("#ring-minutes")).to_have_text(thirty)
    signed_in.shot("today-after-catch-up")
    phone.goto()
    expect(phone.page.locator("#ring-minutes")).to_have_text(thirty)
    phone.no_sideways_scroll()
    phone.shot("today-after-catch-up-phone")
