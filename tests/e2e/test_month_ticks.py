"""Long daily charts name months on their 1st: 26 weeks of check-ins on the Mood page, at 1280 and 390 px.

Ticks 28 days apart were each named by their month, so a chart read "Aug 2026, Aug 2026" and put "Nov 2026"
on the 20th (found by a new user of the demo); a daily chart past 28-day steps now ticks on the 1st of whole
months. The chart keeps its labels and their dates in `data-x-ticks` (the canvas has no text to read)."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect

from tests.e2e.conftest import PHONE, Dash, api, open_dash
from tests.support.server import LiveServer
from tests.support.users import TestUser

pytestmark = pytest.mark.e2e


@pytest.fixture(params=[{"width": 1280, "height": 900}, PHONE], ids=["1280", "390"])
def tab(
    request: pytest.FixtureRequest, browser: Browser, live_server: LiveServer, user: TestUser
) -> Iterator[Dash]:
    dash = open_dash(browser, live_server, viewport=request.param, token=user.token, locale="en-US")
    yield dash
    dash.page.context.close()


def test_months_are_named_on_their_first_day(tab: Dash, live_server: LiveServer, user: TestUser) -> None:
    today = dt.datetime.now(dt.UTC).date()
    if not api(live_server, user, "GET", "/checkins", params={"limit": 1}):
        for back in range(1, 26 * 7, 3):  # a check-in every third day over the 26 weeks
            at = dt.datetime.combine(today - dt.timedelta(days=back), dt.time(12), dt.UTC)
            api(
                live_server,
                user,
                "POST",
                "/checkins",
                json={"confidence": 1 + back % 10, "at": at.isoformat()},
            )
    tab.goto("/mood")
    chart = tab.page.locator("#daily-chart")
    expect(chart).to_have_attribute("data-x-ticks", re.compile(r"^\[\{"))
    eight_weeks = chart.get_attribute("data-x-ticks") or ""
    tab.page.locator("#weeks").select_option("26")
    expect(chart).not_to_have_attribute("data-x-ticks", eight_weeks)
    ticks = json.loads(chart.get_attribute("data-x-ticks") or "[]")
    labels = [t["label"] for t in ticks]
    assert ticks and len(set(labels)) == len(labels), labels
    for tick in ticks:
        day = dt.date.fromisoformat(tick["date"])
        assert day.day == 1, ticks  # a month's name on its 1st
        assert tick["label"].startswith(day.strftime("%b")), ticks  # en-US: "Oct 2026"
    for a, b in zip(ticks, ticks[1:], strict=False):
        assert a["right"] + 8 <= b["left"], f"labels overlap: {ticks}"
    tab.shot(f"mood-26-weeks-{tab.page.viewport_size['width']}")  # type: ignore[index]
