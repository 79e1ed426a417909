"""One UK-listed party while its ConList rows or XML designations are joined, and the entity
it becomes.

Both UK formats list a party once per name (ConList) or once per regime (the XML), keyed on
the OFSI group; this is what they share: the joining record, how a name and its kind are read,
the short regime name, and the final checks and entity.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from bot.domain.lists import ParsedList
from bot.lists.types import (
    ListFormatError,
    country_code,
    file_digest,
    identifier_pairs,
    is_ship_imo,
    is_short_acronym,
    mtime_version,
    squash,
    tidy_name,
    unique,
    unique_names,
    unique_pairs,
)
from bot.matching.model import Entity, EntityType, Name, NameKind

SOURCE = "uk"

TYPES = {
    "individual": EntityType.PERSON,
    "entity": EntityType.ORGANIZATION,
    "ship": EntityType.VESSEL,
}

# ConList "Alias Type" / XML "NameType"; anything else (AKA, FKA, Prime Alias, Alias) is an alias.
PRIMARY_TYPES = frozenset({"primary name"})

_DATE_RE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")
_ENUM_RE = re.compile(r"\(\d+\)|;")  # "(1) Russia (2) Ukraine"
_REGULATIONS_RE = re.compile(r"\s+(?:Sanctions\s+)?Regulations\s+\d{4}$")
# ConList writes this regime with its article; the other regimes' names drop it.
_KEEPS_ARTICLE = ("Democratic People's Republic of Korea",)


@dataclass
class Party:
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


def iso_date(value: str) -> str:
    """``dd/mm/yyyy`` -> ``YYYY-MM-DD``; "" for anything else (OFSI also writes ``dd/mm/1958``)."""
    match = _DATE_RE.match(value.strip())
    if not match:
        return ""
    day, month, year = (int(part) for part in match.groups())
    try:
        return datetime(year, month, day).date().isoformat()
    except ValueError:
        return ""


def _full_name(parts: Iterable[str], surname: str) -> str:
    return squash(" ".join([*parts, surname]))


def person_name(given: list[str], surname: str, kind: NameKind, person: bool) -> Name | None:
    """Name 1..5 then Name 6; for people with a given name Name 6 is the family name."""
    text = tidy_name(_full_name(given, surname))
    if not text:
        return None
    if kind is not NameKind.PRIMARY and is_short_acronym(text):
        kind = NameKind.WEAK
    family = tidy_name(surname) if person and any(given) and surname else None
    return Name(text, kind, family or None)


def name_kind(name_type: str, quality: str) -> NameKind:
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


def split_cell(value: str) -> list[str]:
    """Values OFSI packs into one cell: "(1) Russia (2) Ukraine", "A; B"."""
    return [squash(piece).strip(" ,.") for piece in _ENUM_RE.split(value) if piece.strip(" ,.")]


def labelled(label: str, value: str) -> str:
    value = squash(value)
    return f"{label}: {value}" if value else ""


def finish(path: Path, parties: dict[str, Party], version: str, what: str) -> ParsedList:
    """The parsed list, once every row or record is joined; ``what`` names the records a file
    without any lacks."""
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


def _entity(party: Party, warnings: list[str], path: Path) -> Entity:
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
