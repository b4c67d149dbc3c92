"""One import from an opened file to a sink, with its report; the API and `chinup import` both run it.

Strict, the file (every member of a zip) is read through first and refused whole at the first damage,
before anything is stored. Otherwise whatever can be read is stored, and the report says what was
left out, where, and why; a zip's members are imported and reported one by one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from service.importers.base import Skipped
from service.importers.detect import ImportFile
from service.importers.errors import CorruptFile, ImportFailed, TruncatedFile, UnknownFormat
from service.importers.pipeline import BATCH_MAX, ImportCounts, SampleSink, count_entries, run_import


@dataclass
class FileReport:
    """What became of one file: counts, where it ended early, what was skipped, or why it was refused."""

    file: str
    format: str
    counts: ImportCounts = field(default_factory=ImportCounts)
    unwrapped: list[str] = field(default_factory=list)
    truncated_at: str | None = None
    skipped: list[Skipped] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    refused: ImportFailed | None = None  # a zip member that could not be imported
    members: list[FileReport] = field(default_factory=list)

    @property
    def imported(self) -> bool:
        """Whether the file gave any sample that is now stored (new or already there)."""
        return self.counts.accepted + self.counts.duplicates > 0


def check_whole(opened: ImportFile) -> None:
    """Strict mode's first pass: read everything, store nothing, refuse at the first sign of damage.

    Raises:
        TruncatedFile: the file (or a member) ends early.
        CorruptFile: a part of it was skipped, or its compression is damaged.
        ImportFailed: a zip member cannot be imported at all.
    """
    if opened.format == "zip":
        for member in opened.members():
            if isinstance(member, ImportFailed):
                raise member
            with member:
                check_whole(member)
        return
    if opened.warnings:
        raise CorruptFile(
            opened.name, "the compressed stream", f"{opened.warnings[0]}; refused whole (strict)"
        )
    count_entries(opened.entries())
    report = opened.report
    if report.truncated_at:
        raise TruncatedFile(opened.name, report.truncated_at, "the file ends early; refused whole (strict)")
    if report.skipped:
        first = report.skipped[0]
        raise CorruptFile(opened.name, first.place, f"{first.reason}; refused whole (strict)")


def _refused_zip(opened: ImportFile, members: list[FileReport]) -> ImportFailed:
    """Why a zip gave nothing: its members grouped by the reason each was refused for."""
    by_reason: dict[str, list[str]] = {}
    for m in members:
        if m.refused is not None:
            by_reason.setdefault(m.refused.reason, []).append(m.file.rsplit("/", 1)[-1])
    reasons = "; ".join(
        f"{len(names)} file(s) ({', '.join(names[:3])}{', …' if len(names) > 3 else ''}): {reason}"
        for reason, names in by_reason.items()
    )[:2000]
    if not members:
        return UnknownFormat(opened.name, "the zip directory", "the zip holds no file")
    unknown = all(isinstance(m.refused, UnknownFormat) for m in members)
    error = UnknownFormat if unknown else ImportFailed
    return error(opened.name, "every member", f"no file in the zip could be imported: {reasons}")


def _import_zip(opened: ImportFile, sink: SampleSink, batch_size: int,
                on_batch: Callable[[ImportCounts], None] | None) -> FileReport:  # fmt: skip
    total = FileReport(opened.name, "zip")
    for member in opened.members():
        if isinstance(member, ImportFailed):
            total.members.append(FileReport(member.file_name, "unknown", refused=member))
            continue
        with member:
            try:
                report = import_opened(member, sink, batch_size=batch_size, on_batch=on_batch)
            except ImportFailed as exc:
                report = FileReport(member.name, member.format, refused=exc)
        total.members.append(report)
        total.counts.merge(report.counts)
    if not any(m.refused is None for m in total.members):
        raise _refused_zip(opened, total.members)
    return total


def import_opened(
    opened: ImportFile,
    sink: SampleSink,
    *,
    batch_size: int = BATCH_MAX,
    on_batch: Callable[[ImportCounts], None] | None = None,
    before_samples: Callable[[ImportFile], None] | None = None,
) -> FileReport:
    """Import `opened` into `sink` and report on it; `before_samples` runs once the file is known good.

    Raises:
        ImportFailed: the file cannot be imported (strict: it is damaged); nothing of it was stored.
    """
    if opened.strict:
        check_whole(opened)
    if opened.format == "zip":
        return _import_zip(opened, sink, batch_size, on_batch)
    if before_samples is not None:
        before_samples(opened)
    counts = run_import(opened.entries(), sink, batch_size=batch_size, on_batch=on_batch)
    report = opened.report
    return FileReport(
        file=opened.name, format=opened.format, counts=counts, unwrapped=list(opened.unwrapped),
        truncated_at=report.truncated_at, skipped=list(report.skipped), warnings=list(report.warnings),
    )  # fmt: skip
