"""Alembic migrations on SQLite and PostgreSQL: empty to head, idempotent, reversible, and in
step with the SQLModel tables (a model change without a migration fails here)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

import db.models  # noqa: F401  (registers the tables)
from db.engine import alembic_config, make_engine, open_database, upgrade
from tests.pg import db_url, pg_server, pg_url  # noqa: F401

# Every table the models define; the first migration's tables must always be among them.
TABLES = set(SQLModel.metadata.tables)
assert {"list_source", "listed_entity", "entity_name", "article", "alert", "alert_entity"} <= TABLES


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:  # noqa: F811
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


def head() -> str:
    script = ScriptDirectory.from_config(alembic_config(make_engine("sqlite://")))
    heads = script.get_heads()
    assert len(heads) == 1, f"migrations must have one head, not {heads}"
    return heads[0]


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def tables(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names())


def downgrade(engine: Engine, revision: str) -> None:
    config = alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


def schema_differences(engine: Engine) -> list[object]:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True, "compare_server_default": True})
        return list(compare_metadata(context, SQLModel.metadata))


def test_upgrade_from_empty_to_head(engine: Engine) -> None:
    assert tables(engine) == set()
    assert current_revision(engine) is None
    upgrade(engine)
    assert current_revision(engine) == head()
    assert tables(engine) == TABLES | {"alembic_version"}


def test_upgrade_twice_is_a_no_op(engine: Engine) -> None:
    upgrade(engine)
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO article (source, content_hash, title, outlet, text, fetched_at) VALUES ('s', 'h', '', '', 'kept', CURRENT_TIMESTAMP)"))
    upgrade(engine)
    assert current_revision(engine) == head()
    with engine.connect() as connection:
        assert connection.execute(text("SELECT text FROM article")).scalars().all() == ["kept"]
    open_database(str(engine.url.render_as_string(hide_password=False))).dispose()  # the app's entry point, a third time
    assert current_revision(engine) == head()


def test_downgrade_to_base_and_upgrade_again(engine: Engine) -> None:
    upgrade(engine)
    downgrade(engine, "base")
    assert current_revision(engine) is None
    assert tables(engine) - {"alembic_version"} == set()
    upgrade(engine)
    assert current_revision(engine) == head()
    assert tables(engine) == TABLES | {"alembic_version"}
    assert schema_differences(engine) == []


def test_schema_after_migrations_matches_the_models(engine: Engine) -> None:
    upgrade(engine)
    assert schema_differences(engine) == []


def test_schema_comparison_notices_a_missing_migration(engine: Engine) -> None:
    """The comparison above can fail: a column the migrations lack is reported."""
    upgrade(engine)
    with engine.begin() as connection:
        connection.execute(text("ALTER TABLE alert DROP COLUMN rule_source"))
        connection.execute(text("DROP INDEX ix_alert_severity"))
    found = set()
    for diff in schema_differences(engine):
        if diff[0] == "add_column":  # ("add_column", schema, table, Column)
            found.add(("add_column", diff[3].name))
        elif diff[0] == "add_index":  # ("add_index", Index)
            found.add(("add_index", diff[1].name))
    assert ("add_column", "rule_source") in found
    assert ("add_index", "ix_alert_severity") in found


def test_foreign_keys_cascade(engine: Engine) -> None:
    """Deleting an entity deletes its names (SQLite only does this with foreign_keys=ON)."""
    upgrade(engine)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO listed_entity (key, source, list_id, type, caption, programs, countries, identifiers, same_as, remarks)"
                " VALUES ('un:X', 'un', 'X', 'person', 'X', '[]', '[]', '[]', '[]', '')"
            )
        )
        entity_id = connection.execute(text("SELECT id FROM listed_entity")).scalar_one()
        connection.execute(text("INSERT INTO entity_name (entity_id, position, name, kind) VALUES (:id, 0, 'X', 'primary')"), {"id": entity_id})
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM listed_entity"))
        assert connection.execute(text("SELECT count(*) FROM entity_name")).scalar_one() == 0
