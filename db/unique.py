"""Insert-or-ignore: the database, not a check before the insert, decides that a row is new.

"Look it up, insert it if missing" is a race between processes: both look, both miss, both
insert. With a unique key and ``INSERT ... ON CONFLICT DO NOTHING`` (SQLite and PostgreSQL
alike) the second insert does nothing instead, and the caller reads back the row that won.
PostgreSQL makes the second insert wait for the first transaction to end; SQLite's writers
take turns on the database lock. Either way the read-back sees the winner.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, SQLModel

_INSERTS: dict[str, Any] = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}


def insert_or_ignore(session: Session, row: SQLModel) -> int | None:
    """Insert ``row`` (a new table model, defaults filled) unless a unique key already holds
    its like; returns the new row's id, or None when another row holds the key."""
    table = row.__table__  # type: ignore[attr-defined]
    values = {
        column.key: getattr(row, column.key) for column in table.columns if column.key != "id"
    }
    session.flush()  # pending ORM rows first, so they count as existing
    dialect = session.get_bind().dialect.name
    statement = (
        _INSERTS[dialect](table).values(values).on_conflict_do_nothing().returning(table.c.id)
    )
    inserted: int | None = session.execute(statement).scalar_one_or_none()
    return inserted
