"""Hypothesis on the readers and their wrappers (gzip, zips of several files, UTF-16, FIT monitoring files):
whatever the bytes, only documented import errors come out, and through the API never a 5xx."""

from __future__ import annotations

import gzip
import io

import pytest
from fastapi.testclient import TestClient
from fitdecode.utils import compute_crc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.importers import ImportFailed, open_import
from service.importers.job import import_opened
from service.pipeline.ingest import validate_batch
from tests.service.test_importers_support import (
    MemorySink,
    build_apple_health,
    build_fit,
    build_gpx,
    build_monitoring_fit,
    build_tcx,
    zip_bytes,
)
from tests.support.users import TestUser, sign_up

T0_MS = 1_700_000_000_000
SAMPLES = [(T0_MS + i * 1000, 60 + i) for i in range(20)]
SEEDS = {
    "run.tcx": build_tcx(SAMPLES),
    "run.gpx": build_gpx(SAMPLES),
    "export.xml": build_apple_health(SAMPLES, [[(T0_MS + 5000 + 900 * i, 66) for i in range(10)]]),
    "ride.csv": b"t,bpm,rr_ms,contact\n1700000000000,70,850 851,true\n2023-11-14T22:13:21+00:00,71,,\n3,72,,false\n",
    "beats.txt": b"1000\n950\n900\n",
    "polar.hrm": b"[Params]\r\nVersion=106\r\nDate=20240301\r\nStartTime=07:00:00.0\r\nInterval=238\r\n\r\n"
    b"[HRData]\r\n1000\r\n950\r\n900\r\n",
}
# the new paths: compressed, several in one, re-encoded, all-day monitoring
SEEDS |= {
    "ride.fit": build_fit(SAMPLES, [[0.8, 0.81]] * len(SAMPLES)),
    "ride.fit.gz": gzip.compress(build_fit(SAMPLES, [[0.8, 0.81]] * len(SAMPLES))),
    "run.gpx.gz": gzip.compress(SEEDS["run.gpx"]),
    "many.zip": zip_bytes(
        {
            "a.fit": build_fit(SAMPLES[:10]),
            "b.tcx.gz": gzip.compress(SEEDS["run.tcx"]),
            "c.gpx": SEEDS["run.gpx"],
            "d.hrm": SEEDS["polar.hrm"],
        }
    ),  # fmt: skip
    "monitor.fit": build_monitoring_fit([(T0_MS + i * 60_000, 55 + i) for i in range(20)]),
    "wide.tcx": SEEDS["run.tcx"].decode().replace("utf-8", "utf-16").encode("utf-16"),
}


@pytest.fixture(scope="module")
def fuzz_user(client: TestClient) -> TestUser:
    return sign_up(client)


FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def read_all(name: str, data: bytes) -> None:
    """Read like an import does, then validate like ingest does: both may refuse, neither may crash.

    Then the whole job as POST /imports runs it (a zip member by member), loose and strict.
    """
    try:
        with open_import(io.BytesIO(data), name, start_ms=T0_MS) as opened:
            items = [item for _, item in opened.entries()]
    except ImportFailed as exc:
        assert exc.file_name == name and exc.place and exc.detail
        return
    validate_batch(items, T0_MS + 10**10, 0)
    for strict in (False, True):
        try:
            with open_import(io.BytesIO(data), name, start_ms=T0_MS, strict=strict) as opened:
                report = import_opened(opened, MemorySink(T0_MS + 10**10))
        except ImportFailed as exc:
            assert exc.file_name.startswith(name) and exc.place and exc.detail and exc.status < 500
            continue
        assert report.counts.samples >= report.counts.accepted


@FUZZ
@given(
    name=st.sampled_from(sorted(SEEDS)),
    cut=st.floats(0, 1),
    flips=st.lists(st.tuples(st.floats(0, 1), st.integers(1, 255)), max_size=4),
)
def test_damaged_copies_of_valid_files(name: str, cut: float, flips: list[tuple[float, int]]) -> None:
    data = bytearray(SEEDS[name][: int(len(SEEDS[name]) * cut) + 1])
    for where, mask in flips:
        data[min(int(where * len(data)), len(data) - 1)] ^= mask
    read_all(name, bytes(data))


@FUZZ
@given(name=st.sampled_from(sorted(SEEDS)), text=st.text(max_size=300))
def test_arbitrary_text_after_a_valid_head(name: str, text: str) -> None:
    read_all(name, SEEDS[name][:40] + text.encode("utf-8", "surrogatepass"))


@FUZZ
@given(
    rows=st.lists(
        st.lists(st.text(alphabet="0123456789.:-+TZe ,abc", max_size=30), min_size=0, max_size=5), max_size=20
    )
)
def test_csv_rows_of_any_shape(rows: list[list[str]]) -> None:
    body = "\n".join(",".join(cells) for cells in rows)
    read_all("any.csv", f"t,bpm,rr_ms,contact\n{body}".encode())


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    name=st.sampled_from(["ride.fit", "ride.fit.gz", "many.zip", "monitor.fit", "wide.tcx", "polar.hrm"]),
    cut=st.floats(0, 1),
    flips=st.lists(st.tuples(st.floats(0, 1), st.integers(1, 255)), max_size=3),
    strict=st.booleans(),
)
def test_the_api_answers_damaged_new_formats_with_a_4xx_or_a_report(
    client: TestClient,
    fuzz_user: TestUser,
    name: str,
    cut: float,
    flips: list[tuple[float, int]],
    strict: bool,
) -> None:
    data = bytearray(SEEDS[name][: int(len(SEEDS[name]) * cut) + 1])
    for where, mask in flips:
        data[min(int(where * len(data)), len(data) - 1)] ^= mask
    answer = client.post(
        "/api/v1/imports", files={"file": (name, bytes(data))}, data={"strict": str(strict).lower()},
        headers=fuzz_user.headers,
    )  # fmt: skip
    assert answer.status_code in (200, 413, 415, 422), answer.text
    if answer.status_code != 200:
        assert name in answer.json()["detail"]


@pytest.mark.parametrize(
    ("global_num", "base_type"),
    [(55, 0x88), (103, 0x07)],  # a float timestamp before 16-bit times; a text timestamp in an unread message
)
def test_a_timestamp_of_the_wrong_base_type_is_left_out_not_a_crash(global_num: int, base_type: int) -> None:
    """Found by fuzz/fuzz_wrapped.py: a float time made the 16-bit time arithmetic raise TypeError, and a
    text timestamp in a message with no wanted field raised IndexError. The checksum is made valid again."""
    day = [(T0_MS + i * 60_000, 55 + i) for i in range(20)]
    data = bytearray(build_monitoring_fit(day))
    definition = data.find(b"\0\0" + bytes([global_num, 0]))  # reserved, little-endian, the global number
    at = data.find(b"\xfd\x04\x86", definition)  # field 253 (timestamp), 4 bytes, uint32
    assert definition > 0 and at > definition
    data[at + 2] = base_type
    data[-2:] = compute_crc(data, end=len(data) - 2).to_bytes(2, "little")
    with open_import(io.BytesIO(bytes(data)), "monitor.fit") as opened:
        got = [(item["t"], item["bpm"]) for _, item in opened.entries()]
    assert got == day  # the other messages' times still place every sample
    read_all("monitor.fit", bytes(data))


def definition_fields(data: bytes) -> list[int]:
    """Byte offsets of every field definition (number, size, base type) of a well-formed FIT file."""
    out, sizes, pos, end = [], {}, data[0], data[0] + int.from_bytes(data[4:8], "little")
    while pos < end:
        header = data[pos]
        if header & 0xC0 == 0x40:  # a definition message (no developer fields in these seeds)
            n = data[pos + 5]
            fields = range(pos + 6, pos + 6 + 3 * n, 3)
            out += list(fields)
            sizes[header & 0x0F] = sum(data[i + 1] for i in fields)
            pos += 6 + 3 * n
        else:
            pos += 1 + sizes[(header >> 5) & 0x03 if header & 0x80 else header & 0x0F]
    return out


@FUZZ
@given(
    name=st.sampled_from(["ride.fit", "monitor.fit"]),
    changes=st.lists(
        st.tuples(st.floats(0, 1), st.integers(0, 255), st.integers(0, 255)), min_size=1, max_size=3
    ),
)
def test_fit_definitions_of_any_field_size_and_base_type(
    name: str, changes: list[tuple[float, int, int]]
) -> None:
    """Definitions rewritten to any size and base type (the checksum made valid again, so strict reads on):
    a FIT writer's mistakes in its definitions, which byte flips alone rarely reach."""
    data = bytearray(SEEDS[name])
    fields = definition_fields(bytes(data))
    for where, size, base in changes:
        at = fields[min(int(where * len(fields)), len(fields) - 1)]
        data[at + 1], data[at + 2] = size, base
    data[-2:] = compute_crc(data, end=len(data) - 2).to_bytes(2, "little")
    read_all(name, bytes(data))
