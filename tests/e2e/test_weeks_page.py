"""The week and month view with data (issue 16): days against the target, the week against the WHO band
with vigorous minutes counted double, the streak and the calendar, at 1280 and 390 px.

Samples are uploaded through the API for the last days; every figure on the page is checked against the
API's own answer (GET /days, GET /days/{date}), since the page only lays them out.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.e2e.conftest import Dash, Strap, api, open_dash
from tests.support.server import LiveServer
from tests.support.settle import wait_for_analysis
from tests.support.users import TestUser

pytestmark = pytest.mark.e2e

WIDTHS = {"1280": {"width": 1280, "height": 900}, "390": {"width": 390, "height": 844}}
# days ago -> (minutes, bpm): with rest 60 and max 190, 150 bpm is vigorous (69 % HRR), 125 moderate (50 %)
WORKOUTS = {1: (65, 150), 2: (30, 125), 3: (70, 125), 4: (20, 150)}
STEP_S = 2


def _upload(strap: Strap, today: dt.date) -> None:
    for ago, (minutes, bpm) in WORKOUTS.items():
        start = dt.datetime.combine(today - dt.timedelta(days=ago), dt.time(12, 0), tzinfo=dt.UTC)
        t0 = int(start.timestamp() * 1000)
        samples = [{"t": t0 + i * STEP_S * 1000, "bpm": bpm + i % 3 - 1, "contact": True}
                   for i in range(minutes * 60 // STEP_S)]  # fmt: skip
        for i in range(0, len(samples), 1000):
            strap.send(samples[i : i + 1000])


@pytest.fixture
def with_data(live_server: LiveServer, user: TestUser, strap: Strap) -> TestUser:
    _upload(strap, dt.datetime.now(dt.UTC).date())
    with httpx.Client(timeout=10) as client:
        wait_for_analysis(client, live_server.url)
    return user


@pytest.fixture
def tabs(browser: Browser, live_server: LiveServer, with_data: TestUser) -> Iterator[dict[str, Dash]]:
    opened = {w: open_dash(browser, live_server, viewport=size, token=with_data.token, timezone_id="Asia/Tokyo")
              for w, size in WIDTHS.items()}  # fmt: skip
    yield opened
    for tab in opened.values():
        tab.page.context.close()


def test_the_week_and_month_show_what_the_api_counts(
    tabs: dict[str, Dash], live_server: LiveServer, with_data: TestUser
) -> None:
    today = dt.datetime.now(dt.UTC).date()  # the user lives in UTC (the browser in Tokyo: it must not matter)
    start = today - dt.timedelta(days=6)
    days = api(live_server, with_data, "GET", f"/days?from={start}&to={today}")
    summary = api(live_server, with_data, "GET", f"/days/{today}")
    week = summary["week"]
    assert week["equivalent_minutes"] > week["heartbeat_up_minutes"]  # vigorous minutes counted double
    for tab_width, tab in tabs.items():
        page = tab.page
        tab.goto("/weeks")
        expect(page.get_by_role("link", name="Weeks")).to_have_attribute("aria-current", "page")
        facts = page.locator("#week-facts")
        expect(facts).to_contain_text(f"{week['heartbeat_up_minutes']} min")
        expect(facts).to_contain_text(f"{week['equivalent_minutes']} min")
        met = sum(d["target_met"] for d in days)
        expect(facts).to_contain_text(f"{met} of 7")
        expect(page.locator("#who-band-label")).to_contain_text(
            f"{week['equivalent_minutes']} WHO minutes (vigorous counted double) against the band of 150–300"
        )
        rows = page.locator("#week-days tr")
        expect(rows).to_have_count(7)
        for row, day in zip(rows.all(), days, strict=True):
            expect(row).to_contain_text(f"{day['heartbeat_up_minutes']} of {day['target_minutes']}")
            expect(row.locator("td").last).to_have_text(str(day["zone_minutes"]["active_zone_points"]))
        streak = summary["streak_days"]
        expect(page.locator("#month-facts")).to_contain_text(f"{streak} {'day' if streak == 1 else 'days'}")
        for day in days:
            if day["date"][:7] != today.isoformat()[:7]:
                continue
            cell = page.locator(f'#calendar [data-date="{day["date"]}"]')
            expect(cell).to_have_class(re.compile("cal-met" if day["target_met"] else "cal-some|cal-none"))
        page.locator(".rules summary").click()
        expect(page.locator(".rules")).to_contain_text("counted double")
        tab.no_sideways_scroll()
        tab.shot(f"weeks-{tab_width}")

    # keyboard: the earlier week, then back by choosing a day in the calendar
    page = tabs["1280"].page
    page.get_by_role("button", name="← Earlier week").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#week-label")).not_to_contain_text("last 7 days")
    expect(page.get_by_role("button", name="Later week →")).to_be_enabled()
    earlier = today - dt.timedelta(days=7)
    expect(page.locator(f'#calendar [data-date="{earlier}"]')).to_have_attribute("aria-pressed", "true")
    if earlier.month != today.month:  # the calendar followed the week into the month before
        page.get_by_role("button", name="Later month →").click()
    page.locator(f'#calendar [data-date="{today}"]').focus()
    page.keyboard.press("Enter")
    expect(page.locator("#week-label")).to_contain_text("last 7 days")
    expect(page.locator(f'#calendar [data-date="{today}"]')).to_be_focused()
    page.get_by_role("button", name="← Earlier month").click()
    expect(page.locator("#month-later")).to_be_enabled()
    tabs["1280"].shot("weeks-earlier-month-1280")
