"""An account exported from the Profile page and restored into a fresh account, both in the browser: the new
account holds the same heart rate, check-ins and journal, and its days count the same minutes."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.e2e.conftest import DESKTOP, PHONE, open_dash
from tests.e2e.test_import_page import ANALYSIS_MS, TZ, _api_import, _export, _other_user, _report_numbers
from tests.support.server import LiveServer
from tests.support.settle import wait_for_analysis
from tests.support.users import TestUser

pytestmark = pytest.mark.e2e

RIDE = "fitparse_edge800_indoor_trainer.fit"  # 2,263 heart-rate records


def _get(server: LiveServer, user: TestUser, path: str) -> object:
    answer = httpx.get(f"{server.url}/api/v1{path}", headers=user.headers, timeout=30)
    answer.raise_for_status()
    return answer.json()


def test_an_export_restores_into_a_fresh_account(
    browser: Browser, live_server: LiveServer, shared_data: Path, tmp_path: Path
) -> None:
    old = _other_user(live_server)
    assert _api_import(live_server, old, RIDE, (shared_data / RIDE).read_bytes()).status_code == 200
    for path, body in (
        ("/checkins", {"confidence": 4, "mood": 5, "note": "shaky after the panel"}),
        ("/interviews", {"company": "Acme", "role": "Data engineer", "at": "2026-11-30T10:00:00Z"}),
    ):
        httpx.post(
            f"{live_server.url}/api/v1{path}", json=body, headers=old.headers, timeout=10
        ).raise_for_status()
    with httpx.Client(base_url=live_server.url, timeout=10) as client:
        wait_for_analysis(client)
    sessions_before = _get(live_server, old, "/sessions?from=2000-01-01T00:00:00Z")

    exporting = open_dash(browser, live_server, viewport=DESKTOP, token=old.token, timezone_id=TZ)
    try:
        exporting.goto("/profile")
        name, content = _export(exporting.page)
    finally:
        exporting.page.context.close()
    archive = tmp_path / name
    archive.write_bytes(content)

    new = _other_user(live_server)
    for viewport, width in ((PHONE, "390"), (DESKTOP, "1280")):
        tab = open_dash(browser, live_server, viewport=viewport, token=new.token, timezone_id=TZ)
        try:
            tab.goto("/profile")
            page = tab.page
            page.get_by_label("Chin Up export").set_input_files(archive)
            page.get_by_role("button", name="Restore…").click()
            page.get_by_role("button", name="Yes, restore").click()
            report = page.locator("#restore-report")
            expect(report.locator('[data-part="restored"]')).to_contain_text("Restored from the export")
            numbers = _report_numbers(page, "#restore-report")
            if width == "390":  # the first restore stores the ride; the second finds it all there
                assert numbers["stored"] == 2263 and numbers["duplicates"] == 0, numbers
                expect(report.locator('[data-part="sessions"] a')).to_have_count(1, timeout=ANALYSIS_MS)
            else:
                assert numbers["stored"] == 0 and numbers["duplicates"] == 2263, numbers
            tab.no_sideways_scroll()
            tab.shot(f"restore-fresh-account-{width}")
        finally:
            tab.page.context.close()

    with httpx.Client(base_url=live_server.url, timeout=10) as client:
        wait_for_analysis(client)
    checkins = _get(live_server, new, "/checkins")
    assert [(c["confidence"], c["mood"], c["note"]) for c in checkins] == [(4, 5, "shaky after the panel")]
    interviews = _get(live_server, new, "/interviews")
    assert [(i["company"], i["role"], i["at"][:16]) for i in interviews] == [
        ("Acme", "Data engineer", "2026-11-30T10:00")
    ]
    sessions_after = _get(live_server, new, "/sessions?from=2000-01-01T00:00:00Z")
    keys = ("start", "end", "heartbeat_up_minutes", "avg_bpm", "max_bpm")
    assert [{k: s[k] for k in keys} for s in sessions_after] == [
        {k: s[k] for k in keys} for s in sessions_before
    ]
