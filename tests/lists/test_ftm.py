"""OpenSanctions FollowTheMoney JSON lines: the real export and delta fixtures, plus
hand-written deltas for the operations."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bot.lists import ListFormatError
from bot.lists.ftm import parse_ftm
from bot.lists.types import ParsedList
from bot.matching.model import Entity, EntityType, Name, NameKind
from tests.conftest import require_shared

pytestmark = pytest.mark.shared

IRGC = "NK-2PacmNpiLUmoz4XD2mSt7A"


def shared_ftm(name: str) -> Path:
    return require_shared("data", "sanctions", "opensanctions", name)


def write_lines(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def vessel(entity_id: str, name: str) -> dict[str, Any]:
    return {
        "id": entity_id,
        "schema": "Vessel",
        "caption": name,
        "properties": {
            "name": [name],
            "imoNumber": ["9191278"],
            "flag": ["kp"],
            "mmsi": ["445123000"],
        },
    }


@pytest.fixture(scope="module")
def t1() -> ParsedList:
    return parse_ftm([shared_ftm("yente_t1_entities.ftm.json")])


@pytest.fixture(scope="module")
def delta() -> ParsedList:
    return parse_ftm([shared_ftm("yente_entities.delta_2024-07.json")])


def by_id(parsed: ParsedList) -> dict[str, Entity]:
    return {entity.list_id: entity for entity in parsed.entities}


def test_export_file(t1: ParsedList) -> None:
    assert t1.source == "opensanctions"
    assert len(t1.entities) == 6  # 7 lines, one of them an Address
    assert t1.warnings == ("skipped records that are not listed parties: 1 Address",)
    irgc = by_id(t1)[IRGC]
    assert irgc.key == f"opensanctions:{IRGC}"
    assert irgc.type is EntityType.ORGANIZATION
    assert irgc.names == (
        Name("IRGC", NameKind.PRIMARY),
        Name("Iranian Revolutionary Guard Corps", NameKind.PRIMARY),
    )
    assert irgc.countries == ("IR",)
    assert irgc.programs == ("topic:sanction",)


def test_person_family_from_last_name(t1: ParsedList) -> None:
    person = by_id(t1)["NK-2Ka3UvopqbpZmVDFjWd4LA"]
    assert person.type is EntityType.PERSON
    assert person.names[0] == Name("Vitaly Yurievich KUZMENKO", NameKind.PRIMARY, "KUZMENKO")
    assert Name("Виталий Юрьевич КУЗЬМЕНКО", NameKind.PRIMARY, "КУЗЬМЕНКО") in person.names
    assert person.identifiers == (("tax", "366510784303"),)


def test_delta_file(delta: ParsedList) -> None:
    entities = delta.entities
    assert len(entities) == 576  # 451 Person + 97 Organization + 27 LegalEntity + 1 Company
    assert sum(1 for e in entities if e.type is EntityType.PERSON) == 451
    assert not [e for e in entities if e.list_id.startswith("addr-")]
    isil = by_id(delta)["NK-2T3S8Hu29ktYnKSTgQp2wL"]
    assert isil.names[0] == Name("AL-QAIDA IN IRAQ", NameKind.PRIMARY)
    assert Name("ISIS", NameKind.WEAK) in isil.names  # short acronym
    assert Name("Al-Qaida in Mesopotamia", NameKind.ALIAS) in isil.names
    assert Name("Daesh", NameKind.ALIAS) in isil.names  # from "Also known as: Daesh"
    assert Name("al-Zarqawi network", NameKind.PRIMARY) in isil.names
    assert Name("Al Hayat", NameKind.WEAK) in isil.names  # weakAlias
    assert isil.countries == ("IQ", "SY")
    assert isil.programs[0] == "DTTOT"  # from a Sanction record pointing at it


def test_sanction_records_fill_programs(delta: ParsedList) -> None:
    dnpp = by_id(delta)["NK-H62A9T7WLJGEYmxABrWunP"]
    assert dnpp.caption == "JSC DNPP"
    assert "SDN List" in dnpp.programs
    assert "topic:sanction" in dnpp.programs


def test_one_word_person_names_are_weak(delta: ParsedList) -> None:
    person = by_id(delta)["NK-HPCJV2jxxoQuVW6e9RhYCy"]
    assert Name("Mohammad", NameKind.WEAK) in person.names
    assert Name("Johnny Pareja", NameKind.PRIMARY, "Pareja") in person.names


def test_delete_removes_entities(tmp_path: Path) -> None:
    ops = write_lines(
        tmp_path / "ops.json",
        [
            {"op": "ADD", "entity": vessel("v1", "SEA STAR")},
            {"op": "ADD", "entity": vessel("v2", "OCEAN GLORY")},
            {"op": "MOD", "entity": vessel("v2", "OCEAN GLORY 2")},
            {"op": "DEL", "entity": {"id": "v1"}},
        ],
    )
    (ship,) = parse_ftm([ops]).entities
    assert ship.key == "opensanctions:v2"
    assert ship.type is EntityType.VESSEL
    assert ship.names == (Name("OCEAN GLORY 2", NameKind.PRIMARY),)
    assert ship.identifiers == (("imo", "9191278"), ("mmsi", "445123000"))
    assert ship.countries == ("KP",)


def test_delta_applied_to_real_export(tmp_path: Path) -> None:
    base = shared_ftm("yente_t1_entities.ftm.json")
    ops = write_lines(
        tmp_path / "delta.json",
        [
            {"op": "DEL", "entity": {"id": IRGC}},
            {"op": "ADD", "entity": vessel("v1", "SEA STAR")},
        ],
    )
    parsed = parse_ftm([base, ops])
    ids = set(by_id(parsed))
    assert IRGC not in ids
    assert "v1" in ids and len(ids) == 6
    assert len(parsed.files) == 2


def test_bad_line_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text(
        json.dumps(vessel("v1", "SEA STAR")) + '\n\n{"id": "v2", "sche\n', encoding="utf-8"
    )
    with pytest.raises(ListFormatError, match=r"broken\.json:3: not a JSON line"):
        parse_ftm([path])


def test_unknown_op_is_refused(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "ops.json", [{"op": "UPSERT", "entity": vessel("v1", "X")}])
    with pytest.raises(ListFormatError, match=r"ops\.json:1: delta line needs op ADD/MOD/DEL"):
        parse_ftm([path])


def test_non_utf8_line_is_named(tmp_path: Path) -> None:
    path = tmp_path / "bytes.json"
    path.write_bytes(json.dumps(vessel("v1", "SEA STAR")).encode() + b'\n{"id": "v\xff"}\n')
    with pytest.raises(ListFormatError, match=r"bytes\.json:2: not UTF-8 text"):
        parse_ftm([path])
