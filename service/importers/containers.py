"""What wraps a recording: gzip (Strava's .fit.gz, .gpx.gz, .tcx.gz), UTF-16/32 text, zips of several files.

Each is unwrapped into a spooled temporary file (memory first, disk past SPOOL_MEMORY_BYTES), so the
readers see a plain seekable stream and memory stays bounded. Sizes are capped so a small bomb cannot fill
the disk; a gzip stream cut or damaged part way keeps what came before it (the reader then finds the cut).
"""

from __future__ import annotations

import codecs
import re
import shutil
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from typing import IO, BinaryIO

from service.importers.errors import CorruptFile, ImportFailed

SPOOL_MEMORY_BYTES = 32 * 2**20
MAX_EXPANDED_BYTES = 4 * 2**30  # one unwrapped file, however it was compressed
MAX_ZIP_MEMBERS = 10_000
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


class TooLarge(ImportFailed):
    """Unwrapped, the file would exceed MAX_EXPANDED_BYTES."""

    status = 413


def spool() -> IO[bytes]:
    return tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES)  # noqa: SIM115 - the caller owns it


@dataclass
class Unwrapped:
    """A decompressed or re-encoded copy, and what was done to get it (for the report)."""

    fh: IO[bytes]
    how: str
    warning: str | None = None


def _limit(name: str, written: int) -> None:
    if written > MAX_EXPANDED_BYTES:
        raise TooLarge(
            name, f"byte {MAX_EXPANDED_BYTES}", f"unpacks to more than {MAX_EXPANDED_BYTES >> 30} GiB"
        )


def gunzip(fh: BinaryIO, name: str) -> Unwrapped:
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
                _limit(name, written)
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


def to_utf8(fh: BinaryIO, name: str, encoding: str) -> Unwrapped:
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
        _limit(name, written)
        out.write(data)
    out.seek(0)
    return Unwrapped(out, encoding.upper().replace("-LE", "").replace("-BE", ""))


def member_names(zf: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    """The zip's files worth a look: no folders, no macOS resource forks, no hidden files."""
    infos = [
        i for i in zf.infolist()
        if not i.is_dir() and not i.filename.startswith("__MACOSX/")
        and not i.filename.rsplit("/", 1)[-1].startswith(".")
    ]  # fmt: skip
    return infos[:MAX_ZIP_MEMBERS]


def extract(zf: zipfile.ZipFile, info: zipfile.ZipInfo, zip_name: str) -> IO[bytes]:
    """One member copied out to a spooled file (zip members are not seekable streams), size-capped."""
    if info.file_size > MAX_EXPANDED_BYTES:
        raise TooLarge(zip_name, info.filename, f"unpacks to more than {MAX_EXPANDED_BYTES >> 30} GiB")
    out = spool()
    try:
        with zf.open(info) as member:
            shutil.copyfileobj(member, out, CHUNK)
    except ZIP_DAMAGE as exc:
        out.close()
        raise CorruptFile(zip_name, info.filename, f"damaged or unreadable zip member: {exc}") from exc
    out.seek(0)
    return out
