"""The UN Security Council Consolidated List (XML): ``INDIVIDUALS/INDIVIDUAL`` and
``ENTITIES/ENTITY`` records under a ``CONSOLIDATED_LIST`` root, without a namespace.

The file is streamed by ``bot.lists.safexml`` with DTDs forbidden: the parser itself stops at a
DOCTYPE, wherever it is and whatever precedes it (a comment or processing instruction containing
``<x`` once fooled a text scan of the prolog), so no entity can be declared, expanded (billion
laughs) or fetched from outside.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

from bot.domain.lists import ParsedList
from bot.lists import safexml
from bot.lists.types import (
    IMO_RE,
    MMSI_RE,
    ORG_WORDS,
    SWIFT_RE,
    ListFormatError,
    comma_family,
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

ROOT_TAG = "CONSOLIDATED_LIST"

# Regimes whose names end in a family name; Arabic, Afghan and Somali names (Al-Qaida,
# Taliban, Iraq, Libya, Yemen, Sudan, Somalia ...) are patronymic chains with no marked surname.
SURNAME_LAST = frozenset({"DRC", "CAR", "GB", "Haiti", "Iran"})

ALIAS_KINDS = {"low": NameKind.WEAK}

_PAREN_TAIL_RE = re.compile(r"^(.*?\S)\s*\(([^()]*)\)$")
_PAREN_HEAD_RE = re.compile(r"^\([^()]*\)\s*")
_ENUM_SPLIT_RE = re.compile(r";|\s[a-z]\)\s|\s/\s")
_ACRONYM_RE = re.compile(r"[A-Z][A-Z0-9/&.-]{1,9}")
_REFERENCE_RE = re.compile(r"[A-Z]{2}[EI]\.\d+", re.IGNORECASE)
_VESSEL_WORDS_RE = re.compile(r"\b(vessel|tanker|ship|flag(ged)?)\b", re.IGNORECASE)


def parse_un(path: Path) -> ParsedList:
    """Parse one UN Consolidated List file."""
    check_prolog(path)
    warnings: list[str] = []
    entities: dict[str, Entity] = {}
    date_generated = ""
    for item in _records(path):
        if isinstance(item, str):
            date_generated = item
            continue
        entity = _entity(path, item)
        if entity.key in entities:
            warnings.append(f"{path}: {entity.list_id} listed twice; the later record is kept")
        entities[entity.key] = entity
    if not entities:
        raise ListFormatError(path, f"no INDIVIDUAL or ENTITY records under <{ROOT_TAG}>")
    return ParsedList(
        source="un",
        version=date_generated[:10] or mtime_version([path]),
        sha256=file_digest([path]),
        files=(str(path),),
        entities=tuple(entities.values()),
        warnings=tuple(warnings),
    )


# ---------------------------------------------------------------------------------------------
# Safe streaming


def check_prolog(path: Path) -> None:
    safexml.check_prolog(path, "the UN list")


def _records(path: Path) -> Iterator[ET.Element | str]:
    """The root's ``dateGenerated`` first, then each finished INDIVIDUAL/ENTITY element.

    Elements are cleared once built so memory stays flat however large the list grows.
    """
    depth = 0
    for event, element in safexml.events(path):
        if event == "start":
            depth += 1
            if depth == 1:
                yield _check_root(path, element)
            continue
        depth -= 1
        if element.tag in ("INDIVIDUAL", "ENTITY") and depth == 2:
            yield element
            element.clear()


def _check_root(path: Path, root: ET.Element) -> str:
    if root.tag != ROOT_TAG:
        raise ListFormatError(path, f"XML root is <{root.tag}>, expected <{ROOT_TAG}>", 1)
    return root.get("dateGenerated", "")


# ---------------------------------------------------------------------------------------------
# Building entities


def _text(element: ET.Element, path: str) -> str:
    return squash(element.findtext(path) or "")


def _entity(path: Path, record: ET.Element) -> Entity:
    reference = _text(record, "REFERENCE_NUMBER")
    if not reference:
        dataid = _text(record, "DATAID") or "?"
        raise ListFormatError(path, f"{record.tag} with DATAID {dataid} has no REFERENCE_NUMBER")
    regime = _text(record, "UN_LIST_TYPE")
    comments = _text(record, "COMMENTS1")
    is_person = record.tag == "INDIVIDUAL"
    if is_person:
        names = _person_names(record, regime)
        entity_type = EntityType.PERSON
    else:
        names = _entity_names(record)
        entity_type = _entity_type(names[0].text if names else "", comments)
    if not names:
        raise ListFormatError(path, f"{reference} has no name")
    return Entity(
        key=f"un:{reference}",
        source="un",
        list_id=reference,
        type=entity_type,
        names=names,
        programs=unique([regime]),
        countries=_countries(record),
        identifiers=_identifiers(entity_type, comments),
        remarks=_remarks(record, comments),
    )


def _person_names(record: ET.Element, regime: str) -> tuple[Name, ...]:
    """FIRST_NAME .. FOURTH_NAME joined as the list orders them, then the aliases."""
    parts = [
        _text(record, tag) for tag in ("FIRST_NAME", "SECOND_NAME", "THIRD_NAME", "FOURTH_NAME")
    ]
    parts = [p for p in parts if p]
    korean = regime == "DPRK"
    names: list[Name] = []
    if parts:
        names.append(Name(" ".join(parts), NameKind.PRIMARY, _primary_family(parts, regime)))
    for text, kind in _aliases(record, "INDIVIDUAL_ALIAS"):
        names.append(Name(text, kind, _alias_family(text, korean)))
    return unique_names(names)


def _primary_family(parts: list[str], regime: str) -> str | None:
    """DPRK records put the family name in FIRST_NAME ("YUN" "HO-JIN"); Western, Persian and
    Central African names end with it; other regimes' names do not mark one reliably."""
    if len(parts) < 2:
        return None
    if regime == "DPRK":
        return parts[0]
    return parts[-1] if regime in SURNAME_LAST else None


def _alias_family(text: str, korean: bool) -> str | None:
    """Aliases written "SURNAME, Given" say so; Korean aliases ("Yun Ho-chin") keep the
    family-first order of the primary name."""
    family = comma_family(text)
    if family or not korean:
        return family
    tokens = text.split()
    return tokens[0] if len(tokens) >= 2 else None


def _entity_names(record: ET.Element) -> tuple[Name, ...]:
    """The primary name as written, plus its cleaned variants ("... (OMM)" -> name and "OMM")."""
    primary = _text(record, "FIRST_NAME")
    names = [Name(primary, NameKind.PRIMARY)] if primary else []
    for text, is_weak in alias_variants(primary):
        weak = is_weak or is_short_acronym(text)
        names.append(Name(text, NameKind.WEAK if weak else NameKind.ALIAS))
    names.extend(Name(text, kind) for text, kind in _aliases(record, "ENTITY_ALIAS"))
    return unique_names(names)


def _aliases(record: ET.Element, tag: str) -> Iterator[tuple[str, NameKind]]:
    """Aliases by QUALITY ("Low" is weak; "Good", "a.k.a.", "f.k.a." and "" are not), then the
    name in original script; empty placeholder aliases are skipped."""
    for alias in record.findall(tag):
        base = ALIAS_KINDS.get(_text(alias, "QUALITY").lower(), NameKind.ALIAS)
        for text, is_weak in alias_variants(_text(alias, "ALIAS_NAME")):
            weak = is_weak or base is NameKind.WEAK or is_short_acronym(text)
            yield text, NameKind.WEAK if weak else NameKind.ALIAS
    for original in record.findall("NAME_ORIGINAL_SCRIPT"):
        for text, is_weak in alias_variants(squash(original.text or "")):
            yield text, NameKind.WEAK if is_weak or is_short_acronym(text) else NameKind.ALIAS


def alias_variants(raw: str) -> list[tuple[str, bool]]:
    """Split one UN alias field into names, each with a flag "only an acronym".

    The field is free text: several names joined by ";" or "a) ... b) ...", quotes around
    nicknames, a trailing "(KOMID)"-style acronym, original script in brackets, or notes such as
    "(birth name)" and ", born 1 Jan. 1953 (...)" that are not part of any name.
    """
    text = _PAREN_HEAD_RE.sub("", squash(raw).lstrip(") ").rstrip(", "))
    text = re.split(r",?\s+born\b", text.replace("(original script)", ""))[0]
    variants: list[tuple[str, bool]] = []
    for _ in range(3):  # "Hay’at Tahrir al-Sham (HTS) (هيئة ...; ...)" has two tails
        tail = _PAREN_TAIL_RE.match(text)
        if not tail:
            break
        text, inner = tail.group(1), tail.group(2).strip()
        variants.extend(_paren_variants(inner, foreign_base=_is_foreign(text)))
    pieces = [(piece, False) for piece in _ENUM_SPLIT_RE.split(text)]
    cleaned = ((tidy_name(piece), weak) for piece, weak in pieces + variants)
    return [(name, weak) for name, weak in cleaned if name]


def _paren_variants(inner: str, foreign_base: bool) -> list[tuple[str, bool]]:
    """Names hidden in a trailing bracket: original script, a transliteration of a name written
    in original script, a spelling list, or an acronym."""
    inner = re.sub(r"^original script:\s*", "", inner, flags=re.IGNORECASE)
    inner = re.sub(r"\s+-\s+sub-unit\b.*$", "", inner)
    if ";" in inner or foreign_base or _is_foreign(inner):
        return [(piece, False) for piece in inner.split(";")]
    if _ACRONYM_RE.fullmatch(inner) and not _REFERENCE_RE.fullmatch(inner):
        return [(inner, True)]
    return []  # a note such as "(birth name)", "(previously listed as)", "(third)"


def _is_foreign(text: str) -> bool:
    """Whether a name is (partly) in a non-Latin script."""
    return any(ord(ch) > 0x24F and ch.isalpha() for ch in text)


def _entity_type(name: str, comments: str) -> EntityType:
    """UN entities are organisations unless the record describes a ship with a valid IMO ship
    number and the name is not a company's: the DPRK shipping firms quote their *company* IMO
    numbers ("IMO number: 5571322"), one of which even passes the ship checksum."""
    valid_imo = any(is_ship_imo(n) for n in IMO_RE.findall(f"{name} {comments}"))
    if valid_imo and _VESSEL_WORDS_RE.search(comments) and not ORG_WORDS.search(name):
        return EntityType.VESSEL
    return EntityType.ORGANIZATION


def _countries(record: ET.Element) -> tuple[str, ...]:
    values = [squash(v.text or "") for v in record.findall("NATIONALITY/VALUE")]
    for tag in ("INDIVIDUAL_ADDRESS", "ENTITY_ADDRESS"):
        values.extend(_text(address, "COUNTRY") for address in record.findall(tag))
    return unique(country_code(value) for value in values)


def _identifiers(entity_type: EntityType, comments: str) -> tuple[tuple[str, str], ...]:
    """IMO numbers (a ship's, or on a shipping firm its *company* number), MMSI numbers and the
    SWIFT/BIC codes the DPRK banks' comments give ("SWIFT: DCBKKPPY", "SWIFT/BIC: KUDBKPPY")."""
    scheme = "imo" if entity_type is EntityType.VESSEL else "imo_company"
    return unique_pairs(
        [
            *identifier_pairs(scheme, IMO_RE.findall(comments)),
            *identifier_pairs("mmsi", MMSI_RE.findall(comments)),
            *identifier_pairs("swift", SWIFT_RE.findall(comments)),
        ]
    )


def _remarks(record: ET.Element, comments: str) -> str:
    """COMMENTS1, prefixed with titles and designations an analyst uses to tell people apart."""
    extra = [
        f"Title: {t}" for t in unique(squash(v.text or "") for v in record.findall("TITLE/VALUE"))
    ] + [
        f"Designation: {d}"
        for d in unique(squash(v.text or "") for v in record.findall("DESIGNATION/VALUE"))
    ]
    return "; ".join(extra + ([comments] if comments else []))
