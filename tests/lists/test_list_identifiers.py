"""Identifiers the parsers keep for the matcher: IMO, MMSI, SWIFT/BIC, aircraft registration
and serial number (MSN), counted on the real files and written as the matcher writes them."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import pytest

from bot.lists import load_list
from bot.lists.ftm import parse_ftm
from bot.lists.ofac import parse_ofac
from bot.lists.types import ParsedList
from bot.matching.model import Entity, EntityType
from tests.conftest import require_shared

pytestmark = pytest.mark.shared

MATCHED_SCHEMES = ("imo", "mmsi", "swift", "aircraft", "msn")


def sanctions(*parts: str) -> Path:
    return require_shared("data", "sanctions", *parts)


def counts(entities: Iterable[Entity]) -> dict[str, int]:
    """Identifier values per scheme, for the schemes the matcher finds in text."""
    found = Counter(s for e in entities for s, _ in e.identifiers if s in MATCHED_SCHEMES)
    return dict(sorted(found.items()))


@pytest.fixture(scope="module")
def sdn_2021() -> ParsedList:
    (parsed,) = load_list([sanctions("ofac", "sdn_2021-07", "sdn.csv")])
    return parsed


@pytest.fixture(scope="module")
def by_id(sdn_2021: ParsedList) -> dict[str, Entity]:
    return {entity.list_id: entity for entity in sdn_2021.entities}


def test_sdn_2021_counts(sdn_2021: ParsedList) -> None:
    assert counts(sdn_2021.entities) == {
        "aircraft": 269,
        "imo": 400,
        "mmsi": 51,
        "msn": 227,
        "swift": 82,
    }
    aircraft = [e for e in sdn_2021.entities if e.type is EntityType.AIRCRAFT]
    with_registration = [e for e in aircraft if any(s == "aircraft" for s, _ in e.identifiers)]
    assert (len(aircraft), len(with_registration)) == (277, 269)  # 8 are listed as "MSN 449" etc.


def test_aircraft_registration_from_name_and_tail_number(by_id: dict[str, Entity]) -> None:
    assert by_id["15471"].identifiers == (("aircraft", "EP-MNX"),)  # named by its registration
    assert by_id["28318"].identifiers == (("aircraft", "YV3360"), ("msn", "17"))  # hyphenless
    assert by_id["20540"].identifiers == (("aircraft", "P-532"),)  # Air Koryo
    # "MSN 391", with "Aircraft Tail Number EP-MMH" in its remarks
    assert by_id["18150"].identifiers == (("msn", "391"), ("aircraft", "EP-MMH"))
    # "Previous Aircraft Tail Number YI-NAA": a registration since given to another aircraft
    assert by_id["18155"].identifiers == (("msn", "383"),)


def test_swift_codes_from_remarks(by_id: dict[str, Entity]) -> None:
    assert by_id["15603"].identifiers == (("swift", "FTBDKPPY"),)
    assert by_id["16085"].identifiers == (("swift", "DCBKKPPY"),)
    assert by_id["25420"].identifiers == (("swift", "MELIGB2L"), ("swift", "MELIHKHH"))


def test_consolidated_2025_swift_codes() -> None:
    (cons,) = load_list([sanctions("ofac", "cons_non_sdn_2025-12")])
    assert counts(cons.entities) == {"swift": 33}
    assert {e.key: e.identifiers for e in cons.entities}["ofac-cons:17013"] == (
        ("swift", "VTBRRUMM"),
    )


def test_un_swift_codes_and_company_imo_numbers() -> None:
    (un,) = load_list([sanctions("un", "UN_consolidated_2026-02-27.xml")])
    assert counts(un.entities) == {"swift": 5}  # the list names no vessel in this edition
    assert sum(1 for e in un.entities for s, _ in e.identifiers if s == "imo_company") == 16
    by_ref = {e.list_id: e for e in un.entities}
    assert by_ref["KPe.023"].identifiers == (("swift", "DCBKKPPY"),)  # "SWIFT: DCBKKPPY."
    assert by_ref["KPe.033"].identifiers == (("swift", "KUDBKPPY"),)  # "SWIFT/BIC: KUDBKPPY"


def test_real_ftm_files_carry_no_matchable_identifiers() -> None:
    """The yente export and delta hold people and organisations with passport, tax and register
    numbers only; a registration number of a company never becomes an aircraft's."""
    folder = sanctions("opensanctions")
    for name in ("yente_t1_entities.ftm.json", "yente_entities.delta_2024-07.json"):
        parsed = parse_ftm([folder / name])
        assert counts(parsed.entities) == {}
        assert any(s == "registration" for e in parsed.entities for s, _ in e.identifiers)


def test_ftm_identifiers_normalised(tmp_path: Path) -> None:
    records = [
        {
            "id": "v1",
            "schema": "Vessel",
            "caption": "SEA STAR",
            "properties": {
                "name": ["SEA STAR"],
                "imoNumber": ["IMO 9191278"],
                "mmsi": ["354 412 000"],
            },
        },
        {
            "id": "b1",
            "schema": "Company",
            "caption": "KKBC",
            "properties": {
                "name": ["KOREA KWANGSON BANKING CORP"],
                "swiftBic": ["kkbc kp py"],
                "registrationNumber": ["12-345"],
            },
        },
        {
            "id": "a1",
            "schema": "Airplane",
            "caption": "EP-MNX",
            "properties": {
                "name": ["EP-MNX"],
                "registrationNumber": ["ep-mnx"],
                "serialNumber": ["1023409321"],
            },
        },
    ]
    path = tmp_path / "ids.json"
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    ship, bank, plane = parse_ftm([path]).entities
    assert ship.identifiers == (("imo", "9191278"), ("mmsi", "354412000"))
    assert bank.identifiers == (("registration", "12-345"), ("swift", "KKBCKPPY"))
    assert plane.type is EntityType.AIRCRAFT
    assert plane.identifiers == (("aircraft", "EP-MNX"), ("msn", "1023409321"))


def test_hand_written_ofac_remarks(tmp_path: Path) -> None:
    (tmp_path / "sdn.csv").write_bytes(
        b'201,"KOREA KWANGSON BANKING CORP",-0- ,"DPRK3",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,'
        b'"SWIFT/BIC KKBCKPPY; alt. SWIFT/BIC KKBCKPPYXXX."\r\n'
        b'202,"MSN 1234","aircraft","SDGT",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,'
        b'"Aircraft Tail Number UP-A3001; Previous Aircraft Tail Number G-VAIR; '
        b"Aircraft Manufacturer's Serial Number (MSN) 1234.\"\r\n"
        b"\x1a"
    )
    (parsed,) = parse_ofac([tmp_path / "sdn.csv"])
    bank, plane = parsed.entities
    assert bank.identifiers == (("swift", "KKBCKPPY"),)  # XXX is the head office: one code
    assert plane.identifiers == (("msn", "1234"), ("aircraft", "UP-A3001"))
