"""One clock (issue 16): the user lives in Berlin, the browser sits in New York and reads English or German.

Every time the pages show, in text and on the charts' axes and legends, must be the Berlin wall-clock time,
written for the browser's locale (12-hour with AM/PM in en-US, 24-hour in de-DE, on the charts as in the
text). The data come through the API: a real run (a FIT file of ../shared/data) and samples streamed as a
strap would. uPlot draws its axis labels on a canvas; the chart wrapper keeps them in `data-x-ticks`, with
where each label stands, and the legend is HTML.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import SCREENSHOTS, Dash, Strap, api, now_ms, open_dash
from tests.support.server import LiveServer
from tests.support.settle import wait_for_analysis
from tests.support.users import TestUser, register_device, sign_up

pytestmark = pytest.mark.e2e

BERLIN = ZoneInfo("Europe/Berlin")
BROWSER_TZ = "America/New_York"
DATA = Path("/work/shared/data")
RUN = DATA / "fitparse_fenix2_run.fit"
RUN_START = dt.datetime(2015, 8, 15, 14, 45, 8, tzinfo=dt.UTC)  # README: 14:45:08Z - 15:32:21Z
RUN_END = dt.datetime(2015, 8, 15, 15, 32, 21, tzinfo=dt.UTC)
INTERVIEW_AT = dt.datetime(2015, 8, 15, 15, 10, tzinfo=dt.UTC)  # 17:10 in Berlin, 11:10 in New York
SIZES = {"1280": {"width": 1280, "height": 900}, "390": {"width": 390, "height": 844}}
# 07:33, 7:33 PM, 19:33:05, 07:33 AM with a narrow no-break space (ICU 72+), a.m./p.m.
TIME = re.compile(r"(?<![\d:])(\d{1,2}):(\d{2})(?::(\d{2}))?(?!\d)(?:\s?([AaPp])\.?\s?[Mm]\b\.?)?")


def clock_times(text: str) -> list[int]:
    """Every time of day written in `text`, as minutes after midnight (12-hour times made 24-hour)."""
    out = []
    for hours, minutes, _seconds, half in TIME.findall(text):
        h = int(hours)
        if half:
            h = h % 12 + (12 if half.lower() == "p" else 0)
        out.append(h * 60 + int(minutes))
    return out


def berlin_minutes(start: dt.datetime, end: dt.datetime) -> set[int]:
    """The Berlin minutes of the day from `start` to `end`, both included."""
    first = start.astimezone(BERLIN).replace(second=0, microsecond=0)
    return {
        (t.hour * 60 + t.minute)
        for t in (
            first + dt.timedelta(minutes=m) for m in range(0, 1 + int((end - first).total_seconds() // 60))
        )
    }


def has_half(text: str) -> bool:
    return bool(re.search(r"\d\s?[AaPp]\.?\s?[Mm]\b", text))


@pytest.fixture(params=["en-US", "de-DE"])
def berliner(
    request: pytest.FixtureRequest, browser: Browser, live_server: LiveServer
) -> Iterator[tuple[TestUser, str, dict[str, Dash]]]:
    """A user in Berlin, with a desktop and a phone tab in a New York browser reading `locale`."""
    with httpx.Client(base_url=live_server.url, timeout=10) as client:
        user = sign_up(client, timezone="Europe/Berlin", resting_hr=60, max_hr=190)
    tabs = {
        name: open_dash(
            browser,
            live_server,
            viewport=size,
            token=user.token,
            timezone_id=BROWSER_TZ,
            locale=request.param,
            timeout_ms=15_000,
        )
        for name, size in SIZES.items()
    }
    yield user, request.param, tabs
    for tab in tabs.values():
        tab.page.context.close()


def _shot(tab: Dash, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    tab.page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
    tab.log.assert_clean()


def _ticks(page: Page, selector: str) -> list[dict[str, object]]:
    chart = page.locator(selector)
    expect(chart).to_have_attribute("data-x-ticks", re.compile(r"^\[\{"))
    return list(json.loads(chart.get_attribute("data-x-ticks") or "[]"))


def assert_axis(page: Page, selector: str, allowed: set[int], *, twelve_hour: bool) -> list[str]:
    """The time axis: labels in Berlin (inside `allowed`, give or take a tick), locale-styled, apart."""
    ticks = _ticks(page, selector)
    labels = [str(t["label"]) for t in ticks]
    assert len(ticks) >= 2, labels
    width = page.locator(selector).evaluate("el => el.clientWidth")
    for tick in ticks:
        minutes = clock_times(str(tick["label"]))
        assert len(minutes) == 1, labels
        assert any(abs(minutes[0] - m) <= 10 for m in allowed), (labels, sorted(allowed)[:3])
        assert has_half(str(tick["label"])) == twelve_hour, labels
        assert int(str(tick["left"])) >= 0 and int(str(tick["right"])) <= width + 2, ticks
    for a, b in zip(ticks, ticks[1:], strict=False):
        assert int(str(a["right"])) + 8 <= int(str(b["left"])), f"labels overlap: {ticks}"
    return labels


def legend_time(page: Page, selector: str, x_share: float = 0.5) -> str:
    """Hover the chart at `x_share` of its width and read the time the legend (HTML) writes."""
    over = page.locator(f"{selector} .u-over")
    over.scroll_into_view_if_needed()
    box = over.bounding_box()
    assert box
    page.mouse.move(box["x"] + box["width"] * x_share, box["y"] + box["height"] / 2, steps=4)
    value = page.locator(f"{selector} .u-legend .u-series").first.locator(".u-value")
    expect(value).not_to_have_text(re.compile(r"^(–|--)?$"))
    return value.inner_text()


def _import_run(server: LiveServer, user: TestUser) -> int:
    answer = httpx.post(
        f"{server.url}/api/v1/imports",
        files={"file": (RUN.name, RUN.read_bytes())},
        headers=user.headers,
        timeout=60,
    )
    assert answer.status_code < 300, answer.text
    with httpx.Client(base_url=server.url, timeout=10) as client:
        wait_for_analysis(client)
    sessions = api(
        server,
        user,
        "GET",
        "/sessions",
        params={"from": "2015-08-14T00:00:00Z", "to": "2015-08-17T00:00:00Z"},
    )
    assert sessions, "the imported run made no session"
    return int(sessions[0]["id"])


def test_an_imported_run_reads_in_berlin_time(
    berliner: tuple[TestUser, str, dict[str, Dash]], live_server: LiveServer
) -> None:
    user, locale, tabs = berliner
    session_id = _import_run(live_server, user)
    interview = api(
        live_server,
        user,
        "POST",
        "/interviews",
        json={"company": "Acme", "role": "Analyst", "at": INTERVIEW_AT.isoformat()},
    )
    run = berlin_minutes(RUN_START, RUN_END)
    start = RUN_START.astimezone(BERLIN)
    twelve = locale == "en-US"
    for width, tab in tabs.items():
        page = tab.page
        tab.goto(f"/sessions/{session_id}")
        summary = page.locator("#session-summary").inner_text()
        assert clock_times(summary) == [start.hour * 60 + start.minute], summary
        assert has_half(summary) == twelve, summary
        assert_axis(page, "#hr-chart", run, twelve_hour=twelve)
        shown = legend_time(page, "#hr-chart")
        assert clock_times(shown)[0] in run, shown
        assert has_half(shown) == twelve, shown
        _shot(tab, f"one-clock-session-{locale}-{width}")

        tab.goto(f"/sessions?day={start.date().isoformat()}")
        listed = page.locator("#session-list").inner_text()
        assert clock_times(listed) == [start.hour * 60 + start.minute], listed

        tab.goto(f"/interviews/{interview['id']}")
        at = INTERVIEW_AT.astimezone(BERLIN)
        header = page.locator("main").inner_text()
        assert at.hour * 60 + at.minute in clock_times(header), header
        if page.locator("#stress-chart canvas").count():
            around = berlin_minutes(
                INTERVIEW_AT - dt.timedelta(hours=3), INTERVIEW_AT + dt.timedelta(hours=3)
            )
            assert_axis(page, "#stress-chart", around, twelve_hour=twelve)
            assert clock_times(legend_time(page, "#stress-chart"))[0] in around
        _shot(tab, f"one-clock-interview-{locale}-{width}")

        tab.goto("/interviews")
        assert at.hour * 60 + at.minute in clock_times(page.locator("#timeline").inner_text())


def _stream(server: LiveServer, user: TestUser, start_ms: int, minutes: int) -> None:
    with httpx.Client(base_url=server.url, timeout=10) as client:
        device = register_device(client, user, name="Chest strap")
    strap = Strap(server=server, device_id=device["id"], upload_token=device["upload_token"])
    samples = [{"t": start_ms + i * 1000, "bpm": 120 + i % 9, "contact": True} for i in range(minutes * 60)]
    strap.send(samples)


def test_a_live_session_and_the_daily_charts_read_in_berlin_time(
    berliner: tuple[TestUser, str, dict[str, Dash]], live_server: LiveServer
) -> None:
    user, locale, tabs = berliner
    twelve = locale == "en-US"
    now = dt.datetime.now(dt.UTC)
    start_ms = now_ms() - 12 * 60_000
    _stream(live_server, user, start_ms, 11)
    start = dt.datetime.fromtimestamp(start_ms / 1000, dt.UTC)
    # A check-in at 00:30 Berlin time today: in New York it is still the day before.
    berlin_today = now.astimezone(BERLIN).date()
    checkin_at = dt.datetime.combine(berlin_today, dt.time(0, 30), BERLIN)
    api(
        live_server,
        user,
        "POST",
        "/checkins",
        json={"confidence": 7, "mood": 6, "at": checkin_at.isoformat()},
    )
    deadline = time.monotonic() + 30
    while not api(
        live_server,
        user,
        "GET",
        "/sessions",
        params={
            "from": (now - dt.timedelta(hours=1)).isoformat(),
            "to": (now + dt.timedelta(minutes=1)).isoformat(),
        },
    ):
        assert time.monotonic() < deadline, "no live session"
        time.sleep(0.5)
    session = berlin_minutes(start, dt.datetime.now(dt.UTC))
    for width, tab in tabs.items():
        page = tab.page
        tab.goto("")
        today = page.locator("#today-sessions")
        expect(today.locator("a")).to_have_count(1)
        if start.astimezone(BERLIN).date() == berlin_today:
            assert clock_times(today.inner_text())[0] in session, today.inner_text()
        expect(page.locator("#today-checkins")).to_contain_text("7")
        assert clock_times(page.locator("#today-checkins").inner_text()) == [30]
        _shot(tab, f"one-clock-today-{locale}-{width}")

        today.locator("a").first.click()
        page.locator("body[data-ready=true]").wait_for(state="attached")
        assert_axis(page, "#hr-chart", session, twelve_hour=twelve)
        assert clock_times(legend_time(page, "#hr-chart", 0.9))[0] in session
        _shot(tab, f"one-clock-live-session-{locale}-{width}")

        tab.goto("/mood")
        ticks = [str(t["label"]) for t in _ticks(page, "#daily-chart")]
        assert not any(clock_times(t) for t in ticks), ticks  # dates, not times
        day_label = page.evaluate(
            "([d, loc]) => new Intl.DateTimeFormat(loc, {timeZone: 'UTC', weekday: 'short', day: 'numeric',"
            " month: 'short'}).format(new Date(d + 'T12:00:00Z'))",
            [berlin_today.isoformat(), locale],
        )
        # The check-in belongs to the Berlin day: hovering the last day shows that date and its rating.
        over = page.locator("#daily-chart .u-over")
        over.scroll_into_view_if_needed()
        box = over.bounding_box()
        assert box
        page.mouse.move(box["x"] + box["width"] - 2, box["y"] + box["height"] / 2, steps=4)
        shown = page.locator("#daily-chart .u-legend .u-series").first.locator(".u-value").inner_text()
        assert shown == day_label, (shown, day_label)
        expect(page.locator("#daily-chart .u-legend")).to_contain_text("7")
        _shot(tab, f"one-clock-mood-{locale}-{width}")

        tab.goto("/recovery")
        tab.goto("/weeks")
        _shot(tab, f"one-clock-weeks-{locale}-{width}")
