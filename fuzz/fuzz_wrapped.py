"""atheris: the new import paths on any bytes (gzip of any format, a zip of many, UTF-16 text, FIT monitoring
files, Polar HRM, SportTracks fitlog), through the whole import job, loose and strict; only ImportFailed with
a 4xx status may come out. The file name says nothing, so the content alone picks the reader.
Run: .venv/bin/python fuzz/fuzz_wrapped.py -max_total_time=600 (see fuzz/README.md)."""

from __future__ import annotations

import _harness

with _harness.instrumented():
    import service.importers  # noqa: F401 - imported here to be instrumented


def target(data: bytes) -> None:
    _harness.import_job("upload", data)


if __name__ == "__main__":
    _harness.run(target, "wrapped")
