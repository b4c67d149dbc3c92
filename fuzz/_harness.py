"""Shared by the atheris harnesses: the import path under test, and a runner that works without atheris too.

Each harness feeds bytes to one parser that takes outside input; only its documented errors may come out
(anything else escapes, and atheris reports it as a crash with the input saved). Without atheris installed,
`--smoke N` runs N random mutations of the seeds with Python's own generator: a check that the harness runs.
"""

from __future__ import annotations

import contextlib
import io
import random
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# What atheris instruments for coverage feedback: the project's parsers and the libraries they hand bytes to.
# Instrumenting everything loaded (numpy, SQLAlchemy, …) takes minutes and adds only noise.
INSTRUMENTED = ["devices", "service", "fitdecode", "defusedxml", "xml", "csv", "zipfile"]
T0_MS = 1_700_000_000_000
CORPUS = Path(__file__).resolve().parent / "corpus"


def smoke() -> bool:
    return len(sys.argv) >= 3 and sys.argv[1] == "--smoke"


def instrumented() -> contextlib.AbstractContextManager[object]:
    """Import the code under test inside this block, so atheris can instrument it (a no-op without it)."""
    if smoke():
        return contextlib.nullcontext()
    import atheris  # only needed for real fuzzing; see fuzz/README.md

    return atheris.instrument_imports(include=INSTRUMENTED)


def read_import(name: str, data: bytes) -> None:
    """Read like POST /imports does, then validate like ingest does: both may refuse, neither may crash."""
    from service.importers import ImportFailed, open_import
    from service.pipeline.ingest import validate_batch

    try:
        with open_import(io.BytesIO(data), name, start_ms=T0_MS) as opened:
            items = [item for _, item in opened.entries()]
    except ImportFailed as exc:
        if not (exc.file_name == name and exc.place and exc.detail):
            raise AssertionError(f"ImportFailed without its file, place or detail: {exc!r}") from exc
        return
    validate_batch(items, T0_MS + 10**10, 0)


def import_job(name: str, data: bytes) -> None:
    """The whole job as POST /imports runs it (gzip and UTF-16 undone, a zip member by member), loose and
    strict, into a sink that judges batches as ingest does: refusals are ImportFailed with a 4xx status."""
    from service.importers import ImportFailed, open_import
    from service.importers.job import import_opened
    from tests.service.test_importers_support import MemorySink

    for strict in (False, True):
        try:
            with open_import(io.BytesIO(data), name, start_ms=T0_MS, strict=strict) as opened:
                report = import_opened(opened, MemorySink(T0_MS + 10**10))
        except ImportFailed as exc:
            if not (exc.file_name.startswith(name) and exc.place and exc.detail and 400 <= exc.status < 500):
                raise AssertionError(
                    f"ImportFailed without its file, place, detail or a 4xx: {exc!r}"
                ) from exc
            continue
        if report.counts.samples < report.counts.accepted:
            raise AssertionError(f"more samples stored than read: {report.counts}")


def _mutate(data: bytes, rng: random.Random) -> bytes:
    buf = bytearray(data[: rng.randint(0, len(data))] if rng.random() < 0.3 else data)
    for _ in range(rng.randint(1, 8)):
        if buf and rng.random() < 0.7:
            buf[rng.randrange(len(buf))] = rng.randrange(256)
        else:
            buf[rng.randint(0, len(buf)) : rng.randint(0, len(buf))] = rng.randbytes(rng.randint(0, 16))
    return bytes(buf)


def run(target: Callable[[bytes], None], corpus_name: str) -> None:
    """atheris over `target` with the seed corpus fuzz/corpus/<corpus_name>, or `--smoke N` without it."""
    seeds_dir = CORPUS / corpus_name
    if smoke():
        rng = random.Random(0)
        seeds = [p.read_bytes() for p in sorted(seeds_dir.glob("*"))] or [b""]
        for _ in range(int(sys.argv[2])):
            target(_mutate(rng.choice(seeds), rng))
        print(f"{corpus_name}: {sys.argv[2]} mutated inputs, no undocumented error")
        return
    import atheris  # only needed for real fuzzing; see fuzz/README.md

    args = list(sys.argv)
    if seeds_dir.is_dir() and not any(not a.startswith("-") for a in args[1:]):
        args.append(str(seeds_dir))  # libFuzzer reads the seeds and adds what it finds to the same folder
    atheris.Setup(args, target)
    atheris.Fuzz()
