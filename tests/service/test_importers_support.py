"""Fixture builders for importer tests: files written with each format's own tools, never typed by hand."""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
from pathlib import Path
from xml.etree import ElementTree as ET

from fit_tool.fit_file_builder import FitFileBuilder
from fit_tool.profile.messages.file_id_message import FileIdMessage
from fit_tool.profile.messages.hrv_message import HrvMessage
from fit_tool.profile.messages.monitoring_info_message import MonitoringInfoMessage
from fit_tool.profile.messages.monitoring_message import MonitoringMessage
from fit_tool.profile.messages.record_message import RecordMessage
from fit_tool.profile.profile_type import FileType, Manufacturer

TCX_NS = "http://www.garmin.com/xmlschemas/TrainingCenterDatabase/v2"
GPX_NS = "http://www.topografix.com/GPX/1/1"
TPX_NS = "http://www.garmin.com/xmlschemas/TrackPointExtension/v1"
REAL_FITS = ("fitparse_fenix2_run", "fitparse_edge800_indoor_trainer", "fitparse_fr110_run_smart_recording")


def reference_samples(csv_path: Path) -> list[tuple[int, int]]:
    """(t_ms, bpm) of the rows with a heart rate in a ../shared/data CSV made from its FIT file."""
    with csv_path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    return [
        (
            round(dt.datetime.fromisoformat(r["timestamp_utc"].replace("Z", "+00:00")).timestamp() * 1000),
            int(r["heart_rate_bpm"]),
        )
        for r in rows
        if r["heart_rate_bpm"]
    ]


def first_of_each_time(samples: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """What ingest keeps of samples with repeated times: the first of each."""
    seen: set[int] = set()
    return [(t, b) for t, b in samples if not (t in seen or seen.add(t))]  # type: ignore[func-returns-value]


def iso(t_ms: int) -> str:
    return (
        dt.datetime.fromtimestamp(t_ms / 1000, dt.UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


def build_tcx(samples: list[tuple[int, int]], creator: str = "Forerunner 965") -> bytes:
    ET.register_namespace("", TCX_NS)
    q = lambda tag: f"{{{TCX_NS}}}{tag}"  # noqa: E731
    root = ET.Element(q("TrainingCenterDatabase"))
    activity = ET.SubElement(ET.SubElement(root, q("Activities")), q("Activity"), Sport="Running")
    ET.SubElement(activity, q("Id")).text = iso(samples[0][0])
    track = ET.SubElement(ET.SubElement(activity, q("Lap"), StartTime=iso(samples[0][0])), q("Track"))
    for t_ms, bpm in samples:
        point = ET.SubElement(track, q("Trackpoint"))
        ET.SubElement(point, q("Time")).text = iso(t_ms)
        ET.SubElement(ET.SubElement(point, q("HeartRateBpm")), q("Value")).text = str(bpm)
    creator_elem = ET.SubElement(activity, q("Creator"))
    ET.SubElement(creator_elem, q("Name")).text = creator
    ET.SubElement(creator_elem, q("UnitId")).text = "3999999999"
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def build_gpx(samples: list[tuple[int, int]], prefix: str = "gpxtpx") -> bytes:
    ET.register_namespace("", GPX_NS)
    ET.register_namespace(prefix, TPX_NS)
    root = ET.Element(f"{{{GPX_NS}}}gpx", version="1.1", creator="Garmin Connect")
    segment = ET.SubElement(ET.SubElement(root, f"{{{GPX_NS}}}trk"), f"{{{GPX_NS}}}trkseg")
    for i, (t_ms, bpm) in enumerate(samples):
        point = ET.SubElement(segment, f"{{{GPX_NS}}}trkpt", lat=f"{47 + i * 1e-5:.6f}", lon="8.5")
        ET.SubElement(point, f"{{{GPX_NS}}}time").text = iso(t_ms)
        ext = ET.SubElement(
            ET.SubElement(point, f"{{{GPX_NS}}}extensions"), f"{{{TPX_NS}}}TrackPointExtension"
        )
        ET.SubElement(ext, f"{{{TPX_NS}}}hr").text = str(bpm)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


APPLE_DOCTYPE = b"<!DOCTYPE HealthData [\n<!ELEMENT HealthData (ExportDate,Record*)>\n<!ATTLIST HealthData locale CDATA #REQUIRED>\n]>\n"


def apple_time(t_ms: int, offset_h: int = 2) -> str:
    zone = dt.timezone(dt.timedelta(hours=offset_h))
    return dt.datetime.fromtimestamp(t_ms / 1000, zone).strftime("%Y-%m-%d %H:%M:%S %z")


def build_apple_health(
    hr: list[tuple[int, int]], beats: list[list[tuple[int, int]]] = (), noise: int = 0
) -> bytes:
    """An export.xml: HR records, HRV records carrying beat series (bpm, time of day), and unrelated records."""
    root = ET.Element("HealthData", locale="en_CH")
    ET.SubElement(root, "ExportDate", value=apple_time(hr[-1][0] if hr else 0))
    device = "<<HKDevice: 0x1>, name:Apple Watch, manufacturer:Apple Inc., model:Watch, hardware:Watch6,1>"
    for i in range(noise):
        ET.SubElement(root, "Record", type="HKQuantityTypeIdentifierStepCount", sourceName="iPhone", unit="count",
                      startDate=apple_time(hr[0][0] + i), endDate=apple_time(hr[0][0] + i), value="12")  # fmt: skip
    for t_ms, bpm in hr:
        rec = ET.SubElement(root, "Record", type="HKQuantityTypeIdentifierHeartRate", sourceName="Apple Watch",
                            device=device, unit="count/min", creationDate=apple_time(t_ms), startDate=apple_time(t_ms),
                            endDate=apple_time(t_ms), value=str(bpm))  # fmt: skip
        ET.SubElement(rec, "MetadataEntry", key="HKMetadataKeyHeartRateMotionContext", value="0")
    for series in beats:
        start = series[0][0] - 1000
        rec = ET.SubElement(root, "Record", type="HKQuantityTypeIdentifierHeartRateVariabilitySDNN",
                            sourceName="Apple Watch", device=device, unit="ms", startDate=apple_time(start),
                            endDate=apple_time(series[-1][0]), value="48.2")  # fmt: skip
        hrv = ET.SubElement(rec, "HeartRateVariabilityMetadataList")
        for t_ms, bpm in series:
            local = dt.datetime.fromtimestamp(t_ms / 1000, dt.timezone(dt.timedelta(hours=2)))
            clock = local.strftime("%I:%M:%S.") + f"{local.microsecond // 10000:02d} " + local.strftime("%p")
            ET.SubElement(hrv, "InstantaneousBeatsPerMinute", bpm=str(bpm), time=clock.lstrip("0"))
    body = ET.tostring(root, encoding="utf-8")
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + APPLE_DOCTYPE + body


def zip_bytes(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return out.getvalue()


def build_fit(
    samples: list[tuple[int, int]], rr_s: list[list[float]] | None = None, serial: int = 0x1234
) -> bytes:
    """A FIT activity written by fit-tool: file_id, then record messages each followed by an hrv message."""
    builder = FitFileBuilder(auto_define=True, min_string_size=50)
    file_id = FileIdMessage()
    file_id.type = FileType.ACTIVITY
    file_id.manufacturer = Manufacturer.POLAR_ELECTRO.value
    file_id.product = 7
    file_id.time_created = samples[0][0]
    file_id.serial_number = serial
    builder.add(file_id)
    for i, (t_ms, bpm) in enumerate(samples):
        record = RecordMessage()
        record.timestamp = t_ms
        record.heart_rate = bpm
        builder.add(record)
        if rr_s is not None and rr_s[i]:
            hrv = HrvMessage()
            hrv.time = rr_s[i]
            builder.add(hrv)
    return bytes(builder.build().to_bytes())


FIT_EPOCH_MS = 631_065_600_000


def build_monitoring_fit(samples: list[tuple[int, int]], serial: int = 0x4321) -> bytes:
    """A Garmin monitoring_b file as a watch writes all-day heart rate: one monitoring message with a full
    timestamp, then monitoring messages carrying only heart_rate and the low 16 bits of their time."""
    builder = FitFileBuilder(auto_define=True, min_string_size=50)
    file_id = FileIdMessage()
    file_id.type = FileType.MONITORING_B
    file_id.manufacturer = Manufacturer.GARMIN.value
    file_id.product = 2697  # a fenix 5 in the FIT profile's garmin_product list
    file_id.time_created = samples[0][0]
    file_id.serial_number = serial
    builder.add(file_id)
    info = MonitoringInfoMessage()
    info.timestamp = samples[0][0]
    builder.add(info)
    full = MonitoringMessage()
    full.timestamp = samples[0][0] - 60_000
    full.cycles = 10
    builder.add(full)
    for t_ms, bpm in samples:
        message = MonitoringMessage()
        message.timestamp_16 = ((t_ms - FIT_EPOCH_MS) // 1000) & 0xFFFF
        message.heart_rate = bpm
        builder.add(message)
    return bytes(builder.build().to_bytes())


def recording_csv(samples: list[tuple[int, int]], start_ms: int | None = None) -> bytes:
    """The contract's recording CSV (t in seconds from the start when start_ms is given, else epoch ms)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["t", "bpm", "rr_ms"])
    for t_ms, bpm in samples:
        t = (t_ms - start_ms) / 1000 if start_ms is not None else t_ms
        writer.writerow([t, bpm, f"{60000 / bpm:.1f}"])
    return out.getvalue().encode()


class MemorySink:
    """A sink that keeps batches in memory and judges them as ingest does: for reader and pipeline tests."""

    def __init__(self, now_ms: int = 2_000_000_000_000) -> None:
        self.now_ms, self.stored, self.devices = now_ms, {}, {}

    def device_for(self, source: object) -> int:
        return self.devices.setdefault(source, len(self.devices) + 1)

    def send(self, device_id: int, items: list) -> object:
        from service.importers import BatchResult
        from service.pipeline.ingest import validate_batch

        verdict = validate_batch(items, self.now_ms, 0)
        mine = self.stored.setdefault(device_id, {})
        new = [s for s in verdict.clean if s.t_ms not in mine]
        mine.update((s.t_ms, s.bpm) for s in new)
        return BatchResult(len(new), len(verdict.clean) - len(new) + verdict.repeats,
                           [(r.index, r.reason) for r in verdict.rejected], verdict.rr_dropped,
                           [s.t_ms for s in verdict.clean])  # fmt: skip
