"""A practice session timed on the Journal page while a strap streams: its heart figures, the chart that
compares arousal across sessions, and an application whose status moves on with its history (issue 16).

The strap uploads through the public API as `chinup record` does; the user lives in Berlin and the
browser in New York (tab of test_journal_pages), so a time read on the browser's clock would show. Shot at
1280 and 390 px.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
import time
from collections.abc import Iterator
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.e2e.conftest import SCREENSHOTS, Dash, Strap, api, now_ms
from tests.e2e.test_accessibility import _audit, _page
from tests.e2e.test_journal_pages import WIDTHS, tab
from tests.support.server import LiveServer
from tests.support.users import TestUser, register_device

pytestmark = pytest.mark.e2e
__all__ = ["tab"]  # the fixture, shared with the journal pages' tests

MIN_MS = 60_000


def _stream(strap: Strap, bpm: int, stop: threading.Event, period_s: float = 0.25) -> None:
    """One sample now every period while the test runs, as a recorder does while a strap streams."""
    i = 0
    while not stop.wait(period_s):
        strap.send([{"t": now_ms(), "bpm": bpm + i % 3, "contact": True}])
        i += 1


@pytest.fixture
def streaming_strap(
    tab: tuple[str, TestUser, Dash],
) -> Iterator[tuple[Strap, threading.Thread, threading.Event]]:
    """The user's strap, which recorded a calm practice an hour ago and streams at ~110 bpm from now."""
    _, user, dash = tab
    with httpx.Client(base_url=dash.server.url, timeout=10) as client:
        device = register_device(client, user, name="Chest strap")
    strap = Strap(server=dash.server, device_id=device["id"], upload_token=device["upload_token"])
    stop = threading.Event()
    feeder = threading.Thread(target=_stream, args=(strap, 110, stop), daemon=True)
    yield strap, feeder, stop  # the test starts the feed once the earlier practice is in
    stop.set()
    if feeder.is_alive():
        feeder.join()


def _earlier_practice(server: LiveServer, user: TestUser, strap: Strap) -> None:
    """Three minutes at ~80 bpm an hour ago, and a practice session timed over them (through the API)."""
    start = now_ms() - 60 * MIN_MS
    strap.send([{"t": start + i * 1000, "bpm": 80 + i % 4, "contact": True} for i in range(180)])
    iso = lambda ms: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ms / 1000))  # noqa: E731
    body = {"at": iso(start), "questions": ["Tell me about yourself"], "self_rating": 6,
            "started_at": iso(start), "ended_at": iso(start + 3 * MIN_MS)}  # fmt: skip
    assert api(server, user, "POST", "/practice", json=body)["heart"]["n_samples"] == 180


def test_a_timed_practice_shows_its_heart_and_an_application_its_history(
    browser: Browser,
    tab: tuple[str, TestUser, Dash],
    streaming_strap: tuple[Strap, threading.Thread, threading.Event],
) -> None:
    width, user, dash = tab
    strap, feeder, stop = streaming_strap
    page = dash.page
    _earlier_practice(dash.server, user, strap)
    applied = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 3 * 86400))
    api(dash.server, user, "POST", "/applications",
        json={"company": "Globex", "role": "Analyst", "applied_at": applied, "status": "Applied"})  # fmt: skip
    feeder.start()
    dash.goto("/journal")
    chart = page.locator("#practice-arousal-chart")
    expect(chart).to_have_attribute("data-points", "1")

    # Time a session while the strap streams: Start fills the start on the user's clock, Stop the end.
    page.get_by_label("Questions you answered").fill("Why do you want this role?\nA conflict you resolved")
    page.get_by_role("button", name="Start timer").click()
    expect(page.locator("#practice-start")).not_to_have_value("")
    expect(page.locator("#practice-timer-clock")).to_have_text(re.compile(r"0:0[2-9]"), timeout=5000)
    page.get_by_role("button", name="Stop", exact=True).click()
    started = page.locator("#practice-start").input_value()
    ended = page.locator("#practice-end").input_value()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", started) and ended > started, (started, ended)
    page.get_by_role("button", name="Save practice session").click()
    expect(page.locator("#practice-status")).to_contain_text("Saved")

    newest = page.locator("#practice-list li.record").first
    saved = api(dash.server, user, "GET", "/practice")[-1]
    heart = saved["heart"]
    assert heart is not None and heart["n_samples"] >= 5 and 109 <= heart["mean_bpm"] <= 113, heart
    # The times the page sent are the Berlin wall clock of the inputs, whatever the browser's zone.
    assert saved["started_at"].startswith(_utc_of_berlin(started)), (saved["started_at"], started)
    sentence = (
        f"mean {round(heart['mean_bpm'])} bpm, peak {round(heart['peak_bpm'])}, "
        f"+{round(heart['arousal_bpm'])} bpm over rest ({round(heart['arousal_pct_hrr'])} % of reserve)"
    )
    expect(newest.locator(".practice-heart")).to_have_text(re.compile(re.escape(sentence)))
    expect(page.locator("#practice-list .practice-heart")).to_have_count(2)
    expect(chart).to_have_attribute("data-points", "2")
    expect(chart).to_have_attribute(
        "aria-label", re.compile(r"2 timed practice sessions: .*\+2\d bpm; .*\+5\d bpm")
    )
    expect(page.locator("#practice-arousal-caption")).to_contain_text("calmest was +2")
    stop.set()

    # The application's status moves on from the page and its history grows.
    application = page.locator("#application-list li.record").first
    application.get_by_label("Status", exact=True).select_option("Interview booked")
    application.get_by_role("button", name="Save status").click()
    history = page.locator("#application-list li.record").first.locator(".status-history li")
    expect(history).to_have_count(2)
    expect(history.nth(0)).to_contain_text("Applied")
    expect(history.nth(1)).to_contain_text("Interview booked")
    expect(page.locator("#application-status")).to_contain_text("saved: Interview booked")
    assert [h["status"] for h in api(dash.server, user, "GET", "/applications")[0]["history"]] == [
        "Applied",
        "Interview booked",
    ]
    dash.no_sideways_scroll()
    dash.shot(f"practice-heart-{width}")
    page.locator("#practice").screenshot(path=str(SCREENSHOTS / f"practice-heart-card-{width}.png"))
    # axe on the page as it now stands: the timer, the heart figures, the chart, the status controls.
    audit = _page(browser, dash.server, WIDTHS[width], user.token)
    try:
        found = _audit(audit, dash.url("/journal"), f"journal-practice-heart-{width}")
    finally:
        audit.context.close()
    assert not found, "\n".join(found)


def _utc_of_berlin(wall: str) -> str:
    """The UTC ISO prefix (to the second) of a Berlin wall-clock "YYYY-MM-DDTHH:MM:SS"."""
    local = dt.datetime.fromisoformat(wall).replace(tzinfo=ZoneInfo("Europe/Berlin"))
    return local.astimezone(dt.UTC).isoformat()[:19]
