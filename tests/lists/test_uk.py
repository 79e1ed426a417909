"""UK lists: hand-written samples in the OFSI ConList.csv (2022) and FCDO UK Sanctions List XML
formats, plus cut, foreign and hostile files that must be refused with file and line."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.lists import ListFormatError
from bot.lists.types import ParsedList
from bot.lists.uk import is_uk_csv, is_uk_xml_root, parse_uk, program
from bot.matching.model import Entity, EntityType, Name, NameKind

DATA = Path(__file__).resolve().parents[1] / "data" / "lists" / "uk"
CONLIST = DATA / "ConList.csv"
XML = DATA / "UK-Sanctions-List.xml"
DPRK = "UK:The Democratic People's Republic of Korea"


def by_key(parsed: ParsedList) -> dict[str, Entity]:
    return {entity.key: entity for entity in parsed.entities}


@pytest.fixture(scope="module", params=["csv", "xml"])
def parsed(request: pytest.FixtureRequest) -> ParsedList:
    return parse_uk(CONLIST if request.param == "csv" else XML)


def test_both_formats_agree_on_keys_names_and_programs(parsed: ParsedList) -> None:
    """Both formats key on the OFSI group, so switching format keeps the entity keys."""
    assert parsed.source == "uk"
    assert parsed.version == "2026-09-02"
    assert parsed.warnings == ()
    entities = by_key(parsed)
    assert set(entities) >= {"uk:90001", "uk:90002", "uk:90003"}
    ivanov = entities["uk:90001"]
    assert ivanov.type is EntityType.PERSON
    assert ivanov.names[0] == Name("Ivan Ivanovich IVANOV", NameKind.PRIMARY, "IVANOV")
    assert Name("Ivan IVANOFF", NameKind.ALIAS, "IVANOFF") in ivanov.names
    assert Name("Vanya", NameKind.WEAK) in ivanov.names  # "Low quality"
    assert Name("Иван Иванович ИВАНОВ", NameKind.ALIAS) in ivanov.names
    assert len(ivanov.names) == 4  # the second regime's primary row adds no name
    assert ivanov.programs == ("UK:Russia", "UK:Global Human Rights")
    assert ivanov.countries == ("RU", "UA")
    komid = entities["uk:90002"]
    assert komid.type is EntityType.ORGANIZATION
    assert [n.text for n in komid.names] == [
        "KOREA MINING DEVELOPMENT TRADING CORPORATION",
        "KOMID",
    ]
    assert all(n.family is None for n in komid.names)
    assert komid.programs == (DPRK,)
    assert komid.countries == ("KP",)
    ship = entities["uk:90003"]
    assert ship.type is EntityType.VESSEL
    assert ship.names == (Name("SEA STAR", NameKind.PRIMARY), Name("SEA STAR 2", NameKind.ALIAS))
    assert ship.identifiers == (("imo", "9191278"),)
    assert ship.list_id == "90003"


def test_conlist_specifics() -> None:
    parsed = parse_uk(CONLIST)
    assert len(parsed.entities) == 3
    ivanov = by_key(parsed)["uk:90001"]
    assert ivanov.identifiers == (("passport", "750123456"), ("passport", "751234567"))
    assert ivanov.remarks.startswith("Title: Mr; Position: Director, Example Shipping LLC; ")
    assert parsed.files == (str(CONLIST),)
    assert len(parsed.sha256) == 64


def test_xml_specifics() -> None:
    parsed = parse_uk(XML)
    assert len(parsed.entities) == 4  # RUS9001 and GHR9001 share OFSI group 90001
    entities = by_key(parsed)
    assert entities["uk:90003"].countries == ("KM",)  # believed flag
    cyber = entities["uk:CYB9001"]  # no OFSIGroupID: keyed on UniqueID
    assert cyber.programs == ("UK:Cyber",)
    assert "UK Sanctions List ID: RUS9001" in entities["uk:90001"].remarks
    assert "UK Sanctions List ID: GHR9001" in entities["uk:90001"].remarks


def test_program_names_from_regulation_titles() -> None:
    assert program("The Russia (Sanctions) (EU Exit) Regulations 2019") == "UK:Russia"
    assert program("The Global Human Rights Sanctions Regulations 2020") == "UK:Global Human Rights"
    assert (
        program(
            "The ISIL (Da'esh) and Al-Qaida (United Nations Sanctions) (EU Exit) Regulations 2019"
        )
        == "UK:ISIL (Da'esh) and Al-Qaida"
    )
    iran = "The Iran (Sanctions) (Nuclear) (EU Exit) Regulations 2019"
    assert program(iran) == "UK:Iran (Nuclear)"
    assert (
        program("The Democratic People's Republic of Korea (Sanctions) (EU Exit) Regulations 2019")
        == DPRK
    )
    assert program("Russia") == "UK:Russia"


def test_detection_helpers() -> None:
    assert is_uk_csv(CONLIST.read_bytes()[:8192])
    assert not is_uk_csv(b'306,"BANCO NACIONAL DE CUBA",-0- ,"CUBA"\n')
    assert not is_uk_csv(b"Last Updated,01/01/2026\nid,name\n")
    assert is_uk_xml_root("Designations")
    assert not is_uk_xml_root("CONSOLIDATED_LIST")


def test_invalid_ship_imo_is_dropped_with_a_warning(tmp_path: Path) -> None:
    text = XML.read_text(encoding="utf-8").replace("IMO9191278", "IMO9191279")
    path = tmp_path / "uk.xml"
    path.write_text(text, encoding="utf-8")
    parsed = parse_uk(path)
    assert by_key(parsed)["uk:90003"].identifiers == ()
    assert parsed.warnings == (f"{path}: group 90003: IMO 9191279 fails the check digit",)


def conlist_lines() -> list[str]:
    return CONLIST.read_text(encoding="utf-8-sig").splitlines(keepends=True)


def broken(tmp_path: Path, text: str, name: str = "ConList.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("make", "line", "reason"),
    [
        (lambda lines: "".join(lines).rstrip("\r\n"), 10, "no line end"),  # cut mid-file
        (lambda lines: "".join(lines[:-1]) + lines[-1][:40] + "\r\n", 10, "expected 36 columns"),
        (
            lambda lines: "".join(lines[:8]) + lines[8].split("IMO")[0] + "\r\n",
            9,
            "malformed CSV: unexpected end of data",
        ),  # cut inside a quoted field
        (lambda lines: "".join(lines[1:]), 1, "first line must be 'Last Updated"),
        (
            lambda lines: lines[0] + lines[1].replace("Group ID", "Group") + "".join(lines[2:]),
            2,
            "lacks column(s) Group ID",
        ),
        (lambda lines: "".join(lines).replace(",Ship,", ",Boat,", 1), 9, "unknown Group Type"),
        (
            lambda lines: "".join(lines[:-1]) + lines[-1].replace(",Ship,", ",Entity,"),
            10,
            "group 90003 is a vessel on line 9",
        ),
        (lambda lines: "".join(lines[:2]), None, "no rows after the header"),
    ],
)
def test_broken_conlist(
    tmp_path: Path, make: Callable[[list[str]], str], line: int | None, reason: str
) -> None:
    path = broken(tmp_path, make(conlist_lines()))
    with pytest.raises(ListFormatError, match=re.escape(reason)) as error:
        parse_uk(path)
    assert error.value.path == str(path)
    assert error.value.line == line
    assert str(error.value).startswith(f"{path}:{line}: " if line else f"{path}: ")


def test_html_page_is_refused(tmp_path: Path) -> None:
    path = broken(tmp_path, "\n<!DOCTYPE html>\n<html><body>Service unavailable</body></html>\n")
    with pytest.raises(ListFormatError, match=rf"^{path}:2: an HTML page"):
        parse_uk(path)


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        (
            XML.read_text(encoding="utf-8").split("<Designation>")[0] + "<Designation>\n",
            5,
            "no element found \\(file truncated\\?\\)",
        ),
        (
            '<?xml version="1.0"?>\n<!DOCTYPE Designations [<!ENTITY a "b">]>\n<Designations/>\n',
            2,
            "DOCTYPE",
        ),
        ('<?xml version="1.0"?>\n<CONSOLIDATED_LIST/>\n', 1, "expected <Designations>"),
        (
            "<Designations><DateGenerated>01/01/2026</DateGenerated></Designations>\n",
            None,
            "no <Designation> records",
        ),
        (
            "<Designations><Designation><UniqueID>X1</UniqueID><IndividualEntityShip>Plane"
            "</IndividualEntityShip></Designation></Designations>\n",
            None,
            "unknown IndividualEntityShip",
        ),
    ],
)
def test_broken_xml(tmp_path: Path, text: str, line: int | None, reason: str) -> None:
    path = broken(tmp_path, text, "uk.xml")
    with pytest.raises(ListFormatError, match=reason) as error:
        parse_uk(path)
    assert (error.value.path, error.value.line) == (str(path), line)
