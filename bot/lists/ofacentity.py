"""One OFAC row, joined with its aliases, addresses and remark overflow, as an entity.

Programs come packed as ``DPRK3] [NPWMD``; remarks hold what the legacy columns lack: OFAC's
*weak* a.k.a.s (``a.k.a. 'BNC'.``, never in ``alt.csv``), nationalities, and the IMO, MMSI,
SWIFT and aircraft numbers that identify a party in a text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bot.lists.types import (
    IMO_RE,
    MMSI_RE,
    MSN_RE,
    SWIFT_RE,
    TAIL_NUMBER_RE,
    comma_family,
    country_code,
    identifier_pairs,
    is_short_acronym,
    squash,
    unique,
    unique_names,
    unique_pairs,
)
from bot.matching.identifiers import looks_like_registration
from bot.matching.model import Entity, EntityType, Name, NameKind

TYPES = {
    "individual": EntityType.PERSON,
    "vessel": EntityType.VESSEL,
    "aircraft": EntityType.AIRCRAFT,
    "": EntityType.ORGANIZATION,
}

# One remark item is "a.k.a. 'NAME'" (sometimes "''NAME''" or "'AL-'AFRI, Abu'").
REMARK_AKA_RE = re.compile(r"^(?:alt\.\s+)?([afn])\.k\.a\.,?\s+'(.*)'\.?$")
COUNTRY_REMARK_RE = re.compile(r"^(?:alt\.\s+)?(?:nationality|citizen)\s+(.+?)\.?$")


@dataclass
class Row:
    """Everything known about one ``ent_num`` while the files are being joined."""

    ent_num: str
    fields: list[str]
    aliases: list[tuple[str, str, str]] = field(default_factory=list)
    countries: list[str] = field(default_factory=list)
    overflow: str = ""


def row_entity(source: str, row: Row) -> Entity:
    f = row.fields
    entity_type = TYPES.get(f[2].lower(), EntityType.OTHER)
    remarks = f[11] + row.overflow
    items = _remark_items(remarks)
    return Entity(
        key=f"{source}:{row.ent_num}",
        source=source,
        list_id=row.ent_num,
        type=entity_type,
        names=_names(f[1], entity_type, row.aliases, items),
        programs=split_programs(f[3]),
        countries=_countries(row, items),
        identifiers=_identifiers(entity_type, f[5], remarks, f[1]),
        remarks=_remarks_text(f, remarks),
    )


def split_programs(value: str) -> tuple[str, ...]:
    """``"DPRK3] [NPWMD"`` -> ``("DPRK3", "NPWMD")``: the legacy file packs tags this way."""
    return unique(p.strip(" []") for p in value.split("] ["))


def _remark_items(remarks: str) -> list[str]:
    """Remarks are ``; ``-separated items ending in a full stop."""
    return [item.strip() for item in remarks.split("; ") if item.strip()]


def _names(
    primary: str, entity_type: EntityType, aliases: list[tuple[str, str, str]], items: list[str]
) -> tuple[Name, ...]:
    person = entity_type is EntityType.PERSON
    names = [_name(primary, NameKind.PRIMARY, person)]
    for alt_type, text, alt_remarks in aliases:
        names.append(_name(text, _alias_kind(alt_type, alt_remarks, text), person))
    for text in remark_aliases(items):
        names.append(_name(text, NameKind.WEAK, person))
    return unique_names(names)


def _name(text: str, kind: NameKind, person: bool) -> Name:
    """Keep the list's spelling; for people "SURNAME, Given" also tells the engine the surname."""
    return Name(text=text, kind=kind, family=comma_family(text) if person else None)


def _alias_kind(alt_type: str, alt_remarks: str, text: str) -> NameKind:
    """aka/fka/nka are names OFAC stands behind; "weak" ones and short acronyms need support."""
    if "weak" in alt_type or "weak" in alt_remarks or is_short_acronym(text):
        return NameKind.WEAK
    return NameKind.ALIAS


def remark_aliases(items: list[str]) -> list[str]:
    """Names from ``a.k.a. 'X'`` remark items: OFAC's weak a.k.a.s in the legacy format.

    Quotes inside names (``'AL-'AFRI, Abu Salah'``, ``''FOOPIE''``) are why this works on whole
    ``;``-separated items instead of matching quote pairs.
    """
    names: list[str] = []
    for item in items:
        match = REMARK_AKA_RE.match(item)
        if match:
            text = squash(match.group(2).strip("'"))
            if any(ch.isalnum() for ch in text):
                names.append(text)
    return names


def _countries(row: Row, items: list[str]) -> tuple[str, ...]:
    """Address countries, then "nationality X"/"citizen X" remarks, then the vessel flag."""
    names = list(row.countries)
    for item in items:
        match = COUNTRY_REMARK_RE.match(item)
        if match:
            names.append(match.group(1))
    names.append(row.fields[9])
    return unique(country_code(name) for name in names)


def _identifiers(
    entity_type: EntityType, call_sign: str, remarks: str, primary: str = ""
) -> tuple[tuple[str, str], ...]:
    """Call sign, IMO, MMSI, SWIFT/BIC, aircraft registration and serial number (MSN).

    IMO numbers on non-vessels are the owner's *company* number. OFAC names most aircraft by
    their registration ("EP-MNX", "YV3360") and a few by their serial number ("MSN 391"), so
    an aircraft's primary name is also kept as the identifier it is.
    """
    scheme = "imo" if entity_type is EntityType.VESSEL else "imo_company"
    pairs: list[tuple[str, str]] = []
    if call_sign:
        pairs.append(("call_sign", call_sign))
    pairs.extend(identifier_pairs(scheme, IMO_RE.findall(remarks)))
    pairs.extend(identifier_pairs("mmsi", MMSI_RE.findall(remarks)))
    pairs.extend(identifier_pairs("swift", SWIFT_RE.findall(remarks)))
    if entity_type is EntityType.AIRCRAFT:
        name = primary.strip().upper()
        if looks_like_registration(name):
            pairs.append(("aircraft", name))
        elif name.startswith("MSN "):
            pairs.extend(identifier_pairs("msn", [name[4:]]))
    pairs.extend(identifier_pairs("aircraft", TAIL_NUMBER_RE.findall(remarks)))
    pairs.extend(identifier_pairs("msn", MSN_RE.findall(remarks)))
    return unique_pairs(pairs)


def _remarks_text(f: list[str], remarks: str) -> str:
    """The list's remarks, prefixed with the title and vessel columns an analyst wants to see."""
    extra = [
        f"Title: {f[4]}" if f[4] else "",
        f"Vessel type: {f[6]}" if f[6] else "",
        f"Vessel flag: {f[9]}" if f[9] else "",
        f"Vessel owner: {f[10]}" if f[10] else "",
    ]
    return "; ".join([e for e in extra if e] + ([remarks] if remarks else []))
