"""`chinup import` on the client side: the file goes whole to POST /imports?background=true and the job is
followed to its end (`import_in_background`); or it is read here and uploaded in batches (`upload_file`).

A user's token registers (or finds) a device per source; a device's upload token stores everything on that
device, which is what a headless recorder holds. A 503, a 429 or a dropped connection is retried with
backoff (the batch uploads are idempotent, so a retry never doubles a sample).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import httpx

from service.core.security import DEVICE_TOKEN_PREFIX
from service.errors import ChinUpError
from service.importers.base import Item, Skipped, Source
from service.importers.detect import ImportFile, read_file
from service.importers.errors import ImportFailed
from service.importers.job import FileReport, import_opened
from service.importers.pipeline import BATCH_MAX, BatchResult, ImportCounts
from service.pipeline.ingest import parse_time_ms

TIMEOUT_S = 120.0
RETRY_STATUSES = frozenset({429, 502, 503, 504})
MAX_ATTEMPTS = 6
FIRST_DELAY_S = 0.5
MAX_DELAY_S = 30.0


class ServerRefused(Exception):
    """The server answered an upload with an error; `detail` is its reason."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"server answered {status}: {detail}")
        self.status, self.detail = status, detail


class ServerUnreachable(Exception):
    """The server could not be reached (or kept answering 503) through every retry."""


def retry_delay_s(attempt: int, retry_after_s: float | None = None) -> float | None:
    """Seconds to wait before attempt `attempt + 1` (attempt counts from 1), or None to give up.

    Exponential from FIRST_DELAY_S, capped at MAX_DELAY_S; a server's Retry-After wins when it is longer.
    """
    if attempt >= MAX_ATTEMPTS:
        return None
    delay = min(FIRST_DELAY_S * 2 ** (attempt - 1), MAX_DELAY_S)
    return max(delay, min(retry_after_s or 0.0, MAX_DELAY_S))


def _retry_after(answer: httpx.Response) -> float | None:
    try:
        return float(answer.headers.get("Retry-After", ""))
    except ValueError:
        return None


@dataclass
class Api:
    """The HTTP client with the retry policy; `sleep` is injected so tests do not wait."""

    client: httpx.Client
    sleep: Callable[[float], None] = time.sleep
    retries: int = 0

    def call(self, method: str, url: str, **kwargs: Any) -> Any:
        attempt = 0
        while True:
            attempt += 1
            try:
                answer = self.client.request(method, url, **kwargs)
            except httpx.TransportError as exc:
                delay, why = retry_delay_s(attempt), f"{type(exc).__name__}: {exc}"
            else:
                if answer.status_code not in RETRY_STATUSES:
                    return _json(answer)
                delay, why = retry_delay_s(attempt, _retry_after(answer)), f"answered {answer.status_code}"
            if delay is None:
                raise ServerUnreachable(f"{self.client.base_url} {why}, {attempt} attempts")
            self.retries += 1
            for value in kwargs.get("files", {}).values():  # a file re-sent from its start
                value[1].seek(0)
            self.sleep(delay)


def _json(answer: httpx.Response) -> Any:
    if answer.status_code >= 400:
        try:
            detail = answer.json().get("detail", answer.text)
        except ValueError:
            detail = answer.text
        raise ServerRefused(answer.status_code, str(detail))
    return answer.json()


def _times(items: list[Item], rejected: set[int]) -> list[int]:
    out = []
    for i, item in enumerate(items):
        if i not in rejected:
            try:
                out.append(parse_time_ms(item.get("t")))
            except ValueError:
                continue
    return out


class HttpSink:
    """Devices registered (or found by address) with POST /devices; batches to POST /devices/{id}/samples."""

    def __init__(self, api: Api, *, device_id: int | None = None, device_name: str | None = None) -> None:
        self.api, self.device_id, self.device_name = api, device_id, device_name

    def device_for(self, source: Source) -> int:
        if self.device_id is not None:
            return self.device_id
        body = {"name": self.device_name or source.name, "address": source.address, "model": source.model}
        return int(self.api.call("POST", "/api/v1/devices", json=body)["id"])

    def send(self, device_id: int, items: list[Item]) -> BatchResult:
        answer = self.api.call("POST", f"/api/v1/devices/{device_id}/samples", json={"samples": items})
        rejected = [(r["index"], r["reason"]) for r in answer["rejected"]]
        return BatchResult(
            accepted=answer["accepted"],
            duplicates=answer["duplicates"],
            rejected=rejected,
            rr_dropped=int(answer.get("rr_dropped", 0)),
            times_ms=_times(items, {i for i, _ in rejected}),
        )


@dataclass
class UploadOutcome:
    file: str
    format: str
    counts: ImportCounts
    truncated_at: str | None
    restored: dict[str, int] | None = None
    report: FileReport | None = None
    days: list[dt.date] = field(default_factory=list)
    days_zone: str = "UTC"
    sessions: int | None = None  # stored sessions overlapping the import (user tokens only)
    retries: int = 0


def _upload_whole(api: Api, opened: ImportFile, strict: bool) -> UploadOutcome:
    """A Chin Up export goes to POST /imports whole: the server restores the journal beside the samples."""
    opened.fh.seek(0)
    answer = api.call(
        "POST",
        "/api/v1/imports",
        files={"file": (opened.name, opened.fh)},
        data={"strict": str(strict).lower()},
    )
    counts = ImportCounts(
        accepted=answer["accepted"],
        duplicates=answer["duplicates"],
        rejected=answer["rejected"],
        rejections=[(r["sample"], r["reason"]) for r in answer["rejections"]],
        device_ids=answer["device_ids"],
        rr_dropped=int(answer.get("rr_dropped", 0)),
        rejected_by_reason=dict(answer.get("rejected_by_reason", {})),
    )
    days = [dt.date.fromisoformat(d) for d in answer.get("days", [])]
    return UploadOutcome(opened.name, opened.format, counts, answer["truncated_at"], answer.get("restored"),
                         days=days, sessions=len(answer.get("sessions", [])))  # fmt: skip


def _describe(api: Api, outcome: UploadOutcome, user_token: bool) -> None:
    """Days (in the user's zone when the token may read the profile) and sessions the import touched."""
    from zoneinfo import ZoneInfo

    counts, tz_name = outcome.counts, "UTC"
    if user_token:
        tz_name = str(api.call("GET", "/api/v1/me").get("timezone") or "UTC")
    outcome.days, outcome.days_zone = counts.days(ZoneInfo(tz_name)), tz_name
    if user_token and counts.first_ms is not None and counts.last_ms is not None:
        span = {"from": _iso(counts.first_ms - 86_400_000), "to": _iso(counts.last_ms + 1)}
        sessions = api.call("GET", "/api/v1/sessions", params=span)
        outcome.sessions = sum(
            1 for s in sessions
            if parse_time_ms(s["start"]) <= counts.last_ms and parse_time_ms(s["end"]) >= counts.first_ms
        )  # fmt: skip


def _iso(t_ms: int) -> str:
    return dt.datetime.fromtimestamp(t_ms / 1000, dt.UTC).isoformat()


def upload_file(
    path: Path,
    *,
    server: str,
    token: str,
    start_ms: int | None = None,
    strict: bool = False,
    device_id: int | None = None,
    device_name: str | None = None,
    batch_size: int = BATCH_MAX,
    progress: Callable[[int, int], None] | None = None,
    transport: httpx.BaseTransport | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> UploadOutcome:
    """Read `path`, upload its samples; `progress(bytes_read, bytes_total)` after each batch.

    Raises:
        ImportFailed: the file cannot be read (strict: it is damaged).
        ServerRefused: the server answered an error.
        ServerUnreachable: the server could not be reached through every retry.
    """
    headers = {"Authorization": f"Bearer {token}"}
    is_device = token.startswith(DEVICE_TOKEN_PREFIX)
    with (
        read_file(path, start_ms=start_ms, strict=strict) as opened,
        httpx.Client(
            base_url=server.rstrip("/"), headers=headers, timeout=TIMEOUT_S, transport=transport
        ) as client,
    ):
        api = Api(client, sleep=sleep)
        if opened.format == "chinup-export":
            outcome = _upload_whole(api, opened, strict)
            outcome.retries = api.retries
            return outcome
        if is_device:  # an upload token stores on its own device, whatever the file says
            device_id = int(api.call("GET", "/api/v1/devices/current")["id"])
        sink = HttpSink(api, device_id=device_id, device_name=device_name)

        def on_batch(_: ImportCounts) -> None:
            if progress is not None:
                progress(opened.position(), opened.size_bytes)

        report = import_opened(opened, sink, batch_size=batch_size, on_batch=on_batch)
        if progress is not None:
            progress(opened.size_bytes, opened.size_bytes)
        outcome = UploadOutcome(opened.name, opened.format, report.counts, report.truncated_at, report=report)
        _describe(api, outcome, not is_device)
        outcome.retries = api.retries
        return outcome


POLL_S = 0.5  # how often a background import's job is asked for


class _Reading:
    """A file handed to httpx that tells how much of it was sent (httpx streams a file object in chunks)."""

    def __init__(self, fh: BinaryIO, total: int, progress: Callable[[str, int, int], None] | None) -> None:
        self.fh, self.total, self.progress = fh, total, progress

    def read(self, size: int = -1) -> bytes:
        chunk = self.fh.read(size)
        if self.progress is not None:
            self.progress("Uploading", self.fh.tell(), self.total)
        return chunk

    def seek(self, offset: int, whence: int = 0) -> int:
        return self.fh.seek(offset, whence)

    def tell(self) -> int:
        return self.fh.tell()


class ServerImportFailed(ImportFailed):
    """The server could not import the file (or a zip's member): its reason, naming the file and the place."""

    def __init__(self, detail: str) -> None:
        ChinUpError.__init__(self, detail)
        self.file_name, self.place, self.reason = "", "", detail


def _refused(detail: str) -> ImportFailed:
    return ServerImportFailed(detail)


def _file_report(answer: dict[str, Any]) -> FileReport:
    """A server's report (POST /imports, or a done job's) as the FileReport the local import makes."""
    counts = ImportCounts(
        accepted=answer["accepted"], duplicates=answer["duplicates"], rejected=answer["rejected"],
        rejections=[(r["sample"], r["reason"]) for r in answer["rejections"]],
        device_ids=list(answer["device_ids"]), rr_dropped=int(answer.get("rr_dropped", 0)),
        rejected_by_reason=dict(answer.get("rejected_by_reason", {})),
        first_ms=parse_time_ms(answer["first"]) if answer.get("first") else None,
        last_ms=parse_time_ms(answer["last"]) if answer.get("last") else None,
    )  # fmt: skip
    return FileReport(
        file=answer["file"], format=answer["format"], counts=counts, unwrapped=list(answer.get("unwrapped", [])),
        truncated_at=answer.get("truncated_at"), warnings=list(answer.get("warnings", [])),
        skipped=[Skipped(s["reason"], s.get("message"), s.get("byte")) for s in answer.get("skipped", [])],
        refused=_refused(answer["refused"]) if answer.get("refused") else None,
        members=[_file_report(m) for m in answer.get("files", [])],
    )  # fmt: skip


def _outcome(answer: dict[str, Any], timezone: str, user_token: bool, retries: int) -> UploadOutcome:
    report = _file_report(answer)
    return UploadOutcome(
        report.file, report.format, report.counts, report.truncated_at, answer.get("restored"), report=report,
        days=[dt.date.fromisoformat(d) for d in answer.get("days", [])], days_zone=timezone,
        sessions=len(answer.get("sessions", [])) if user_token else None, retries=retries,
    )  # fmt: skip


def import_in_background(
    path: Path,
    *,
    server: str,
    token: str,
    start_ms: int | None = None,
    strict: bool = False,
    device_id: int | None = None,
    device_name: str | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    transport: httpx.BaseTransport | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> UploadOutcome:
    """Upload `path` whole to POST /imports?background=true and follow its job to the end.

    `progress(phase, done, total)`: "Uploading" with bytes sent, then "Importing" with the bytes the server
    has read. The server reads, validates and stores the file (memory flat with its size); the job survives
    a restart of the server, and the polling is retried through one.

    Raises:
        ImportFailed: the server could not import the file (its reason, naming the place).
        ServerRefused: the server refused the upload itself.
        ServerUnreachable: the server could not be reached through every retry.
    """
    form: dict[str, str] = {"strict": str(strict).lower()}
    if start_ms is not None:
        form["start"] = _iso(start_ms)
    if device_id is not None:
        form["device_id"] = str(device_id)
    if device_name:
        form["device_name"] = device_name
    headers = {"Authorization": f"Bearer {token}"}
    with (
        path.open("rb") as fh,
        httpx.Client(
            base_url=server.rstrip("/"), headers=headers, timeout=TIMEOUT_S, transport=transport
        ) as client,
    ):
        api = Api(client, sleep=sleep)
        total = path.stat().st_size
        sent = _Reading(fh, total, progress)
        job = api.call("POST", "/api/v1/imports", params={"background": "true"},
                       files={"file": (path.name, sent)}, data=form)  # fmt: skip
        user_token = not token.startswith(DEVICE_TOKEN_PREFIX)
        if "state" not in job:  # a server from before background imports answered the report itself
            return _outcome(job, "UTC", user_token, api.retries)
        while job["state"] not in ("done", "failed"):
            if progress is not None:
                progress("Importing", job["bytes_read"], job["bytes_total"])
            sleep(POLL_S)
            job = api.call("GET", f"/api/v1/imports/{job['id']}")
        if job["state"] == "failed":
            raise _refused(job["error"] or "the import failed")
        if progress is not None:
            progress("Importing", job["bytes_total"], job["bytes_total"])
        return _outcome(job["report"], job["timezone"], user_token, api.retries)


Line = tuple[str, str | None]  # text and a style ("yellow" for what was left out), printed without markup


def _member_lines(report: FileReport) -> list[Line]:
    lines: list[Line] = []
    for member in report.members:
        c = member.counts
        if member.refused is not None:
            lines.append((f"  {member.file}: not imported: {member.refused.detail}", "yellow"))
        else:
            lines.append((f"  {member.file} ({member.format}): {c.accepted} new, {c.duplicates} already stored, "
                          f"{c.rejected} rejected", None))  # fmt: skip
    return lines


def report_lines(outcome: UploadOutcome) -> list[Line]:
    """The import report as `chinup import` prints it: counts, reasons, span, days, sessions, damage."""
    c = outcome.counts
    text = [
        f"{outcome.file} ({outcome.format}): read {c.samples} samples: {c.accepted} new samples stored, "
        f"{c.duplicates} already stored, {c.rejected} rejected"
        + (f", {c.rr_dropped} impossible RR intervals dropped" if c.rr_dropped else "")
    ]
    text += [
        f"  rejected {n}: {reason}" for reason, n in sorted(c.rejected_by_reason.items(), key=lambda r: -r[1])
    ]
    text += [f"  sample {number}: {reason}" for number, reason in c.rejections[:5]]
    if c.first_ms is not None and c.last_ms is not None:
        days = ", ".join(d.isoformat() for d in outcome.days[:10]) + (" …" if len(outcome.days) > 10 else "")
        text.append(f"  from {_iso(c.first_ms)} to {_iso(c.last_ms)}; {len(outcome.days)} day(s) "
                    f"({outcome.days_zone}): {days}")  # fmt: skip
    if outcome.sessions is not None:
        text.append(f"  {outcome.sessions} stored session(s) overlap it (new ones appear once analysed)")
    lines: list[Line] = [(t, None) for t in text]
    report = outcome.report
    if report is not None:
        if report.unwrapped:
            lines.append(("  unwrapped: " + ", ".join(report.unwrapped), None))
        lines += _member_lines(report)
        lines += [(f"  skipped from {s.place}: {s.reason}", "yellow") for s in report.skipped]
        lines += [(f"  {w}", "yellow") for w in report.warnings]
    if outcome.restored:
        lines.append(("Restored: " + ", ".join(f"{n} {part}" for part, n in outcome.restored.items()), None))
    if outcome.truncated_at:
        lines.append((f"The file ends early, at {outcome.truncated_at}: imported up to its last whole record.",
                      "yellow"))  # fmt: skip
    if outcome.retries:
        lines.append((f"  ({outcome.retries} request(s) retried)", None))
    return lines


def nothing_imported(outcome: UploadOutcome) -> str | None:
    """Why nothing of the file is now stored, or None when something is (new or already there)."""
    c = outcome.counts
    if c.accepted + c.duplicates > 0 or outcome.restored:
        return None
    if not c.samples:
        return f"{outcome.file}: nothing imported: the file holds no sample"
    top = max(c.rejected_by_reason.items(), key=lambda r: r[1], default=("?", 0))
    return f"{outcome.file}: nothing imported: all {c.rejected} samples were rejected (mostly: {top[0]})"
