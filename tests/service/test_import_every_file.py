"""Every file of ../shared/data through the running service, against an independent reading of it.

Each file is posted to POST /api/v1/imports of a real uvicorn server (production settings: analysis
debounced in the background) on SQLite and PostgreSQL, as it is, gzipped, and all together in one zip. What
is stored must equal what a reader that shares no code with the importers finds in the file: fitdecode
for FIT, ElementTree for TCX and GPX, the csv module for CSV, plain splitting for RR text and Polar HRM.
Once the service says its analysis is done, the day totals must equal a scratch recomputation. Files that
are no recording (the README, a numpy archive) and the FIT file with a corrupt chained header must be
refused with a 4xx that says why, never a 5xx.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET
from zoneinfo import ZoneInfo

import fitdecode
import httpx
import pytest

from tests.conftest import SHARED_DATA
from tests.service.test_batching import from_scratch, what_the_user_sees
from tests.service.test_importers_support import build_gpx, build_tcx, zip_bytes
from tests.support.server import LiveServer
from tests.support.users import TestUser, sign_up

RR_START = "2026-03-01T06:30:00+00:00"
PROFILE = {"timezone": "Europe/London", "resting_hr": 55, "max_hr": 185}
FILES = sorted(p.name for p in SHARED_DATA.iterdir()) if SHARED_DATA.is_dir() else []
REFUSED = {  # file -> (status, words the reason must hold)
    "README.md": (415, "text whose first line"),
    "synthetic_24h_rr.npz": (415, "no file in the zip"),
    "fitparse_settings_corrupt_header.fit": (422, "chained FIT header at byte 771"),
}
Pairs = list[tuple[int, int]]


def first_of_each_time(pairs: Pairs) -> Pairs:
    """What ingest keeps of samples with repeated times: the first of each, in time order."""
    seen: dict[int, int] = {}
    for t, bpm in pairs:
        seen.setdefault(t, bpm)
    return sorted(seen.items())


def fit_reading(data: bytes) -> Pairs:
    """fitdecode's reading (tolerant, checksum off): every record message with a time and a heart rate."""
    out = []
    with fitdecode.FitReader(
        io.BytesIO(data), check_crc=fitdecode.CrcCheck.DISABLED, error_handling=fitdecode.ErrorHandling.WARN
    ) as reader:
        for frame in reader:
            if frame.frame_type == fitdecode.FIT_FRAME_DATA and frame.name == "record":
                t = frame.get_value("timestamp", fallback=None)
                bpm = frame.get_value("heart_rate", fallback=None)
                if t is not None and bpm is not None:
                    out.append((round(t.timestamp() * 1000), int(bpm)))
    return out


def xml_reading(data: bytes, point: str, time_tag: str, hr_tag: str) -> Pairs:
    """ElementTree over a whole TCX or GPX: each point's time (UTC when it has no offset) and heart rate."""
    out = []
    for elem in ET.fromstring(data).iter():
        if elem.tag.rsplit("}", 1)[-1] != point:
            continue
        texts = {e.tag.rsplit("}", 1)[-1]: (e.text or "").strip() for e in elem.iter()}
        if texts.get(time_tag) and texts.get(hr_tag):
            when = dt.datetime.fromisoformat(texts[time_tag])
            when = when if when.tzinfo else when.replace(tzinfo=dt.UTC)
            out.append((round(when.timestamp() * 1000), int(texts[hr_tag])))
    return out


def csv_reading(data: bytes) -> Pairs:
    rows = csv.DictReader(io.StringIO(data.decode()))
    return [
        (round(dt.datetime.fromisoformat(r["timestamp_utc"].replace("Z", "+00:00")).timestamp() * 1000),
         int(r["heart_rate_bpm"]))
        for r in rows if r["heart_rate_bpm"]
    ]  # fmt: skip


def rr_reading(values: list[float], start_ms: int) -> Pairs:
    out, t = [], float(start_ms)
    for rr in values:
        t += rr
        out.append((round(t), round(60_000 / rr)))
    return out


def hrm_reading(text: str) -> Pairs:
    """Polar HRM: [Params] Date and StartTime (read as UTC), [HRData] one RR interval in ms a line."""
    params = dict(line.strip().split("=", 1) for line in text.split("[Note]")[0].splitlines() if "=" in line)
    start = dt.datetime.strptime(params["Date"] + params["StartTime"].split(".")[0], "%Y%m%d%H:%M:%S")
    values = [float(v) for v in text.split("[HRData]", 1)[1].split()]
    return rr_reading(values, round(start.replace(tzinfo=dt.UTC).timestamp() * 1000))


def independent_reading(name: str, data: bytes) -> Pairs:
    """What a file holds, as the ingest contract keeps it: bpm 25-240, or 0 (no contact, stored and flagged)."""
    return [(t, bpm) for t, bpm in _reading(name, data) if bpm == 0 or 25 <= bpm <= 240]


def _reading(name: str, data: bytes) -> Pairs:
    if name.endswith(".fit"):
        return fit_reading(data)
    if name.endswith(".tcx"):
        return xml_reading(data, "Trackpoint", "Time", "Value")
    if name.endswith(".gpx"):
        return xml_reading(data, "trkpt", "time", "hr")
    if name.endswith(".csv"):
        return csv_reading(data)
    if name.endswith(".hrm"):
        return hrm_reading(data.decode("latin-1"))
    start_ms = round(dt.datetime.fromisoformat(RR_START).timestamp() * 1000)
    return rr_reading([float(v) for v in data.split()], start_ms)


def post(http: httpx.Client, user: TestUser, name: str, data: bytes) -> httpx.Response:
    form = {"start": RR_START} if name.endswith((".txt", ".txt.gz")) else {}
    return http.post("/api/v1/imports", files={"file": (name, data)}, data=form, headers=user.headers)


def stored(http: httpx.Client, user: TestUser, device_ids: list[int]) -> Pairs:
    out: Pairs = []
    for device_id in device_ids:
        rows = http.get(f"/api/v1/devices/{device_id}/samples", headers=user.headers).json()
        out += [(s["t_ms"], s["bpm"]) for s in rows]
    return sorted(out)


def check_report(body: dict[str, Any], expected: Pairs) -> None:
    """The report's counts and span agree with the independent reading."""
    assert body["stored"] == body["accepted"] == len(expected), body
    assert body["read"] == body["accepted"] + body["duplicates"] + body["rejected"]
    assert body["rejected"] == sum(body["rejected_by_reason"].values())
    first = dt.datetime.fromisoformat(body["first"]).timestamp() * 1000
    last = dt.datetime.fromisoformat(body["last"]).timestamp() * 1000
    assert (round(first), round(last)) == (expected[0][0], expected[-1][0])
    assert body["days"] and body["truncated_at"] is None and body["skipped"] == []


def derived_xml(shared_data: Path) -> dict[str, bytes]:
    """TCX and GPX of a real run (its samples as fitdecode reads them), one with times that have no offset."""
    run = first_of_each_time(
        fit_reading((shared_data / "fitparse_fr110_run_smart_recording.fit").read_bytes())
    )
    no_offset = build_gpx(run).replace(b"Z</", b"</")  # GPX 1.1: a time without an offset is UTC
    return {
        "fr110_run.tcx": build_tcx(run),
        "fr110_run.gpx": build_gpx(run),
        "fr110_no_offset.gpx": no_offset,
    }


def the_files(shared_data: Path, name: str) -> tuple[str, bytes]:
    if name in ("fr110_run.tcx", "fr110_run.gpx", "fr110_no_offset.gpx"):
        return name, derived_xml(shared_data)[name]
    return name, (shared_data / name).read_bytes()


@pytest.mark.parametrize("name", [*FILES, "fr110_run.tcx", "fr110_run.gpx", "fr110_no_offset.gpx"])
def test_each_file_imports_as_an_independent_reading_finds_it_and_its_days_match_a_recomputation(
    server: LiveServer, http: httpx.Client, shared_data: Path, name: str
) -> None:
    name, data = the_files(shared_data, name)
    user = sign_up(http, **PROFILE)
    answer = post(http, user, name, data)
    if name in REFUSED:
        status, words = REFUSED[name]
        assert answer.status_code == status and words in answer.json()["detail"], answer.text
        assert http.get("/api/v1/devices", headers=user.headers).json() == []
        return
    assert answer.status_code == 200, answer.text
    body = answer.json()
    expected = first_of_each_time(independent_reading(name, data))
    assert stored(http, user, body["device_ids"]) == expected
    check_report(body, expected)
    items = [{"t": t} for t, _ in expected]
    seen = what_the_user_sees(http, user, items)
    assert seen == from_scratch(server, http, user, items)
    london = ZoneInfo(PROFILE["timezone"])
    assert body["days"] == sorted(
        {dt.datetime.fromtimestamp(t / 1000, london).date().isoformat() for t, _ in expected}
    )


@pytest.mark.parametrize("name", [n for n in FILES if n not in REFUSED])
def test_each_file_gzipped_imports_the_same(http: httpx.Client, shared_data: Path, name: str) -> None:
    data = (shared_data / name).read_bytes()
    user = sign_up(http, **PROFILE)
    answer = post(http, user, f"{name}.gz", gzip.compress(data))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    expected = first_of_each_time(independent_reading(name, data))
    assert body["unwrapped"] == ["gzip"] and stored(http, user, body["device_ids"]) == expected
    check_report(body, expected)


def test_a_zip_of_every_file_imports_each_and_reports_each(http: httpx.Client, shared_data: Path) -> None:
    """RR text needs a start, so the zip's RR file is left out; the rest (refusals included) go in one zip."""
    members = {n: (shared_data / n).read_bytes() for n in FILES if not n.endswith(".txt")}
    members |= derived_xml(shared_data)
    members["strava/ride.fit.gz"] = gzip.compress(members["fitparse_fenix2_run.fit"])
    user = sign_up(http, **PROFILE)
    answer = post(http, user, "export.zip", zip_bytes(members))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    reports = {f["file"].removeprefix("export.zip/"): f for f in body["files"]}
    assert set(reports) == set(members)
    for member, data in members.items():
        report = reports[member]
        if member in REFUSED:
            assert report["refused"] and report["accepted"] == 0, report
            continue
        assert report["refused"] is None, report
        plain = gzip.decompress(data) if member.endswith(".gz") else data
        reading = independent_reading(member.removesuffix(".gz"), plain)
        # every sample stored or found stored already; a repeated time in the file counts as a duplicate
        assert len(first_of_each_time(reading)) <= report["accepted"] + report["duplicates"] <= len(reading)
    assert body["accepted"] == sum(f["accepted"] for f in body["files"])
    assert reports["strava/ride.fit.gz"]["accepted"] == 0  # the same run as fitparse_fenix2_run.fit
    assert reports["strava/ride.fit.gz"]["duplicates"] > 2000
