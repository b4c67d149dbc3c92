"""The journal complete in the page (issue 16): an interview and all seven plan steps done from the page,
edits and deletes behind a confirmation, a check-in for a past day, plain-sentence errors, a missing
interview. The user lives in Berlin and the browser in New York, so a time read or written in the
browser's zone would show. Each state is shot at 1280 and 390 px wide.

The exercise step is the one the page cannot do: it needs heart-rate data, uploaded through the API by a
registered strap (as `chinup record` would) before the plan is read.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import SCREENSHOTS, Dash, api, open_dash
from tests.support.server import LiveServer
from tests.support.settle import wait_for_analysis
from tests.support.users import TestUser, register_device, sign_up

pytestmark = pytest.mark.e2e

TZ = "Europe/Berlin"
BROWSER_TZ = "America/New_York"
WIDTHS = {"1280": {"width": 1280, "height": 900}, "390": {"width": 390, "height": 844}}
API_WORDING = re.compile(r"body\.|Value error|String should|Input should")


@pytest.fixture(params=list(WIDTHS))
def tab(
    request: pytest.FixtureRequest, browser: Browser, live_server: LiveServer
) -> Iterator[tuple[str, TestUser, Dash]]:
    """A fresh user in Berlin, signed in on a tab of one width whose browser is in New York."""
    with httpx.Client(base_url=live_server.url, timeout=10) as client:
        user = sign_up(client, timezone=TZ, resting_hr=60, max_hr=190)
    width = request.param
    opened = open_dash(browser, live_server, viewport=WIDTHS[width], token=user.token, timezone_id=BROWSER_TZ)
    yield width, user, opened
    opened.page.context.close()


def _wall(when: dt.datetime) -> str:
    """A datetime-local value on the user's (Berlin) clock."""
    return when.astimezone(ZoneInfo(TZ)).strftime("%Y-%m-%dT%H:%M")


def _clock(when: dt.datetime) -> re.Pattern[str]:
    """The hour and minute of `when` in Berlin as the page writes it (24 h or 12 h, whatever the locale)."""
    local = when.astimezone(ZoneInfo(TZ))
    twelve = local.hour % 12 or 12
    return re.compile(rf"(0?{local.hour}|{twelve}):{local.minute:02d}")


def _exercise_after(server: LiveServer, user: TestUser, start: dt.datetime) -> None:
    """Six minutes of vigorous heart rate from a strap, with a daily target of 3 minutes (through the API)."""
    api(server, user, "PATCH", "/me", json={"daily_target_minutes": 3})
    with httpx.Client(base_url=server.url, timeout=30) as client:
        device = register_device(client, user, name="Chest strap")
        start_ms = int(start.timestamp() * 1000)
        samples = [{"t": start_ms + i * 1000, "bpm": 150 + i % 7 - 3, "contact": True} for i in range(6 * 60)]
        answer = client.post(f"/api/v1/devices/{device['id']}/samples", json={"samples": samples},
                             headers={"Authorization": f"Bearer {device['upload_token']}"})  # fmt: skip
        assert answer.status_code == 200, answer.text
        wait_for_analysis(client)


def _step(page: Page, step: str) -> Any:
    return expect(page.locator(f'#plan .plan-step[data-step="{step}"]'))


def _log_interview(page: Page, when: dt.datetime) -> None:
    page.get_by_label("Company").fill("Initech")
    page.get_by_label("Role").fill("Product analyst")
    page.get_by_label("When").fill(_wall(when))
    page.get_by_label("How it went").select_option("went badly")
    page.get_by_role("button", name="Save interview").click()
    expect(page).to_have_url(re.compile(r"/dashboard/interviews/\d+$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Product analyst at Initech")


def _confirm(page: Page, answer: str) -> None:
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name=answer).click()
    expect(dialog).to_be_hidden()


def test_an_interview_and_all_seven_steps_from_the_page(
    tab: tuple[str, TestUser, Dash], live_server: LiveServer
) -> None:
    width, user, dash = tab
    page = dash.page
    at = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0) - dt.timedelta(hours=2)
    dash.goto("/interviews")
    _log_interview(page, at)
    page.locator("body[data-ready=true]").wait_for(state="attached")
    expect(page.locator("#interview-summary")).to_contain_text(_clock(at))
    expect(page.locator("#plan-progress")).to_have_text("0 of 7 steps done.")
    dash.no_sideways_scroll()
    dash.shot(f"journal-plan-start-{width}")

    # Reflect, learn, move on: the lessons each with their own "next time".
    page.get_by_label("What went well").fill("Warm intro\nGood questions for them")
    page.get_by_label("What did not go so well").fill("Blanked on the metrics case")
    page.get_by_label("Lesson 1", exact=True).fill("I rushed into the case without structure")
    page.get_by_label("Next time, for lesson 1").fill("Take thirty seconds to outline before answering")
    page.get_by_role("button", name="Add another lesson").click()
    expect(page.get_by_label("Lesson 2", exact=True)).to_be_focused()
    page.get_by_label("Lesson 2", exact=True).fill("I did not ask what success looks like")
    page.get_by_label("Next time, for lesson 2").fill("Ask how they measure the role in the first 90 days")
    page.get_by_label("I have let this one go").check()
    page.get_by_role("button", name="Save reflection").click()
    expect(page.locator("#reflection-status")).to_have_text(re.compile("Reflection saved"))
    for step in ("reflect", "learn", "move_on"):
        _step(page, step).to_have_class(re.compile(r"\bdone\b"))
    dash.shot(f"journal-reflection-{width}")

    # Feedback: asked first (half the step), the reply added by editing it.
    feedback = page.locator("#feedback-form")
    feedback.get_by_role("button", name="Save feedback").click()
    expect(page.locator("#feedback-list .record")).to_have_count(1)
    expect(page.locator("#feedback-list")).to_contain_text("Asked, waiting")
    _step(page, "get_feedback").not_to_have_class(re.compile(r"\bdone\b"))
    page.locator("#feedback-list").get_by_role("button", name=re.compile("^Edit ")).click()
    expect(feedback.get_by_role("button", name="Save changes")).to_be_visible()
    feedback.get_by_label("Received it").fill(_wall(dt.datetime.now(dt.UTC)))
    feedback.get_by_label("What they said").fill("Strong on people, wanted more structure in the case.")
    feedback.get_by_role("button", name="Save changes").click()
    expect(page.locator("#feedback-list")).to_contain_text("Received")
    expect(page.locator("#feedback-list")).to_contain_text("wanted more structure")
    _step(page, "get_feedback").to_have_class(re.compile(r"\bdone\b"))

    # Practise: questions one a line, the rating set by keyboard.
    practice = page.locator("#practice-form")
    practice.get_by_label("Questions you answered").fill(
        "Walk me through a metric you moved\nTell me about a conflict"
    )
    practice.get_by_label("How it went").focus()
    for _ in range(2):
        page.keyboard.press("ArrowRight")
    expect(page.locator("#practice-rating-out")).to_have_text("7")
    practice.get_by_role("button", name="Save practice session").click()
    expect(page.locator("#practice-list")).to_contain_text("rated 7 of 10")
    _step(page, "practise").to_have_class(re.compile(r"\bdone\b"))

    # Keep applying, and the status changed later.
    applications = page.locator("#application-form")
    applications.get_by_label("Company").fill("Hooli")
    applications.get_by_label("Role").fill("Data analyst")
    applications.get_by_label("Status").fill("Applied")
    applications.get_by_role("button", name="Save application").click()
    expect(page.locator("#application-list")).to_contain_text("Data analyst at Hooli")
    _step(page, "dont_stop").to_have_class(re.compile(r"\bdone\b"))
    page.locator("#application-list").get_by_role("button", name=re.compile("^Edit ")).click()
    applications.get_by_label("Status").fill("Interview booked")
    applications.get_by_role("button", name="Save changes").click()
    expect(page.locator("#application-list .tag")).to_have_text("Interview booked")
    expect(page.locator("#plan-progress")).to_have_text("6 of 7 steps done.")

    # Exercise: heart-rate data after the interview, uploaded through the API.
    _exercise_after(live_server, user, at + dt.timedelta(minutes=30))
    page.reload()
    page.locator("body[data-ready=true]").wait_for(state="attached")
    expect(page.locator("#plan-progress")).to_have_text("7 of 7 steps done.")
    expect(page.get_by_label("Next time, for lesson 2")).to_have_value(
        "Ask how they measure the role in the first 90 days"
    )
    expect(page.locator("body")).not_to_contain_text("→")
    dash.no_sideways_scroll()
    dash.shot(f"journal-plan-done-{width}")

    # Delete the feedback: asked first, kept on "Keep it", gone on "Yes, delete".
    delete = page.locator("#feedback-list").get_by_role("button", name=re.compile("^Delete "))
    delete.click()
    expect(page.get_by_role("dialog")).to_be_visible()
    page.screenshot(
        path=str(SCREENSHOTS / f"journal-confirm-delete-{width}.png")
    )  # the viewport, where it sits
    _confirm(page, "Keep it")
    expect(delete).to_be_focused()
    expect(page.locator("#feedback-list .record")).to_have_count(1)
    delete.click()
    _confirm(page, "Yes, delete")
    expect(page.locator("#feedback-list")).to_contain_text("No feedback logged yet")
    expect(page.locator("#plan-progress")).to_have_text("6 of 7 steps done.")

    # The practice and the application are in the journal too.
    dash.goto("/journal")
    expect(page.locator("#practice-list")).to_contain_text("Tell me about a conflict")
    expect(page.locator("#application-list")).to_contain_text("Interview booked")
    dash.no_sideways_scroll()
    dash.shot(f"journal-page-{width}")


def test_edit_and_delete_interviews_with_confirmation(
    tab: tuple[str, TestUser, Dash], live_server: LiveServer
) -> None:
    width, user, dash = tab
    page = dash.page
    at = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0) - dt.timedelta(days=3)
    for company in ("Globex", "Umbrella"):
        api(
            live_server,
            user,
            "POST",
            "/interviews",
            json={"company": company, "role": "Analyst", "at": at.isoformat()},
        )
    dash.goto("/interviews")
    timeline = page.locator("#timeline")
    expect(timeline.locator(".record")).to_have_count(2)
    timeline.get_by_role("button", name="Edit the interview for Analyst at Globex").click()
    expect(page.get_by_role("heading", name="Edit the interview")).to_be_visible()
    expect(page.get_by_label("When")).to_have_value(_wall(at))
    page.get_by_label("Role").fill("Senior analyst")
    page.get_by_label("Stage").fill("second round")
    page.get_by_role("button", name="Save changes").click()
    expect(timeline).to_contain_text("Senior analyst at Globex")
    expect(timeline).to_contain_text("second round")
    timeline.get_by_role("button", name="Delete the interview for Analyst at Umbrella").click()
    _confirm(page, "Yes, delete")
    expect(timeline.locator(".record")).to_have_count(1)
    dash.no_sideways_scroll()
    dash.shot(f"journal-interviews-{width}")

    # On its own page: edit the details, then delete it, asked first.
    timeline.get_by_role("link", name="Senior analyst at Globex").click()
    page.locator("body[data-ready=true]").wait_for(state="attached")
    page.get_by_role("button", name="Edit details").click()
    page.locator("#interview-edit-form").get_by_label("Company").fill("Globex Corp")
    page.locator("#interview-edit-form").get_by_role("button", name="Save changes").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Senior analyst at Globex Corp")
    page.get_by_role("button", name="Delete interview").click()
    expect(page.get_by_role("dialog")).to_contain_text("Senior analyst at Globex Corp")
    _confirm(page, "Yes, delete")
    expect(page).to_have_url(re.compile(r"/dashboard/interviews\?deleted=1$"))
    expect(page.locator("#notice")).to_have_text("The interview was deleted.")
    expect(page.locator("#timeline")).to_contain_text("No interviews logged")
    dash.log.assert_clean()


def test_a_check_in_for_a_past_day_and_its_history(tab: tuple[str, TestUser, Dash]) -> None:
    width, _, dash = tab
    page = dash.page
    when = (dt.datetime.now(ZoneInfo(TZ)) - dt.timedelta(days=3)).replace(hour=21, minute=15)
    dash.goto("/mood")
    expect(page.locator("#checkin-list")).to_contain_text("No check-ins in these weeks")
    form = page.locator("#checkin-form")
    form.get_by_label("When").fill(_wall(when))
    form.get_by_label("Confidence").focus()
    page.keyboard.press("End")
    page.keyboard.press("ArrowLeft")
    form.get_by_label("Rate my mood too").uncheck()
    form.get_by_label("A note for yourself").fill("Long walk, felt steadier")
    form.get_by_role("button", name="Save check-in").click()
    history = page.locator("#checkin-list")
    expect(history.locator(".record")).to_have_count(1)
    expect(history).to_contain_text("confidence 9")
    expect(history).not_to_contain_text("mood")
    expect(history.locator("time")).to_contain_text(_clock(when))
    day = when.date().isoformat()
    expect(page.locator(f'#daily-table tr[data-date="{day}"]')).to_contain_text("9")

    history.get_by_role("button", name=re.compile("^Edit ")).click()
    form.get_by_label("Rate my mood too").check()
    form.get_by_label("A note for yourself").fill("Long walk, felt steadier, slept well")
    form.get_by_role("button", name="Save changes").click()
    expect(history).to_contain_text("confidence 9 · mood 5")
    expect(history).to_contain_text("slept well")
    dash.no_sideways_scroll()
    dash.shot(f"journal-checkins-{width}")

    history.get_by_role("button", name=re.compile("^Delete ")).click()
    _confirm(page, "Yes, delete")
    expect(history).to_contain_text("No check-ins in these weeks")
    expect(page.locator(f'#daily-table tr[data-date="{day}"]')).to_have_count(0)
    dash.log.assert_clean()


def test_errors_are_plain_sentences_next_to_the_field(tab: tuple[str, TestUser, Dash]) -> None:
    width, _, dash = tab
    page = dash.page
    dash.goto("/journal")
    # Checked in the page: a practice session still to come, an application without a company.
    practice = page.locator("#practice-form")
    practice.get_by_label("When").fill(_wall(dt.datetime.now(dt.UTC) + dt.timedelta(days=1)))
    practice.get_by_role("button", name="Save practice session").click()
    expect(practice.locator("#practice-at-problem")).to_have_text(re.compile("still to come"))
    expect(practice.get_by_label("When")).to_have_attribute("aria-invalid", "true")
    expect(practice.locator("#practice-questions-problem")).to_contain_text("at least one question")
    applications = page.locator("#application-form")
    applications.get_by_role("button", name="Save application").click()
    expect(applications.locator("#application-company-problem")).to_have_text(
        "Please give the company you applied to."
    )
    expect(applications.get_by_label("Company")).to_be_focused()
    # Refused by the server (a status longer than the field allows): its 422 becomes a sentence too.
    applications.get_by_label("Company").fill("Hooli")
    applications.get_by_label("Role").fill("Analyst")
    page.eval_on_selector("#application-state", "(n) => { n.value = 'x'.repeat(101); }")
    applications.get_by_role("button", name="Save application").click()
    expect(applications.locator("#application-state-problem")).to_have_text(
        "The status can be up to 100 characters."
    )
    expect(page.locator("main")).not_to_contain_text(API_WORDING)
    dash.no_sideways_scroll()
    dash.shot(f"journal-errors-{width}")


def test_a_missing_interview_is_a_not_found_page(tab: tuple[str, TestUser, Dash]) -> None:
    width, _, dash = tab
    page = dash.page
    dash.goto("/interviews/999999")
    expect(page.get_by_role("heading", level=1)).to_have_text("Interview not found")
    expect(page.locator("main")).not_to_contain_text("Loading")
    expect(page.locator("main form, main input, main textarea, main button")).to_have_count(0)
    expect(page.get_by_role("link", name="See your interviews")).to_be_visible()
    dash.shot(f"journal-not-found-{width}")
    answer = page.goto(dash.url("/interviews/99999999999"))
    assert answer is not None and answer.status == 404
