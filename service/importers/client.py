"""`chinup import` on the client side: read the file here, upload through the HTTP API in batches."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from service.importers.base import Item, Source
from service.importers.detect import ImportFile, read_file
from service.importers.errors import TruncatedFile
from service.importers.pipeline import BATCH_MAX, BatchResult, ImportCounts, count_entries, run_import

TIMEOUT_S = 120.0


class ServerRefused(Exception):
    """The server answered an upload with an error; `detail` is its reason."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"server answered {status}: {detail}")
        self.status, self.detail = status, detail


def _json(answer: httpx.Response) -> Any:
    if answer.status_code >= 400:
        try:
            detail = answer.json().get("detail", answer.text)
        except ValueError:
            detail = answer.text
        raise ServerRefused(answer.status_code, str(detail))
    return answer.json()


class HttpSink:
    """Devices registered (or found by address) with POST /devices; batches to POST /devices/{id}/samples."""

    def __init__(
        self, client: httpx.Client, *, device_id: int | None = None, device_name: str | None = None
    ) -> None:
        self.client, self.device_id, self.device_name = client, device_id, device_name

    def device_for(self, source: Source) -> int:
        if self.device_id is not None:
            return self.device_id
        body = {"name": self.device_name or source.name, "address": source.address, "model": source.model}
        return int(_json(self.client.post("/api/v1/devices", json=body))["id"])

    def send(self, device_id: int, items: list[Item]) -> BatchResult:
        answer = _json(self.client.post(f"/api/v1/devices/{device_id}/samples", json={"samples": items}))
        return BatchResult(
            accepted=answer["accepted"],
            duplicates=answer["duplicates"],
            rejected=[(r["index"], r["reason"]) for r in answer["rejected"]],
            rr_dropped=int(answer.get("rr_dropped", 0)),
        )


@dataclass
class UploadOutcome:
    file: str
    format: str
    counts: ImportCounts
    truncated_at: str | None
    restored: dict[str, int] | None = None


def _upload_whole(client: httpx.Client, opened: ImportFile, strict: bool) -> UploadOutcome:
    """A Chin Up export goes to POST /imports whole: the server restores the journal beside the samples."""
    opened.fh.seek(0)
    answer = _json(
        client.post(
            "/api/v1/imports", files={"file": (opened.name, opened.fh)}, data={"strict": str(strict).lower()}
        )
    )
    counts = ImportCounts(
        accepted=answer["accepted"],
        duplicates=answer["duplicates"],
        rejected=answer["rejected"],
        rejections=[(r["sample"], r["reason"]) for r in answer["rejections"]],
        device_ids=answer["device_ids"],
        rr_dropped=int(answer.get("rr_dropped", 0)),
    )
    return UploadOutcome(opened.name, opened.format, counts, answer["truncated_at"], answer.get("restored"))


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
) -> UploadOutcome:
    """Read `path`, upload its samples; `progress(bytes_read, bytes_total)` after each batch.

    Raises:
        ImportFailed: the file cannot be read (TruncatedFile when strict and it ends early).
        ServerRefused: the server answered an error.
    """
    headers = {"Authorization": f"Bearer {token}"}
    with (
        read_file(path, start_ms=start_ms) as opened,
        httpx.Client(
            base_url=server.rstrip("/"), headers=headers, timeout=TIMEOUT_S, transport=transport
        ) as client,
    ):
        if opened.format == "chinup-export":
            return _upload_whole(client, opened, strict)
        if strict:
            count_entries(opened.entries())
            if opened.report.truncated_at:
                raise TruncatedFile(
                    opened.name, opened.report.truncated_at, "the file ends early; refused whole (strict)"
                )
        sink = HttpSink(client, device_id=device_id, device_name=device_name)

        def on_batch(_: ImportCounts) -> None:
            if progress is not None:
                progress(opened.position(), opened.size_bytes)

        counts = run_import(opened.entries(), sink, batch_size=batch_size, on_batch=on_batch)
        if progress is not None:
            progress(opened.size_bytes, opened.size_bytes)
        return UploadOutcome(opened.name, opened.format, counts, opened.report.truncated_at)
