"""Across processes on Bumble's own TCP controllers: Bumble's Heart Rate profile recorded by `chinup record`,
`chinup strap` read by Bumble's `HeartRateServiceProxy`, two `chinup strap` processes told apart by `chinup scan`.

Every process here is real (the controllers, a peripheral made of Bumble's own parts, the CLI, uvicorn);
every wait has a timeout and every process is killed at the end, whatever happened.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import queue
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx
import pytest
from bumble.device import Device, Peer
from bumble.hci import Address
from bumble.profiles.heart_rate_service import HeartRateService, HeartRateServiceProxy
from bumble.transport import open_transport

from devices.transport import new_random_address
from tests.support.server import LiveServer, free_port
from tests.support.users import TestUser, sign_up

ROOT = Path(__file__).resolve().parents[2]
PERIPHERAL_ADDRESS = "C1:22:33:44:55:66"
PERIPHERAL_NAME = "Bumble HRS"
RECORD_RUNS = 10  # ten in a row, each after a `chinup scan`: five found by the recorder's own scan, five by --address
SCAN_SECONDS = 2  # `chinup scan` before each recording (on a loaded machine one second may hear nothing)
RECORD_SECONDS = 5  # from the start of the pipeline: the scan and the connection come out of it
PROCESS_TIMEOUT_S = 60


class Process:
    """A child process whose output lines are read in a thread, so waiting for one has a timeout."""

    def __init__(self, args: Sequence[str], env: dict[str, str] | None = None) -> None:
        self.args = list(args)
        self.popen = subprocess.Popen(
            self.args, cwd=ROOT, env={**os.environ, **(env or {})}, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )  # fmt: skip
        self.lines: queue.Queue[str] = queue.Queue()
        self.output: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            self.output.append(line)
            self.lines.put(line)

    def wait_for(self, pattern: str, timeout_s: float = 20.0) -> str:
        """The first output line matching `pattern`; fails (with the output so far) after `timeout_s`."""
        deadline = time.monotonic() + timeout_s
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=min(remaining, 0.5))
            except queue.Empty:
                if self.popen.poll() is not None:
                    break
                continue
            if re.search(pattern, line):
                return line
        raise AssertionError(f"{self.args[2:5]}: no line like {pattern!r}; output:\n{''.join(self.output)}")

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it does not go within 5 s."""
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=5)
        if self.popen.stdout is not None:
            self.popen.stdout.close()


@contextlib.contextmanager
def processes() -> Iterator[list[Process]]:
    """Collects the processes a test starts; all are stopped at the end, in reverse order."""
    started: list[Process] = []
    try:
        yield started
    finally:
        for process in reversed(started):
            process.stop()


def python(*args: str) -> list[str]:
    return [sys.executable, "-m", *args]


def listening(port: int) -> bool:
    """Whether something listens on the loopback port (read from /proc, so without connecting to it: a
    probe connection would be one more client for the TCP controller to handle)."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError), open(table, encoding="ascii") as rows:
            for row in list(rows)[1:]:
                local, state = row.split()[1], row.split()[3]
                if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
                    return True
    return False


def wait_listening(ports: Sequence[int], timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not all(listening(p) for p in ports):
        assert time.monotonic() < deadline, f"nothing listens on {ports}"
        time.sleep(0.05)


def start_controllers(started: list[Process], n: int = 2) -> list[int]:
    """Bumble's controllers app (two) or the same parts for more, one TCP server each, on one link."""
    ports = [free_port() for _ in range(n)]
    specs = [f"tcp-server:127.0.0.1:{port}" for port in ports]
    module = "bumble.apps.controllers" if n == 2 else "tests.devices.bumble_link"
    started.append(Process(python(module, *specs)))
    wait_listening(ports)
    return ports


def chinup(
    *args: str, timeout_s: float = PROCESS_TIMEOUT_S, data_dir: Path
) -> subprocess.CompletedProcess[str]:
    """One `chinup` command to its end (killed after `timeout_s`: a hang fails the test, never the suite)."""
    return subprocess.run(
        python("service.cli", *args), cwd=ROOT, env={**os.environ, "CHINUP_DATA_DIR": str(data_dir)},
        capture_output=True, text=True, timeout=timeout_s,
    )  # fmt: skip


def read_log(path: Path) -> tuple[list[dict[str, object]], dict[int, float]]:
    """The peripheral's notifications, and when each connection ended."""
    sent, ended = [], {}
    for line in path.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if "disconnected" in record:
            ended[int(record["disconnected"])] = float(record["t"])
        else:
            sent.append(record)
    return sent, ended


def wait_disconnected(path: Path, connection: int, timeout_s: float = 20.0) -> None:
    """Until the peripheral has logged the end of its `connection`-th connection (fails after `timeout_s`)."""
    deadline = time.monotonic() + timeout_s
    while True:
        with contextlib.suppress(json.JSONDecodeError):  # a line being written
            if connection in read_log(path)[1]:
                return
        assert time.monotonic() < deadline, f"the peripheral never saw connection {connection} end"
        time.sleep(0.05)


def stored_rows(server: LiveServer, user: TestUser, address: str) -> list[dict[str, object]]:
    with httpx.Client(base_url=server.url, headers=user.headers, timeout=30) as client:
        devices = [
            d for d in client.get("/api/v1/devices").json() if (d.get("address") or "").upper() == address
        ]
        assert len(devices) == 1, devices
        return list(client.get(f"/api/v1/devices/{devices[0]['id']}/samples").json())


@pytest.fixture
def user(live_server: LiveServer) -> TestUser:
    with httpx.Client(timeout=10) as client:
        return sign_up(client, live_server.url)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_bumble_heart_rate_profile_recorded_ten_times_in_a_row(
    live_server: LiveServer, user: TestUser, tmp_path: Path
) -> None:
    log = tmp_path / "sent.jsonl"
    with processes() as started:
        peripheral_port, central_port = start_controllers(started)
        peripheral = Process(python("tests.devices.bumble_hrs_peripheral", f"tcp-client:127.0.0.1:{peripheral_port}",
                                    PERIPHERAL_ADDRESS, PERIPHERAL_NAME, str(log)))  # fmt: skip
        started.append(peripheral)
        peripheral.wait_for("advertising")
        transport = f"bumble:tcp-client:127.0.0.1:{central_port}"
        for run in range(RECORD_RUNS):
            scan = chinup("scan", "--transport", transport, "--seconds", str(SCAN_SECONDS), data_dir=tmp_path)
            assert scan.returncode == 0 and PERIPHERAL_ADDRESS in scan.stdout, f"run {run + 1}: {scan.stdout}"
            # half found by the recorder's own scan, half by address
            by_address = ("--address", PERIPHERAL_ADDRESS) if run % 2 else ()
            recorded = chinup("record", "--server", live_server.url, "--token", user.token, "--transport", transport,
                              "--seconds", str(RECORD_SECONDS), "--spool", str(tmp_path / "spool.sqlite3"),
                              *by_address, data_dir=tmp_path)  # fmt: skip
            output = recorded.stdout + recorded.stderr
            assert recorded.returncode == 0, f"run {run + 1}: {output}"
            assert "connections=1," in output and "disconnections=0," in output, f"run {run + 1}: {output}"
            assert f"{PERIPHERAL_NAME} [stopped]" in output  # the status line keeps its brackets (not markup)
            assert f"{PERIPHERAL_NAME} ({PERIPHERAL_ADDRESS}): connecting, attempt 1" in output  # logged
            wait_disconnected(log, run + 1)  # the peripheral advertises again once it has seen the link go
    sent, ended = read_log(log)
    rows = stored_rows(live_server, user, PERIPHERAL_ADDRESS)
    assert sorted(ended) == list(range(1, RECORD_RUNS + 1))  # a connection a run, each ended by the recorder
    assert {int(str(s["connection"])) for s in sent} == set(range(1, RECORD_RUNS + 1))  # each one streamed
    # Each notification stored once, in order, bpm and RR exact: the recorder turns notifications off before
    # it hangs up, so none is lost with the link.
    stored = [(r["bpm"], [round(float(rr) * 1024 / 1000) for rr in r["rr_ms"]]) for r in rows]  # type: ignore[attr-defined]
    assert len(rows) == len({r["t"] for r in rows})
    missing = unmatched(stored, [(s["bpm"], s["rr_ticks"]) for s in sent])
    assert not missing, f"{len(missing)} of {len(sent)} notifications not stored: {missing}"
    print(f"{len(ended)} connections, {len(sent)} notifications sent, {len(rows)} stored once")


def unmatched(stored: list[object], sent: list[object]) -> list[int]:
    """Indexes of `sent` missing from `stored`; fails when `stored` holds anything not sent, or out of order."""
    missing, j = [], 0
    for i, item in enumerate(sent):
        if j < len(stored) and stored[j] == item:
            j += 1
        else:
            missing.append(i)
    assert j == len(stored), f"stored row {j} ({stored[j]}) was never sent, or not in this order"
    return missing


def _replay_file(path: Path, rows: int) -> list[tuple[int, list[int]]]:
    """A replay whose RR intervals are exact in 1/1024 s ticks; returns (bpm, rr ticks) per row."""
    script = []
    lines = ["t,bpm,rr_ms"]
    for i in range(rows):
        bpm = 70 + i % 50
        ticks = round(60 * 1024 / bpm)
        script.append((bpm, [ticks]))
        lines.append(f"{i},{bpm},{ticks * 1000 / 1024!r}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return script


async def _bumble_central_reads(central_port: int, address: Address, n: int) -> tuple[list[object], object]:
    """Bumble's own central and `HeartRateServiceProxy`: the first `n` measurements and the body location."""
    async with await open_transport(f"tcp-client:127.0.0.1:{central_port}") as hci:
        device = Device.with_hci("bumble-central", new_random_address(), hci.source, hci.sink)
        async with asyncio.timeout(30):
            await device.power_on()
            connection = await device.connect(address, timeout=10)
            peer = Peer(connection)
            await peer.discover_services()
            await peer.discover_characteristics()
            proxy = peer.create_service_proxy(HeartRateServiceProxy)
            assert proxy is not None, "no Heart Rate service"
            location = await proxy.body_sensor_location.read_value() if proxy.body_sensor_location else None
            received: asyncio.Queue[HeartRateService.HeartRateMeasurement] = asyncio.Queue()
            await proxy.heart_rate_measurement.subscribe(received.put_nowait)
            measurements = [await received.get() for _ in range(n)]
            await connection.disconnect()
        return measurements, location


@pytest.mark.slow
@pytest.mark.timeout(120)
@pytest.mark.anyio
async def test_chinup_strap_read_by_bumbles_heart_rate_service_proxy(tmp_path: Path) -> None:
    script = await asyncio.to_thread(_replay_file, tmp_path / "ride.csv", 40)
    with processes() as started:
        strap_port, central_port = await asyncio.to_thread(start_controllers, started)
        strap = Process(python("service.cli", "strap", "--transport", f"bumble:tcp-client:127.0.0.1:{strap_port}",
                               "--name", "Proxy Read", "--replay", str(tmp_path / "ride.csv"), "--speed", "10"))  # fmt: skip
        started.append(strap)
        line = await asyncio.to_thread(strap.wait_for, "advertising as")
        address = new_random_address("Proxy Read")  # a named strap's address follows from its name
        assert address.to_string(False) in line
        measurements, location = await _bumble_central_reads(central_port, address, 20)
    assert location == HeartRateService.BodySensorLocation.CHEST
    # The replay starts when notifications are enabled: its first row comes first, RR exact in 1/1024 s.
    read = [(m.heart_rate, [round(r * 1024) for r in m.rr_intervals or ()]) for m in measurements]  # type: ignore[attr-defined]
    assert read == script[:20]
    assert all(m.sensor_contact_detected for m in measurements)  # type: ignore[attr-defined]


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_two_chinup_straps_on_one_link_are_two_straps_in_chinup_scan(tmp_path: Path) -> None:
    with processes() as started:
        ports = start_controllers(started, n=3)
        lines = []
        for port in ports[:2]:  # the default name twice: only the address tells them apart
            strap = Process(
                python("service.cli", "strap", "--transport", f"bumble:tcp-client:127.0.0.1:{port}")
            )
            started.append(strap)
            lines.append(strap.wait_for("advertising as"))
        addresses = {re.search(r"at ([0-9A-F:]{17})", line).group(1) for line in lines}  # type: ignore[union-attr]
        assert len(addresses) == 2, lines
        scan = chinup("scan", "--transport", f"bumble:tcp-client:127.0.0.1:{ports[2]}", "--seconds", "2",
                      data_dir=tmp_path)  # fmt: skip
    assert scan.returncode == 0, scan.stdout + scan.stderr
    assert all(address in scan.stdout for address in addresses), scan.stdout
    assert scan.stdout.count("Chin Up Strap") == 2


def test_chinup_strap_on_a_tcp_server_waits_for_its_controller_then_advertises(tmp_path: Path) -> None:
    port = free_port()
    with processes() as started:
        strap = Process(python("service.cli", "strap", "--transport", f"bumble:tcp-server:127.0.0.1:{port}",
                               "--seed", "waiting strap"))  # fmt: skip
        started.append(strap)
        strap.wait_for("waiting for a controller")
        wait_listening([port])
        central_port = free_port()
        started.append(Process(python("bumble.apps.controllers", f"tcp-client:127.0.0.1:{port}",
                                      f"tcp-server:127.0.0.1:{central_port}")))  # fmt: skip
        line = strap.wait_for("advertising as")
        assert new_random_address("waiting strap").to_string(False) in line
        wait_listening([central_port])
        scan = chinup("scan", "--transport", f"bumble:tcp-client:127.0.0.1:{central_port}", "--seconds", "1",
                      data_dir=tmp_path)  # fmt: skip
    assert new_random_address("waiting strap").to_string(False) in scan.stdout, scan.stdout + scan.stderr
