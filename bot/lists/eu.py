"""The EU Consolidated Financial Sanctions list (FSF XML, ``xmlFullSanctionsList_1_1``):
``sanctionEntity`` records under an ``export`` root in the ``http://eu.europa.ec/fpi/fsd/export``
namespace, nearly all data in attributes.

Streamed like the UN list, by ``bot.lists.safexml`` (DTDs forbidden, so no entity can be
declared, expanded or fetched), and each record is cleared once built. Quirks of
the real file handled here: ``strong="false"`` and "low quality" name aliases are weak;
``countryIso2Code="00"`` ("UNKNOWN") means no country; the ``imo`` identification of a shipping
*company* is its IMO company number, not a ship's; one record may cite the same programme in
several regulations; a name may be in any EU language or in original script.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import deque
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
    country_code,
    file_digest,
    identifier_pairs,
    is_ship_imo,
    is_short_acronym,
    iso2,
    mtime_version,
    squash,
    tidy_name,
    unique,
    unique_names,
    unique_pairs,
)
from bot.matching.model import Entity, EntityType, Name, NameKind

NAMESPACE = "http://eu.europa.ec/fpi/fsd/export"
NS = f"{{{NAMESPACE}}}"
ROOT_TAG = f"{NS}export"
RECORD_TAG = f"{NS}sanctionEntity"

SUBJECT_TYPES = {
    "person": EntityType.PERSON,
    "p": EntityType.PERSON,
    "enterprise": EntityType.ORGANIZATION,
    "e": EntityType.ORGANIZATION,
}
# identificationTypeCode -> identifier scheme (as ``bot.lists.ftm`` names them); "imo" is decided
# per record (a ship's number or a company's), other codes ("other", "ssn" ...) are not kept.
ID_SCHEMES = {
    "swiftbic": "swift",
    "passport": "passport",
    "id": "id",
    "regnumber": "registration",
    "fiscalcode": "tax",
}

_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
_LOW_QUALITY_RE = re.compile(r"\blow?\s+quality\b", re.IGNORECASE)
_VESSEL_WORDS_RE = re.compile(r"\b(vessel|tanker|ship|flag(ged)?)\b", re.IGNORECASE)


def is_eu_root(tag: str) -> bool:
    """Whether an XML root tag, as ElementTree reports it, is the EU FSF ``export`` root."""
    return tag == ROOT_TAG


def parse_eu(path: Path) -> ParsedList:
    """Parse one EU FSF ``xmlFullSanctionsList_1_1`` file."""
    safexml.check_prolog(path, "the EU list")
    warnings: list[str] = []
    entities: dict[str, Entity] = {}
    generated = ""
    root_line: int | None = None
    for first, line in _records(path):
        if isinstance(first, str):
            generated, root_line = first, line
            continue
        entity = _entity(path, first, line, warnings)
        if entity.key in entities:
            warnings.append(f"{path}: logicalId {entity.key[3:]} listed twice; the later is kept")
        entities[entity.key] = entity
    if not entities:
        raise ListFormatError(path, "no <sanctionEntity> records under <export>", root_line)
    return ParsedList(
        source="eu",
        version=generated[:10] if _DATE_RE.match(generated) else mtime_version([path]),
        sha256=file_digest([path]),
        files=(str(path),),
        entities=tuple(entities.values()),
        warnings=tuple(warnings),
    )


# ---------------------------------------------------------------------------------------------
# Safe streaming


def _records(path: Path) -> Iterator[tuple[str | ET.Element, int | None]]:
    """The root's ``generationDate`` and line first, then each finished ``sanctionEntity`` with
    its start line. Records are cleared once built so memory stays flat."""
    lines: deque[int] = deque()
    starts: list[int | None] = []
    for event, element in safexml.events(path, lines=lines):
        if event == "start":
            starts.append(lines.popleft() if lines else None)
            if len(starts) == 1:
                yield _check_root(path, element, starts[0]), starts[0]
            continue
        line = starts.pop()
        if element.tag == RECORD_TAG and len(starts) == 1:
            yield element, line
            element.clear()


def _check_root(path: Path, root: ET.Element, line: int | None) -> str:
    if not is_eu_root(root.tag):
        reason = f"XML root is <{root.tag}>, expected <export> in namespace {NAMESPACE}"
        raise ListFormatError(path, reason, line)
    return root.get("generationDate", "")


# ---------------------------------------------------------------------------------------------
# Building entities


def _attr(element: ET.Element, name: str) -> str:
    return squash(element.get(name) or "")


def _entity(path: Path, record: ET.Element, line: int | None, warnings: list[str]) -> Entity:
    logical_id = _attr(record, "logicalId")
    if not logical_id:
        raise ListFormatError(path, "<sanctionEntity> has no logicalId", line)
    reference = _attr(record, "euReferenceNumber") or logical_id
    subject = record.find(f"{NS}subjectType")
    code = _attr(subject, "code") if subject is not None else ""
    entity_type = SUBJECT_TYPES.get(code.lower())
    if entity_type is None and subject is not None:
        entity_type = SUBJECT_TYPES.get(_attr(subject, "classificationCode").lower())
    if entity_type is None:
        warnings.append(f"{path}:{line}: {reference} has subject type {code!r}; kept as other")
        entity_type = EntityType.OTHER
    names = _names(record, entity_type is EntityType.PERSON)
    if not names:
        raise ListFormatError(path, f"{reference} (logicalId {logical_id}) has no name", line)
    remarks = [squash(r.text or "") for r in record.findall(f"{NS}remark")]
    remark_text = " ".join(remarks)
    imo_numbers = _numbers(record, "imo") + IMO_RE.findall(remark_text)
    is_org = entity_type is EntityType.ORGANIZATION
    if is_org and _is_vessel(names[0].text, remark_text, imo_numbers):
        entity_type = EntityType.VESSEL
    return Entity(
        key=f"eu:{logical_id}",
        source="eu",
        list_id=reference,
        type=entity_type,
        names=names,
        programs=_programs(record),
        countries=_countries(record),
        identifiers=_identifiers(record, entity_type, imo_numbers, remark_text),
        remarks=_remarks(record, remarks),
    )


def _names(record: ET.Element, is_person: bool) -> tuple[Name, ...]:
    """The first strong alias is the primary name; ``strong="false"`` aliases, aliases remarked
    "low quality" and bare acronyms are weak; ``lastName`` is the family name of a person."""
    names: list[Name] = []
    for alias in record.findall(f"{NS}nameAlias"):
        parts = (_attr(alias, key) for key in ("firstName", "middleName", "lastName"))
        text = tidy_name(_attr(alias, "wholeName") or " ".join(p for p in parts if p))
        if not text:
            continue
        remark = " ".join(r.text or "" for r in alias.findall(f"{NS}remark"))
        weak = (
            _attr(alias, "strong").lower() == "false"
            or bool(_LOW_QUALITY_RE.search(remark))
            or is_short_acronym(text)
        )
        last = _attr(alias, "lastName")
        family = last if is_person and last and last.casefold() in text.casefold() else None
        primary = not weak and not any(n.kind is NameKind.PRIMARY for n in names)
        kind = NameKind.WEAK if weak else NameKind.PRIMARY if primary else NameKind.ALIAS
        names.append(Name(text, kind, family))
    names.sort(key=lambda n: n.kind is not NameKind.PRIMARY)  # stable: the primary goes first
    return unique_names(names)


def _programs(record: ET.Element) -> tuple[str, ...]:
    """Programmes as "EU:PRK", "EU:RUS", once each: amendments repeat the listing's."""
    codes = (_attr(r, "programme") for r in record.findall(f"{NS}regulation"))
    return unique(f"EU:{code}" for code in codes if code)


def _is_vessel(name: str, remarks: str, imo_numbers: list[str]) -> bool:
    """The EU lists ships as enterprises; one is a ship only if it has a valid IMO *ship* number
    and its remark says so, and its name is not a company's: the DPRK shipping firms carry their
    IMO *company* numbers as ``imo`` identifications."""
    valid_imo = any(is_ship_imo(n) for n in imo_numbers)
    return valid_imo and bool(_VESSEL_WORDS_RE.search(remarks)) and not ORG_WORDS.search(name)


def _numbers(record: ET.Element, type_code: str) -> list[str]:
    """Numbers of one identification type, the document's own and its Latin transliteration."""
    values: list[str] = []
    for node in record.findall(f"{NS}identification"):
        if _attr(node, "identificationTypeCode").lower() == type_code:
            values.extend(v for v in (_attr(node, "number"), _attr(node, "latinNumber")) if v)
    return list(unique(values))


def _identifiers(
    record: ET.Element, entity_type: EntityType, imo_numbers: list[str], remarks: str
) -> tuple[tuple[str, str], ...]:
    """IMO (a ship's, else a company's), SWIFT/BIC and MMSI from identifications and remarks,
    then passports, national ids, register and tax numbers as the list writes them."""
    imo_scheme = "imo" if entity_type is EntityType.VESSEL else "imo_company"
    pairs = [
        *identifier_pairs(imo_scheme, imo_numbers),
        *identifier_pairs("swift", _numbers(record, "swiftbic") + SWIFT_RE.findall(remarks)),
        *identifier_pairs("mmsi", MMSI_RE.findall(remarks)),
    ]
    for code, scheme in ID_SCHEMES.items():
        if scheme != "swift":
            pairs.extend(identifier_pairs(scheme, _numbers(record, code)))
    return unique_pairs(pairs)


def _countries(record: ET.Element) -> tuple[str, ...]:
    """ISO2 codes of citizenship, addresses and places of birth; "00" (UNKNOWN) is no country."""
    codes: list[str | None] = []
    for tag in ("citizenship", "address", "birthdate"):
        for node in record.findall(f"{NS}{tag}"):
            description = _attr(node, "countryDescription")
            fallback = country_code(description) if description.upper() != "UNKNOWN" else None
            codes.append(iso2(_attr(node, "countryIso2Code")) or fallback)
    return unique(codes)


def _remarks(record: ET.Element, remarks: list[str]) -> str:
    """The record's remarks, prefixed with the functions the names carry ("Deputy Minister"),
    which an analyst uses to tell namesakes apart."""
    functions = unique(_attr(a, "function") for a in record.findall(f"{NS}nameAlias"))
    return "; ".join([f"Function: {f}" for f in functions] + [r for r in remarks if r])
