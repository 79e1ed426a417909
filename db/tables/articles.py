"""Tables of what was read: articles, and the stories that group near-duplicate articles."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, ForeignKey, Index, Integer, Text, text
from sqlmodel import Field, SQLModel

from db.tables.columns import UTCDateTime, timestamp


class Article(SQLModel, table=True):
    """A scanned text: a feed item, a page, a file, a pasted message.

    Unique keys: ``url_key`` (a page is one article), and the content hash among articles
    without a URL identity (a text scanned twice is one article). The same text at two URLs
    stays two articles: two outlets' copies are two sources of one story.
    """

    __tablename__ = "article"
    __table_args__ = (
        Index(
            "uq_article_content_hash",
            "content_hash",
            unique=True,
            sqlite_where=text("url_key IS NULL"),
            postgresql_where=text("url_key IS NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=2048)  # what was scanned: a URL, a file path, "-"
    url: str | None = Field(default=None, max_length=2048)
    url_key: str | None = Field(default=None, unique=True, max_length=2048)
    content_hash: str = Field(index=True, max_length=64)
    title: str = Field(default="", max_length=1024)
    outlet: str = Field(default="", max_length=256)
    text: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    story_id: int | None = Field(
        default=None,
        sa_column=Column(
            Integer,
            ForeignKey("story.id", ondelete="SET NULL", name="fk_article_story_id"),
            index=True,
        ),
    )
    simhash: int | None = Field(default=None, sa_column=Column(BigInteger))
    published_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    fetched_at: datetime = timestamp()


class Story(SQLModel, table=True):
    """One event told by one or more articles (near-duplicates from several outlets).

    ``key`` (``db.stories.story_key``: the first article's fingerprint and title) is unique, so
    two processes starting a story for the same text at the same moment start one story.
    """

    __tablename__ = "story"
    __table_args__ = (Index("uq_story_key", "key", unique=True),)

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=64)
    simhash: int = Field(
        sa_column=Column(BigInteger, nullable=False)
    )  # of its first article, signed 64-bit
    title: str = Field(default="", max_length=1024)
    first_seen_at: datetime = timestamp()
    last_seen_at: datetime = timestamp(index=True)
