"""The front of the importers: sniff a file's content (not only its name) and open the right reader."""

from __future__ import annotations

import functools
import io
import os
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, BinaryIO

from service.importers.account import is_account_export, read_account_samples
from service.importers.apple_health import export_member, read_apple_health, read_apple_health_zip
from service.importers.base import Entry, ReadReport
from service.importers.containers import (
    GZIP_MAGIC,
    ZIP_DAMAGE,
    extract,
    gunzip,
    member_names,
    open_member,
    text_encoding,
    to_utf8,
)
from service.importers.csv_rr import is_csv_header, read_csv, read_rr
from service.importers.errors import CorruptFile, ImportFailed, UnknownFormat, WrongFormat
from service.importers.fit import looks_like_fit, read_fit
from service.importers.fitlog import read_fitlog
from service.importers.gpx import read_gpx
from service.importers.hrm import is_hrm, read_hrm
from service.importers.limits import DEFAULT_LIMITS, ImportLimits
from service.importers.tcx import read_tcx

HEAD_BYTES = 65_536
_XML_ROOT = re.compile(rb"<(?:[\w.-]+:)?(TrainingCenterDatabase|gpx|HealthData|FitnessWorkbook)[\s>/]")
_ANY_ROOT = re.compile(rb"<([\w.:-]+)[\s>/]")
_ROOT_FORMAT = {b"TrainingCenterDatabase": "tcx", b"gpx": "gpx", b"HealthData": "apple-health",
                b"FitnessWorkbook": "fitlog"}  # fmt: skip
_NUMBER = re.compile(r"^\s*\d+(\.\d+)?\s*$")

Reader = Callable[[BinaryIO, ReadReport], Iterator[Entry]]
READERS: dict[str, Reader] = {
    "fit": read_fit,
    "tcx": read_tcx,
    "gpx": read_gpx,
    "fitlog": read_fitlog,
    "apple-health": read_apple_health,
    "apple-health-zip": read_apple_health_zip,
    "chinup-export": read_account_samples,
}
# What each file name promises; content that disagrees is refused as "not what its name says".
BY_SUFFIX: dict[str, frozenset[str]] = {
    ".fit": frozenset({"fit"}),
    ".tcx": frozenset({"tcx"}),
    ".gpx": frozenset({"gpx"}),
    ".fitlog": frozenset({"fitlog"}),
    ".hrm": frozenset({"hrm"}),
    ".csv": frozenset({"csv"}),
    ".txt": frozenset({"rr", "csv", "hrm"}),
    ".rr": frozenset({"rr"}),
    ".xml": frozenset({"apple-health", "tcx", "gpx", "fitlog"}),
    ".zip": frozenset({"apple-health-zip", "chinup-export", "zip"}),
}
NAMES = {"fit": "FIT", "tcx": "TCX", "gpx": "GPX", "fitlog": "SportTracks fitlog", "hrm": "Polar HRM",
         "csv": "CSV", "rr": "RR text", "apple-health": "Apple Health XML", "apple-health-zip": "Apple Health export zip",
         "chinup-export": "Chin Up export", "zip": "zip of recordings"}  # fmt: skip
KNOWN = "FIT, TCX, GPX, SportTracks fitlog, Polar HRM, CSV, RR text, Apple Health, gzip or zip of them"
# Content we recognise but do not read, so a refusal can say what the file is.
_MAGIC = ((b"\x89PNG", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image"), (b"%PDF", "a PDF document"),
          (b"GIF8", "a GIF image"), (b"7z\xbc\xaf", "a 7-Zip archive"), (b"Rar!", "a RAR archive"),
          (b"BZh", "a bzip2 stream"), (b"\x93NUMPY", "a numpy array"), (b"\xfd7zXZ", "an xz stream"), (b"SQLite format 3", "an SQLite database"),
          (b"{", "JSON"), (b"[", "JSON"))  # fmt: skip


def _sniff_zip(fh: BinaryIO) -> str | None:
    fh.seek(0)
    try:
        with zipfile.ZipFile(fh) as zf:
            if is_account_export(zf):
                return "chinup-export"
            if export_member(zf):
                return "apple-health-zip"
            return "zip"
    except ZIP_DAMAGE:
        return "damaged-zip"


def _sniff_text(head: bytes) -> str | None:
    if is_hrm(head):
        return "hrm"
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
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return _sniff_zip(fh)
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if text_encoding(head):
        return "wide-text"
    root = _XML_ROOT.search(head)
    if head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
        return _ROOT_FORMAT[root[1]] if root else None
    return _sniff_text(head)


def why_unknown(fh: BinaryIO) -> str:
    """What the content looks like, for a refusal that says why it is not read."""
    fh.seek(0)
    head = fh.read(HEAD_BYTES)
    fh.seek(0)
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not head:
        return "the file is empty"
    for magic, what in _MAGIC:
        if stripped.startswith(magic):
            return f"it is {what}"
    if stripped.startswith(b"<"):
        root = next((m[1] for m in _ANY_ROOT.finditer(stripped) if not m[1].startswith((b"?", b"!"))), None)
        name = root.decode("utf-8", "replace").split(":")[-1] if root else "?"
        return f"XML whose root element <{name}> is none of TrainingCenterDatabase, gpx, FitnessWorkbook, HealthData"
    if len(head) >= 12 and head[8:12] == b".FIT":
        return f"a FIT signature with a header size of {head[0]} (FIT headers are 12 or 14 bytes)"
    if b"\0" in head[:512]:
        return "binary data without a FIT header ('.FIT' at bytes 8-11)"
    first = next((line for line in head.decode("utf-8", "replace").splitlines() if line.strip()), "")
    return f"text whose first line {first[:40]!r} is no CSV header naming t and bpm, nor an RR interval in ms"


def detect_format(fh: BinaryIO, name: str, named_as: str | None = None) -> str:
    """The file's format from its content, checked against what its name (or `named_as`) promises.

    Raises:
        WrongFormat: the content is another format than the name says.
        UnknownFormat: the content is no format Chin Up reads (the message says what it looks like).
        CorruptFile: a zip without a readable directory.
    """
    found = sniff(fh)
    promised = BY_SUFFIX.get(Path(named_as or name).suffix.lower())
    if found == "damaged-zip":
        raise CorruptFile(name, "the zip directory", "damaged or incomplete zip")
    if found is None and promised == BY_SUFFIX[".csv"]:
        raise WrongFormat(
            name, "line 1", "not a recording CSV: the first line must be a header naming t and bpm"
        )
    if found is None or found in ("gzip", "wide-text"):
        why = why_unknown(fh) if found is None else "it is wrapped more than once"
        what = (
            f"not a {'/'.join(NAMES[f] for f in sorted(promised))} file"
            if promised
            else "no format Chin Up reads"
        )
        raise (WrongFormat if promised else UnknownFormat)(
            name, "byte 0", f"{what}: {why} (Chin Up reads {KNOWN})"
        )
    if promised is not None and found not in promised:
        raise WrongFormat(
            name,
            "byte 0",
            f"named like {'/'.join(NAMES[f] for f in sorted(promised))} but holds {NAMES[found]}",
        )
    return found


def _refuse_unknown_head(
    zf: zipfile.ZipFile, info: zipfile.ZipInfo, member_name: str, zip_name: str, limits: ImportLimits
) -> None:
    """A member whose first bytes are no format we read is refused before it is unpacked (a 1 GiB JSON
    member took 11 s to copy out only to be refused as JSON)."""
    try:
        with open_member(zf, info, zip_name, limits) as member:
            head = io.BytesIO(member.read(HEAD_BYTES))
    except ZIP_DAMAGE:
        return  # extract() names the damage
    if sniff(head) is None:
        detect_format(head, member_name, info.filename)  # raises, with what the content looks like


def inner_name(name: str) -> str:
    """The name a compressed file had before it was compressed: ride.fit.gz -> ride.fit."""
    for suffix in (".gz", ".gzip"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name


@dataclass
class ImportFile:
    """An opened, recognised file; `entries()` reads it from the start each time it is called.

    `unwrapped` says what was undone to reach the format (gzip, UTF-16); a "zip" of several recordings
    is read member by member through `members()`.
    """

    fh: BinaryIO
    name: str
    format: str
    start_ms: int | None = None
    strict: bool = False
    unwrapped: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    owned: list[IO[bytes]] = field(default_factory=list)
    limits: ImportLimits = DEFAULT_LIMITS
    report: ReadReport = field(init=False)
    size_bytes: int = field(init=False)

    def __post_init__(self) -> None:
        self.report = self._new_report()
        self.fh.seek(0, os.SEEK_END)
        self.size_bytes = self.fh.tell()
        self.fh.seek(0)

    def _new_report(self) -> ReadReport:
        return ReadReport(
            self.name, self.format, strict=self.strict, warnings=list(self.warnings), limits=self.limits
        )

    def entries(self) -> Iterator[Entry]:
        """(source, wire sample) pairs in file order; `report.truncated_at` is set if the file ended early."""
        self.fh.seek(0)
        self.report = self._new_report()
        if self.format == "zip":
            return self._all_members()
        if self.format in ("csv", "rr", "hrm"):
            plain = {"csv": read_csv, "rr": read_rr, "hrm": read_hrm}[self.format]
            reader: Reader = functools.partial(plain, start_ms=self.start_ms)
        else:
            reader = READERS[self.format]
        return reader(self.fh, self.report)

    def members(self) -> Iterator[ImportFile | ImportFailed]:
        """Each file of a zip of recordings, opened; a member that cannot be opened comes as its error."""
        self.fh.seek(0)
        try:
            zf = zipfile.ZipFile(self.fh)
        except ZIP_DAMAGE as exc:
            raise CorruptFile(self.name, "the zip directory", f"damaged or incomplete zip: {exc}") from exc
        with zf:
            infos = member_names(zf, self.name, self.limits)
            for info in infos:
                member_name = f"{self.name}/{info.filename}"
                try:
                    _refuse_unknown_head(zf, info, member_name, self.name, self.limits)
                    data = extract(zf, info, self.name, self.limits)
                except ImportFailed as exc:
                    yield exc
                    continue
                try:
                    if sniff(data) in ("zip", "apple-health-zip", "chinup-export"):  # type: ignore[arg-type]
                        raise UnknownFormat(
                            member_name, "byte 0", "a zip inside a zip is not read; unpack it first"
                        )
                    yield open_import(data, member_name, start_ms=self.start_ms, strict=self.strict,  # type: ignore[arg-type]
                                      named_as=info.filename, limits=self.limits)  # fmt: skip
                except ImportFailed as exc:
                    data.close()
                    yield exc

    def _all_members(self) -> Iterator[Entry]:
        """Every readable member's entries in turn (service.importers.job reports on each one instead)."""
        for member in self.members():
            if isinstance(member, ImportFailed):
                continue
            with member:
                try:
                    yield from member.entries()
                except ImportFailed:
                    continue

    def position(self) -> int:
        """Bytes of the file read so far, for a progress bar."""
        return self.fh.tell()

    def close(self) -> None:
        for owned in self.owned:
            owned.close()
        self.fh.close()

    def __enter__(self) -> ImportFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_import(
    fh: BinaryIO,
    name: str,
    *,
    start_ms: int | None = None,
    strict: bool = False,
    named_as: str | None = None,
    limits: ImportLimits = DEFAULT_LIMITS,
) -> ImportFile:
    """A recognised file from an open binary stream (which must be seekable); gzip and UTF-16 undone first.

    Raises:
        ImportFailed: the file is none Chin Up reads, is damaged, or passes one of `limits` (TooLarge).
    """
    unwrapped: list[str] = []
    warnings: list[str] = []
    owned: list[IO[bytes]] = []
    current: BinaryIO = fh
    suffix_name = inner_name(named_as or name)
    try:
        for _ in range(2):  # gzip of UTF-16 text at most
            found = sniff(current)
            if found == "gzip":
                done = gunzip(current, name, limits)
            elif found == "wide-text":
                current.seek(0)
                encoding = text_encoding(current.read(HEAD_BYTES)) or "utf-16"
                done = to_utf8(current, name, encoding, limits)
            else:
                break
            owned.append(done.fh)
            current = done.fh  # type: ignore[assignment]
            unwrapped.append(done.how)
            if done.warning:
                warnings.append(done.warning)
        fmt = detect_format(current, name, suffix_name)
    except BaseException:
        for spooled in owned:
            spooled.close()
        raise
    if current is not fh:
        owned.append(fh)  # type: ignore[arg-type]
    return ImportFile(current, name, fmt, start_ms, strict, unwrapped, warnings, owned, limits)


def read_file(path: Path, *, start_ms: int | None = None, strict: bool = False) -> ImportFile:
    """A recognised file from a path; close it (or use it as a context manager) when done."""
    fh = path.open("rb")
    try:
        return open_import(fh, path.name, start_ms=start_ms, strict=strict)
    except BaseException:
        fh.close()
        raise
