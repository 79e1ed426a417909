"""EU FSF XML (``xmlFullSanctionsList_1_1``): hand-written samples in the real file's shape,
plus cut, DOCTYPE, wrong-root and empty files that must be refused rather than half-imported."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.lists.eu import is_eu_root, parse_eu
from bot.lists.types import ListFormatError, ParsedList
from bot.matching.model import Entity, EntityType, Name, NameKind

DATA = Path(__file__).resolve().parents[1] / "data" / "lists" / "eu"
HEAD = '<export xmlns="http://eu.europa.ec/fpi/fsd/export" generationDate="2026-01-05T10:00:00Z">'


@pytest.fixture(scope="module")
def eu_list() -> ParsedList:
    return parse_eu(DATA / "eu_sample.xml")


@pytest.fixture(scope="module")
def by_key(eu_list: ParsedList) -> dict[str, Entity]:
    return {entity.key: entity for entity in eu_list.entities}


def test_list_metadata(eu_list: ParsedList) -> None:
    """The version is generationDate's day, not the file's mtime, so re-downloads compare."""
    assert eu_list.source == "eu"
    assert eu_list.version == "2026-03-14"
    assert eu_list.files == (str(DATA / "eu_sample.xml"),)
    assert len(eu_list.sha256) == 64
    assert eu_list.warnings == ()
    keys = [entity.key for entity in eu_list.entities]
    assert keys == ["eu:91001", "eu:91002", "eu:91003", "eu:91004", "eu:91005"]


def test_dprk_person_names_and_kinds(by_key: dict[str, Entity]) -> None:
    """strong="false" is weak; the original-script name is a full alias; lastName is the family."""
    ri = by_key["eu:91001"]
    assert ri.list_id == "EU.8801.11"
    assert ri.type is EntityType.PERSON
    assert ri.names == (
        Name("Ri Song Chol", NameKind.PRIMARY, "Ri"),
        Name("Ri Song-chol", NameKind.WEAK),
        Name("리성철", NameKind.ALIAS),
    )
    assert ri.programs == ("EU:PRK",)
    assert ri.countries == ("KP",)  # the birthdate's "00"/UNKNOWN is not a country
    assert ri.identifiers == (("passport", "836410012"),)
    assert ri.remarks == "Function: Deputy Director; Official of the Munitions Industry Department."


def test_bank_swift_and_acronym(by_key: dict[str, Entity]) -> None:
    """The SWIFT code is stored as the matcher writes it (head-office "XXX" dropped)."""
    bank = by_key["eu:91002"]
    assert bank.type is EntityType.ORGANIZATION
    assert bank.names == (
        Name("Chongsong Commercial Bank", NameKind.PRIMARY),
        Name("CCB", NameKind.WEAK),  # strong in the list, but a bare acronym
    )
    assert bank.identifiers == (("swift", "CSCBKPPY"),)
    assert bank.countries == ("KP",)


def test_tanker_is_a_vessel_but_shipping_firm_is_not(by_key: dict[str, Entity]) -> None:
    """A valid ship IMO plus a remark saying tanker makes a vessel; a company's IMO number
    (checksum fails, name says "Co Ltd") stays an organisation's company number."""
    tanker = by_key["eu:91003"]
    assert tanker.type is EntityType.VESSEL
    assert tanker.identifiers == (("imo", "9354521"),)  # identification and remark, once
    assert tanker.countries == ()
    firm = by_key["eu:91004"]
    assert firm.type is EntityType.ORGANIZATION
    assert firm.identifiers == (("imo_company", "5617342"),)


def test_russian_person(by_key: dict[str, Entity]) -> None:
    """Programmes repeated by amendments appear once; "Low quality" remarks make a weak alias."""
    sorokin = by_key["eu:91005"]
    assert sorokin.list_id == "EU.9911.3"
    assert sorokin.programs == ("EU:RUS", "EU:UKR")
    assert sorokin.names == (
        Name("Gennady Viktorovich Sorokin", NameKind.PRIMARY, "Sorokin"),
        Name("Геннадий Викторович Сорокин", NameKind.ALIAS, "Сорокин"),
        Name("Gena Sorokin", NameKind.WEAK),
    )
    assert sorokin.countries == ("RU", "UA")  # citizenship and address, then birthplace


def test_primary_is_first_strong_name_and_fallbacks(tmp_path: Path) -> None:
    """A weak alias listed first does not become primary; without euReferenceNumber the
    logicalId is the list id; without a generationDate the version is the file's mtime."""
    path = tmp_path / "eu.xml"
    path.write_text(
        '<export xmlns="http://eu.europa.ec/fpi/fsd/export"><sanctionEntity logicalId="5">'
        '<subjectType code="enterprise" classificationCode="E"/>'
        '<nameAlias wholeName="Nordwind Handel" strong="false"/>'
        '<nameAlias wholeName="Nordwind Trading GmbH" strong="true"/>'
        "</sanctionEntity></export>",
        encoding="utf-8",
    )
    parsed = parse_eu(path)
    (entity,) = parsed.entities
    assert entity.list_id == "5"
    assert entity.names == (
        Name("Nordwind Trading GmbH", NameKind.PRIMARY),
        Name("Nordwind Handel", NameKind.WEAK),
    )
    assert entity.programs == ()
    assert len(parsed.version) == 10 and parsed.version[4] == "-"


@pytest.mark.parametrize(
    ("name", "line", "reason"),
    [
        ("eu_truncated.xml", 26, "unclosed token (file truncated?)"),
        ("eu_doctype.xml", 3, "XML declares a DOCTYPE"),
        ("eu_wrong_root.xml", 3, "expected <export> in namespace http://eu.europa.ec"),
        ("eu_no_records.xml", 2, "no <sanctionEntity> records"),
    ],
)
def test_refused_files_name_file_and_line(name: str, line: int, reason: str) -> None:
    """A list that cannot be trusted whole is refused, with a message an admin can act on."""
    path = DATA / name
    with pytest.raises(ListFormatError) as caught:
        parse_eu(path)
    assert caught.value.line == line
    assert str(caught.value).startswith(f"{path}:{line}: ")
    assert reason in str(caught.value)


def test_record_error_line_is_exact_past_the_first_chunk(tmp_path: Path) -> None:
    """iterparse reads 16 KiB ahead; the line of a bad record far into the file must still be
    its own line, not where the reader had got to."""
    record = (
        '<sanctionEntity logicalId="{n}"><subjectType code="person" classificationCode="P"/>'
        '<nameAlias wholeName="Person Number {n}" strong="true"/></sanctionEntity>'
    )
    lines = [HEAD] + [record.format(n=n) for n in range(1, 400)]
    lines.append('<sanctionEntity logicalId=""><subjectType code="person"/></sanctionEntity>')
    lines += [record.format(n=n) for n in range(400, 800)] + ["</export>"]
    path = tmp_path / "big.xml"
    path.write_text("\n".join(lines), encoding="utf-8")
    with pytest.raises(ListFormatError, match="has no logicalId") as caught:
        parse_eu(path)
    assert caught.value.line == 401


def test_duplicate_logical_id_warns_and_keeps_later(tmp_path: Path) -> None:
    """A record listed twice is not silently merged: the admin sees a warning."""
    record = (
        '<sanctionEntity logicalId="9"><subjectType code="person"/>'
        '<nameAlias wholeName="{0}" strong="true"/></sanctionEntity>'
    )
    path = tmp_path / "dup.xml"
    path.write_text(
        HEAD + record.format("Old Name") + record.format("New Name") + "</export>", encoding="utf-8"
    )
    parsed = parse_eu(path)
    assert [e.names[0].text for e in parsed.entities] == ["New Name"]
    assert parsed.version == "2026-01-05"
    assert parsed.warnings == (f"{path}: logicalId 9 listed twice; the later is kept",)


def test_is_eu_root() -> None:
    """Format detection gets ElementTree's namespaced tag; a bare <export> is someone else's."""
    assert is_eu_root("{http://eu.europa.ec/fpi/fsd/export}export")
    assert not is_eu_root("export")
    assert not is_eu_root("CONSOLIDATED_LIST")
