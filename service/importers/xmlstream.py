"""Streaming XML with defusedxml (no entity expansion, no external fetches), namespace-agnostic names."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO
from xml.etree.ElementTree import Element, ParseError

from defusedxml.ElementTree import iterparse

from service.importers.base import ReadReport
from service.importers.errors import CorruptFile


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


def iter_ends(fh: BinaryIO, report: ReadReport, names: frozenset[str], state: XmlState) -> Iterator[Element]:
    """Each element with one of `names` once complete; the root is emptied as we go, so memory stays bounded.

    A parse error after the reader has taken a record (`state.started`) marks the file as ended early there;
    before that it is a corrupt file.
    """
    root: Element | None = None
    try:
        for event, elem in iterparse(fh, events=("start", "end"), forbid_dtd=False):
            if root is None:
                root = elem
                state.root_attrib = dict(elem.attrib)
            if event == "start" and state.watch and local(elem.tag) in state.watch:
                state.opened[local(elem.tag)] = dict(elem.attrib)
            if event == "end" and local(elem.tag) in names:
                yield elem
                elem.clear()
                if root is not None and len(root) > 64:
                    del root[:-1]
    except ParseError as exc:
        line, column = exc.position
        place = f"line {line}, column {column + 1}"
        if not state.started:
            raise CorruptFile(report.file_name, place, f"not well-formed XML: {exc.msg}") from exc
        report.truncated_at = place
    except ValueError as exc:  # defusedxml's refusals (DTD entities), or an encoding expat cannot read
        raise CorruptFile(report.file_name, "the XML prolog", f"refused XML: {exc}") from exc
    except LookupError as exc:  # an XML declaration naming an unknown encoding (found by fuzz/fuzz_tcx.py)
        raise CorruptFile(report.file_name, "the XML declaration", f"unknown encoding: {exc}") from exc
