"""The Chin Up account export: its layout, shared by the writer (service.api.export) and the readers."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from service.account import rows as restore_rows
from service.importers.base import Entry, ReadReport, Source
from service.importers.containers import ZIP_DAMAGE, open_member
from service.importers.csv_rr import read_csv
from service.importers.errors import CorruptFile, NoHeartRate
from service.importers.limits import DEFAULT_LIMITS, TooLarge, size_text

EXPORT_FORMAT = "chinup-export"
EXPORT_VERSION = 1
MANIFEST = "manifest.json"
JOURNAL_PARTS = ("checkins", "interviews", "practice", "applications")
MANIFEST_MAX_BYTES = 64 * 2**10


def samples_path(device_id: int) -> str:
    return f"samples/device-{device_id}.csv"


def is_account_export(zf: zipfile.ZipFile) -> bool:
    """A zip with Chin Up's manifest (a few hundred bytes: a larger one is no manifest of ours)."""
    if MANIFEST not in zf.namelist() or zf.getinfo(MANIFEST).file_size > MANIFEST_MAX_BYTES:
        return False
    try:
        with zf.open(MANIFEST) as member:
            return json.loads(member.read(MANIFEST_MAX_BYTES)).get("format") == EXPORT_FORMAT
    except (ValueError, AttributeError, *ZIP_DAMAGE):
        return False


@dataclass
class AccountArchive:
    """The non-sample parts of an export: profile, devices, journal and the user's session corrections."""

    profile: dict[str, Any] = field(default_factory=dict)
    devices: list[dict[str, Any]] = field(default_factory=list)
    journal: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    sessions: list[dict[str, Any]] = field(default_factory=list)


def _json(zf: zipfile.ZipFile, name: str, file_name: str, default: Any, max_bytes: int) -> Any:
    """One JSON part, read whole (json has no streaming parser), so refused past `max_bytes` unpacked."""
    if name not in zf.namelist():
        return default
    info = zf.getinfo(name)
    refuse = TooLarge(file_name, name, f"the JSON part is larger than {size_text(max_bytes)}",
                      "CHINUP_IMPORT_MAX_EXPORT_JSON_BYTES")  # fmt: skip
    if info.file_size > max_bytes:
        raise refuse
    try:
        with zf.open(info) as member:
            data = member.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise refuse
        return json.loads(data)
    except RecursionError as exc:
        raise CorruptFile(file_name, name, "JSON nested too deeply") from exc
    except TooLarge:
        raise
    except (ValueError, *ZIP_DAMAGE) as exc:
        raise CorruptFile(file_name, name, f"not readable JSON: {exc}") from exc


def read_archive(
    fh: BinaryIO, file_name: str, *, max_part_bytes: int = DEFAULT_LIMITS.export_json_bytes
) -> AccountArchive:
    """The JSON parts of an export zip (small next to the samples), each at most `max_part_bytes`."""
    fh.seek(0)
    try:
        zf = zipfile.ZipFile(fh)
    except zipfile.BadZipFile as exc:
        raise CorruptFile(file_name, "the zip directory", f"damaged or incomplete zip: {exc}") from exc
    with zf:
        archive = AccountArchive(
            profile=_json(zf, "profile.json", file_name, {}, max_part_bytes),
            devices=_json(zf, "devices.json", file_name, [], max_part_bytes),
            sessions=_json(zf, "sessions.json", file_name, [], max_part_bytes),
            journal={
                part: _json(zf, f"{part}.json", file_name, [], max_part_bytes) for part in JOURNAL_PARTS
            },
        )
    if not isinstance(archive.devices, list) or not all(isinstance(d, dict) for d in archive.devices):
        raise CorruptFile(file_name, "devices.json", "not a list of devices")
    return archive


def device_source(device: dict[str, Any]) -> Source | None:
    """The exported device as an import source: same name, address (possibly none) and model; None when
    POST /devices would refuse it (its samples are then left out, as its row is by the restore)."""
    try:
        values = restore_rows.device(device)
    except restore_rows.RowInvalid:
        return None
    return Source(name=values["name"], address=values["address"], model=values["model"])


def read_account_samples(fh: BinaryIO, report: ReadReport) -> Iterator[Entry]:
    """Every exported device's samples, device by device, through the recording-CSV reader."""
    limits = report.limits
    archive = read_archive(fh, report.file_name, max_part_bytes=limits.export_json_bytes)
    fh.seek(0)
    with zipfile.ZipFile(fh) as zf:
        names = set(zf.namelist())
        for device in archive.devices:
            path = device.get("samples")
            if not isinstance(path, str) or path not in names:
                continue
            source = device_source(device)
            if source is None:
                continue
            part = ReadReport(file_name=f"{report.file_name}:{path}", format="csv")
            with open_member(zf, zf.getinfo(path), report.file_name, limits) as member:
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
