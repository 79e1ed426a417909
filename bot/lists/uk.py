"""The UK sanctions lists: OFSI's Consolidated List (``ConList.csv``, 2022 format) and the FCDO
"UK Sanctions List" XML (root ``Designations``, one ``Designation`` per regime listing).

ConList has one row per *name*: a first line ``Last Updated,dd/mm/yyyy``, a header row, then
rows joined on ``Group ID``. Name 1..5 are given names and Name 6 the surname (for entities and
ships Name 6 holds the whole name). The XML has one record per designation; a party designated
under two regimes appears twice with the same ``OFSIGroupID``, so both formats are keyed on
the OFSI group and an admin switching from one to the other keeps the same entity keys.

Both formats are read strictly: a cut file, an HTML page or a header without the columns we
rely on raises ``ListFormatError`` naming file and line, because a silently shortened list
means silently missed alerts. Each format has its module (``ukconlist``, ``ukxml``); what they
share, the joining of one party and the entity it becomes, is in ``ukparty``.
"""

from __future__ import annotations

import re
from pathlib import Path

from bot.domain.lists import ParsedList
from bot.lists.types import ListFormatError
from bot.lists.ukconlist import is_uk_csv, parse_conlist
from bot.lists.ukparty import program
from bot.lists.ukxml import is_uk_xml_root, parse_uk_xml

# Format detection and the tests import these from here.
__all__ = ["is_uk_csv", "is_uk_xml_root", "parse_uk", "program"]

SNIFF_BYTES = 8192

_HTML_RE = re.compile(rb"<!doctype\s+html|<html[\s>]|<head[\s>]|<body[\s>]", re.IGNORECASE)


def parse_uk(path: Path) -> ParsedList:
    """Parse one UK list file, ConList CSV or UK Sanctions List XML, told apart by content."""
    head = _head(path)
    if head.removeprefix(b"\xef\xbb\xbf").lstrip().startswith(b"<"):
        return parse_uk_xml(path)
    return parse_conlist(path)


def _head(path: Path) -> bytes:
    """The first bytes, after refusing empty, binary and HTML files with a reason."""
    with path.open("rb") as handle:
        head = handle.read(SNIFF_BYTES)
    if not head.strip():
        raise ListFormatError(path, "file is empty")
    if b"\x00" in head:
        raise ListFormatError(path, "a binary or UTF-16 file, not a UK list (expected UTF-8)", 1)
    html = _HTML_RE.search(head)
    if html:
        line = head.count(b"\n", 0, html.start()) + 1
        raise ListFormatError(path, "an HTML page, not a UK sanctions list", line)
    return head
