"""Without a usable Bluetooth stack, `chinup scan` and `chinup record` say in one line what is missing and
what to do; random static addresses differ per strap and stay put for a seed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from bleak.exc import (
    BleakBluetoothNotAvailableError,
    BleakBluetoothNotAvailableReason,
    BleakDBusError,
    BleakError,
)

from devices.errors import TransportUnavailable
from devices.scan import stack_unavailable
from devices.transport import new_random_address

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("error", "missing"),
    [
        (FileNotFoundError(2, "No such file or directory"), "BlueZ is not running"),
        (PermissionError(13, "Permission denied"), "no permission"),
        (BleakDBusError("org.freedesktop.DBus.Error.ServiceUnknown", []), "BlueZ is not running"),
        (BleakDBusError("org.bluez.Error.NotReady", []), "powered off"),
        (BleakBluetoothNotAvailableError("x", BleakBluetoothNotAvailableReason.NO_BLUETOOTH), "no Bluetooth adapter"),
        (BleakBluetoothNotAvailableError("x", BleakBluetoothNotAvailableReason.POWERED_OFF), "turned off"),
        (BleakBluetoothNotAvailableError("x", BleakBluetoothNotAvailableReason.DENIED_BY_USER), "no permission"),
        (TransportUnavailable("usb:0", "LIBUSB_ERROR_ACCESS"), "cannot open Bluetooth transport 'usb:0'"),
    ],
)
def test_what_is_missing_and_what_to_do(error: BaseException, missing: str) -> None:
    found = stack_unavailable("os", error)
    assert found is not None and missing in found.missing and found.hint
    assert "\n" not in str(found)


def test_an_error_about_one_strap_is_not_a_missing_stack() -> None:
    assert stack_unavailable("os", BleakError("device disconnected")) is None
    assert stack_unavailable("os", BleakDBusError("org.bluez.Error.Failed", ["le-connection-abort-by-local"])) is None


def test_random_static_addresses_differ_and_a_seed_keeps_one() -> None:
    addresses = {new_random_address().to_string(False) for _ in range(100)}
    assert len(addresses) == 100
    assert all(int(a[:2], 16) & 0xC0 == 0xC0 for a in addresses)  # static random: the two top bits set
    assert new_random_address("Polar H10 A") == new_random_address("Polar H10 A")
    assert new_random_address("Polar H10 A") != new_random_address("Polar H10 B")


def _chinup(*args: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "service.cli", *args], cwd=ROOT, capture_output=True, text=True, timeout=60,
        env={**os.environ, "CHINUP_DATA_DIR": str(tmp_path)},
    )  # fmt: skip


def test_scan_without_a_stack_says_so_in_one_line(tmp_path: Path) -> None:
    os_scan = _chinup("scan", "--seconds", "1", tmp_path=tmp_path)
    bad = _chinup("scan", "--transport", "bumble:nonsense:0", "--seconds", "1", tmp_path=tmp_path)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert bad.stderr.strip().count("\n") == 0 and "'nonsense:0'" in bad.stderr and "--transport virtual" in bad.stderr
    if os_scan.returncode == 0:  # this machine has a working Bluetooth stack
        return
    assert os_scan.returncode == 2 and "Traceback" not in os_scan.stderr, os_scan.stderr
    assert os_scan.stderr.strip().count("\n") == 0 and "--transport" in os_scan.stderr


def test_record_that_records_nothing_exits_1_with_the_reason(tmp_path: Path) -> None:
    recorded = _chinup("record", "--server", "http://127.0.0.1:9", "--token", "t", "--transport", "bumble:nonsense:0",
                       "--seconds", "1", "--spool", str(tmp_path / "spool.sqlite3"), tmp_path=tmp_path)  # fmt: skip
    assert recorded.returncode == 1, recorded.stdout + recorded.stderr
    last = recorded.stderr.strip().splitlines()[-1]
    assert last.startswith("chinup record: nothing was recorded") and "'nonsense:0'" in last, recorded.stderr
    assert "connection attempt 1 failed" in recorded.stderr  # the attempts are logged, with the strap
