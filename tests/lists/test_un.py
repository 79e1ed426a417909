"""UN Consolidated List XML: the real 2026-02-27 file plus hand-written hostile and broken XML."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.lists import ListFormatError
from bot.lists.types import ParsedList
from bot.lists.un import alias_variants, parse_un
from bot.matching.model import Entity, EntityType, Name, NameKind
from tests.conftest import require_shared

pytestmark = pytest.mark.shared

VESSEL_XML = """<?xml version="1.0" encoding="UTF-8"?>
<CONSOLIDATED_LIST dateGenerated="2025-01-02T03:04:05Z">
  <INDIVIDUALS/>
  <ENTITIES>
    <ENTITY>
      <DATAID>1</DATAID>
      <FIRST_NAME>SEA STAR</FIRST_NAME>
      <UN_LIST_TYPE>DPRK</UN_LIST_TYPE>
      <REFERENCE_NUMBER>KPe.900</REFERENCE_NUMBER>
      <COMMENTS1>DPRK-flagged tanker that conducted ship-to-ship transfers.
        IMO number: 9191278.</COMMENTS1>
      <ENTITY_ALIAS><QUALITY>a.k.a.</QUALITY><ALIAS_NAME>"SEA STAR 2"</ALIAS_NAME></ENTITY_ALIAS>
      <ENTITY_ALIAS><QUALITY/><ALIAS_NAME/></ENTITY_ALIAS>
      <ENTITY_ADDRESS><COUNTRY>Democratic People's Republic of Korea</COUNTRY></ENTITY_ADDRESS>
    </ENTITY>
  </ENTITIES>
</CONSOLIDATED_LIST>
"""

ENTITY_BOMB = """<?xml version="1.0"?>
<!DOCTYPE CONSOLIDATED_LIST [
  <!ENTITY lol "lol">
  <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<CONSOLIDATED_LIST><ENTITIES><ENTITY>
  <FIRST_NAME>&lol3;</FIRST_NAME>
</ENTITY></ENTITIES></CONSOLIDATED_LIST>
"""

TRUNCATED = """<?xml version="1.0" encoding="UTF-8"?>
<CONSOLIDATED_LIST dateGenerated="2026-02-27T00:00:09.554Z">
  <INDIVIDUALS>
    <INDIVIDUAL>
      <DATAID>6907993</DATAID>
      <FIRST_NAME>ERIC</FIRST_NAME>
"""


@pytest.fixture(scope="module")
def un_list() -> ParsedList:
    return parse_un(require_shared("data", "sanctions", "un", "UN_consolidated_2026-02-27.xml"))


@pytest.fixture(scope="module")
def by_ref(un_list: ParsedList) -> dict[str, Entity]:
    return {entity.list_id: entity for entity in un_list.entities}


def test_counts_and_version(un_list: ParsedList) -> None:
    assert un_list.source == "un"
    assert un_list.version == "2026-02-27"
    assert len(un_list.entities) == 1003
    assert sum(1 for e in un_list.entities if e.programs == ("DPRK",)) == 155
    assert sum(1 for e in un_list.entities if e.type is EntityType.PERSON) == 730
    assert sum(1 for e in un_list.entities if e.type is EntityType.ORGANIZATION) == 273
    assert un_list.warnings == ()


def test_komid(by_ref: dict[str, Entity]) -> None:
    komid = by_ref["KPe.001"]
    assert komid.key == "un:KPe.001"
    assert komid.names[0] == Name("KOREA MINING DEVELOPMENT TRADING CORPORATION", NameKind.PRIMARY)
    assert Name("KOMID", NameKind.ALIAS) in komid.names  # written "KOMID" with quotes
    assert komid.programs == ("DPRK",)
    assert komid.countries == ("KP",)


def test_ryonbong(by_ref: dict[str, Entity]) -> None:
    ryonbong = by_ref["KPe.002"]
    assert ryonbong.type is EntityType.ORGANIZATION
    assert [(n.text, n.kind) for n in ryonbong.names] == [
        ("KOREA RYONBONG GENERAL CORPORATION", NameKind.PRIMARY),
        ("KOREA YONBONG GENERAL CORPORATION", NameKind.ALIAS),
        ("LYONGAKSAN GENERAL TRADING CORPORATION", NameKind.ALIAS),  # f.k.a.
    ]


def test_korean_family_name_comes_first(by_ref: dict[str, Entity]) -> None:
    person = by_ref["KPi.001"]
    assert person.names[0] == Name("YUN HO-JIN", NameKind.PRIMARY, "YUN")
    assert Name("Yun Ho-chin", NameKind.ALIAS, "Yun") in person.names


def test_family_for_other_regimes(by_ref: dict[str, Entity]) -> None:
    assert by_ref["CDi.001"].names[0] == Name("ERIC BADEGE", NameKind.PRIMARY, "BADEGE")
    zawahiri = by_ref["QDi.006"]
    assert zawahiri.names[0] == Name("AIMAN MUHAMMED RABI AL-ZAWAHIRI", NameKind.PRIMARY, None)
    assert Name("أيمن محمد ربيع الظواهري", NameKind.ALIAS) in zawahiri.names  # original script
    assert Name("ALI, Yasin Baynah", NameKind.ALIAS, "ALI") in by_ref["SOi.001"].names


def test_low_quality_aliases_are_weak(by_ref: dict[str, Entity], un_list: ParsedList) -> None:
    jerome = by_ref["CDi.005"]
    assert Name("Commandant Jérôme", NameKind.WEAK) in jerome.names
    assert Name("Jérôme Kakwavu", NameKind.ALIAS) in jerome.names
    weak = sum(1 for e in un_list.entities for n in e.names if n.kind is NameKind.WEAK)
    assert weak >= 615  # every "Low" alias, plus acronyms


def test_no_empty_or_quoted_names(un_list: ParsedList) -> None:
    texts = [n.text for e in un_list.entities for n in e.names]
    assert all(t and t == t.strip() for t in texts)
    assert not [t for t in texts if t[0] in '"“' and t[-1] in '"”']


def test_multi_name_alias_fields_are_split(by_ref: dict[str, Entity]) -> None:
    texts = [n.text for n in by_ref["IRi.003"].names]
    assert texts == ["AZIM AGHAJANI", "Azim Adhajani", "Azim Agha-Jani"]


def test_acronym_in_brackets(by_ref: dict[str, Entity]) -> None:
    omm = by_ref["KPe.020"]
    assert omm.names[0].text == "OCEAN MARITIME MANAGEMENT COMPANY, LIMITED (OMM)"
    assert Name("OCEAN MARITIME MANAGEMENT COMPANY, LIMITED", NameKind.ALIAS) in omm.names
    assert Name("OMM", NameKind.WEAK) in omm.names


def test_shipping_companies_keep_company_imo_numbers(by_ref: dict[str, Entity]) -> None:
    # KPe.020's company number passes the ship-IMO checksum; the name still says "COMPANY".
    assert by_ref["KPe.020"].type is EntityType.ORGANIZATION
    assert by_ref["KPe.020"].identifiers == (("imo_company", "1790183"),)
    assert by_ref["KPe.022"].type is EntityType.ORGANIZATION
    assert by_ref["KPe.022"].identifiers == (("imo_company", "5342883"),)


def test_alias_variants() -> None:
    assert alias_variants('"KOMID"') == [("KOMID", False)]
    assert alias_variants("General Department of Atomic Energy (GDAE)") == [
        ("General Department of Atomic Energy", False),
        ("GDAE", True),
    ]
    assert alias_variants("Encep Nurjaman (birth name)") == [("Encep Nurjaman", False)]
    assert alias_variants("Amir Khazmat (original script: Амир Хазмат)") == [
        ("Amir Khazmat", False),
        ("Амир Хазмат", False),
    ]
    assert alias_variants("Khirullah Said Wali Khairkhwa, born in Kandahar on 01 Jan.1967") == [
        ("Khirullah Said Wali Khairkhwa", False)
    ]
    assert alias_variants("") == []


def test_hand_written_vessel(tmp_path: Path) -> None:
    path = tmp_path / "un.xml"
    path.write_text(VESSEL_XML, encoding="utf-8")
    parsed = parse_un(path)
    assert parsed.version == "2025-01-02"
    (vessel,) = parsed.entities
    assert vessel.type is EntityType.VESSEL
    assert vessel.identifiers == (("imo", "9191278"),)
    assert [(n.text, n.kind) for n in vessel.names] == [
        ("SEA STAR", NameKind.PRIMARY),
        ("SEA STAR 2", NameKind.ALIAS),
    ]
    assert vessel.countries == ("KP",)


def test_entity_bomb_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bomb.xml"
    path.write_text(ENTITY_BOMB, encoding="utf-8")
    with pytest.raises(ListFormatError) as info:
        parse_un(path)
    assert info.value.line == 2
    assert str(info.value).startswith(f"{path}:2: XML declares a DOCTYPE")


def test_truncated_xml_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "cut.xml"
    path.write_text(TRUNCATED, encoding="utf-8")
    with pytest.raises(ListFormatError) as info:
        parse_un(path)
    assert info.value.line == 7
    assert "malformed XML: no element found (file truncated?)" in str(info.value)


def test_wrong_root_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "feed.xml"
    path.write_text('<?xml version="1.0"?>\n<rss><channel/></rss>\n', encoding="utf-8")
    with pytest.raises(ListFormatError, match=r"root is <rss>, expected <CONSOLIDATED_LIST>"):
        parse_un(path)
