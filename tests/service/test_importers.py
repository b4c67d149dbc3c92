"""Readers on real FIT files and on TCX, GPX, Apple Health, CSV and RR fixtures built with the formats' tools."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from service.importers import (
    CorruptFile,
    ImportFailed,
    MissingStart,
    NoHeartRate,
    UnknownFormat,
    WrongFormat,
    open_import,
    read_file,
)
from service.pipeline.ingest import validate_batch
from tests.service.test_importers_support import (
    REAL_FITS,
    build_apple_health,
    build_fit,
    build_gpx,
    build_tcx,
    first_of_each_time,
    recording_csv,
    reference_samples,
    zip_bytes,
)

T0_MS = 1_700_000_000_000
NOW_MS = 2_000_000_000_000


def entries(data: bytes, name: str, **kw: int) -> tuple[str, list, str | None]:
    opened = open_import(io.BytesIO(data), name, **kw)
    found = list(opened.entries())
    return opened.format, found, opened.report.truncated_at


def pairs(found: list) -> list[tuple[int, int]]:
    """(t_ms, bpm) as ingest sees them: through the same validation as a live upload."""
    verdict = validate_batch([item for _, item in found], NOW_MS, 0)
    clean, rejected = verdict.clean, verdict.rejected
    assert rejected == []
    return [(s.t_ms, s.bpm) for s in clean]


@pytest.mark.parametrize("stem", REAL_FITS)
def test_real_fit_matches_the_csv_made_from_it(shared_data: Path, stem: str) -> None:
    expected = reference_samples(shared_data / f"{stem}.csv")
    with read_file(shared_data / f"{stem}.fit") as opened:
        found = list(opened.entries())
        assert opened.format == "fit" and opened.report.truncated_at is None
    # Every second of records, as the CSV has them: records of one second (fr110: 7 repeats) merge, first HR kept.
    assert [(item["t"], item["bpm"]) for _, item in found] == first_of_each_time(expected)
    assert pairs(found) == first_of_each_time(expected)  # and ingest keeps every one
    source = found[0][0]
    assert source.name.startswith("Garmin") and source.address.startswith("import:fit:garmin:")


@pytest.mark.parametrize("fraction", [0.25, 0.5, 0.9, 0.999])
def test_truncated_fit_imports_up_to_its_last_whole_record(
    shared_data: Path, tmp_path: Path, fraction: float
) -> None:
    data = (shared_data / "fitparse_fenix2_run.fit").read_bytes()
    cut = tmp_path / "died-mid-run.fit"
    cut.write_bytes(data[: int(len(data) * fraction)])
    expected = reference_samples(shared_data / "fitparse_fenix2_run.csv")
    with read_file(cut) as opened:
        got = pairs(list(opened.entries()))
        where = opened.report.truncated_at
    assert 0 < len(got) <= len(expected) and got == expected[: len(got)]
    assert len(got) >= fraction * len(expected) - 60  # a record is ~40 bytes: little is lost
    assert where is not None and f"of {len(data) - 0}" not in where and "byte" in where


def test_fit_cut_inside_its_header_is_refused_and_damage_is_salvaged_or_refused_by_name(
    shared_data: Path, tmp_path: Path
) -> None:
    data = (shared_data / "fitparse_edge800_indoor_trainer.fit").read_bytes()
    with pytest.raises(CorruptFile, match="byte") as caught:
        entries(data[:40], "short.fit")
    assert "short.fit" in str(caught.value)
    expected = pairs(entries(data, "whole.fit")[1])
    for at, reason in ((5000, "checksum at the end"), (len(data) // 2, "damaged FIT data")):
        damaged = bytearray(data)
        damaged[at] ^= 0xFF  # at len/2 a record header: the parse loses step, though no byte is missing
        with pytest.raises(CorruptFile, match=reason):
            entries(bytes(damaged), "damaged.fit", strict=True)
        opened = open_import(io.BytesIO(bytes(damaged)), "damaged.fit")
        got = [(item["t"], item["bpm"]) for _, item in opened.entries()]
        if at == 5000:  # one value changed: every record kept, the checksum named in a warning
            assert len(got) == len(expected) and any(
                "checksum at the end" in w for w in opened.report.warnings
            )
        else:  # every record before the damage kept; the report says where the rest was left out
            assert 0 < len(got) < len(expected) and got == expected[: len(got)]
            where = opened.report.truncated_at or opened.report.skipped[0].place
            assert "byte" in where


def test_a_bad_header_checksum_is_named_as_the_headers(shared_data: Path) -> None:
    data = bytearray((shared_data / "fitparse_fenix2_run.fit").read_bytes())
    assert data[0] == 14 and data[12:14] != b"\0\0"
    data[12] ^= 0x55
    with pytest.raises(CorruptFile, match="FIT header's checksum") as caught:
        entries(bytes(data), "head.fit", strict=True)
    assert "at the end" not in str(caught.value)
    opened = open_import(io.BytesIO(bytes(data)), "head.fit")
    assert len(list(opened.entries())) == 2808 and "header" in opened.report.warnings[0]


def test_fit_hrv_messages_give_rr_intervals_in_ms() -> None:
    samples = [(T0_MS + i * 1000, 70 + i % 5) for i in range(30)]
    rr_s = [[0.857, 0.851] if i % 2 else [0.862] for i in range(30)]
    fmt, found, _ = entries(build_fit(samples, rr_s), "strap.fit")
    assert fmt == "fit" and pairs(found) == samples
    assert [item["rr_ms"] for _, item in found] == [[pytest.approx(x * 1000) for x in rr] for rr in rr_s]
    assert found[0][0].name == "Polar Electro 7"


def test_tcx_and_gpx_written_from_the_fit_samples_read_back_the_same(shared_data: Path) -> None:
    samples = first_of_each_time(reference_samples(shared_data / "fitparse_fr110_run_smart_recording.csv"))
    fmt, found, _ = entries(build_tcx(samples), "run.tcx")
    assert fmt == "tcx" and pairs(found) == samples and found[0][0].name == "Forerunner 965"
    for prefix in ("gpxtpx", "tpx1"):
        fmt, found, _ = entries(build_gpx(samples, prefix), "run.gpx")
        assert fmt == "gpx" and pairs(found) == samples and found[0][0].name == "Garmin Connect"


def test_cut_xml_imports_its_whole_records_and_says_where_it_ended() -> None:
    samples = [(T0_MS + i * 1000, 100 + i % 50) for i in range(400)]
    data = build_tcx(samples)
    fmt, found, where = entries(data[: len(data) * 2 // 3], "cut.tcx")
    got = pairs(found)
    assert 200 < len(got) < 400 and got == samples[: len(got)]
    assert where is not None and where.startswith("line 2, column")  # line 1: the XML declaration


def test_apple_health_records_and_beat_series(tmp_path: Path) -> None:
    hr = [(T0_MS + i * 300_000, 60 + i % 40) for i in range(50)]
    beat_ms = [T0_MS + 86_400_000 + 860 * i for i in range(80)]
    series = [(t, round(60000 / 860)) for t in beat_ms]
    xml = build_apple_health(hr, [series], noise=20)
    fmt, found, _ = entries(xml, "export.xml")
    assert fmt == "apple-health"
    got = pairs(found)
    assert got[:50] == hr and [t for t, _ in got[50:]] == beat_ms
    assert [item.get("rr_ms") for _, item in found[51:]] == [[860.0]] * 79
    assert {s.name for s, _ in found} == {"Apple Watch"} and found[0][0].model == "Watch"
    fmt, zipped, _ = entries(zip_bytes({"apple_health_export/export.xml": xml}), "export.zip")
    assert fmt == "apple-health-zip" and zipped == found


def test_apple_health_beat_series_across_midnight() -> None:
    hr = [(T0_MS, 60)]
    # 2023-11-14 22:13:20 UTC is 00:13:20 at +02:00; start the series 20 s before local midnight
    midnight_ms = T0_MS - (13 * 60 + 20) * 1000
    beat_ms = [midnight_ms - 20_000 + 1000 * i for i in range(40)]
    fmt, found, _ = entries(build_apple_health(hr, [[(t, 60) for t in beat_ms]]), "export.xml")
    assert [t for t, _ in pairs(found)[1:]] == beat_ms


def test_csv_in_its_three_time_forms_and_rr_text() -> None:
    samples = [(T0_MS + i * 1000, 120 + i % 30) for i in range(100)]
    assert pairs(entries(recording_csv(samples), "a.csv")[1]) == samples
    assert pairs(entries(recording_csv(samples, start_ms=T0_MS), "a.csv", start_ms=T0_MS)[1]) == samples
    iso = b"t,bpm\n2023-11-14T22:13:20+00:00,70\n2023-11-15T00:13:21+02:00,71\n"
    assert pairs(entries(iso, "iso.csv")[1]) == [(T0_MS, 70), (T0_MS + 1000, 71)]
    with pytest.raises(MissingStart, match="line 2"):
        entries(recording_csv(samples, start_ms=T0_MS), "relative.csv")
    rr = b"1000\n800\n\n750\n"
    fmt, found, _ = entries(rr, "beats.txt", start_ms=T0_MS)
    assert fmt == "rr" and pairs(found) == [(T0_MS + 1000, 60), (T0_MS + 1800, 75), (T0_MS + 2550, 80)]
    with pytest.raises(MissingStart):
        entries(rr, "beats.txt")


def test_real_rr_text_file(shared_data: Path) -> None:
    with read_file(shared_data / "hrv_supine_rest_rri.txt", start_ms=T0_MS) as opened:
        got = pairs(list(opened.entries()))
    total_ms = sum(float(x) for x in (shared_data / "hrv_supine_rest_rri.txt").read_text().split())
    assert len(got) == 910 and got[-1][0] == T0_MS + round(total_ms)  # 16.1 min of beats
    bpm = sorted(b for _, b in got)
    assert 53 <= bpm[len(bpm) // 2] <= 64  # README: supine rest, HR 53-64


def test_cut_csv_row_marks_the_end_and_bad_rows_are_left_to_ingest() -> None:
    text = b"t,bpm,rr_ms\n1700000000000,70,850\n1700000001000,abc,\n1700000002000,72,840 8\n1700000003"
    _, found, where = entries(text, "cut.csv")
    assert where == "line 5" and len(found) == 3
    verdict = validate_batch([item for _, item in found], NOW_MS, 0)
    clean, rejected = verdict.clean, verdict.rejected
    assert [r.index for r in rejected] == [1] and len(clean) == 2  # bpm "abc"
    assert clean[1].rr_ms == (840.0,) and verdict.rr_dropped == 1  # RR 8 ms dropped alone, its beat kept


@pytest.mark.parametrize(
    ("name", "data", "error"),
    [
        ("run.fit", b'<?xml version="1.0"?><TrainingCenterDatabase/>', WrongFormat),
        ("run.tcx", b"t,bpm\n1700000000000,70\n", WrongFormat),
        ("run.gpx", build_tcx([(T0_MS, 70)]), WrongFormat),
        ("notes.csv", b"date,mood\n2024-01-01,5\n", WrongFormat),
        ("photo.jpg", b"\xff\xd8\xff\xe0" + bytes(100), UnknownFormat),
        ("export.zip", b"PK\x03\x04" + bytes(60), CorruptFile),
        (
            "empty.tcx",
            b'<?xml version="1.0"?><TrainingCenterDatabase><Activities/></TrainingCenterDatabase>',
            NoHeartRate,
        ),
        ("broken.tcx", b'<?xml version="1.0"?><TrainingCenterDatabase><Act</Tr>', CorruptFile),
        ("export.xml", b'<?xml version="1.0"?><HealthData locale="en"><Record type="x"', CorruptFile),
    ],
)
def test_wrong_or_corrupt_files_are_refused_naming_file_and_place(
    name: str, data: bytes, error: type
) -> None:
    with pytest.raises(error) as caught:
        entries(data, name)
    assert isinstance(caught.value, ImportFailed) and caught.value.file_name == name and caught.value.place
    assert name in caught.value.detail and "(at " in caught.value.detail
