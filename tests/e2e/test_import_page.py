"""Import, export and restore in the browser (issue 13): real files of ../shared/data through the pages.

The user lives in Berlin and the browser in New York, so a time written in the browser's zone instead of
the user's would show. Every number the page reports is checked against the API's answer for the same
file, imported by a second user. Each state is shot at 1280 and 390 px wide.
"""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from service.api.export import TCX_NS
from tests.e2e.conftest import SCREENSHOTS, Dash, open_dash
from tests.support.server import LiveServer
from tests.support.settle import wait_for_analysis
from tests.support.users import TestUser, sign_up

pytestmark = pytest.mark.e2e

TZ = "Europe/Berlin"
BROWSER_TZ = "America/New_York"
WIDTHS = {"1280": {"width": 1280, "height": 900}, "390": {"width": 390, "height": 844}}
RUN = "fitparse_fenix2_run.fit"  # 2015-08-15 14:45:08Z - 15:32:21Z, one run
ANALYSIS_MS = 90_000  # the page polls the days until the background analysis has counted them
FACTS = ("read", "stored", "duplicates", "rejected", "rr_dropped")


def _other_user(server: LiveServer) -> TestUser:
    with httpx.Client(base_url=server.url, timeout=10) as client:
        return sign_up(client, timezone=TZ, resting_hr=60, max_hr=190)


def _api_import(server: LiveServer, user: TestUser, name: str, content: bytes) -> httpx.Response:
    return httpx.post(f"{server.url}/api/v1/imports", files={"file": (name, content)}, headers=user.headers,
                      timeout=60)  # fmt: skip


def _number(text: str) -> int:
    return int(re.sub(r"\D", "", text))


@pytest.fixture
def tabs(browser: Browser, live_server: LiveServer) -> Iterator[tuple[TestUser, dict[str, Dash]]]:
    """A user in Berlin, signed in on a desktop and a phone tab whose browser is in New York."""
    user = _other_user(live_server)
    opened = {
        w: open_dash(browser, live_server, viewport=size, token=user.token, timezone_id=BROWSER_TZ)
        for w, size in WIDTHS.items()
    }
    yield user, opened
    for tab in opened.values():
        tab.page.context.close()


def _import_through_page(tab: Dash, path: Path, *, keyboard: bool = False) -> None:
    tab.goto("/devices")
    tab.page.get_by_label("Recording file").set_input_files(path)
    expect(tab.page.locator("#import-chosen")).to_contain_text(path.name)
    button = tab.page.get_by_role("button", name="Import", exact=True)
    if keyboard:  # the file input, then Tab past the options to the button, then Enter
        tab.page.get_by_label("Recording file").focus()
        tab.page.keyboard.press("Tab")
        tab.page.keyboard.press("Tab")
        expect(button).to_be_focused()
        tab.page.keyboard.press("Enter")
    else:
        button.click()


def _report_numbers(page: Page, box: str = "#import-report") -> dict[str, int]:
    report = page.locator(box)
    return {k: _number(report.locator(f'[data-fact="{k.replace("_", "-")}"]').inner_text()) for k in FACTS}


def _shoot(tab: Dash, name: str, width: str) -> None:
    tab.no_sideways_scroll()
    tab.shot(f"{name}-{width}")


def test_import_report_equals_the_api_and_links_to_the_session(
    tabs: tuple[TestUser, dict[str, Dash]], live_server: LiveServer, shared_data: Path
) -> None:
    _, tab_of = tabs
    tab, page = tab_of["1280"], tab_of["1280"].page
    _import_through_page(tab, shared_data / RUN)
    report = page.locator("#import-report")
    expect(report.locator('[data-part="summary"]')).to_contain_text("new samples stored")
    # the upload's progress events ran to the end
    expect(page.locator("#import-progress")).to_have_js_property("value", 100)

    reference = _api_import(live_server, _other_user(live_server), RUN, (shared_data / RUN).read_bytes())
    assert reference.status_code == 200, reference.text
    expected = reference.json()
    assert _report_numbers(page) == {k: expected[k] for k in FACTS}
    assert _number(report.locator('[data-fact="skipped"]').inner_text()) == len(expected["skipped"])
    expect(report.locator('[data-fact="format"]')).to_have_text("FIT")
    # 14:45:08Z and 15:32:21Z are 16:45 and 17:32 in Berlin (10:45 and 11:32 in the browser's New York)
    span = report.locator('[data-part="span"]')
    expect(span).to_contain_text(re.compile(r"(16:45|04:45\sPM) – (17:32|05:32\sPM)"))
    expect(span).to_contain_text(TZ)
    day_links = report.locator('[data-part="days"] a')
    expect(day_links).to_have_count(len(expected["days"]))
    assert [a.get_attribute("href") for a in day_links.all()] == [
        f"/dashboard/sessions?day={d}" for d in expected["days"]
    ]

    session_links = report.locator('[data-part="sessions"] a')
    expect(session_links.first).to_be_visible(timeout=ANALYSIS_MS)
    with httpx.Client(timeout=10) as client:
        wait_for_analysis(client, live_server.url)
    first, last = expected["first"], expected["last"]
    listed = httpx.get(f"{live_server.url}/api/v1/sessions", params={"from": first, "to": last},
                       headers=tabs[0].headers, timeout=10).json()  # fmt: skip
    assert len(listed) >= 1
    expect(session_links).to_have_count(len(listed))
    _shoot(tab, "import-report", "1280")

    session_links.first.click()
    page.wait_for_url(re.compile(r"/dashboard/sessions/\d+$"))
    page.locator("body[data-ready=true]").wait_for(state="attached")
    assert page.url.endswith(f"/dashboard/sessions/{listed[0]['id']}")
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Download as TCX").click()
    tcx = ET.parse(download_info.value.path()).getroot()
    beats = tcx.findall(f".//{{{TCX_NS}}}Trackpoint")
    assert len(beats) > 1000, len(beats)  # a 47-minute run at about 1 s
    tab.log.assert_clean()


def test_a_zip_of_several_shows_each_member_and_the_day_page(
    tabs: tuple[TestUser, dict[str, Dash]], shared_data: Path, tmp_path: Path
) -> None:
    _, tab_of = tabs
    bundle = tmp_path / "rides.zip"
    with zipfile.ZipFile(bundle, "w") as zf:
        for name in ("fitparse_fr110_run_smart_recording.fit", "fitparse_settings_corrupt_header.fit"):
            zf.write(shared_data / name, name)
    tab, page = tab_of["390"], tab_of["390"].page
    _import_through_page(tab, bundle)
    members = page.locator('#import-report [data-part="members"] li')
    expect(members).to_have_count(2)
    expect(members.filter(has_text="fitparse_fr110")).to_contain_text("stored of")
    expect(members.filter(has_text="corrupt_header")).to_contain_text("not imported")
    expect(members.filter(has_text="corrupt_header")).to_contain_text("chained FIT header at byte 771")
    expect(page.locator('#import-report [data-part="sessions"] a').first).to_be_visible(timeout=ANALYSIS_MS)
    _shoot(tab, "import-zip", "390")

    page.locator('#import-report [data-part="days"] a').first.click()
    page.locator("body[data-ready=true]").wait_for(state="attached")
    expect(page.locator("#day-filter")).to_contain_text("2013")
    expect(page.locator("#session-list a")).to_have_count(1)
    tab.log.assert_clean()


@pytest.mark.parametrize("width", WIDTHS)
def test_a_file_that_cannot_be_read_shows_the_reason(
    tabs: tuple[TestUser, dict[str, Dash]],
    live_server: LiveServer,
    shared_data: Path,
    tmp_path: Path,
    width: str,
) -> None:
    user, tab_of = tabs
    tab, page = tab_of[width], tab_of[width].page
    cut = tmp_path / "cut.fit"
    cut.write_bytes((shared_data / RUN).read_bytes()[:11])  # inside the 14-byte header
    for path in (shared_data / "README.md", cut):
        answer = _api_import(live_server, _other_user(live_server), path.name, path.read_bytes())
        assert 400 <= answer.status_code < 500, answer.text
        _import_through_page(tab, path, keyboard=True)
        error = page.locator("#import-error")
        expect(error).to_have_text(answer.json()["detail"])
        expect(page.locator("#import-report")).to_be_hidden()
    _shoot(tab, "import-error", width)


def _export(page: Page) -> tuple[str, bytes]:
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Export all my data").click()
    download = download_info.value
    return download.suggested_filename, Path(download.path()).read_bytes()


def test_export_parses_and_restore_asks_first(
    tabs: tuple[TestUser, dict[str, Dash]], live_server: LiveServer, shared_data: Path, tmp_path: Path
) -> None:
    user, tab_of = tabs
    run = shared_data / "fitparse_edge800_indoor_trainer.fit"
    assert _api_import(live_server, user, run.name, run.read_bytes()).status_code == 200
    httpx.post(f"{live_server.url}/api/v1/checkins", json={"confidence": 6, "note": "steadier"},
               headers=user.headers, timeout=10).raise_for_status()  # fmt: skip
    for width, tab in tab_of.items():
        tab.goto("/profile")
        name, content = _export(tab.page)
        assert re.fullmatch(r"chinup-export-\d{8}\.zip", name), name
        with zipfile.ZipFile(io.BytesIO(content)) as zf:
            names = zf.namelist()
            assert "profile.json" in names and "checkins.json" in names
            samples = [n for n in names if n.endswith(".csv") and "samples" in n]
            rows = sum(len(zf.read(n).splitlines()) - 1 for n in samples)
        assert rows == 2263, names  # the Edge 800 ride's heart-rate records
        expect(tab.page.locator("#export-status")).to_contain_text(name)
        _shoot(tab, "export", width)

    page = tab_of["1280"].page
    archive = tmp_path / name
    archive.write_bytes(content)
    page.get_by_label("Chin Up export").set_input_files(archive)
    page.get_by_role("button", name="Restore…").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text(name)
    page.screenshot(
        path=str(SCREENSHOTS / "restore-confirm-1280.png")
    )  # the viewport: the backdrop covers it
    page.keyboard.press("Escape")  # the keyboard way out changes nothing
    expect(dialog).to_be_hidden()
    expect(page.locator("#restore-form [data-part=status]")).to_have_text("Nothing was changed.")
    expect(page.locator("#restore-report")).to_be_hidden()

    page.get_by_role("button", name="Restore…").click()
    page.get_by_role("button", name="Yes, restore").click()
    report = page.locator("#restore-report")
    expect(report.locator('[data-part="restored"]')).to_contain_text("Restored from the export")
    numbers = _report_numbers(page, "#restore-report")
    assert numbers["stored"] == 0 and numbers["duplicates"] == 2263, numbers  # the samples are there already
    expect(report.locator('[data-part="sessions"] a')).to_have_count(1, timeout=ANALYSIS_MS)
    _shoot(tab_of["1280"], "restore-report", "1280")

    tab_of["1280"].goto("/devices")  # an export dropped on the import card asks first too
    page.get_by_label("Recording file").set_input_files(archive)
    page.get_by_role("button", name="Import", exact=True).click()
    expect(page.get_by_role("dialog")).to_contain_text(name)
    page.get_by_role("button", name="Cancel").click()
    expect(page.locator("#import-form [data-part=status]")).to_have_text("Nothing was changed.")
    tab_of["1280"].log.assert_clean()


def test_rr_text_takes_its_start_time_from_the_options(
    tabs: tuple[TestUser, dict[str, Dash]], live_server: LiveServer, shared_data: Path
) -> None:
    """RR intervals carry no clock: refused with the reason, then imported from a start in the user's zone."""
    _, tab_of = tabs
    tab, page = tab_of["390"], tab_of["390"].page
    rr = shared_data / "hrv_supine_rest_rri.txt"
    _import_through_page(tab, rr)
    expect(page.locator("#import-error")).to_contain_text("start time")
    page.get_by_text("Options").click()
    page.get_by_label("Start time").fill(
        "2024-03-31T01:30:00"
    )  # Berlin, half an hour before the clocks go on
    page.get_by_role("button", name="Import", exact=True).click()
    report = page.locator("#import-report")
    expect(report.locator('[data-fact="stored"]')).not_to_have_text("0")
    reference = httpx.post(
        f"{live_server.url}/api/v1/imports",
        files={"file": (rr.name, rr.read_bytes())},
        data={"start": "2024-03-31T01:30:00+01:00"},
        headers=_other_user(live_server).headers,
        timeout=60,
    ).json()
    assert _report_numbers(page) == {k: reference[k] for k in FACTS}
    assert reference["first"].startswith("2024-03-31T00:30")  # 01:30 in Berlin, still winter time
    expect(report.locator('[data-part="span"]')).to_contain_text(re.compile(r"(01:30|01:30\sAM) – "))
    expect(page.locator("#import-error")).to_be_hidden()
    status = report.locator('[data-part="sessions-status"]')
    expect(status).to_contain_text("no workout", timeout=ANALYSIS_MS)  # lying still for 16 minutes
    _shoot(tab, "import-options", "390")
