"""Hypothesis on the text and XML readers: whatever the bytes, only documented import errors come out."""

from __future__ import annotations

import io

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.importers import ImportFailed, open_import
from service.ingest import validate_batch
from tests.service.test_importers_support import build_apple_health, build_gpx, build_tcx

T0_MS = 1_700_000_000_000
SAMPLES = [(T0_MS + i * 1000, 60 + i) for i in range(20)]
SEEDS = {
    "run.tcx": build_tcx(SAMPLES),
    "run.gpx": build_gpx(SAMPLES),
    "export.xml": build_apple_health(SAMPLES, [[(T0_MS + 5000 + 900 * i, 66) for i in range(10)]]),
    "ride.csv": b"t,bpm,rr_ms,contact\n1700000000000,70,850 851,true\n2023-11-14T22:13:21+00:00,71,,\n3,72,,false\n",
    "beats.txt": b"1000\n950\n900\n",
}
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def read_all(name: str, data: bytes) -> None:
    """Read like an import does, then validate like ingest does: both may refuse, neither may crash."""
    try:
        opened = open_import(io.BytesIO(data), name, start_ms=T0_MS)
        items = [item for _, item in opened.entries()]
    except ImportFailed as exc:
        assert exc.file_name == name and exc.place and exc.detail
        return
    validate_batch(items, T0_MS + 10**10, 0)


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
