"""What every table shares: UTC timestamps that read back aware on every backend."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Column, DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """``DateTime(timezone=True)`` that reads back as an aware UTC datetime on every backend.

    SQLite has no time-zone type: plain ``DateTime(timezone=True)`` stores the wall-clock
    digits, silently dropping the offset (12:00+05:00 was stored as 12:00), and reads back
    naive datetimes. PostgreSQL returns the session's time zone, not necessarily UTC. So values
    are converted to UTC before storing (naive ones are taken as UTC; on SQLite stored as naive
    UTC text, the format rows written before this type already had) and read back as UTC.
    The column type in the database is unchanged: migrations use ``sa.DateTime(timezone=True)``.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def timestamp(**kwargs: Any) -> Any:
    """A required timestamp column that defaults to now (``kwargs`` go to the ``Column``)."""
    return Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False, **kwargs))
