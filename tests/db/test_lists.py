"""Imported sanctions lists on SQLite and PostgreSQL, with the real UN and OFAC files."""

from __future__ import annotations

import dataclasses
import time
from collections import Counter
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from bot.lists import ParsedList, load_list
from bot.matching.model import Entity, EntityType, NameKind
from db.engine import open_database, session_scope
from db.lists import import_list, list_sources, lists_fingerprint, load_entities
from db.models import EntityName, ListedEntity, ListSource
from tests.conftest import require_shared
from tests.pg import db_url, pg_server, pg_url  # noqa: F401

pytestmark = pytest.mark.shared


@pytest.fixture(scope="module")
def un_list() -> ParsedList:
    (parsed,) = load_list(
        [require_shared("data", "sanctions", "un", "UN_consolidated_2026-02-27.xml")]
    )
    return parsed


@pytest.fixture(scope="module")
def sdn_2021() -> ParsedList:
    (parsed,) = load_list([require_shared("data", "sanctions", "ofac", "sdn_2021-07", "sdn.csv")])
    return parsed


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:  # noqa: F811
    engine = open_database(db_url)
    yield engine
    engine.dispose()


def stored(engine: Engine) -> dict[str, list[tuple[str, str, str | None]]]:
    """Every stored entity's names, by key, straight from the tables."""
    with session_scope(engine) as session:
        rows = session.execute(
            select(ListedEntity.key, EntityName.name, EntityName.kind, EntityName.family)
            .join(EntityName, EntityName.entity_id == ListedEntity.id, isouter=True)
            .order_by(ListedEntity.key, EntityName.position)
        ).all()
    names: dict[str, list[tuple[str, str, str | None]]] = {}
    for key, name, kind, family in rows:
        names.setdefault(key, [])
        if name is not None:
            names[key].append((name, kind, family))
    return names


def count(engine: Engine, column: object) -> int:
    with session_scope(engine) as session:
        return int(session.execute(select(func.count(column))).scalar_one())  # type: ignore[arg-type]


def expected_names(entity: Entity) -> list[tuple[str, str, str | None]]:
    return [(n.text, n.kind.value, n.family) for n in entity.names]


def test_un_list_import(engine: Engine, un_list: ParsedList) -> None:
    assert len(un_list.entities) == 1003
    with session_scope(engine) as session:
        result = import_list(session=session, parsed=un_list)
    assert (result.source, result.entities, result.added, result.removed, result.unchanged) == (
        "un",
        1003,
        1003,
        0,
        False,
    )
    assert result.version == un_list.version == "2026-02-27"

    names = stored(engine)
    assert len(names) == 1003
    assert names == {e.key: expected_names(e) for e in un_list.entities}
    assert count(engine, EntityName.id) == sum(len(e.names) for e in un_list.entities)
    assert names["un:KPe.001"][0][0] == "KOREA MINING DEVELOPMENT TRADING CORPORATION"
    with session_scope(engine) as session:
        types = Counter(session.execute(select(ListedEntity.type)).scalars())
        (source,) = list_sources(session=session)
        fingerprint = lists_fingerprint(session=session)
    assert types == Counter(e.type.value for e in un_list.entities)
    assert types["person"] == 730
    assert (source.source, source.version, source.sha256, source.entity_count) == (
        "un",
        "2026-02-27",
        un_list.sha256,
        1003,
    )
    assert source.files == list(un_list.files)
    assert (
        source.imported_at.utcoffset() is not None
        and source.imported_at.utcoffset().total_seconds() == 0
    )  # type: ignore[union-attr]
    assert fingerprint == f"un={un_list.sha256}"


def test_reimporting_the_same_list_changes_nothing(engine: Engine, un_list: ParsedList) -> None:
    with session_scope(engine) as session:
        import_list(session=session, parsed=un_list)
    with session_scope(engine) as session:
        ids_before = dict(session.execute(select(ListedEntity.key, ListedEntity.id)).all())
        (source,) = list_sources(session=session)
        imported_at = source.imported_at
    with session_scope(engine) as session:
        again = import_list(session=session, parsed=un_list)
    assert (again.unchanged, again.entities, again.added, again.removed) == (True, 1003, 0, 0)
    with session_scope(engine) as session:
        assert dict(session.execute(select(ListedEntity.key, ListedEntity.id)).all()) == ids_before
        (source,) = list_sources(session=session)
        assert source.imported_at == imported_at
    assert count(engine, EntityName.id) == sum(len(e.names) for e in un_list.entities)


def test_importing_a_shorter_list_removes_exactly_the_dropped_entities(
    engine: Engine, un_list: ParsedList
) -> None:
    with session_scope(engine) as session:
        import_list(session=session, parsed=un_list)
    dropped = {e.key for e in un_list.entities[::50]}  # 21 entities, people and organizations
    kept = tuple(e for e in un_list.entities if e.key not in dropped)
    shorter = dataclasses.replace(un_list, entities=kept, sha256="0" * 64, version="2026-03-01")
    with session_scope(engine) as session:
        result = import_list(session=session, parsed=shorter)
    assert len(dropped) == 21
    assert (result.unchanged, result.entities, result.added, result.removed) == (
        False,
        1003 - 21,
        0,
        21,
    )
    names = stored(engine)
    assert set(names) == {e.key for e in un_list.entities} - dropped
    assert names == {e.key: expected_names(e) for e in kept}
    # the dropped entities' names went with them (no orphaned rows)
    assert count(engine, EntityName.id) == sum(len(e.names) for e in kept)
    with session_scope(engine) as session:
        (source,) = list_sources(session=session)
        assert (source.version, source.sha256, source.entity_count) == ("2026-03-01", "0" * 64, 982)


def test_a_failed_import_keeps_the_previous_list(engine: Engine, un_list: ParsedList) -> None:
    with session_scope(engine) as session:
        import_list(session=session, parsed=un_list)
    duplicate = dataclasses.replace(
        un_list, entities=(*un_list.entities[:10], un_list.entities[0]), sha256="1" * 64
    )
    with (
        pytest.raises(Exception, match=r"(?i)unique|duplicate"),
        session_scope(engine) as session,
    ):
        import_list(
            session=session, parsed=duplicate, force=True
        )  # past the shrink guard, to the failing insert
    assert len(stored(engine)) == 1003
    with session_scope(engine) as session:
        (source,) = list_sources(session=session)
        assert source.sha256 == un_list.sha256


def test_load_entities_round_trips(engine: Engine, un_list: ParsedList) -> None:
    with session_scope(engine) as session:
        import_list(session=session, parsed=un_list)
    with session_scope(engine) as session:
        loaded = load_entities(session=session)
    assert len(loaded) == 1003
    by_key = {e.key: e for e in loaded}
    for original in un_list.entities:
        loaded_one = by_key[original.key]
        assert (
            loaded_one.version == f"{un_list.version}/{un_list.sha256[:8]}"
        )  # the list version it came from
        assert dataclasses.replace(loaded_one, version="") == original, original.key
    # the comparison covers what matters: these fields really vary in the UN list
    assert {e.type for e in loaded} == {EntityType.PERSON, EntityType.ORGANIZATION}
    assert {n.kind for e in loaded for n in e.names} >= {NameKind.PRIMARY, NameKind.ALIAS}
    assert any(n.family for e in loaded for n in e.names)
    assert (
        any(e.identifiers for e in loaded)
        and any(e.countries for e in loaded)
        and any(e.remarks for e in loaded)
    )
    assert by_key["un:KPe.001"].programs == ("DPRK",)


def test_ofac_2021_sdn_imports(
    engine: Engine, sdn_2021: ParsedList, un_list: ParsedList, request: pytest.FixtureRequest
) -> None:
    assert len(sdn_2021.entities) == 8976
    began = time.perf_counter()
    with session_scope(engine) as session:
        result = import_list(session=session, parsed=sdn_2021)
    import_seconds = time.perf_counter() - began
    with session_scope(engine) as session:
        import_list(session=session, parsed=un_list)
    began = time.perf_counter()
    with session_scope(engine) as session:
        loaded = load_entities(session=session)
    load_seconds = time.perf_counter() - began
    backend = engine.dialect.name
    print(
        f"\n{backend}: OFAC SDN 2021 import {import_seconds:.2f}s, load_entities of {len(loaded)} {load_seconds:.2f}s"
    )
    request.node.user_properties.append(("ofac_import_seconds", import_seconds))

    assert (result.source, result.entities, result.added, result.removed, result.unchanged) == (
        "ofac-sdn",
        8976,
        8976,
        0,
        False,
    )
    assert count(engine, ListedEntity.id) == 8976 + 1003
    assert count(engine, EntityName.id) == sum(
        len(e.names) for e in (*sdn_2021.entities, *un_list.entities)
    )
    assert len(loaded) == 8976 + 1003
    by_key = {e.key: e for e in loaded}
    mismatched = [
        e.key for e in sdn_2021.entities if dataclasses.replace(by_key[e.key], version="") != e
    ]
    assert mismatched == []
    assert {by_key[e.key].version for e in sdn_2021.entities} == {
        f"{sdn_2021.version}/{sdn_2021.sha256[:8]}"
    }
    with session_scope(engine) as session:
        assert [s.source for s in list_sources(session=session)] == ["ofac-sdn", "un"]
        assert (
            session.execute(
                select(ListSource.entity_count).where(ListSource.source == "ofac-sdn")
            ).scalar_one()
            == 8976
        )
    assert import_seconds < 30, f"importing 8,976 entities took {import_seconds:.1f}s on {backend}"
    assert load_seconds < 10
