"""The Chin Up account export: its layout, shared by the writer (service.api.export) and the readers."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from service.importers.base import Entry, ReadReport, Source
from service.importers.csv_rr import read_csv
from service.importers.errors import CorruptFile, NoHeartRate

EXPORT_FORMAT = "chinup-export"
EXPORT_VERSION = 1
MANIFEST = "manifest.json"
JOURNAL_PARTS = ("checkins", "interviews", "practice", "applications")


def samples_path(device_id: int) -> str:
    return f"samples/device-{device_id}.csv"


def is_account_export(zf: zipfile.ZipFile) -> bool:
    """A zip with Chin Up's manifest."""
    if MANIFEST not in zf.namelist():
        return False
    try:
        return json.loads(zf.read(MANIFEST)).get("format") == EXPORT_FORMAT
    except (ValueError, AttributeError):
        return False


@dataclass
class AccountArchive:
    """The non-sample parts of an export: profile, devices, journal and the user's session corrections."""

    profile: dict[str, Any] = field(default_factory=dict)
    devices: list[dict[str, Any]] = field(default_factory=list)
    journal: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    sessions: list[dict[str, Any]] = field(default_factory=list)


def _json(zf: zipfile.ZipFile, name: str, file_name: str, default: Any) -> Any:
    if name not in zf.namelist():
        return default
    try:
        return json.loads(zf.read(name))
    except (ValueError, zipfile.BadZipFile) as exc:
        raise CorruptFile(file_name, name, f"not readable JSON: {exc}") from exc


def read_archive(fh: BinaryIO, file_name: str) -> AccountArchive:
    """The JSON parts of an export zip (small next to the samples)."""
    fh.seek(0)
    try:
        zf = zipfile.ZipFile(fh)
    except zipfile.BadZipFile as exc:
        raise CorruptFile(file_name, "the zip directory", f"damaged or incomplete zip: {exc}") from exc
    with zf:
        archive = AccountArchive(
            profile=_json(zf, "profile.json", file_name, {}),
            devices=_json(zf, "devices.json", file_name, []),
            sessions=_json(zf, "sessions.json", file_name, []),
            journal={part: _json(zf, f"{part}.json", file_name, []) for part in JOURNAL_PARTS},
        )
    if not isinstance(archive.devices, list) or not all(isinstance(d, dict) for d in archive.devices):
        raise CorruptFile(file_name, "devices.json", "not a list of devices")
    return archive


def device_source(device: dict[str, Any]) -> Source:
    """The exported device as an import source: same name, address (possibly none) and model."""
    return Source(
        name=str(device.get("name") or "Device")[:120],
        address=device.get("address"),
        model=device.get("model"),
    )


def read_account_samples(fh: BinaryIO, report: ReadReport) -> Iterator[Entry]:
    """Every exported device's samples, device by device, through the recording-CSV reader."""
    archive = read_archive(fh, report.file_name)
    fh.seek(0)
    with zipfile.ZipFile(fh) as zf:
        names = set(zf.namelist())
        for device in archive.devices:
            path = device.get("samples")
            if not isinstance(path, str) or path not in names:
                continue
            source = device_source(device)
            part = ReadReport(file_name=f"{report.file_name}:{path}", format="csv")
            with zf.open(path) as member:
                try:
                    for _, item in read_csv(member, part):  # type: ignore[arg-type]
                        yield source, item
                except NoHeartRate:
                    continue  # a device without samples
                except (zipfile.BadZipFile, EOFError, OSError) as exc:
                    raise CorruptFile(report.file_name, path, f"damaged member: {exc}") from exc
            if part.truncated_at:
                report.truncated_at = f"{path}, {part.truncated_at}"
                return
