"""Tables: imported lists, articles, alerts with their evidence.

Alerts keep their whole explanation (entities with matched spans and scores, countries with
roles, evidence sentences with offsets, the rule's references) as JSON, because history must
show *why* an alert fired exactly as it fired then, even after rules or lists change. The
columns that history is searched and filtered by (rule, severity, regime, time, the parties
named) are real columns or rows of their own, indexed.

Timestamps are UTC and timezone-aware. The schema changes only through Alembic migrations
(``db/migrations``); nothing calls ``create_all`` outside tests of the migrations themselves.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel


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


def _ts(**kwargs: Any) -> Any:
    return Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False, **kwargs))


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
    imported_at: datetime = _ts()


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
    fetched_at: datetime = _ts()


class Alert(SQLModel, table=True):
    """A rule that fired on an article (or a story told by several articles)."""

    __tablename__ = "alert"
    __table_args__ = (
        UniqueConstraint("dedup_key", name="uq_alert_dedup_key"),
        Index("ix_alert_created_at", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    article_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("article.id", ondelete="CASCADE"), index=True, nullable=False
        )
    )
    dedup_key: str = Field(max_length=256)
    rule_id: str = Field(index=True, max_length=128)
    title: str = Field(max_length=512)
    severity: str = Field(index=True, max_length=16)
    score: float
    regime: str = Field(index=True, max_length=128)
    rule_source: str = Field(default="", max_length=256)
    references: list[dict[str, str]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    entities: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    countries: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    terms: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    evidence: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    explanation: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    found_by: str = Field(default="scan", max_length=32)  # "scan", or "list-update" (a re-screen)
    created_at: datetime = _ts()


class AlertEntity(SQLModel, table=True):
    """The parties an alert names, one row each, so history can be searched by party."""

    __tablename__ = "alert_entity"

    id: int | None = Field(default=None, primary_key=True)
    alert_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("alert.id", ondelete="CASCADE"), index=True, nullable=False
        )
    )
    entity_key: str = Field(index=True, max_length=128)
    caption: str = Field(max_length=512)
    matched: str = Field(max_length=512)
    score: float


class ReviewMark(SQLModel, table=True):
    """An analyst's verdict on an alert (or on one party in it): relevant or a false positive."""

    __tablename__ = "review_mark"

    id: int | None = Field(default=None, primary_key=True)
    alert_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("alert.id", ondelete="CASCADE"), index=True, nullable=False
        )
    )
    verdict: str = Field(max_length=16)  # "relevant" | "false_positive"
    entity_key: str | None = Field(default=None, index=True, max_length=128)
    chat_id: int | None = Field(default=None, index=True)
    author: str = Field(max_length=128)
    note: str = Field(default="", max_length=1000)
    created_at: datetime = _ts()


class TuningChange(SQLModel, table=True):
    """One versioned change to detection made from review: its id is the tuning version.

    ``kind``: ``suppress_entity`` (the party is no longer matched), ``demote_alias`` (one of its
    names only counts with support), ``negative_example`` (a text the rule must not fire on,
    run by ``rules check``), ``revert`` (undoes change ``target_id``).
    """

    __tablename__ = "tuning_change"

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=32)
    entity_key: str | None = Field(default=None, max_length=128)
    alias: str | None = Field(default=None, max_length=512)
    rule_id: str | None = Field(default=None, max_length=128)
    text: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    target_id: int | None = Field(default=None)
    author: str = Field(max_length=128)
    reason: str = Field(default="", max_length=1000)
    created_at: datetime = _ts()


class Story(SQLModel, table=True):
    """One event told by one or more articles (near-duplicates from several outlets).

    ``key`` (``db.alerts.story_key``: the first article's fingerprint and title) is unique, so
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
    first_seen_at: datetime = _ts()
    last_seen_at: datetime = _ts(index=True)


class AlertSource(SQLModel, table=True):
    """Every article that told an alert's story: one alert, all its sources."""

    __tablename__ = "alert_source"
    __table_args__ = (UniqueConstraint("alert_id", "article_id", name="uq_alert_source"),)

    id: int | None = Field(default=None, primary_key=True)
    alert_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("alert.id", ondelete="CASCADE"), index=True, nullable=False
        )
    )
    article_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("article.id", ondelete="CASCADE"), index=True, nullable=False
        )
    )
    added_at: datetime = _ts()


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
    next_due_at: datetime = _ts(index=True)
    claimed_until: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    last_polled_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    last_success_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    last_error: str = Field(default="", max_length=1000)
    last_error_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    consecutive_failures: int = 0
    items_seen: int = 0
    articles: int = 0
    alerts: int = 0
    created_at: datetime = _ts()


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
    seen_at: datetime = _ts()


# --- Telegram: chats, subscriptions, watchlists, delivery outbox --------------------------------


class Chat(SQLModel, table=True):
    """A Telegram chat the bot talks to (private chat, group or supergroup).

    ``id`` is ours; ``tg_chat_id`` is Telegram's and changes when a group becomes a supergroup
    (``ChatMigrated``), so everything else points at ``id`` and a migration is one UPDATE.
    ``active`` is False once Telegram says the bot may no longer write here (blocked, removed).
    ``last_message_id`` is the highest message id the bot has sent or seen in the chat; the
    delivery worker uses it to find a message whose send outcome a crash left unknown.
    """

    __tablename__ = "chat"

    id: int | None = Field(default=None, primary_key=True)
    tg_chat_id: int = Field(sa_column=Column(BigInteger, unique=True, nullable=False))
    type: str = Field(default="private", max_length=16)  # private | group | supergroup | channel
    title: str = Field(default="", max_length=256)
    active: bool = Field(default=True, sa_column=Column(Boolean, nullable=False, default=True))
    inactive_reason: str = Field(default="", max_length=256)
    migrated_from: int | None = Field(default=None, sa_column=Column(BigInteger))
    last_message_id: int | None = Field(default=None, sa_column=Column(BigInteger))
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class Subscription(SQLModel, table=True):
    """What a chat wants to receive and when: filters, instant or digest, quiet hours.

    Empty filter lists mean "all". ``regimes`` and ``rules`` are one topic filter (an alert
    passes if it matches either); severity, countries and "only my watchlist" narrow it further.
    Quiet hours and the daily digest hour are in the chat's ``timezone`` (IANA name).
    """

    __tablename__ = "subscription"

    id: int | None = Field(default=None, primary_key=True)
    chat_id: int = Field(
        sa_column=Column(
            Integer,
            ForeignKey("chat.id", ondelete="CASCADE", name="fk_subscription_chat_id"),
            unique=True,
            nullable=False,
        )
    )
    active: bool = Field(default=True, sa_column=Column(Boolean, nullable=False, default=True))
    min_severity: str = Field(default="medium", max_length=16)
    regimes: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    rules: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    countries: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    watchlist_only: bool = Field(
        default=False, sa_column=Column(Boolean, nullable=False, default=False)
    )
    mode: str = Field(default="instant", max_length=16)  # instant | hourly | daily
    digest_hour: int = 8
    timezone: str = Field(default="UTC", max_length=64)
    quiet_start: int | None = None  # minutes after local midnight
    quiet_end: int | None = None
    changed_by: str = Field(default="", max_length=128)
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class ChatMute(SQLModel, table=True):
    """A party or a rule a chat no longer wants alerts about."""

    __tablename__ = "chat_mute"
    __table_args__ = (UniqueConstraint("chat_id", "kind", "value", name="uq_chat_mute"),)

    id: int | None = Field(default=None, primary_key=True)
    chat_id: int = Field(
        sa_column=Column(
            Integer,
            ForeignKey("chat.id", ondelete="CASCADE", name="fk_chat_mute_chat_id"),
            index=True,
            nullable=False,
        )
    )
    kind: str = Field(max_length=16)  # entity | rule
    value: str = Field(max_length=128)
    label: str = Field(default="", max_length=512)
    created_by: str = Field(default="", max_length=128)
    created_at: datetime = _ts()


class WatchItem(SQLModel, table=True):
    """One entry of a chat's watchlist: a listed party (by entity key) or a free-text name/term.

    ``key`` identifies what is watched across chats: the entity key (``ofac-sdn:22543``) or
    ``term:<normalised text>``; two chats watching the same thing share one watchlist alert.
    """

    __tablename__ = "watch_item"
    __table_args__ = (UniqueConstraint("chat_id", "key", name="uq_watch_item"),)

    id: int | None = Field(default=None, primary_key=True)
    chat_id: int = Field(
        sa_column=Column(
            Integer,
            ForeignKey("chat.id", ondelete="CASCADE", name="fk_watch_item_chat_id"),
            index=True,
            nullable=False,
        )
    )
    kind: str = Field(max_length=16)  # entity | term
    key: str = Field(index=True, max_length=256)
    name: str = Field(max_length=256)
    created_by: str = Field(default="", max_length=128)
    created_at: datetime = _ts()


class Delivery(SQLModel, table=True):
    """The outbox: one row per (alert, chat), written in the transaction that stores the alert.

    ``status``: ``pending`` (waiting for ``due_at``), ``sending`` (claimed: the send may be in
    flight; a crash leaves it here and the worker reconciles it on start), ``sent`` (with the
    Telegram ``message_id``), ``failed`` (gave up, ``last_error`` says why) or ``dropped``
    (no longer wanted: unsubscribed, muted, marked false positive before it went out).
    ``probe_after`` is the chat's highest known message id when the row was claimed.
    """

    __tablename__ = "delivery"
    __table_args__ = (
        UniqueConstraint("alert_id", "chat_id", name="uq_delivery_alert_chat"),
        Index("ix_delivery_status_due_at", "status", "due_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    alert_id: int = Field(
        sa_column=Column(
            Integer,
            ForeignKey("alert.id", ondelete="CASCADE", name="fk_delivery_alert_id"),
            index=True,
            nullable=False,
        )
    )
    chat_id: int = Field(
        sa_column=Column(
            Integer,
            ForeignKey("chat.id", ondelete="CASCADE", name="fk_delivery_chat_id"),
            index=True,
            nullable=False,
        )
    )
    status: str = Field(default="pending", max_length=16)
    digest: bool = Field(default=False, sa_column=Column(Boolean, nullable=False, default=False))
    due_at: datetime = _ts()
    attempts: int = 0
    claimed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    probe_after: int | None = Field(default=None, sa_column=Column(BigInteger))
    batch: int | None = Field(
        default=None, sa_column=Column(BigInteger)
    )  # digest: the batch's first delivery id
    message_id: int | None = Field(default=None, sa_column=Column(BigInteger))
    sent_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    last_error: str = Field(default="", max_length=1000)
    created_at: datetime = _ts()
