"""OFAC legacy CSV: the real 2021 SDN set and the 2025 consolidated set, plus hand-written
files for the quirks (Ctrl-Z, ``-0-``, weak remark a.k.a.s) and the errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.lists import ListFormatError, load_list
from bot.lists.ofac import parse_ofac, split_programs
from bot.lists.types import ParsedList, entity_summary
from bot.matching.model import Entity, EntityType, Name, NameKind
from tests.conftest import require_shared

pytestmark = pytest.mark.shared

HEADER_FREE_SDN = (
    '101,"KIM, Chol Su","individual","DPRK3] [NPWMD",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,'
    "\"DOB 1970; nationality Korea, North; a.k.a. 'KCS'; a.k.a. 'THE TEACHER'.\"\r\n"
    '102,"SEA STAR","vessel","DPRK4",-0- ,"HMAB3","Oil Tanker",-0- ,-0- ,"Panama",-0- ,'
    '"Vessel Registration Identification IMO 9191278; MMSI 354412000; Linked To: ACME LTD."\r\n'
    '103,"ACME LTD.",-0- ,"DPRK3",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \r\n'
    "\x1a"
)


@pytest.fixture(scope="module")
def sdn_2021() -> ParsedList:
    lists = load_list([require_shared("data", "sanctions", "ofac", "sdn_2021-07", "sdn.csv")])
    assert len(lists) == 1
    return lists[0]


@pytest.fixture(scope="module")
def by_id(sdn_2021: ParsedList) -> dict[str, Entity]:
    return {entity.list_id: entity for entity in sdn_2021.entities}


def names_of(entity: Entity, kind: NameKind) -> list[str]:
    return [name.text for name in entity.names if name.kind is kind]


def write_sdn(folder: Path, text: str = HEADER_FREE_SDN) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "sdn.csv"
    path.write_bytes(text.encode("utf-8"))
    return path


# --- the real 2021 SDN set -------------------------------------------------------------------


def test_sdn_2021_counts(sdn_2021: ParsedList) -> None:
    assert sdn_2021.source == "ofac-sdn"
    assert len(sdn_2021.entities) == 8976
    dprk = [e for e in sdn_2021.entities if any(p.startswith("DPRK") for p in e.programs)]
    assert len(dprk) == 414
    types = [e.type for e in sdn_2021.entities]
    assert types.count(EntityType.PERSON) == 4620
    assert types.count(EntityType.VESSEL) == 406
    assert types.count(EntityType.AIRCRAFT) == 277
    assert types.count(EntityType.ORGANIZATION) == 3673
    assert sdn_2021.warnings == ()


def test_sdn_2021_summary(sdn_2021: ParsedList) -> None:
    assert entity_summary(sdn_2021.entities) == {
        "entities": 8976,
        "names": 23321,
        "weak_names": 2558,
        "vessels_with_imo": 400,
    }


def test_sibling_files_found_from_sdn_csv_alone(sdn_2021: ParsedList) -> None:
    names = [Path(f).name for f in sdn_2021.files]
    assert names == ["add.csv", "alt.csv", "sdn.csv", "sdn_comments.csv"]
    assert len(sdn_2021.sha256) == 64
    assert len(sdn_2021.version) == 10 and sdn_2021.version[4] == "-"


def test_directory_and_file_give_the_same_fingerprint(sdn_2021: ParsedList) -> None:
    folder = require_shared("data", "sanctions", "ofac", "sdn_2021-07")
    (again,) = parse_ofac([folder])
    assert again.sha256 == sdn_2021.sha256
    assert again.entities == sdn_2021.entities


def test_wagner(by_id: dict[str, Entity]) -> None:
    wagner = by_id["22543"]
    assert wagner.key == "ofac-sdn:22543"
    assert wagner.type is EntityType.ORGANIZATION
    assert wagner.names[0] == Name("PRIVATE MILITARY COMPANY 'WAGNER'", NameKind.PRIMARY)
    assert "PMC WAGNER" in names_of(wagner, NameKind.ALIAS)
    assert "CHVK VAGNER" in names_of(wagner, NameKind.ALIAS)
    assert wagner.programs == ("UKRAINE-EO13660",)


def test_prigozhin_family_name(by_id: dict[str, Entity]) -> None:
    person = by_id["21171"]
    assert person.type is EntityType.PERSON
    assert person.names[0] == Name("PRIGOZHIN, Yevgeniy Viktorovich", NameKind.PRIMARY, "PRIGOZHIN")
    assert Name("PRIGOZHIN, Evgeny", NameKind.ALIAS, "PRIGOZHIN") in person.names
    assert person.programs == ("UKRAINE-EO13661", "CYBER2", "ELECTION-EO13848")
    assert "Linked To: INTERNET RESEARCH AGENCY LLC." in person.remarks


def test_remark_akas_are_weak(by_id: dict[str, Entity]) -> None:
    bank = by_id["306"]
    assert bank.names[0].text == "BANCO NACIONAL DE CUBA"
    assert names_of(bank, NameKind.ALIAS) == ["NATIONAL BANK OF CUBA"]
    assert names_of(bank, NameKind.WEAK) == ["BNC"]
    assert bank.countries == ("CH", "ES", "JP", "PA")


def test_remark_aliases_with_inner_quotes(by_id: dict[str, Entity]) -> None:
    weak = [n.text for e in by_id.values() for n in e.names if n.kind is NameKind.WEAK]
    assert "AL-'AFRI, Abu Salah" in weak
    assert "FOOPIE" in weak
    assert not [text for text in weak if text.startswith("'") or text.endswith("'")]


def test_remarks_overflow_joined_from_comments_file(by_id: dict[str, Entity]) -> None:
    # sdn.csv cuts 28263's remarks inside "a.k.a. 'snowsjo"; sdn_comments.csv holds "hn'; ..."
    person = by_id["28263"]
    assert "snowsjohn" in names_of(person, NameKind.WEAK)
    assert person.remarks.endswith("Linked To: LAZARUS GROUP.")
    assert "DPRK3" in person.programs


def test_ctrl_z_and_empty_markers_never_leak(
    sdn_2021: ParsedList, by_id: dict[str, Entity]
) -> None:
    last = by_id["32391"]  # the row just before the trailing Ctrl-Z
    assert last.names[0] == Name("DJIBO, Ousmane Illiassou", NameKind.PRIMARY, "DJIBO")
    assert last.remarks.endswith("a.k.a. 'CHAFFORI, Petit'.")
    assert last.countries == ("ML", "NE")  # address Mali, "nationality Niger" in remarks
    for entity in sdn_2021.entities:
        values = [entity.remarks, *entity.programs, *(n.text for n in entity.names)]
        values += [v for pair in entity.identifiers for v in pair]
        # "-0-" inside a value is real data ("US FEIN CH-660-0-469-982-0"); as a field it is not
        leaked = [v for v in values if v.strip() == "-0-" or v.startswith("-0- ") or "\x1a" in v]
        assert not leaked, entity.key


def test_vessel_identifiers(by_id: dict[str, Entity], sdn_2021: ParsedList) -> None:
    vessel = by_id["15036"]
    assert vessel.type is EntityType.VESSEL
    assert vessel.names[0].text == "ARTAVIL"
    assert vessel.identifiers == (("call_sign", "T2EU4"), ("imo", "9187629"), ("mmsi", "572469210"))
    assert vessel.countries == ("IR",)
    assert names_of(vessel, NameKind.WEAK) == ["ALPHA"]  # "f.k.a. 'ALPHA'" in remarks
    with_imo = [
        e
        for e in sdn_2021.entities
        if e.type is EntityType.VESSEL and any(scheme == "imo" for scheme, _ in e.identifiers)
    ]
    assert len(with_imo) == 400


def test_company_imo_numbers_are_not_vessels(by_id: dict[str, Entity]) -> None:
    company = by_id["19569"]
    assert company.type is EntityType.ORGANIZATION
    assert company.identifiers == (("imo_company", "5878589"),)


def test_split_programs() -> None:
    assert split_programs("DPRK3] [NPWMD") == ("DPRK3", "NPWMD")
    assert split_programs("SDGT] [NPWMD] [IRGC] [IFSR") == ("SDGT", "NPWMD", "IRGC", "IFSR")
    assert split_programs("") == ()


# --- the consolidated (non-SDN) set ----------------------------------------------------------


def test_consolidated_set() -> None:
    folder = require_shared("data", "sanctions", "ofac", "cons_non_sdn_2025-12")
    (cons,) = load_list([folder])
    assert cons.source == "ofac-cons"
    assert len(cons.entities) == 442
    assert [Path(f).name for f in cons.files] == [
        "cons_add.csv",
        "cons_alt.csv",
        "cons_comments.csv",
        "cons_prim.csv",
    ]
    by_id = {e.list_id: e for e in cons.entities}
    haniya = by_id["9639"]
    assert haniya.key == "ofac-cons:9639"
    assert haniya.names[0] == Name("HANIYA, Ismail Abdul Salah", NameKind.PRIMARY, "HANIYA")
    assert haniya.programs == ("NS-PLC",)
    assert sum(1 for e in cons.entities if "CMIC-EO13959" in e.programs) == 68


# --- hand-written files: quirks and errors --------------------------------------------------


def test_hand_written_set_without_alt_and_add(tmp_path: Path) -> None:
    (parsed,) = parse_ofac([write_sdn(tmp_path)])
    assert len(parsed.entities) == 3
    assert len(parsed.warnings) == 2
    assert "no alias file" in parsed.warnings[0] and "no address file" in parsed.warnings[1]
    person, vessel, company = parsed.entities
    assert person.programs == ("DPRK3", "NPWMD")
    assert person.countries == ("KP",)
    assert [(n.text, n.kind) for n in person.names] == [
        ("KIM, Chol Su", NameKind.PRIMARY),
        ("KCS", NameKind.WEAK),
        ("THE TEACHER", NameKind.WEAK),
    ]
    assert vessel.identifiers == (("call_sign", "HMAB3"), ("imo", "9191278"), ("mmsi", "354412000"))
    assert vessel.countries == ("PA",)
    assert company.type is EntityType.ORGANIZATION and company.remarks == ""


def test_alt_types_and_short_acronyms(tmp_path: Path) -> None:
    write_sdn(tmp_path)
    (tmp_path / "alt.csv").write_text(
        '101,1,"aka","KIM, Cholsu",-0- \r\n'
        '103,2,"fka","ACME TRADING CORPORATION",-0- \r\n'
        '103,3,"aka","ACM",-0- \r\n'
        '103,4,"aka","ACME INTERNATIONAL","weak aka"\r\n\x1a',
        encoding="utf-8",
        newline="",
    )
    (parsed,) = parse_ofac([tmp_path])
    person, _, company = parsed.entities
    assert Name("KIM, Cholsu", NameKind.ALIAS, "KIM") in person.names
    assert [(n.text, n.kind) for n in company.names] == [
        ("ACME LTD.", NameKind.PRIMARY),
        ("ACME TRADING CORPORATION", NameKind.ALIAS),
        ("ACM", NameKind.WEAK),
        ("ACME INTERNATIONAL", NameKind.WEAK),
    ]
    assert parsed.warnings == (
        f"{tmp_path}: no address file beside sdn.csv; countries come "
        "from remarks and vessel flags only",
    )


def test_wrong_column_count_names_file_and_line(tmp_path: Path) -> None:
    path = write_sdn(tmp_path, HEADER_FREE_SDN.replace("\x1a", "") + '104,"SHORT","individual"\r\n')
    with pytest.raises(ListFormatError) as info:
        parse_ofac([path])
    assert str(info.value) == f"{path}:4: expected 12 columns, found 3"
    assert info.value.line == 4


def test_non_numeric_ent_num(tmp_path: Path) -> None:
    path = write_sdn(tmp_path, HEADER_FREE_SDN.replace("103,", "X3,", 1))
    with pytest.raises(ListFormatError, match=r"sdn\.csv:3: ent_num 'X3' is not a number"):
        parse_ofac([path])


def test_alias_files_without_sdn_csv_are_refused() -> None:
    folder = require_shared("data", "sanctions", "ofac", "2025-01")
    with pytest.raises(ListFormatError, match=r"sdn\.csv is required") as info:
        load_list([folder / "alt.csv", folder / "add.csv"])
    assert "alt.csv" in str(info.value) and "add.csv" in str(info.value)
    with pytest.raises(ListFormatError, match=r"sdn\.csv is required"):
        load_list([folder])
