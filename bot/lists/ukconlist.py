"""OFSI's Consolidated List, ``ConList.csv`` (2022 format): one row per *name*.

A first line ``Last Updated,dd/mm/yyyy``, a header row, then rows joined on ``Group ID``.
Name 1..5 are given names and Name 6 the surname (for entities and ships Name 6 holds the
whole name).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

from bot.domain.lists import ParsedList
from bot.lists.types import IMO_RE, ListFormatError, identifier_pairs, read_utf8, squash, tidy_name
from bot.lists.ukparty import (
    TYPES,
    Party,
    finish,
    iso_date,
    labelled,
    name_kind,
    person_name,
    program,
    split_cell,
)
from bot.matching.model import EntityType, Name, NameKind

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


def is_uk_csv(head: bytes) -> bool:
    """Whether a file's first bytes are an OFSI ConList: a ``Last Updated`` line, then a header
    naming ``Name 6`` and ``Group ID`` (for the lead's format detection)."""
    text = head.removeprefix(b"\xef\xbb\xbf").decode("utf-8", errors="replace")
    lines = [line for line in text.splitlines() if line.strip()][:2]
    if len(lines) < 2 or not lines[0].lstrip('"').lower().startswith("last updated"):
        return False
    return "Name 6" in lines[1] and "Group ID" in lines[1]


def parse_conlist(path: Path) -> ParsedList:
    rows = _rows(path)
    line, first = next(rows, (1, []))
    if not first or not first[0].rstrip(":").lower() == "last updated":
        raise ListFormatError(
            path, "not an OFSI ConList: the first line must be 'Last Updated,dd/mm/yyyy'", line
        )
    version = iso_date(first[1]) if len(first) > 1 else ""
    line, header = next(rows, (line + 1, []))
    missing = [column for column in REQUIRED_COLUMNS if column not in header]
    if missing:
        raise ListFormatError(path, f"header lacks column(s) {', '.join(missing)}", line)
    parties: dict[str, Party] = {}
    for line, cells in rows:
        if len(cells) != len(header):
            raise ListFormatError(path, f"expected {len(header)} columns, found {len(cells)}", line)
        _add_row(path, line, dict(zip(header, cells, strict=True)), parties)
    return finish(path, parties, version, "rows after the header")


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


def _add_row(path: Path, line: int, row: dict[str, str], parties: dict[str, Party]) -> None:
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
    party = parties.setdefault(group, Party(group, line, entity_type))
    if party.type is not entity_type:
        raise ListFormatError(
            path,
            f"group {group} is a {party.type} on line {party.line} but a {entity_type} here",
            line,
        )
    person = entity_type is EntityType.PERSON
    given = [row[column] for column in NAME_PARTS if row[column]]
    kind = name_kind(row["Alias Type"], row.get("Alias Quality", ""))
    name = person_name(given, row["Name 6"], kind, person)
    if name:
        party.names.append(name)
    script = tidy_name(row.get("Name Non-Latin Script", ""))
    if script:
        party.names.append(Name(script, NameKind.ALIAS))
    party.programs.append(program(row["Regime"]))
    party.countries.extend(
        split_cell(row.get("Nationality", "")) + split_cell(row.get("Country", ""))
    )
    other = squash(row.get("Other Information", ""))
    party.imos.extend(IMO_RE.findall(other))
    party.other_ids.extend(identifier_pairs("passport", split_cell(row.get("Passport Number", ""))))
    national = split_cell(row.get("National Identification Number", ""))
    party.other_ids.extend(identifier_pairs("national_id", national))
    party.remarks.extend(
        r
        for r in (
            labelled("Title", row.get("Title", "")),
            labelled("Position", row.get("Position", "")),
            other,
        )
        if r
    )
