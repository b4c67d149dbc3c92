"""Streaming XML on expat with defusedxml's refusals (no entities, no external fetches) and bounded tokens.

Issue 15: one 1 GiB attribute never answered and one 1 GiB text node took 1.2 GB. Expat before 2.6 has no
reparse deferral (CVE-2023-52425): each chunk fed re-scans an unfinished token from its start, so a huge
token costs time quadratic in its size, and ElementTree joins a text node whole. This reader feeds expat
in FEED_BYTES chunks and refuses the file (413) once one token has gone on for more than the limit
(`ReadReport.limits.xml_token_bytes`): bytes fed since expat last reported anything (a tag, its
attributes, a comment, a declaration), or characters of one text node. Only the wanted elements (and what
they hold) become ElementTree elements; everything else is passed over, so memory stays flat.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO
from xml.etree.ElementTree import Element
from xml.parsers import expat

from service.importers.base import ReadReport
from service.importers.errors import CorruptFile
from service.importers.limits import TooLarge, size_text

FEED_BYTES = 64 * 2**10
MAX_RECORD_ELEMENTS = 100_000  # elements inside one wanted element (an Apple Health beat series holds ~100)
TOKEN_SETTING = "CHINUP_IMPORT_MAX_XML_TOKEN_BYTES"
# Whether this expat defers reparsing by itself (2.6+, CVE-2023-52425); the bound below holds either way.
REPARSE_DEFERRAL = hasattr(expat.ParserCreate(), "SetReparseDeferralEnabled")


def local(tag: str) -> str:
    """The element name without its namespace: {http://...}Trackpoint -> Trackpoint."""
    return tag.rsplit("}", 1)[-1]


def child_text(elem: Element, *path: str) -> str | None:
    """Text of the first descendant reached by local names, ignoring namespaces."""
    node: Element | None = elem
    for name in path:
        node = next((c for c in node if local(c.tag) == name), None) if node is not None else None
    return node.text.strip() if node is not None and node.text else None


@dataclass
class XmlState:
    """Shared with the reader: the root's attributes, and whether the reader has taken a record yet."""

    started: bool = False
    root_attrib: dict[str, str] = field(default_factory=dict)
    watch: frozenset[str] = frozenset()  # elements whose attributes are kept when they open
    opened: dict[str, dict[str, str]] = field(default_factory=dict)  # the last opened of each watched name


def _name(raw: str) -> str:
    return "{" + raw if "}" in raw else raw  # expat's "uri}local" as ElementTree's "{uri}local"


class _Builder:
    """Expat's handlers: wanted elements built whole and queued in `done`, the rest only looked at."""

    def __init__(self, parser: Any, names: frozenset[str], state: XmlState, report: ReadReport) -> None:
        self.parser, self.names, self.state, self.report = parser, names, state, report
        self.limit = report.limits.xml_token_bytes
        self.depth = 0
        self.kept: list[Element] = []  # the open wanted element and its open descendants
        self.kept_elements = 0
        self.text: list[str] = []
        self.text_chars = 0
        self.last_event = 0  # byte index of the last thing expat reported
        self.done: list[Element] = []

    def too_large(self, what: str) -> TooLarge:
        where = f"byte {self.parser.CurrentByteIndex}"
        return TooLarge(self.report.file_name, where, f"{what} is longer than {size_text(self.limit)}",
                        TOKEN_SETTING)  # fmt: skip

    def _flush(self) -> None:
        self.last_event = self.parser.CurrentByteIndex
        if self.text:
            if self.kept and self.kept[-1].text is None and not len(self.kept[-1]):
                self.kept[-1].text = "".join(self.text)
            self.text, self.text_chars = [], 0

    def start(self, raw: str, attrib: dict[str, str]) -> None:
        self._flush()
        tag = _name(raw)
        if any("}" in k for k in attrib):
            attrib = {_name(k): v for k, v in attrib.items()}
        name = local(tag)
        if self.depth == 0:
            self.state.root_attrib = dict(attrib)
        if self.state.watch and name in self.state.watch:
            self.state.opened[name] = dict(attrib)
        self.depth += 1
        if self.kept:
            self.kept_elements += 1
            if self.kept_elements > MAX_RECORD_ELEMENTS:
                raise TooLarge(self.report.file_name, f"byte {self.parser.CurrentByteIndex}",
                               f"one <{local(self.kept[0].tag)}> holds more than {MAX_RECORD_ELEMENTS} elements")  # fmt: skip
            elem = Element(tag, attrib)
            self.kept[-1].append(elem)
            self.kept.append(elem)
        elif name in self.names:
            self.kept, self.kept_elements = [Element(tag, attrib)], 0

    def end(self, raw: str) -> None:
        self._flush()
        self.depth -= 1
        if self.kept:
            elem = self.kept.pop()
            if not self.kept:
                self.done.append(elem)

    def data(self, text: str) -> None:
        self.last_event = self.parser.CurrentByteIndex
        self.text_chars += len(text)
        if self.text_chars > self.limit:
            raise self.too_large("one text node")
        if self.kept:
            self.text.append(text)

    def mark(self, *_: object) -> None:
        self.last_event = self.parser.CurrentByteIndex


def _refuse_entities(*_: object) -> int:
    raise ValueError("entity declarations and external references are refused")  # as defusedxml does


def _parser(names: frozenset[str], state: XmlState, report: ReadReport) -> tuple[Any, _Builder]:
    parser = expat.ParserCreate(namespace_separator="}")
    builder = _Builder(parser, names, state, report)
    parser.buffer_text = True
    parser.StartElementHandler = builder.start
    parser.EndElementHandler = builder.end
    parser.CharacterDataHandler = builder.data
    for handler in ("CommentHandler", "ProcessingInstructionHandler", "StartDoctypeDeclHandler",
                    "EndDoctypeDeclHandler", "ElementDeclHandler", "AttlistDeclHandler", "XmlDeclHandler"):  # fmt: skip
        setattr(parser, handler, builder.mark)
    parser.EntityDeclHandler = _refuse_entities
    parser.UnparsedEntityDeclHandler = _refuse_entities
    parser.ExternalEntityRefHandler = _refuse_entities
    return parser, builder


def iter_ends(fh: BinaryIO, report: ReadReport, names: frozenset[str], state: XmlState) -> Iterator[Element]:
    """Each element with one of `names` once complete, in document order; memory stays bounded.

    A parse error after the reader has taken a record (`state.started`) marks the file as ended early there;
    before that it is a corrupt file.

    Raises:
        TooLarge: one token (tag, text node, comment, declaration) passes `report.limits.xml_token_bytes`.
        CorruptFile: not well-formed before the first record, an entity declaration, an unknown encoding.
    """
    parser, builder = _parser(names, state, report)
    fed, broken = 0, None
    try:
        while True:
            chunk = fh.read(FEED_BYTES)
            fed += len(chunk)
            parser.Parse(chunk, not chunk)
            if fed - builder.last_event > builder.limit:
                raise builder.too_large("one XML tag, comment or declaration")
            yield from builder.done
            builder.done.clear()
            if not chunk:
                return
    except expat.ExpatError as exc:
        broken = exc
    except TooLarge:
        raise
    except ValueError as exc:  # entities refused, or an encoding expat cannot read
        raise CorruptFile(report.file_name, "the XML prolog", f"refused XML: {exc}") from exc
    except LookupError as exc:  # an XML declaration naming an unknown encoding (found by fuzz/fuzz_tcx.py)
        raise CorruptFile(report.file_name, "the XML declaration", f"unknown encoding: {exc}") from exc
    if broken is None:
        return
    yield from builder.done  # the whole records before the damage
    place = f"line {broken.lineno}, column {broken.offset + 1}"
    if not state.started:
        raise CorruptFile(report.file_name, place, f"not well-formed XML: {broken}") from broken
    report.truncated_at = place
