"""Alembic migrations on SQLite and PostgreSQL: empty to head, idempotent, reversible, and in
step with the SQLModel tables (a model change without a migration fails here)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import column as sa_column
from sqlalchemy import inspect, text
from sqlalchemy import table as sa_table
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import SQLModel

import db.models  # noqa: F401  (registers the tables)
from db.engine import (
    HEAD_REVISION,
    alembic_config,
    at_head,
    downgrade,
    make_engine,
    open_database,
    upgrade,
)
from db.models import (
    Alert,
    AlertEntity,
    AlertSource,
    Article,
    Chat,
    Delivery,
    Feed,
    FeedEntry,
    ReviewMark,
    Story,
)
from db.stories import story_key
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
    script = ScriptDirectory.from_config(alembic_config())
    heads = script.get_heads()
    assert len(heads) == 1, f"migrations must have one head, not {heads}"
    return heads[0]


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def tables(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names())


def schema_differences(engine: Engine) -> list[object]:
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "compare_server_default": True}
        )
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
        connection.execute(
            text(
                "INSERT INTO article (source, content_hash, title, outlet, text, fetched_at) VALUES ('s', 'h', '', '', 'kept', CURRENT_TIMESTAMP)"
            )
        )
    upgrade(engine)
    assert current_revision(engine) == head()
    with engine.connect() as connection:
        assert connection.execute(text("SELECT text FROM article")).scalars().all() == ["kept"]
    open_database(
        str(engine.url.render_as_string(hide_password=False))
    ).dispose()  # the app's entry point, a third time
    assert current_revision(engine) == head()


def test_head_revision_is_alembics_head() -> None:
    """``open_database`` skips Alembic for a database at ``HEAD_REVISION``: it must be the
    newest migration (a new migration moves it)."""
    assert head() == HEAD_REVISION


def test_open_database_at_head_does_not_migrate(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = str(engine.url.render_as_string(hide_password=False))
    assert not at_head(engine)  # empty
    upgrade(engine, "0005")
    assert not at_head(engine)  # behind: open_database upgrades it
    open_database(url).dispose()
    assert at_head(engine) and current_revision(engine) == head()

    def refuse(*_: object, **__: object) -> None:
        raise AssertionError("a database at the head needs no upgrade")

    monkeypatch.setattr("db.engine.upgrade", refuse)
    open_database(url).dispose()


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
        connection.execute(
            text(
                "INSERT INTO entity_name (entity_id, position, name, kind) VALUES (:id, 0, 'X', 'primary')"
            ),
            {"id": entity_id},
        )
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM listed_entity"))
        assert connection.execute(text("SELECT count(*) FROM entity_name")).scalar_one() == 0


# --- upgrading a database that holds data ------------------------------------------------------


def insert(connection: Connection, row: SQLModel) -> int:
    """Insert a model's row with plain SQL (the ORM would want today's columns); its id."""
    table = row.__table__  # type: ignore[attr-defined]
    present = {column["name"] for column in inspect(connection).get_columns(table.name)}
    columns = [column for column in table.columns if column.key != "id" and column.name in present]
    values = {
        column.key: column.type.bind_processor(connection.dialect)(getattr(row, column.key))
        if column.type.bind_processor(connection.dialect)
        else getattr(row, column.key)
        for column in columns
    }
    # a bare table of the columns that exist at this revision: the model's defaults for newer
    # columns must not be sent
    then = sa_table(table.name, *(sa_column(c.name) for c in columns), sa_column("id"))
    return int(connection.execute(then.insert().values(values).returning(then.c.id)).scalar_one())


def alert(article_id: int, key: str) -> Alert:
    return Alert(
        article_id=article_id,
        dedup_key=key,
        rule_id=key.split("|")[1],
        title="t",
        severity="high",
        score=0.9,
        regime=key.split("|")[2],
    )


def test_upgrading_a_database_with_alerts_keeps_them(engine: Engine) -> None:
    """SQLite batch mode rebuilds a table by dropping it; with foreign keys on, that drop used to
    delete every alert (ON DELETE CASCADE) when 0003 rebuilt ``article``."""
    upgrade(engine, "0002")
    with engine.begin() as connection:
        article_id = insert(connection, Article(source="s", content_hash="h", text="kept"))
        alert_id = insert(connection, alert(article_id, f"article:{article_id}|r|g"))
        insert(
            connection,
            AlertEntity(alert_id=alert_id, entity_key="un:X", caption="X", matched="X", score=1.0),
        )
    upgrade(engine)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT id FROM alert")).scalars().all() == [alert_id]
        assert connection.execute(text("SELECT count(*) FROM alert_entity")).scalar_one() == 1
        if engine.dialect.name == "sqlite":  # enforcement is back on for everyone else
            assert connection.execute(text("PRAGMA foreign_keys")).scalar_one() == 1


def test_0005_merges_duplicates_before_adding_the_unique_keys(engine: Engine) -> None:
    """Duplicates that concurrent scans stored: the lowest id is kept and everything that
    pointed at a duplicate (alerts, sources, feed entries, review marks, deliveries, articles
    of a story) now points at it; a duplicate's alert that the kept row has already is merged."""
    upgrade(engine, "0004")
    with engine.begin() as c:
        a1, a2 = (
            insert(c, Article(source=f"scan {n}", content_hash="H", text="same")) for n in (1, 2)
        )
        a3 = insert(
            c, Article(source="u", url_key="x.org/3", content_hash="H", text="same")
        )  # another outlet's copy
        a4 = insert(c, Article(source="other", content_hash="K", text="other"))
        al1 = insert(c, alert(a1, f"article:{a1}|r|g"))
        al2 = insert(c, alert(a2, f"article:{a2}|r|g"))  # the same alert, stored twice
        al3 = insert(c, alert(a2, f"article:{a2}|r2|g"))  # only the duplicate has it
        for alert_id, article_id in ((al1, a1), (al2, a2), (al3, a2)):
            insert(c, AlertSource(alert_id=alert_id, article_id=article_id))
            insert(
                c,
                AlertEntity(
                    alert_id=alert_id,
                    entity_key=f"e{alert_id}",
                    caption="c",
                    matched="m",
                    score=1.0,
                ),
            )
        chat = insert(c, Chat(tg_chat_id=42))
        insert(c, Delivery(alert_id=al2, chat_id=chat, status="sent"))
        insert(c, ReviewMark(alert_id=al2, verdict="relevant", author="ann"))
        feed = insert(c, Feed(url="https://x.org/feed"))
        insert(c, FeedEntry(feed_id=feed, entry_id="e", article_id=a2))
        s1, s2 = (
            insert(c, Story(simhash=5, title="T", key="")) for _ in range(2)
        )  # one story started twice
        s3 = insert(c, Story(simhash=5, title="U", key=""))
        a5 = insert(
            c, Article(source="5", url_key="x.org/5", content_hash="S5", text="s", story_id=s1)
        )
        a6 = insert(
            c, Article(source="6", url_key="x.org/6", content_hash="S6", text="s", story_id=s2)
        )
        st1 = insert(c, alert(a5, f"story:{s1}|r|g"))
        st2 = insert(c, alert(a6, f"story:{s2}|r|g"))
        st3 = insert(c, alert(a6, f"story:{s2}|r3|g"))
        for alert_id, article_id in ((st1, a5), (st2, a6), (st3, a6)):
            insert(c, AlertSource(alert_id=alert_id, article_id=article_id))
            insert(
                c,
                AlertEntity(
                    alert_id=alert_id,
                    entity_key=f"e{alert_id}",
                    caption="c",
                    matched="m",
                    score=1.0,
                ),
            )
    upgrade(engine)
    with engine.connect() as c:
        rows = lambda sql: sorted(tuple(r) for r in c.execute(text(sql)))  # noqa: E731
        assert rows("SELECT id FROM article") == [(a1,), (a3,), (a4,), (a5,), (a6,)]
        assert rows("SELECT id, article_id, dedup_key FROM alert") == [
            (al1, a1, f"article:{a1}|r|g"),
            (al3, a1, f"article:{a1}|r2|g"),
            (st1, a5, f"story:{s1}|r|g"),
            (st3, a6, f"story:{s1}|r3|g"),
        ]
        assert rows("SELECT alert_id, article_id FROM alert_source") == sorted(
            [(al1, a1), (al3, a1), (st1, a5), (st1, a6), (st3, a6)]
        )
        assert rows("SELECT alert_id FROM alert_entity") == [(al1,), (al3,), (st1,), (st3,)]
        assert rows("SELECT alert_id, status FROM delivery") == [(al1, "sent")]
        assert rows("SELECT alert_id FROM review_mark") == [(al1,)]
        assert rows("SELECT article_id FROM feed_entry") == [(a1,)]
        assert rows("SELECT id FROM story") == [(s1,), (s3,)]
        assert rows("SELECT story_id FROM article WHERE story_id IS NOT NULL") == [(s1,), (s1,)]
        keys = dict(rows("SELECT id, key FROM story"))
        assert keys[s1] == story_key(5, "T") and keys[s3] == story_key(5, "U")
    assert schema_differences(engine) == []
    with pytest.raises(IntegrityError), engine.begin() as c:  # the database now refuses a duplicate
        insert(c, Article(source="again", content_hash="H", text="same"))
