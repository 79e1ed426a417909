"""The UK sanctions lists: OFSI's Consolidated List (``ConList.csv``, 2022 format) and the FCDO
"UK Sanctions List" XML (root ``Designations``, one ``Designation`` per regime listing).

ConList has one row per *name*: a first line ``Last Updated,dd/mm/yyyy``, a header row, then
rows joined on ``Group ID``. Name 1..5 are given names and Name 6 the surname (for entities and
ships Name 6 holds the whole name). The XML has one record per designation; a party designated
under two regimes appears twice with the same ``OFSIGroupID``, so both formats are keyed on
the OFSI group and an admin switching from one to the other keeps the same entity keys.

Both formats are read strictly: a cut file, an HTML page or a header without the columns we
rely on raises ``ListFormatError`` naming file and line, because a silently shortened list
means silently missed alerts. The XML is streamed by the same DTD-refusing defusedxml parser
as the UN list (``bot.lists.un``).
"""

from __future__ import annotations

import csv
import io
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from bot.lists import safexml
from bot.lists.types import (
    IMO_RE,
    ListFormatError,
    ParsedList,
    country_code,
    file_digest,
    identifier_pairs,
    is_ship_imo,
    is_short_acronym,
    mtime_version,
    read_utf8,
    squash,
    tidy_name,
    unique,
    unique_names,
    unique_pairs,
)
from bot.matching.model import Entity, EntityType, Name, NameKind

SOURCE = "uk"
ROOT_TAG = "Designations"
RECORD_TAG = "Designation"
SNIFF_BYTES = 8192

# The columns this parser reads; the 2022 ConList header has 36 (Name Non-Latin Script Type,
# Passport Details, Listed On ... are read by name or ignored), so extra columns are fine.
REQUIRED_COLUMNS = (
    "Name 6",
    "Name 1",
    "Name 2",
    "Name 3",
    "Name 4",
    "Name 5",
    "Group Type",
    "Alias Type",
    "Regime",
    "Group ID",
)
NAME_PARTS = ("Name 1", "Name 2", "Name 3", "Name 4", "Name 5")

TYPES = {
    "individual": EntityType.PERSON,
    "entity": EntityType.ORGANIZATION,
    "ship": EntityType.VESSEL,
}

# ConList "Alias Type" / XML "NameType"; anything else (AKA, FKA, Prime Alias, Alias) is an alias.
PRIMARY_TYPES = frozenset({"primary name"})

_HTML_RE = re.compile(rb"<!doctype\s+html|<html[\s>]|<head[\s>]|<body[\s>]", re.IGNORECASE)
_DATE_RE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")
_ENUM_RE = re.compile(r"\(\d+\)|;")  # "(1) Russia (2) Ukraine"
_REGULATIONS_RE = re.compile(r"\s+(?:Sanctions\s+)?Regulations\s+\d{4}$")
# ConList writes this regime with its article; the other regimes' names drop it.
_KEEPS_ARTICLE = ("Democratic People's Republic of Korea",)


def parse_uk(path: Path) -> ParsedList:
    """Parse one UK list file, ConList CSV or UK Sanctions List XML, told apart by content."""
    head = _head(path)
    if head.removeprefix(b"\xef\xbb\xbf").lstrip().startswith(b"<"):
        return _parse_xml(path)
    return _parse_csv(path)


def is_uk_csv(head: bytes) -> bool:
    """Whether a file's first bytes are an OFSI ConList: a ``Last Updated`` line, then a header
    naming ``Name 6`` and ``Group ID`` (for the lead's format detection)."""
    text = head.removeprefix(b"\xef\xbb\xbf").decode("utf-8", errors="replace")
    lines = [line for line in text.splitlines() if line.strip()][:2]
    if len(lines) < 2 or not lines[0].lstrip('"').lower().startswith("last updated"):
        return False
    return "Name 6" in lines[1] and "Group ID" in lines[1]


def is_uk_xml_root(tag: str) -> bool:
    """Whether an XML root tag is the UK Sanctions List's (``Designations``)."""
    return tag == ROOT_TAG


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


def _iso_date(value: str) -> str:
    """``dd/mm/yyyy`` -> ``YYYY-MM-DD``; "" for anything else (OFSI also writes ``dd/mm/1958``)."""
    match = _DATE_RE.match(value.strip())
    if not match:
        return ""
    day, month, year = (int(part) for part in match.groups())
    try:
        return datetime(year, month, day).date().isoformat()
    except ValueError:
        return ""


# ---------------------------------------------------------------------------------------------
# One party while its rows or designations are being joined


@dataclass
class _Party:
    """Everything known about one OFSI group; rows arrive in any order."""

    list_id: str
    line: int | None  # of its first row; None in the XML, whose parser gives no record lines
    type: EntityType
    names: list[Name] = field(default_factory=list)
    programs: list[str] = field(default_factory=list)
    countries: list[str] = field(default_factory=list)
    imos: list[str] = field(default_factory=list)
    other_ids: list[tuple[str, str]] = field(default_factory=list)
    remarks: list[str] = field(default_factory=list)


def _full_name(parts: Iterable[str], surname: str) -> str:
    return squash(" ".join([*parts, surname]))


def _name(given: list[str], surname: str, kind: NameKind, person: bool) -> Name | None:
    """Name 1..5 then Name 6; for people with a given name Name 6 is the family name."""
    text = tidy_name(_full_name(given, surname))
    if not text:
        return None
    if kind is not NameKind.PRIMARY and is_short_acronym(text):
        kind = NameKind.WEAK
    family = tidy_name(surname) if person and any(given) and surname else None
    return Name(text, kind, family or None)


def _kind(name_type: str, quality: str) -> NameKind:
    """Primary names are PRIMARY, others ALIAS; "Low quality" aliases are WEAK."""
    if name_type.strip().lower() in PRIMARY_TYPES:
        return NameKind.PRIMARY
    return NameKind.WEAK if "low" in quality.lower() else NameKind.ALIAS


def program(regime: str) -> str:
    """``UK:<regime>`` as ConList names it. The XML gives the regulations' title ("The Russia
    (Sanctions) (EU Exit) Regulations 2019"), cut here to the same short name ("Russia")."""
    text = squash(regime)
    if _REGULATIONS_RE.search(text):
        text = re.sub(r"\s*\((?:United Nations\s+)?Sanctions\)|\s*\(EU Exit\)", "", text)
        text = _REGULATIONS_RE.sub("", text).strip()
        if text.startswith("The ") and not text[4:].startswith(_KEEPS_ARTICLE):
            text = text[4:]
    return f"UK:{text}" if text else ""


def _split(value: str) -> list[str]:
    """Values OFSI packs into one cell: "(1) Russia (2) Ukraine", "A; B"."""
    return [squash(piece).strip(" ,.") for piece in _ENUM_RE.split(value) if piece.strip(" ,.")]


def _entity(party: _Party, warnings: list[str], path: Path) -> Entity:
    """Build the frozen entity; IMO numbers failing the ship check digit are dropped on ships
    (a typo would never match) and kept as company numbers on other parties."""
    vessel = party.type is EntityType.VESSEL
    imos: list[tuple[str, str]] = []
    for number in unique("".join(ch for ch in raw if ch.isdigit()) for raw in party.imos):
        if vessel and is_ship_imo(number):
            imos.extend(identifier_pairs("imo", [number]))
        elif vessel:
            warnings.append(f"{path}: group {party.list_id}: IMO {number} fails the check digit")
        else:
            imos.extend(identifier_pairs("imo_company", [number]))
    names = sorted(party.names, key=lambda n: n.kind is not NameKind.PRIMARY)  # stable
    return Entity(
        key=f"{SOURCE}:{party.list_id}",
        source=SOURCE,
        list_id=party.list_id,
        type=party.type,
        names=unique_names(names),
        programs=unique(party.programs),
        countries=unique(country_code(c) for c in party.countries),
        identifiers=unique_pairs([*imos, *party.other_ids]),
        remarks="; ".join(unique(r for r in party.remarks if r)),
    )


def _finish(path: Path, parties: dict[str, _Party], version: str, what: str) -> ParsedList:
    if not parties:
        raise ListFormatError(path, f"no {what}")
    warnings: list[str] = []
    entities: list[Entity] = []
    for party in parties.values():
        if not party.names:
            raise ListFormatError(path, f"group {party.list_id} has no name", party.line)
        if not any(name.kind is NameKind.PRIMARY for name in party.names):
            where = f"{path}:{party.line}" if party.line is not None else str(path)
            warnings.append(
                f"{where}: group {party.list_id} has no primary name; "
                "its first alias is shown instead"
            )
        entities.append(_entity(party, warnings, path))
    return ParsedList(
        source=SOURCE,
        version=version or mtime_version([path]),
        sha256=file_digest([path]),
        files=(str(path),),
        entities=tuple(entities),
        warnings=tuple(warnings),
    )


# ---------------------------------------------------------------------------------------------
# ConList.csv


def _decode(path: Path) -> str:
    """The file as text; a last row without a line end means the download was cut short."""
    text = read_utf8(path)
    if not text.endswith("\n"):
        line = text.rstrip("\r\n").count("\n") + 1
        raise ListFormatError(path, "the last row has no line end: the file was cut short", line)
    return text


def _rows(path: Path) -> Iterator[tuple[int, list[str]]]:
    """(line number, cells) of every non-blank row, read with the strict CSV reader so that a
    quoted field left open at the end of a cut file is an error, not a long last name."""
    reader = csv.reader(io.StringIO(_decode(path), newline=""), strict=True)
    try:
        for row in reader:
            if any(cell.strip() for cell in row):
                yield reader.line_num, [cell.strip() for cell in row]
    except csv.Error as exc:
        raise ListFormatError(path, f"malformed CSV: {exc}", reader.line_num) from exc


def _parse_csv(path: Path) -> ParsedList:
    rows = _rows(path)
    line, first = next(rows, (1, []))
    if not first or not first[0].rstrip(":").lower() == "last updated":
        raise ListFormatError(
            path, "not an OFSI ConList: the first line must be 'Last Updated,dd/mm/yyyy'", line
        )
    version = _iso_date(first[1]) if len(first) > 1 else ""
    line, header = next(rows, (line + 1, []))
    missing = [column for column in REQUIRED_COLUMNS if column not in header]
    if missing:
        raise ListFormatError(path, f"header lacks column(s) {', '.join(missing)}", line)
    parties: dict[str, _Party] = {}
    for line, cells in rows:
        if len(cells) != len(header):
            raise ListFormatError(path, f"expected {len(header)} columns, found {len(cells)}", line)
        _add_row(path, line, dict(zip(header, cells)), parties)
    return _finish(path, parties, version, "rows after the header")


def _add_row(path: Path, line: int, row: dict[str, str], parties: dict[str, _Party]) -> None:
    group = row["Group ID"]
    if not group:
        raise ListFormatError(path, "row has no Group ID", line)
    entity_type = TYPES.get(row["Group Type"].lower())
    if entity_type is None:
        raise ListFormatError(
            path,
            f"unknown Group Type {row['Group Type']!r} (expected Individual, Entity or Ship)",
            line,
        )
    party = parties.setdefault(group, _Party(group, line, entity_type))
    if party.type is not entity_type:
        raise ListFormatError(
            path,
            f"group {group} is a {party.type} on line {party.line} but a {entity_type} here",
            line,
        )
    person = entity_type is EntityType.PERSON
    given = [row[column] for column in NAME_PARTS if row[column]]
    kind = _kind(row["Alias Type"], row.get("Alias Quality", ""))
    name = _name(given, row["Name 6"], kind, person)
    if name:
        party.names.append(name)
    script = tidy_name(row.get("Name Non-Latin Script", ""))
    if script:
        party.names.append(Name(script, NameKind.ALIAS))
    party.programs.append(program(row["Regime"]))
    party.countries.extend(_split(row.get("Nationality", "")) + _split(row.get("Country", "")))
    other = squash(row.get("Other Information", ""))
    party.imos.extend(IMO_RE.findall(other))
    party.other_ids.extend(identifier_pairs("passport", _split(row.get("Passport Number", ""))))
    national = _split(row.get("National Identification Number", ""))
    party.other_ids.extend(identifier_pairs("national_id", national))
    party.remarks.extend(
        r
        for r in (
            _labelled("Title", row.get("Title", "")),
            _labelled("Position", row.get("Position", "")),
            other,
        )
        if r
    )


def _labelled(label: str, value: str) -> str:
    value = squash(value)
    return f"{label}: {value}" if value else ""


# ---------------------------------------------------------------------------------------------
# UK Sanctions List XML


def _parse_xml(path: Path) -> ParsedList:
    parties: dict[str, _Party] = {}
    version = ""
    depth = 0
    count = 0
    for event, element in safexml.events(path):
        if event == "start":
            depth += 1
            if depth == 1 and not is_uk_xml_root(element.tag):
                reason = f"XML root is <{element.tag}>, expected <{ROOT_TAG}>"
                raise ListFormatError(path, reason, 1)
            continue
        depth -= 1
        if depth == 1 and element.tag == "DateGenerated":
            version = _iso_date(element.text or "")
        elif depth == 1 and element.tag == RECORD_TAG:
            count += 1
            _add_designation(path, element, parties, count)
            element.clear()
    return _finish(path, parties, version, f"<{RECORD_TAG}> records under <{ROOT_TAG}>")


def _text(element: ET.Element, path: str) -> str:
    return squash(element.findtext(path) or "")


def _texts(element: ET.Element, path: str) -> list[str]:
    values = (squash(found.text or "") for found in element.iterfind(path))
    return [value for value in values if value]


def _add_designation(
    path: Path, record: ET.Element, parties: dict[str, _Party], number: int
) -> None:
    """Merge one designation into its OFSI group (``OFSIGroupID``, else ``UniqueID``)."""
    unique_id = _text(record, "UniqueID")
    group = _text(record, "OFSIGroupID") or unique_id
    if not group:
        raise ListFormatError(
            path, f"{RECORD_TAG} number {number} has neither OFSIGroupID nor UniqueID"
        )
    kind_text = _text(record, "IndividualEntityShip")
    entity_type = TYPES.get(kind_text.lower())
    if entity_type is None:
        raise ListFormatError(
            path,
            f"{unique_id or group}: unknown IndividualEntityShip "
            f"{kind_text!r} (expected Individual, Entity or Ship)",
        )
    party = parties.setdefault(group, _Party(group, None, entity_type))
    person = entity_type is EntityType.PERSON
    for tag in record.iterfind("Names/Name"):
        given = [_text(tag, f"Name{i}") for i in range(1, 6)]
        kind = _kind(_text(tag, "NameType"), _text(tag, "AliasStrength"))
        name = _name([g for g in given if g], _text(tag, "Name6"), kind, person)
        if name:
            party.names.append(name)
    for script in _texts(record, "NonLatinNames/NonLatinName/NameNonLatinScript"):
        if tidy_name(script):
            party.names.append(Name(tidy_name(script), NameKind.ALIAS))
    party.programs.append(program(_text(record, "RegimeName")))
    party.countries.extend(_texts(record, "IndividualDetails/Individual/Nationalities/Nationality"))
    party.countries.extend(_texts(record, "Addresses/Address/AddressCountry"))
    ship = "ShipDetails/Ship/"
    flags = ship + "CurrentBelievedFlagOfShips/CurrentBelievedFlagOfShip"
    party.countries.extend(_texts(record, flags))
    party.imos.extend(_texts(record, ship + "IMONumbers/IMONumber"))
    other = _text(record, "OtherInformation")
    party.imos.extend(IMO_RE.findall(other))
    individual = "IndividualDetails/Individual/"
    passports = _texts(record, individual + "PassportDetails/Passport/PassportNumber")
    party.other_ids.extend(identifier_pairs("passport", passports))
    national = _texts(
        record, individual + "NationalIdentifierDetails/NationalIdentifier/NationalIdentifierNumber"
    )
    party.other_ids.extend(identifier_pairs("national_id", national))
    party.remarks.append(_labelled("UK Sanctions List ID", unique_id))
    party.remarks.append(_labelled("UN reference", _text(record, "UNReferenceNumber")))
    party.remarks.extend(_labelled("Title", t) for t in _texts(record, "Titles/Title"))
    party.remarks.extend(
        _labelled("Position", p) for p in _texts(record, individual + "Positions/Position")
    )
    if other:
        party.remarks.append(other)
