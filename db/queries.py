"""Query helpers SQLModel does not have."""

from __future__ import annotations

from typing import Any

from sqlmodel.sql.expression import Select


def select_columns(*columns: Any) -> Select[*tuple[Any, ...]]:
    """``select`` of five or more columns, whose rows are plain tuples of ``Any``.

    SQLModel's ``select`` is typed for up to four columns; wide rows that are read as tuples
    (not as table objects, which cost far more for thousands of rows) are built with this one,
    and ``session.exec`` runs them like any other select.
    """
    return Select(*columns)
