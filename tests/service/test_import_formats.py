"""Compressed and odd inputs, read by the importers: gzip, zips of several files, UTF-16 and BOMs, SportTracks
fitlog, Polar HRM, FIT monitoring files (16-bit timestamps), FIT with misaligned field sizes, times without an
offset, refusals that say why.

Every fixture is made here from the shared recordings or with the formats' own tools (fit-tool, ElementTree).
"""

from __future__ import annotations

import codecs
import datetime as dt
import gzip
import io
from pathlib import Path
from xml.etree import ElementTree as ET

import fitdecode
import pytest
from fit_tool.fit_file_builder import FitFileBuilder
from fit_tool.profile.messages.file_id_message import FileIdMessage
from fit_tool.profile.messages.record_message import RecordMessage
from fit_tool.profile.profile_type import FileType
from fitdecode.utils import compute_crc

from service.importers import (
    CorruptFile,
    ImportFailed,
    TruncatedFile,
    UnknownFormat,
    WrongFormat,
    open_import,
)
from service.importers.job import check_whole
from service.pipeline.ingest import validate_batch
from tests.service.test_importers_support import (
    FIT_EPOCH_MS,
    build_fit,
    build_gpx,
    build_monitoring_fit,
    build_tcx,
    first_of_each_time,
    reference_samples,
    zip_bytes,
)

T0_MS = 1_700_000_000_000
NOW_MS = 2_000_000_000_000
SAMPLES = [(T0_MS + i * 1000, 90 + i % 60) for i in range(300)]
FITLOG_NS = "http://www.zonefivesoftware.com/xmlschemas/FitnessLogbook/v2"


def read(data: bytes, name: str, **kw: object) -> tuple[list[tuple[int, int]], object]:
    """(t_ms, bpm) as ingest keeps them, and the opened file (for its report)."""
    with open_import(io.BytesIO(data), name, **kw) as opened:  # type: ignore[arg-type]
        items = [item for _, item in opened.entries()]
    verdict = validate_batch(items, NOW_MS, 0)
    assert verdict.rejected == [], verdict.rejected[:3]
    return [(s.t_ms, s.bpm) for s in verdict.clean], opened


def build_fitlog(samples: list[tuple[int, int]], source: str = "Garmin Forerunner 305") -> bytes:
    """SportTracks' fitlog: an Activity's Track of pt elements, tm seconds from the track's StartTime."""
    ET.register_namespace("", FITLOG_NS)
    q = lambda tag: f"{{{FITLOG_NS}}}{tag}"  # noqa: E731
    start = dt.datetime.fromtimestamp(samples[0][0] / 1000, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    root = ET.Element(q("FitnessWorkbook"))
    activity = ET.SubElement(ET.SubElement(root, q("AthleteLog")), q("Activity"), StartTime=start, Id="1")
    ET.SubElement(activity, q("Metadata"), Source=source)
    track = ET.SubElement(activity, q("Track"), StartTime=start)
    for t_ms, bpm in samples:
        ET.SubElement(track, q("pt"), tm=f"{(t_ms - samples[0][0]) / 1000:g}", hr=str(bpm), ele="400")
    return codecs.BOM_UTF8 + ET.tostring(root, encoding="utf-8", xml_declaration=True)


@pytest.mark.parametrize(
    ("name", "build"),
    [("run.tcx", build_tcx), ("run.gpx", build_gpx), ("run.fit", build_fit), ("run.fitlog", build_fitlog)],
)
def test_gzip_of_each_format_reads_as_the_plain_file(name: str, build: object) -> None:
    data = build(SAMPLES)  # type: ignore[operator]
    plain, _ = read(data, name)
    assert plain == SAMPLES
    zipped, opened = read(gzip.compress(data), f"{name}.gz")
    assert zipped == SAMPLES and opened.unwrapped == ["gzip"]  # type: ignore[attr-defined]


def test_a_cut_gzip_keeps_its_start_and_strict_refuses_it(shared_data: Path) -> None:
    data = gzip.compress((shared_data / "fitparse_fenix2_run.fit").read_bytes())
    got, opened = read(data[: len(data) // 2], "ride.fit.gz")
    expected = first_of_each_time(reference_samples(shared_data / "fitparse_fenix2_run.csv"))
    assert 0 < len(got) < len(expected) and got == expected[: len(got)]
    assert opened.report.truncated_at and "gzip stream ends early" in opened.report.warnings[0]  # type: ignore[attr-defined]
    with pytest.raises(ImportFailed, match="refused whole"):
        with open_import(io.BytesIO(data[: len(data) // 2]), "ride.fit.gz", strict=True) as cut:
            check_whole(cut)
    with pytest.raises(CorruptFile, match="gzip"):
        read(data[:10] + bytes(200), "ride.fit.gz")


def test_a_zip_of_several_files_reads_each_and_names_what_it_could_not(shared_data: Path) -> None:
    members = {
        "activities/1.fit.gz": gzip.compress(build_fit(SAMPLES[:100])),
        "activities/2.tcx": build_tcx(SAMPLES[100:200]),
        "activities/3.gpx": build_gpx(SAMPLES[200:]),
        "activities/photo.jpg": b"\xff\xd8\xff\xe0" + bytes(64),
        "__MACOSX/._2.tcx": b"\0\5\x16\7",
        "notes/": b"",
    }
    with open_import(io.BytesIO(zip_bytes(members)), "export.zip") as opened:
        assert opened.format == "zip"
        found = list(opened.members())
    refused = [m for m in found if isinstance(m, ImportFailed)]
    assert [type(m) for m in refused] == [UnknownFormat] and "JPEG" in refused[0].detail, refused
    readable = {m.name: m for m in found if not isinstance(m, ImportFailed)}
    assert sorted(readable) == [f"export.zip/activities/{n}" for n in ("1.fit.gz", "2.tcx", "3.gpx")]
    assert readable["export.zip/activities/1.fit.gz"].unwrapped == ["gzip"]
    for member in readable.values():
        member.close()
    with open_import(io.BytesIO(zip_bytes(members)), "e.zip") as opened:
        got = sorted((item["t"], item["bpm"]) for _, item in opened.entries())
    assert got == SAMPLES


def test_a_zip_holding_nothing_readable_says_what_it_holds() -> None:
    from service.importers.job import import_opened
    from tests.service.test_importers_support import MemorySink

    data = zip_bytes({"a.npy": b"\x93NUMPY" + bytes(40), "b.npy": b"\x93NUMPY" + bytes(40)})
    with pytest.raises(UnknownFormat, match=r"2 file\(s\) \(a.npy, b.npy\).*numpy array"):
        with open_import(io.BytesIO(data), "arrays.zip") as opened:
            import_opened(opened, MemorySink())


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-8-sig"])
def test_utf16_and_bom_xml_and_csv_read_the_same(encoding: str) -> None:
    tcx = build_tcx(SAMPLES).decode("utf-8").replace("encoding='utf-8'", f"encoding='{encoding}'")
    got, opened = read(tcx.encode(encoding), "run.tcx")
    assert got == SAMPLES
    csv = "t,bpm\n" + "".join(f"{t},{b}\n" for t, b in SAMPLES)
    got, _ = read(csv.encode(encoding), "ride.csv")
    assert got == SAMPLES


def test_gpx_and_tcx_times_without_an_offset_are_utc_and_an_unreadable_time_is_one_rejection() -> None:
    for name, build in (("run.gpx", build_gpx), ("run.tcx", build_tcx)):
        data = build(SAMPLES).replace(b"Z</", b"</")  # type: ignore[operator]
        assert b"Z</" not in data
        got, _ = read(data, name)
        assert got == SAMPLES
        broken = data.replace(b"<", b"<", 1).replace(b"2023-11-14T22:13:21.000</", b"yesterday noon</", 1)
        with open_import(io.BytesIO(broken), name) as opened:
            verdict = validate_batch([item for _, item in opened.entries()], NOW_MS, 0)
        assert len(verdict.rejected) == 1 and "time" in verdict.rejected[0].reason
        assert len(verdict.clean) == len(SAMPLES) - 1


def test_fitlog_reads_its_track_points() -> None:
    got, opened = read(build_fitlog(SAMPLES), "run.fitlog")
    assert got == SAMPLES and opened.format == "fitlog"  # type: ignore[attr-defined]
    with open_import(io.BytesIO(build_fitlog(SAMPLES)), "run.fitlog") as again:
        assert next(again.entries())[0].name == "Garmin Forerunner 305"


def test_polar_hrm_rr_file_reads_its_beats_from_its_own_start(shared_data: Path) -> None:
    text = (shared_data / "hrv_submax_cycling_rri.hrm").read_text(encoding="latin-1")
    rr = [int(v) for v in text.split("[HRData]", 1)[1].split()]
    got, opened = read(text.encode("latin-1"), "ride.hrm")
    start = round(dt.datetime(2008, 2, 8, 8, 50, 31, tzinfo=dt.UTC).timestamp() * 1000)
    assert len(got) == len(rr) == 4117 and got[0] == (start + rr[0], round(60_000 / rr[0]))
    assert got[-1][0] == start + sum(rr)
    assert "no UTC offset" in opened.report.warnings[0]  # type: ignore[attr-defined]
    moved, _ = read(text.encode("latin-1"), "ride.hrm", start_ms=T0_MS)
    assert moved[0][0] == T0_MS + rr[0]


def test_polar_hrm_heart_rate_rows_are_spaced_by_the_interval() -> None:
    body = "[Params]\r\nVersion=106\r\nMonitor=22\r\nSMode=000000000\r\nDate=20240301\r\nStartTime=07:00:00.0\r\n"
    body += "Interval=5\r\n\r\n[HRData]\r\n" + "".join(f"{100 + i}\t0\r\n" for i in range(10))
    got, _ = read(body.encode(), "ride.hrm")
    start = round(dt.datetime(2024, 3, 1, 7, tzinfo=dt.UTC).timestamp() * 1000)
    assert got == [(start + i * 5000, 100 + i) for i in range(10)]


def test_fit_monitoring_file_gives_all_day_heart_rate_across_the_16_bit_wrap() -> None:
    day = [(T0_MS + i * 120_000, 50 + i % 40) for i in range(800)]  # 26.7 h: the low 16 bits wrap once
    assert len({((t - FIT_EPOCH_MS) // 1000) >> 16 for t, _ in day}) >= 2
    got, opened = read(build_monitoring_fit(day), "monitor.fit")
    assert got == day
    with open_import(io.BytesIO(build_monitoring_fit(day)), "monitor.fit") as again:
        assert next(again.entries())[0].name == "Garmin fenix5"


def test_the_corrupt_chained_header_names_the_header(shared_data: Path) -> None:
    data = (shared_data / "fitparse_settings_corrupt_header.fit").read_bytes()
    with pytest.raises(ImportFailed, match="chained FIT header at byte 771") as caught:
        read(data, "settings.fit")
    assert caught.value.status < 500
    with pytest.raises(CorruptFile, match="chained FIT header"):
        read(data, "settings.fit", strict=True)


def test_a_fit_cut_inside_its_last_record_keeps_everything_before_it(shared_data: Path) -> None:
    """The Sigma case: every byte the header promises is there, yet the last message runs past them."""
    data = bytearray((shared_data / "fitparse_edge800_indoor_trainer.fit").read_bytes())
    whole, _ = read(bytes(data), "ride.fit")
    size = int.from_bytes(data[4:8], "little")
    data[4:8] = (size - 3).to_bytes(4, "little")  # the declared data now end inside the last message
    got, opened = read(bytes(data), "ride.fit")
    assert got == whole[: len(got)] and len(got) >= len(whole) - 1
    assert "runs past" in opened.report.truncated_at  # type: ignore[attr-defined]
    with pytest.raises((CorruptFile, TruncatedFile)):
        read(bytes(data), "ride.fit", strict=True)


def coros_like_fit(samples: list[tuple[int, int]]) -> bytes:
    """The Coros case: a valid checksum, but a record definition whose power field (uint16) is 1 byte long.

    Written by fit-tool with cadence (uint8, 1 byte) and power (uint16, 2 bytes); the two sizes are then
    swapped (the message keeps its length) and the checksum recomputed with fitdecode's own CRC.
    """
    builder = FitFileBuilder(auto_define=True, min_string_size=50)
    file_id = FileIdMessage()
    file_id.type, file_id.manufacturer, file_id.product = FileType.ACTIVITY, 294, 1  # 294: coros
    file_id.time_created, file_id.serial_number = samples[0][0], 7
    builder.add(file_id)
    for t_ms, bpm in samples:
        record = RecordMessage()
        record.timestamp, record.heart_rate, record.cadence, record.power = t_ms, bpm, 80, 200
        builder.add(record)
    data = bytearray(builder.build().to_bytes())
    at = data.find(b"\x04\x01\x02\x07\x02\x84")  # cadence: field 4, 1 byte, uint8; power: 7, 2, uint16
    assert at > 0 and data.count(b"\x04\x01\x02\x07\x02\x84") == 1
    data[at + 1], data[at + 4] = 2, 1
    data[-2:] = compute_crc(data, end=len(data) - 2).to_bytes(2, "little")
    return bytes(data)


def test_a_fit_with_misaligned_field_sizes_and_a_valid_checksum_reads_as_fitdecode_warn_reads_it() -> None:
    data = coros_like_fit(SAMPLES)
    with pytest.raises(fitdecode.FitParseError, match="invalid field size"):  # what refused it before
        with fitdecode.FitReader(io.BytesIO(data), error_handling=fitdecode.ErrorHandling.RAISE) as reader:
            list(reader)
    with pytest.warns(UserWarning, match="invalid field size"):
        with fitdecode.FitReader(io.BytesIO(data), error_handling=fitdecode.ErrorHandling.WARN) as reader:
            tolerant = [
                (round(f.get_value("timestamp").timestamp() * 1000), f.get_value("heart_rate"))
                for f in reader if f.frame_type == fitdecode.FIT_FRAME_DATA and f.name == "record"
            ]  # fmt: skip
    assert tolerant == SAMPLES
    for strict in (False, True):  # readable, so not damage: strict imports it too
        got, opened = read(data, "coros.fit", strict=strict)
        assert got == tolerant and not opened.report.damaged  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (b"%PDF-1.7\n" + bytes(40), "PDF"),
        (b"\x89PNG\r\n\x1a\n" + bytes(40), "PNG"),
        (b'<?xml version="1.0"?><kml><Document/></kml>', "root element <kml>"),
        (b"date;mood\n2024-01-01;5\n", "first line"),
        (b"", "empty"),
        (b'{"samples": []}', "JSON"),
    ],
)
def test_unknown_formats_say_what_they_are(data: bytes, says: str) -> None:
    with pytest.raises((UnknownFormat, WrongFormat)) as caught:
        open_import(io.BytesIO(data), "upload.bin")
    assert says in caught.value.detail and caught.value.status == 415
