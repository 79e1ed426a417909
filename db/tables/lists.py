"""Tables of imported sanctions lists: each list in force, its sync state, its entities and names."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, ForeignKey, Integer, Text
from sqlmodel import Field, SQLModel

from db.tables.columns import UTCDateTime, timestamp


class ListSource(SQLModel, table=True):
    """One imported sanctions list; re-importing the same bytes is a no-op."""

    __tablename__ = "list_source"

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(unique=True, max_length=64)
    version: str = Field(max_length=32)
    sha256: str = Field(max_length=64)
    files: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    warnings: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    entity_count: int = 0
    imported_at: datetime = timestamp()


class ListSync(SQLModel, table=True):
    """What the last downloads of a configured list source brought, kept even when they failed.

    ``validators`` are each URL's ETag and Last-Modified for the next conditional GET;
    ``body_sha256`` is the hash of the files last imported, so an unchanged download costs no
    parse. A failure sets ``last_error`` and leaves the list in force (``list_source``) as it was.
    """

    __tablename__ = "list_sync"

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(unique=True, max_length=64)
    validators: dict[str, dict[str, str]] = Field(
        default_factory=dict, sa_column=Column(JSON, nullable=False)
    )
    body_sha256: str = Field(default="", max_length=64)
    last_attempt_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    last_success_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    last_change_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    last_error: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    last_error_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))


class ListedEntity(SQLModel, table=True):
    __tablename__ = "listed_entity"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(unique=True, max_length=128)
    source: str = Field(index=True, max_length=64)
    list_id: str = Field(max_length=64)
    type: str = Field(max_length=16)
    caption: str = Field(max_length=512)
    programs: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    countries: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    identifiers: list[list[str]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    same_as: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    remarks: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))


class EntityName(SQLModel, table=True):
    __tablename__ = "entity_name"

    id: int | None = Field(default=None, primary_key=True)
    entity_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("listed_entity.id", ondelete="CASCADE"), index=True, nullable=False
        )
    )
    position: int = 0
    name: str = Field(max_length=512)
    kind: str = Field(max_length=16)
    family: str | None = Field(default=None, max_length=256)
