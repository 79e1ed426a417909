"""Insert-or-ignore: the database, not a check before the insert, decides that a row is new.

"Look it up, insert it if missing" is a race between processes: both look, both miss, both
insert. With a unique key and ``INSERT ... ON CONFLICT DO NOTHING`` (SQLite and PostgreSQL
alike) the second insert does nothing instead, and the caller reads back the row that won.
PostgreSQL makes the second insert wait for the first transaction to end; SQLite's writers
take turns on the database lock. Either way the read-back sees the winner.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import Table, inspect
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapper
from sqlmodel import Session, SQLModel

_INSERTS: dict[str, Any] = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}
# Look-ups by many keys go a thousand keys a statement, inside every driver's parameter limit.
CHUNK = 1000

T = TypeVar("T")


def insert_or_ignore(session: Session, row: SQLModel) -> int | None:
    """Insert ``row`` (a new table model, defaults filled) unless a unique key already holds
    its like; returns the new row's id, or None when another row holds the key."""
    table = _table_of(row)
    session.flush()  # pending ORM rows first, so they count as existing
    dialect = session.get_bind().dialect.name
    statement = (
        _INSERTS[dialect](table)
        .values(_values(table, row))
        .on_conflict_do_nothing()
        .returning(table.c.id)
    )
    inserted: int | None = session.exec(statement).scalar_one_or_none()
    return inserted


def insert_many_or_ignore(session: Session, rows: Sequence[SQLModel], *returning: str) -> list[Any]:
    """``insert_or_ignore`` for many new rows of one table, in order, with multi-row statements;
    the ``returning`` columns (default: ``id``) of the rows inserted, none of the ignored ones."""
    if not rows:
        return []
    table = _table_of(rows[0])
    insert = _INSERTS[session.get_bind().dialect.name]
    session.flush()  # pending ORM rows first, so they count as existing
    # One statement, compiled once and cached; given many parameter sets, SQLAlchemy sends them
    # as multi-row VALUES ("insertmanyvalues", batches within the drivers' parameter limits).
    statement = (
        insert(table)
        .on_conflict_do_nothing()
        .returning(*(table.c[name] for name in returning or ("id",)))
    )
    return list(session.exec(statement, params=[_values(table, row) for row in rows]).all())


def chunks(items: Sequence[T], size: int = CHUNK) -> list[list[T]]:
    """Distinct ``items`` in order, cut into lists of at most ``size``."""
    distinct = list(dict.fromkeys(items))
    return [distinct[start : start + size] for start in range(0, len(distinct), size)]


def _table_of(row: SQLModel) -> Table:
    mapper: Mapper[SQLModel] = inspect(type(row))
    table = mapper.local_table
    assert isinstance(table, Table)
    return table


def _values(table: Table, row: SQLModel) -> dict[str, Any]:
    return {column.key: getattr(row, column.key) for column in table.columns if column.key != "id"}
