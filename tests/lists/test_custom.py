"""Custom watch lists in CSV and YAML: the same three parties either way, found by the matcher
by name and by IMO number, and typing mistakes refused with the file and line to fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.lists import ListFormatError
from bot.lists.custom import parse_custom
from bot.lists.types import ParsedList
from bot.matching.engine import Matcher
from bot.matching.model import Document, EntityType, Name, NameKind
from bot.matching.rules import RuleSet

DATA = Path(__file__).resolve().parents[1] / "data" / "lists" / "custom"
CSV = DATA / "acme.csv"
YAML = DATA / "acme.yaml"
HEADER = "id,name,type,aliases,countries,programs,identifiers\n"


@pytest.fixture(scope="module", params=["csv", "yaml"])
def acme(request: pytest.FixtureRequest) -> ParsedList:
    # The YAML names its source itself ("acme"); the CSV needs the caller to.
    return parse_custom(CSV, "custom-acme") if request.param == "csv" else parse_custom(YAML)


def test_both_formats_give_the_same_entities(acme: ParsedList) -> None:
    assert acme.source == "custom-acme"
    assert acme.warnings == ()
    assert len(acme.version) == 10 and len(acme.sha256) == 64
    assert [e.list_id for e in acme.entities] == ["A-1", "A-2", "A-3"]
    assert acme.entities[0].key == "custom-acme:A-1"
    ship, komid, ivanov = acme.entities
    assert ship.type is EntityType.VESSEL
    assert ship.names == (
        Name("SEA STAR", NameKind.PRIMARY),
        Name("SEA STAR 2", NameKind.ALIAS),
        Name("SS", NameKind.WEAK),
    )
    assert ship.programs == ("DPRK", "Internal")
    assert ship.countries == ("KP",)
    assert ship.identifiers == (("imo", "9191278"), ("mmsi", "445123000"))
    assert komid.type is EntityType.ORGANIZATION
    assert komid.names[1] == Name("KOMID", NameKind.ALIAS)
    assert komid.countries == ("KP",)  # "North Korea" by name
    assert komid.identifiers == (("swift", "KOMDKPPY"),)  # head-office "XXX" dropped
    assert ivanov.type is EntityType.PERSON
    assert ivanov.names == (
        Name("IVANOV, Ivan Ivanovich", NameKind.PRIMARY, "IVANOV"),
        Name("IVANOFF, Ivan", NameKind.ALIAS, "IVANOFF"),
    )
    assert ivanov.countries == ("RU", "UA")
    assert ivanov.identifiers == (("passport", "750 123 456"),)


def test_caller_source_wins_over_the_file(tmp_path: Path) -> None:
    parsed = parse_custom(YAML, "Other")
    assert parsed.source == "custom-other"
    assert parsed.entities[0].key == "custom-other:A-1"
    warning = f"{YAML}: the file says source 'acme'; 'custom-other' was asked for"
    assert parsed.warnings == (warning,)
    assert parse_custom(YAML).entities[2].remarks == "Former director of a client's supplier."


def test_matcher_finds_name_and_imo(acme: ParsedList) -> None:
    matcher = Matcher(RuleSet(rules=(), terms={}, parties=(), list_selectors={}), acme.entities)
    text = (
        "The tanker, IMO 9191278, loaded fuel in Nampo. Separately, Korea Mining Development "
        "Trading Corporation opened an office in Minsk."
    )
    found = {m.match.entity.key: m.match for m in matcher.analyze(Document(text)).parties}
    assert set(found) == {"custom-acme:A-1", "custom-acme:A-2"}
    assert found["custom-acme:A-1"].matched == "9191278"
    assert found["custom-acme:A-2"].matched == "Korea Mining Development Trading Corporation"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ("id,name,aliases\nA-1,X,\n", 1, "missing required column(s) type"),
        ("id,name,type,alias\nA-1,X,vessel,\n", 1, "unknown column(s) alias"),
        (HEADER + "A-1,SEA STAR,vessel,,,,\nA-2,,vessel,,,,\n", 3, "A-2: empty name"),
        (
            HEADER + "A-1,SEA STAR,vessel,,,,\nA-1,SEA STAR 2,vessel,,,,\n",
            3,
            "id 'A-1' appears twice",
        ),
        (HEADER + "A-1,SEA STAR,ship,,,,\n", 2, "unknown type 'ship'"),
        (HEADER + "A-1,SEA STAR,vessel,,,,imo=9191278\n", 2, "'imo=9191278' is not scheme:value"),
        (HEADER + "A-1,SEA STAR,vessel,,,,imo:9191279\n", 2, "not a valid IMO ship number"),
        (HEADER + "A-1,SEA STAR,vessel,,Atlantis,,\n", 2, "unknown country 'Atlantis'"),
        (HEADER + "A-1,SEA STAR,vessel,,,\n", 2, "expected 7 columns, found 6"),
        (HEADER + 'A-1,"SEA STAR,vessel,,,,\n', 2, "malformed CSV"),
        (HEADER, None, "no entities"),
        ("<html><body>login</body></html>\n", 1, "HTML/XML page"),
    ],
)
def test_broken_csv(tmp_path: Path, text: str, line: int | None, reason: str) -> None:
    path = write(tmp_path, "acme.csv", text)
    with pytest.raises(ListFormatError) as error:
        parse_custom(path, "acme")
    assert reason in error.value.reason
    assert (error.value.path, error.value.line) == (str(path), line)


ENTITY = "  - id: A-1\n    name: SEA STAR\n    type: vessel\n"


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        (
            "source: acme\nentities:\n" + ENTITY + "  - id: A-2\n    name: ''\n    type: vessel\n",
            7,
            "A-2: empty name",
        ),
        ("source: acme\nentities:\n" + ENTITY + ENTITY, 6, "id 'A-1' appears twice"),
        (
            "source: acme\nentities:\n  - id: A-1\n    name: X\n    type: boat\n",
            5,
            "unknown type 'boat'",
        ),
        ("source: acme\nentities:\n  - id: A-1\n    name: X\n", 3, "lacks required key 'type'"),
        ("source: acme\nentities:\n" + ENTITY + "    alias: [Y]\n", 6, "unknown key 'alias'"),
        (
            "source: acme\nentities:\n" + ENTITY + "    identifiers:\n      swift: ABC\n",
            7,
            "not a SWIFT/BIC code",
        ),
        (
            "source: acme\nentities:\n" + ENTITY + "    identifiers: [imo, 9191278]\n",
            6,
            "identifiers must be a mapping",
        ),
        ("source: acme\nentities:\n" + ENTITY + "    aliases: [a, b\n", 7, "YAML syntax error"),
        ("entities:\n" + ENTITY, None, "no source name"),
        ("- just\n- a list\n", 1, "expected a mapping"),
    ],
)
def test_broken_yaml(tmp_path: Path, text: str, line: int | None, reason: str) -> None:
    path = write(tmp_path, "acme.yaml", text)
    with pytest.raises(ListFormatError) as error:
        parse_custom(path)
    assert reason in error.value.reason
    assert (error.value.path, error.value.line) == (str(path), line)
    assert str(error.value).startswith(f"{path}:{line}: " if line else f"{path}: ")
