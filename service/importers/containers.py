"""What wraps a recording: gzip (Strava's .fit.gz, .gpx.gz, .tcx.gz), UTF-16/32 text, zips of several files.

Each is unwrapped into a spooled temporary file (memory first, disk past SPOOL_MEMORY_BYTES), so the
readers see a plain seekable stream and memory stays bounded. Sizes are capped so a small bomb cannot fill
the disk; a gzip stream cut or damaged part way keeps what came before it (the reader then finds the cut).
"""

from __future__ import annotations

import codecs
import io
import re
import shutil
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from typing import IO, BinaryIO

from service.importers.errors import CorruptFile
from service.importers.limits import DEFAULT_LIMITS, BoundedReader, ImportLimits, TooLarge, size_text

SPOOL_MEMORY_BYTES = 32 * 2**20
MAX_EXPANDED_BYTES = DEFAULT_LIMITS.expanded_bytes  # the defaults; the API passes the settings' limits
MAX_ZIP_MEMBERS = DEFAULT_LIMITS.zip_members
EXPANDED_SETTING = "CHINUP_IMPORT_MAX_EXPANDED_BYTES"
CHUNK = 2**20
# What zipfile raises on a damaged archive besides BadZipFile (found by tests/service/test_importers_fuzz.py):
# a negative seek (ValueError), an unknown version or method (NotImplementedError), a password (RuntimeError).
ZIP_DAMAGE = (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, zlib.error, ValueError, NotImplementedError,
              RuntimeError, OSError)  # fmt: skip
GZIP_MAGIC = b"\x1f\x8b"
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"),
)  # fmt: skip
_XML_ENCODING = re.compile(rb"""^(\s*<\?xml[^>]*?encoding\s*=\s*)(["'])[^"']*\2""")


__all__ = ["TooLarge"]  # re-exported: it used to live here


def spool() -> IO[bytes]:
    return tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES)  # noqa: SIM115 - the caller owns it


@dataclass
class Unwrapped:
    """A decompressed or re-encoded copy, and what was done to get it (for the report)."""

    fh: IO[bytes]
    how: str
    warning: str | None = None


def too_large(name: str, place: str, limit_bytes: int) -> TooLarge:
    return TooLarge(name, place, f"unpacks to more than {size_text(limit_bytes)}", EXPANDED_SETTING)


def _limit(name: str, written: int, limit_bytes: int) -> None:
    if written > limit_bytes:
        raise too_large(name, f"byte {limit_bytes}", limit_bytes)


def gunzip(fh: BinaryIO, name: str, limits: ImportLimits = DEFAULT_LIMITS) -> Unwrapped:
    """Every gzip member of `fh` decompressed; damage part way keeps the bytes before it, with a warning."""
    out, written, warning = spool(), 0, None
    fh.seek(0)
    inflater = zlib.decompressobj(wbits=31)
    read, finished = 0, False
    try:
        while not finished and (chunk := fh.read(CHUNK)):
            read += len(chunk)
            while chunk:
                data = inflater.decompress(chunk, CHUNK)
                written += len(data)
                _limit(name, written, limits.expanded_bytes)
                out.write(data)
                chunk = inflater.unconsumed_tail
                if inflater.eof:  # a next member may follow (gzip allows several); anything else is padding
                    rest = inflater.unused_data + chunk
                    if not rest.startswith(GZIP_MAGIC) and (rest or fh.read(2) != GZIP_MAGIC):
                        finished = True
                        break
                    if not rest:
                        fh.seek(-2, 1)
                    inflater = zlib.decompressobj(wbits=31)
                    chunk = rest
        if not finished:
            tail = inflater.flush()
            out.write(tail)
            written += len(tail)
        if not finished and not inflater.eof and written:
            warning = f"the gzip stream ends early (after {read} compressed bytes); its start was read"
    except TooLarge:
        out.close()
        raise
    except zlib.error as exc:
        if not written:
            out.close()
            raise CorruptFile(name, "byte 0", f"not a readable gzip stream: {exc}") from exc
        warning = f"the gzip stream is damaged near compressed byte {read}: {exc}; its start was read"
    if not written:
        out.close()
        raise CorruptFile(name, "byte 0", "the gzip stream holds no data")
    out.seek(0)
    return Unwrapped(out, "gzip", warning)


def text_encoding(head: bytes) -> str | None:
    """UTF-16 or UTF-32 from a byte-order mark, or from the zero bytes of ASCII text without one."""
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            return encoding
    pairs = [head[i : i + 2] for i in range(0, min(len(head), 200) - 1, 2)]
    if len(pairs) < 4:
        return None
    # ASCII text in UTF-16: each pair one printable byte and one zero (in the order of the byte order)
    for encoding, text_at in (("utf-16-le", 0), ("utf-16-be", 1)):
        if all(p[1 - text_at] == 0 and (32 <= p[text_at] < 127 or p[text_at] in (9, 10, 13)) for p in pairs):
            return encoding
    return None


def to_utf8(fh: BinaryIO, name: str, encoding: str, limits: ImportLimits = DEFAULT_LIMITS) -> Unwrapped:
    """The text re-encoded as UTF-8 without a BOM; an XML declaration's encoding is rewritten to match."""
    out, written, first = spool(), 0, True
    fh.seek(0)
    reader = codecs.getreader(encoding)(fh, errors="replace")
    while text := reader.read(CHUNK):
        data = text.lstrip("\ufeff").encode("utf-8") if first else text.encode("utf-8")
        if first:
            data = _XML_ENCODING.sub(rb"\1\2UTF-8\2", data, count=1)
            first = False
        written += len(data)
        if written > limits.expanded_bytes:
            out.close()
            raise too_large(name, f"byte {limits.expanded_bytes}", limits.expanded_bytes)
        out.write(data)
    out.seek(0)
    return Unwrapped(out, encoding.upper().replace("-LE", "").replace("-BE", ""))


def member_names(
    zf: zipfile.ZipFile, zip_name: str = "zip", limits: ImportLimits = DEFAULT_LIMITS
) -> list[zipfile.ZipInfo]:
    """The zip's files worth a look: no folders, no macOS resource forks, no hidden files.

    Raises:
        TooLarge: the zip lists more entries than the limit, or its members unpack to more than it in all.
    """
    listed = zf.infolist()
    if len(listed) > limits.zip_members:
        raise TooLarge(zip_name, "the zip directory",
                       f"the zip lists {len(listed)} entries, more than {limits.zip_members}",
                       "CHINUP_IMPORT_MAX_ZIP_MEMBERS")  # fmt: skip
    infos = [
        i for i in listed
        if not i.is_dir() and not i.filename.startswith("__MACOSX/")
        and not i.filename.rsplit("/", 1)[-1].startswith(".")
    ]  # fmt: skip
    if (
        sum(i.file_size for i in infos) > limits.expanded_bytes
    ):  # what the directory says; counted again below
        raise too_large(zip_name, "the zip directory", limits.expanded_bytes)
    return infos


def open_member(
    zf: zipfile.ZipFile, info: zipfile.ZipInfo, zip_name: str, limits: ImportLimits = DEFAULT_LIMITS
) -> BinaryIO:
    """A member as a stream that refuses to unpack past the limit, whatever its header claims."""
    if info.file_size > limits.expanded_bytes:
        raise too_large(zip_name, info.filename, limits.expanded_bytes)
    refuse = too_large(zip_name, info.filename, limits.expanded_bytes)
    return io.BufferedReader(BoundedReader(zf.open(info), limits.expanded_bytes, refuse), CHUNK)  # type: ignore[arg-type]


def extract(
    zf: zipfile.ZipFile, info: zipfile.ZipInfo, zip_name: str, limits: ImportLimits = DEFAULT_LIMITS
) -> IO[bytes]:
    """One member copied out to a spooled file (zip members are not seekable streams), size-capped."""
    out = spool()
    try:
        with open_member(zf, info, zip_name, limits) as member:
            shutil.copyfileobj(member, out, CHUNK)
    except TooLarge:
        out.close()
        raise
    except ZIP_DAMAGE as exc:
        out.close()
        raise CorruptFile(zip_name, info.filename, f"damaged or unreadable zip member: {exc}") from exc
    out.seek(0)
    return out
