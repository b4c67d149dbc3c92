"""The Journal page still shows every practice session when the list takes more than one page (issue 15):
the page follows the API's Link rel="next" (apiAll in dashboards/static/js/api.js)."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest
from playwright.sync_api import expect

from service.web.pages import DEFAULT_LIMIT
from tests.e2e.conftest import Dash
from tests.support.server import LiveServer
from tests.support.users import TestUser

pytestmark = pytest.mark.e2e


def test_the_journal_shows_more_than_one_page_of_practice(
    signed_in: Dash, live_server: LiveServer, user: TestUser
) -> None:
    count = DEFAULT_LIMIT + 5
    start = dt.datetime(2024, 3, 1, tzinfo=dt.UTC)
    with httpx.Client(base_url=live_server.url, headers=user.headers, timeout=30) as client:
        for i in range(count):
            body = {
                "at": (start + dt.timedelta(hours=i)).isoformat(),
                "questions": ["Why us?"],
                "self_rating": 5,
            }
            assert client.post("/api/v1/practice", json=body).status_code == 201
        assert "next" in client.get("/api/v1/practice").links  # more than one page indeed
    signed_in.goto("/journal")
    expect(signed_in.page.locator("#practice-list > li.record")).to_have_count(count)
    signed_in.log.assert_clean()
