"""atheris: the FIT importer on any bytes, then ingest validation; only ImportFailed may come out.
Run: .venv/bin/python fuzz/fuzz_fit.py -max_total_time=600 (see fuzz/README.md)."""

from __future__ import annotations

import _harness

with _harness.instrumented():
    import service.importers  # noqa: F401 - imported here to be instrumented


def target(data: bytes) -> None:
    _harness.read_import("ride.fit", data)


if __name__ == "__main__":
    _harness.run(target, "fit")
