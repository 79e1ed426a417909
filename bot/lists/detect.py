"""Which parser a file needs, decided from its name and its first bytes.

Admins upload or point at whatever they downloaded; an HTML error page saved as ``sdn.csv``, an
empty file or a cut-off XML must be refused with a reason they can act on, never imported as
an empty or shortened list.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from pathlib import Path

from bot.domain.lists import ParsedList
from bot.lists.eu import is_eu_root, parse_eu
from bot.lists.ftm import parse_ftm, read_lines
from bot.lists.ofac import PRIMARY_COLUMNS, file_role, parse_ofac
from bot.lists.safexml import root_tag
from bot.lists.types import ListFormatError
from bot.lists.uk import is_uk_csv, is_uk_xml_root, parse_uk
from bot.lists.un import ROOT_TAG, check_prolog, parse_un

SNIFF_BYTES = 8192
LIST_SUFFIXES = (".csv", ".xml", ".json", ".jsonl", ".ndjson")
FORMATS = ("ofac", "un", "eu", "uk", "ftm")

_HTML_RE = re.compile(rb"<!doctype\s+html|<html[\s>]|<head[\s>]|<body[\s>]", re.IGNORECASE)
_MAGIC = {b"\x1f\x8b": "a gzip archive", b"PK\x03\x04": "a zip archive", b"%PDF": "a PDF"}


def load_list(paths: Sequence[Path]) -> list[ParsedList]:
    """Parse the given files and folders into one ``ParsedList`` per list.

    OFAC files are grouped into sets by folder (``sdn.csv`` with its ``alt.csv`` ...), all
    OpenSanctions files form one list applied in the given order (export, then deltas), and
    each UN XML file is a list of its own.
    """
    if not paths:
        raise ValueError("load_list needs at least one path")
    groups: dict[str, list[Path]] = {}
    roles: dict[Path, tuple[str, str]] = {}
    for path in _expand(paths):
        kind = detect_format(path)
        groups.setdefault(kind, []).append(path)
        if kind == "ofac" and path.is_file() and file_role(path) is None:
            roles[path] = ("ofac-cons" if "cons" in path.name.lower() else "ofac-sdn", "primary")
    results: list[ParsedList] = []
    for kind, members in groups.items():
        if kind == "ofac":
            results.extend(parse_ofac(members, roles))
        elif kind == "ftm":
            results.append(parse_ftm(members))
        elif kind == "eu":
            results.extend(parse_eu(path) for path in members)
        elif kind == "uk":
            results.extend(parse_uk(path) for path in members)
        else:
            results.extend(parse_un(path) for path in members)
    return results


def _expand(paths: Sequence[Path]) -> list[Path]:
    """Files as given; a folder of OFAC CSVs stays one path, other folders become their files."""
    expanded: list[Path] = []
    for path in (Path(p) for p in paths):
        if not path.exists():
            raise ListFormatError(path, "no such file or directory")
        if path.is_dir() and not any(file_role(p) for p in path.iterdir() if p.is_file()):
            found = sorted(
                p for p in path.iterdir() if p.is_file() and p.suffix.lower() in LIST_SUFFIXES
            )
            if not found:
                raise ListFormatError(path, "directory holds no list files (.csv, .xml, .json)")
            expanded.extend(found)
        else:
            expanded.append(path)
    return list(dict.fromkeys(expanded))


def detect_format(path: Path) -> str:
    """``"ofac"``, ``"un"``, ``"eu"``, ``"uk"`` or ``"ftm"`` for a file (or an OFAC folder), else ListFormatError."""
    if path.is_dir():
        return "ofac"
    with path.open("rb") as handle:
        head = handle.read(SNIFF_BYTES)
    text = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    if not text:
        raise ListFormatError(path, "file is empty")
    for magic, what in _MAGIC.items():
        if head.startswith(magic):
            raise ListFormatError(path, f"{what}, not a list file: unpack it first")
    html = _HTML_RE.search(head)
    if html:
        line = head.count(b"\n", 0, html.start()) + 1
        raise ListFormatError(
            path,
            "an HTML page, not a sanctions list (a login or error page "
            "saved instead of the download?)",
            line,
        )
    if text.startswith(b"<"):
        return _xml_format(path)
    if text.startswith(b"{"):
        next(read_lines(path))  # raises with the line number if the first line is not FtM
        return "ftm"
    if text.startswith(b"["):
        raise ListFormatError(
            path, "a JSON array; OpenSanctions data must be FtM JSON lines (one entity per line)", 1
        )
    return _csv_format(path, head)


def _xml_format(path: Path) -> str:
    check_prolog(path)
    name = root_tag(path)  # parsed, so a DOCTYPE anywhere before the root is refused
    if name == ROOT_TAG:
        return "un"
    if is_eu_root(name):
        return "eu"
    if is_uk_xml_root(name):
        return "uk"
    raise ListFormatError(
        path,
        f"XML root <{name}> is not a known list (the UN Consolidated List "
        f"has <{ROOT_TAG}>, the EU financial sanctions list <export>, the UK Sanctions List <Designations>)",
        1,
    )


def _csv_format(path: Path, head: bytes) -> str:
    """OFAC by name, or by shape: 12 columns with a numeric ``ent_num`` first."""
    if b"\x00" in head:
        raise ListFormatError(path, "a binary file, not a list", 1)
    if file_role(path):
        return "ofac"
    if is_uk_csv(head):
        return "uk"
    lines = head.decode("utf-8", errors="replace").splitlines()
    first = next((line for line in lines if line.strip()), "")
    row = next(csv.reader(io.StringIO(first)), [])
    if len(row) == PRIMARY_COLUMNS and row[0].strip().isdigit():
        return "ofac"
    raise ListFormatError(
        path,
        f"unrecognised format: not UN XML, FtM JSON lines or an OFAC CSV (first row has "
        f"{len(row)} columns, an OFAC sdn.csv/cons_prim.csv row has {PRIMARY_COLUMNS})",
        1,
    )
