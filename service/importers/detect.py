"""The front of the importers: sniff a file's content (not only its name) and open the right reader."""

from __future__ import annotations

import functools
import os
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from service.importers.account import is_account_export, read_account_samples
from service.importers.apple_health import export_member, read_apple_health, read_apple_health_zip
from service.importers.base import Entry, ReadReport
from service.importers.csv_rr import is_csv_header, read_csv, read_rr
from service.importers.errors import CorruptFile, UnknownFormat, WrongFormat
from service.importers.fit import looks_like_fit, read_fit
from service.importers.gpx import read_gpx
from service.importers.tcx import read_tcx

HEAD_BYTES = 65_536
_XML_ROOT = re.compile(rb"<(?:[\w.-]+:)?(TrainingCenterDatabase|gpx|HealthData)[\s>/]")
_ROOT_FORMAT = {b"TrainingCenterDatabase": "tcx", b"gpx": "gpx", b"HealthData": "apple-health"}
_NUMBER = re.compile(r"^\s*\d+(\.\d+)?\s*$")

Reader = Callable[[BinaryIO, ReadReport], Iterator[Entry]]
READERS: dict[str, Reader] = {
    "fit": read_fit,
    "tcx": read_tcx,
    "gpx": read_gpx,
    "apple-health": read_apple_health,
    "apple-health-zip": read_apple_health_zip,
    "chinup-export": read_account_samples,
}
# What each file name promises; content that disagrees is refused as "not what its name says".
BY_SUFFIX: dict[str, frozenset[str]] = {
    ".fit": frozenset({"fit"}),
    ".tcx": frozenset({"tcx"}),
    ".gpx": frozenset({"gpx"}),
    ".csv": frozenset({"csv"}),
    ".txt": frozenset({"rr", "csv"}),
    ".rr": frozenset({"rr"}),
    ".xml": frozenset({"apple-health", "tcx", "gpx"}),
    ".zip": frozenset({"apple-health-zip", "chinup-export"}),
}
NAMES = {"fit": "FIT", "tcx": "TCX", "gpx": "GPX", "csv": "CSV", "rr": "RR text", "apple-health": "Apple Health XML",
         "apple-health-zip": "Apple Health export zip", "chinup-export": "Chin Up export"}  # fmt: skip


def _sniff_zip(fh: BinaryIO) -> str | None:
    fh.seek(0)
    try:
        with zipfile.ZipFile(fh) as zf:
            if is_account_export(zf):
                return "chinup-export"
            return "apple-health-zip" if export_member(zf) else None
    except zipfile.BadZipFile:
        return "damaged-zip"


def _sniff_text(head: bytes) -> str | None:
    text = head.decode("utf-8-sig", errors="replace")
    first = next((line for line in text.splitlines() if line.strip()), "")
    if is_csv_header(first):
        return "csv"
    return "rr" if _NUMBER.match(first) else None


def sniff(fh: BinaryIO) -> str | None:
    """The format the content shows, whatever the name: None when it is none we read."""
    fh.seek(0)
    head = fh.read(HEAD_BYTES)
    fh.seek(0)
    if looks_like_fit(head):
        return "fit"
    if head.startswith(b"PK\x03\x04"):
        return _sniff_zip(fh)
    root = _XML_ROOT.search(head)
    if head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
        return _ROOT_FORMAT[root[1]] if root else None
    return _sniff_text(head)


def detect_format(fh: BinaryIO, name: str) -> str:
    """The file's format from its content, checked against what its name promises.

    Raises:
        WrongFormat: the content is another format than the name says.
        UnknownFormat: the content is no format Chin Up reads.
        CorruptFile: a zip without a readable directory.
    """
    found = sniff(fh)
    promised = BY_SUFFIX.get(Path(name).suffix.lower())
    if found == "damaged-zip":
        raise CorruptFile(name, "the zip directory", "damaged or incomplete zip")
    if found is None and promised == BY_SUFFIX[".csv"]:
        raise WrongFormat(
            name, "line 1", "not a recording CSV: the first line must be a header naming t and bpm"
        )
    if found is None:
        what = (
            f"not a {'/'.join(NAMES[f] for f in sorted(promised))} file"
            if promised
            else "no format Chin Up reads"
        )
        raise (WrongFormat if promised else UnknownFormat)(
            name, "byte 0", what + " (FIT, TCX, GPX, CSV, RR text, Apple Health)"
        )
    if promised is not None and found not in promised:
        raise WrongFormat(
            name,
            "byte 0",
            f"named like {'/'.join(NAMES[f] for f in sorted(promised))} but holds {NAMES[found]}",
        )
    return found


@dataclass
class ImportFile:
    """An opened, recognised file; `entries()` reads it from the start each time it is called."""

    fh: BinaryIO
    name: str
    format: str
    start_ms: int | None = None
    report: ReadReport = field(init=False)
    size_bytes: int = field(init=False)

    def __post_init__(self) -> None:
        self.report = ReadReport(self.name, self.format)
        self.fh.seek(0, os.SEEK_END)
        self.size_bytes = self.fh.tell()
        self.fh.seek(0)

    def entries(self) -> Iterator[Entry]:
        """(source, wire sample) pairs in file order; `report.truncated_at` is set if the file ended early."""
        self.fh.seek(0)
        self.report = ReadReport(self.name, self.format)
        if self.format in ("csv", "rr"):
            reader: Reader = functools.partial(
                read_csv if self.format == "csv" else read_rr, start_ms=self.start_ms
            )
        else:
            reader = READERS[self.format]
        return reader(self.fh, self.report)

    def position(self) -> int:
        """Bytes of the file read so far, for a progress bar."""
        return self.fh.tell()

    def close(self) -> None:
        self.fh.close()

    def __enter__(self) -> ImportFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_import(fh: BinaryIO, name: str, *, start_ms: int | None = None) -> ImportFile:
    """A recognised file from an open binary stream (which must be seekable)."""
    return ImportFile(fh, name, detect_format(fh, name), start_ms)


def read_file(path: Path, *, start_ms: int | None = None) -> ImportFile:
    """A recognised file from a path; close it (or use it as a context manager) when done."""
    fh = path.open("rb")
    try:
        return open_import(fh, path.name, start_ms=start_ms)
    except BaseException:
        fh.close()
        raise
