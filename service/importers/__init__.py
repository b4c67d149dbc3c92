"""Importers: FIT, TCX, GPX, CSV / RR text, Apple Health and Chin Up exports, read into wire samples."""

from service.importers.base import Entry, Item, ReadReport, Source
from service.importers.detect import ImportFile, detect_format, open_import, read_file, sniff
from service.importers.errors import (
    CorruptFile,
    ImportFailed,
    MissingStart,
    NoHeartRate,
    TruncatedFile,
    UnknownFormat,
    WrongFormat,
)
from service.importers.pipeline import (
    BATCH_MAX,
    BatchResult,
    ImportCounts,
    SampleSink,
    count_entries,
    run_import,
)

__all__ = [
    "BATCH_MAX", "BatchResult", "CorruptFile", "Entry", "ImportCounts", "ImportFailed", "ImportFile", "Item",
    "MissingStart", "NoHeartRate", "ReadReport", "SampleSink", "Source", "TruncatedFile", "UnknownFormat",
    "WrongFormat", "count_entries", "detect_format", "open_import", "read_file", "run_import", "sniff",
]  # fmt: skip
