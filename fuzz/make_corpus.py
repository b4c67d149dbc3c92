"""Writes the seed corpus under fuzz/corpus/<target>/: small valid files of every format (built with the
formats' own tools, as the tests build them), the real recordings in ../shared/data where present, and
strap payloads over every flag combination. Run once before fuzzing: .venv/bin/python fuzz/make_corpus.py
"""

from __future__ import annotations

import gzip
import hashlib
import sys

import _harness

from devices.hrs import HeartRateMeasurement, encode_measurement
from tests.service.test_importers_support import (
    build_apple_health,
    build_fit,
    build_gpx,
    build_monitoring_fit,
    build_tcx,
    zip_bytes,
)

SHARED = _harness.ROOT.parent / "shared" / "data"
MAX_SEED_BYTES = 64 * 1024  # libFuzzer's default -max_len is taken from the seeds: keep them small


def seeds() -> dict[str, list[bytes]]:
    t0 = _harness.T0_MS
    samples = [(t0 + i * 1000, 60 + i) for i in range(20)]
    day = [(t0 + i * 60_000, 55 + i) for i in range(20)]  # all-day heart rate, once a minute
    out: dict[str, list[bytes]] = {
        "tcx": [build_tcx(samples)],
        "gpx": [build_gpx(samples)],
        "fit": [build_fit(samples, [[0.8, 0.81]] * len(samples)), build_monitoring_fit(day)],
        "apple_health": [build_apple_health(samples, [[(t0 + 5000 + 900 * i, 66) for i in range(10)]])],
        "csv": [
            b"t,bpm,rr_ms,contact\n1700000000000,70,850 851,true\n2023-11-14T22:13:21+00:00,71,,\n3,72,,false\n",
            b"1000\n950\n900\n",
        ],
        "hrs": [
            encode_measurement(HeartRateMeasurement(bpm, contact, energy, rr, wide))
            for bpm in (0, 72, 300)
            for contact in (None, False, True)
            for energy in (None, 1234)
            for rr in ((), (800.0,), (800.0, 1000.0, 650.0))
            for wide in (False, True)
        ],
    }
    out["wrapped"] = wrapped_seeds(samples, day)
    if SHARED.is_dir():
        for path in sorted(SHARED.glob("*")):
            data = path.read_bytes()[:MAX_SEED_BYTES]
            kind = {".fit": "fit", ".csv": "csv", ".txt": "csv"}.get(path.suffix)
            if kind:
                out[kind].append(data)
    return out


HRM = (
    b"[Params]\r\nVersion=106\r\nDate=20240301\r\nStartTime=07:00:00.0\r\nInterval=238\r\n\r\n"
    b"[HRData]\r\n1000\r\n950\r\n900\r\n"
)


def wrapped_seeds(samples: list[tuple[int, int]], day: list[tuple[int, int]]) -> list[bytes]:
    """The new paths of fuzz_wrapped.py: gzip of each format, a zip of many, UTF-16 text, monitoring, HRM."""
    fit, tcx, gpx = build_fit(samples, [[0.8, 0.81]] * len(samples)), build_tcx(samples), build_gpx(samples)
    many = {"a.fit": build_fit(samples[:10]), "b.tcx.gz": gzip.compress(tcx), "c.gpx": gpx, "d.hrm": HRM}
    return [
        gzip.compress(fit),
        gzip.compress(gpx),
        zip_bytes(many),
        build_monitoring_fit(day),
        tcx.decode().replace("utf-8", "utf-16").encode("utf-16"),
        HRM,
    ]


def main() -> None:
    for target, items in seeds().items():
        folder = _harness.CORPUS / target
        folder.mkdir(parents=True, exist_ok=True)
        for data in items:
            (folder / hashlib.sha1(data).hexdigest()).write_bytes(data)
        print(f"{folder}: {len(items)} seeds", file=sys.stderr)


if __name__ == "__main__":
    main()
