"""The one guarded way list parsers read XML: streamed, DTDs and entities refused, every error a
``ListFormatError`` with the file and line.

The UN, EU and UK lists are XML from outside; a DOCTYPE anywhere before the root (behind a
comment or a processing instruction too) is refused by defusedxml's parser itself, so no entity
can be declared, expanded (billion laughs) or fetched. A file cut off mid-download is named as
such. Elements are handed out as they finish so callers can clear them and keep memory flat.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path

from defusedxml import DefusedXmlException, DTDForbidden
from defusedxml.ElementTree import DefusedXMLParser, iterparse

from bot.lists.types import ListFormatError

PROLOG_LIMIT = 64 * 1024


def check_prolog(path: Path, publisher: str) -> None:
    """Refuse empty files and UTF-16/32 before the parser sees them (``publisher`` publishes
    UTF-8), and a file with no markup at all, with a reason rather than a parser error."""
    with path.open("rb") as handle:
        head = handle.read(PROLOG_LIMIT)
    if not head.strip():
        raise ListFormatError(path, "file is empty")
    if b"\x00" in head:
        raise ListFormatError(path, f"UTF-16/32 XML is not accepted ({publisher} is UTF-8)", 1)
    if re.search(rb"<[A-Za-z_!?]", head) is None:
        raise ListFormatError(path, f"no XML markup in the first {PROLOG_LIMIT} bytes")


def events(
    path: Path, kinds: tuple[str, ...] = ("start", "end"), lines: deque[int] | None = None
) -> Iterator[tuple[str, ET.Element]]:
    """defusedxml's streaming parser with DTDs forbidden; errors become ``ListFormatError``.

    ``lines``: ``iterparse`` hands out events a 16 KiB chunk late, when expat's position is past
    them, so each element's start line is appended here as expat reads it (for callers that
    report a record's line).
    """
    parser = DefusedXMLParser(forbid_dtd=True, forbid_entities=True, forbid_external=True)
    expat = parser.parser
    found = iterparse(path, events=kinds, parser=parser)
    build_start: Callable[..., object] | None = expat.StartElementHandler
    if lines is not None and build_start is not None:  # set by iterparse for "start" events

        def start(*args: object) -> object:
            lines.append(expat.CurrentLineNumber)
            return build_start(*args)

        expat.StartElementHandler = start
    try:
        yield from found
    except ET.ParseError as exc:
        line = exc.position[0] if exc.position else None
        raise ListFormatError(path, f"malformed XML: {_reason(exc)}", line) from exc
    except DefusedXmlException as exc:
        what = "a DOCTYPE" if isinstance(exc, DTDForbidden) else "an entity declaration"
        reason = f"XML declares {what}: refused so that no entity can expand"
        raise ListFormatError(path, reason, expat.CurrentLineNumber) from exc


def root_tag(path: Path) -> str:
    """The root element's tag, read by the same guarded parser (a DTD is refused here too)."""
    for _, element in events(path, ("start",)):
        return element.tag
    raise ListFormatError(path, "no XML root element")


def _reason(exc: ET.ParseError) -> str:
    """expat's message without its own position suffix (the line goes into the error's prefix);
    "no element found" (cut between elements) and "unclosed token" (cut inside a tag) only
    occur at the end of input: a cut-off download."""
    reason = re.sub(r":\s*line \d+, column \d+$", "", str(exc))
    if reason.startswith(("no element found", "unclosed token")):
        return f"{reason} (file truncated?)"
    return reason
