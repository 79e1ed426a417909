"""Tables of watched feeds: each feed with its polling state, and the entries already handled."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Column, ForeignKey, Integer, UniqueConstraint
from sqlmodel import Field, SQLModel

from db.tables.columns import UTCDateTime, timestamp


class Feed(SQLModel, table=True):
    """A watched RSS/Atom feed and its polling state, so a restart resumes where it stopped."""

    __tablename__ = "feed"

    id: int | None = Field(default=None, primary_key=True)
    url: str = Field(unique=True, max_length=2048)
    title: str = Field(default="", max_length=512)
    interval_s: int = 600
    enabled: bool = Field(default=True, sa_column=Column(Boolean, nullable=False, default=True))
    origin: str = Field(default="cli", max_length=32)  # cli | file | opml | telegram
    added_by: str = Field(default="", max_length=128)
    etag: str | None = Field(default=None, max_length=512)
    last_modified: str | None = Field(default=None, max_length=128)
    next_due_at: datetime = timestamp(index=True)
    claimed_until: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    last_polled_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    last_success_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    last_error: str = Field(default="", max_length=1000)
    last_error_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    consecutive_failures: int = 0
    items_seen: int = 0
    articles: int = 0
    alerts: int = 0
    created_at: datetime = timestamp()


class FeedEntry(SQLModel, table=True):
    """A feed entry already handled: a second poll of the same feed adds nothing."""

    __tablename__ = "feed_entry"
    __table_args__ = (UniqueConstraint("feed_id", "entry_id", name="uq_feed_entry"),)

    id: int | None = Field(default=None, primary_key=True)
    feed_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("feed.id", ondelete="CASCADE"), index=True, nullable=False
        )
    )
    entry_id: str = Field(max_length=1024)
    article_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("article.id", ondelete="SET NULL"))
    )
    seen_at: datetime = timestamp()
