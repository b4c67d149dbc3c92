"""`chinup import` and POST /imports with a device's upload token, retries through 503s and a server that
went away, the exit code when nothing was imported, and the report a user reads."""

from __future__ import annotations

import gzip
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from service.cli.import_client import MAX_ATTEMPTS, ServerUnreachable, retry_delay_s, upload_file
from service.cli.main import app as cli_app
from tests.service.test_importers_support import zip_bytes
from tests.support.server import LiveServer
from tests.support.users import register_device, sign_up

RUN = "fitparse_fenix2_run"


def test_the_retry_policy_backs_off_and_honours_retry_after() -> None:
    delays = [retry_delay_s(n) for n in range(1, MAX_ATTEMPTS + 1)]
    assert delays[:4] == [0.5, 1.0, 2.0, 4.0] and delays[-1] is None
    assert retry_delay_s(1, retry_after_s=5) == 5 and retry_delay_s(1, retry_after_s=999) == 30.0


def test_a_device_upload_token_imports_into_its_device(live_server: LiveServer, shared_data: Path) -> None:
    with httpx.Client(base_url=live_server.url, timeout=60) as http:
        user = sign_up(http)
        device = register_device(http, user, name="Recorder on the shelf")
        other = register_device(http, user, name="Another")
        token = {"Authorization": f"Bearer {device['upload_token']}"}
        data = (shared_data / f"{RUN}.fit").read_bytes()
        answer = http.post("/api/v1/imports", files={"file": ("run.fit", data)}, headers=token)
        assert answer.status_code == 200, answer.text
        assert answer.json()["device_ids"] == [device["id"]] and answer.json()["accepted"] == 2808
        elsewhere = http.post(
            "/api/v1/imports",
            files={"file": ("run.fit", data)},
            data={"device_id": str(other["id"])},
            headers=token,
        )
        assert elsewhere.status_code == 403
        rows = http.get(f"/api/v1/devices/{device['id']}/samples", headers=user.headers).json()
        assert len(rows) == 2808
        assert (
            http.get("/api/v1/devices", headers=user.headers).json()[-1]["id"] == other["id"]
        )  # no new device


def test_cli_with_a_device_token_imports_a_gzipped_file_into_that_device(
    live_server: LiveServer, shared_data: Path, tmp_path: Path
) -> None:
    with httpx.Client(base_url=live_server.url) as http:
        user = sign_up(http)
        device = register_device(http, user, name="Headless recorder")
    path = tmp_path / "ride.fit.gz"
    path.write_bytes(gzip.compress((shared_data / f"{RUN}.fit").read_bytes()))
    args = ["import", str(path), "--server", live_server.url, "--token", device["upload_token"]]
    result = CliRunner().invoke(cli_app, args)
    assert result.exit_code == 0, result.output
    assert "2808 new samples stored" in result.output and "unwrapped: gzip" in result.output
    assert "1 day(s) (UTC): 2015-08-15" in result.output
    devices = httpx.get(f"{live_server.url}/api/v1/devices", headers=user.headers).json()
    assert [d["id"] for d in devices] == [device["id"]]


class Flaky(httpx.BaseTransport):
    """The real transport, but the first `fail` sample uploads answer 503 (or drop the connection)."""

    def __init__(self, fail: int, how: str) -> None:
        self.inner, self.fail, self.how, self.calls = httpx.HTTPTransport(), fail, how, 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/samples") and self.fail:
            self.fail -= 1
            self.calls += 1
            if self.how == "drop":
                raise httpx.RemoteProtocolError(
                    "Server disconnected without sending a response", request=request
                )
            return httpx.Response(
                503, headers={"Retry-After": "2"}, json={"detail": "overloaded, retry later"}
            )
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


@pytest.mark.parametrize("how", ["503", "drop"])
def test_uploads_are_retried_with_backoff_and_store_each_sample_once(
    live_server: LiveServer, shared_data: Path, how: str
) -> None:
    with httpx.Client(base_url=live_server.url) as http:
        user = sign_up(http)
    waits: list[float] = []
    outcome = upload_file(
        shared_data / f"{RUN}.fit", server=live_server.url, token=user.token, batch_size=1000,
        transport=Flaky(3, how), sleep=waits.append,
    )  # fmt: skip
    assert outcome.counts.accepted == 2808 and outcome.counts.duplicates == 0 and outcome.retries == 3
    assert waits == ([2.0, 2.0, 2.0] if how == "503" else [0.5, 1.0, 2.0])
    with pytest.raises(ServerUnreachable, match="503"):
        upload_file(shared_data / f"{RUN}.fit", server=live_server.url, token=user.token,
                    transport=Flaky(99, "503"), sleep=lambda _: None)  # fmt: skip


def test_a_server_that_went_away_and_came_back_gets_the_whole_file(
    live_server: LiveServer, shared_data: Path
) -> None:
    with httpx.Client(base_url=live_server.url) as http:
        user = sign_up(http)
    live_server.stop()
    waits: list[float] = []

    def wait(seconds: float) -> None:  # the server comes back while the client waits
        waits.append(seconds)
        if not live_server.running:
            live_server.start()

    outcome = upload_file(shared_data / f"{RUN}.fit", server=live_server.url, token=user.token, sleep=wait)
    assert outcome.counts.accepted == 2808 and waits == [0.5]


def test_cli_exits_non_zero_and_says_why_when_nothing_was_imported(
    live_server: LiveServer, tmp_path: Path
) -> None:
    with httpx.Client(base_url=live_server.url) as http:
        user = sign_up(http)
    rejected = tmp_path / "ride.csv"
    rejected.write_text("t,bpm\n1700000000000,300\n1700000001000,301\n1700000002000,oops\n")
    args = ["--server", live_server.url, "--token", user.token]
    result = CliRunner().invoke(cli_app, ["import", str(rejected), *args])
    assert result.exit_code == 1, result.output
    assert "nothing imported: all 3 samples were rejected" in result.output
    assert (
        "rejected 2: bpm outside 25-240" in result.output
        and "rejected 1: bpm must be a whole number" in result.output
    )
    cut = tmp_path / "settings.fit"
    cut.write_bytes(b"\x0e\x10" + bytes(6) + b".FIT" + bytes(2))  # a header promising nothing
    result = CliRunner().invoke(cli_app, ["import", str(cut), *args])
    assert result.exit_code == 1 and "Traceback" not in result.output


def test_cli_reports_each_member_of_a_zip(live_server: LiveServer, shared_data: Path, tmp_path: Path) -> None:
    with httpx.Client(base_url=live_server.url) as http:
        user = sign_up(http)
    path = tmp_path / "export.zip"
    path.write_bytes(zip_bytes({
        "a/run.fit": (shared_data / f"{RUN}.fit").read_bytes(),
        "a/ride.fit.gz": gzip.compress((shared_data / "fitparse_edge800_indoor_trainer.fit").read_bytes()),
        "a/settings.fit": (shared_data / "fitparse_settings_corrupt_header.fit").read_bytes(),
    }))  # fmt: skip
    result = CliRunner().invoke(
        cli_app, ["import", str(path), "--server", live_server.url, "--token", user.token]
    )
    assert result.exit_code == 0, result.output
    assert "export.zip/a/run.fit (fit): 2808 new" in result.output
    assert "export.zip/a/ride.fit.gz (fit): 2263 new" in result.output
    assert (
        "export.zip/a/settings.fit: not imported" in result.output and "chained FIT header" in result.output
    )
