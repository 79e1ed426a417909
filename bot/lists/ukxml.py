"""The FCDO "UK Sanctions List" XML: root ``Designations``, one ``Designation`` per regime
listing.

A party designated under two regimes appears twice with the same ``OFSIGroupID``, so records
are joined on the OFSI group, as ConList rows are: an admin switching from one format to the
other keeps the same entity keys. The file is streamed by the same DTD-refusing defusedxml
parser as the UN list (``bot.lists.un``).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from bot.domain.lists import ParsedList
from bot.lists import safexml
from bot.lists.types import IMO_RE, ListFormatError, identifier_pairs, squash, tidy_name
from bot.lists.ukparty import (
    TYPES,
    Party,
    finish,
    iso_date,
    labelled,
    name_kind,
    person_name,
    program,
)
from bot.matching.model import EntityType, Name, NameKind

ROOT_TAG = "Designations"
RECORD_TAG = "Designation"
_INDIVIDUAL = "IndividualDetails/Individual/"
_SHIP = "ShipDetails/Ship/"


def is_uk_xml_root(tag: str) -> bool:
    """Whether an XML root tag is the UK Sanctions List's (``Designations``)."""
    return tag == ROOT_TAG


def parse_uk_xml(path: Path) -> ParsedList:
    parties: dict[str, Party] = {}
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
            version = iso_date(element.text or "")
        elif depth == 1 and element.tag == RECORD_TAG:
            count += 1
            _add_designation(path, element, parties, count)
            element.clear()
    return finish(path, parties, version, f"<{RECORD_TAG}> records under <{ROOT_TAG}>")


def _text(element: ET.Element, path: str) -> str:
    return squash(element.findtext(path) or "")


def _texts(element: ET.Element, path: str) -> list[str]:
    values = (squash(found.text or "") for found in element.iterfind(path))
    return [value for value in values if value]


def _add_designation(
    path: Path, record: ET.Element, parties: dict[str, Party], number: int
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
    party = parties.setdefault(group, Party(group, None, entity_type))
    _add_names(record, party, entity_type is EntityType.PERSON)
    party.programs.append(program(_text(record, "RegimeName")))
    party.countries.extend(_texts(record, _INDIVIDUAL + "Nationalities/Nationality"))
    party.countries.extend(_texts(record, "Addresses/Address/AddressCountry"))
    flags = _SHIP + "CurrentBelievedFlagOfShips/CurrentBelievedFlagOfShip"
    party.countries.extend(_texts(record, flags))
    party.imos.extend(_texts(record, _SHIP + "IMONumbers/IMONumber"))
    other = _text(record, "OtherInformation")
    party.imos.extend(IMO_RE.findall(other))
    _add_identifiers(record, party)
    _add_remarks(record, party, unique_id, other)


def _add_names(record: ET.Element, party: Party, person: bool) -> None:
    for tag in record.iterfind("Names/Name"):
        given = [_text(tag, f"Name{i}") for i in range(1, 6)]
        kind = name_kind(_text(tag, "NameType"), _text(tag, "AliasStrength"))
        name = person_name([g for g in given if g], _text(tag, "Name6"), kind, person)
        if name:
            party.names.append(name)
    for script in _texts(record, "NonLatinNames/NonLatinName/NameNonLatinScript"):
        if tidy_name(script):
            party.names.append(Name(tidy_name(script), NameKind.ALIAS))


def _add_identifiers(record: ET.Element, party: Party) -> None:
    passports = _texts(record, _INDIVIDUAL + "PassportDetails/Passport/PassportNumber")
    party.other_ids.extend(identifier_pairs("passport", passports))
    national = _texts(
        record,
        _INDIVIDUAL + "NationalIdentifierDetails/NationalIdentifier/NationalIdentifierNumber",
    )
    party.other_ids.extend(identifier_pairs("national_id", national))


def _add_remarks(record: ET.Element, party: Party, unique_id: str, other: str) -> None:
    party.remarks.append(labelled("UK Sanctions List ID", unique_id))
    party.remarks.append(labelled("UN reference", _text(record, "UNReferenceNumber")))
    party.remarks.extend(labelled("Title", t) for t in _texts(record, "Titles/Title"))
    party.remarks.extend(
        labelled("Position", p) for p in _texts(record, _INDIVIDUAL + "Positions/Position")
    )
    if other:
        party.remarks.append(other)
