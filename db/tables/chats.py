"""Tables of Telegram chats: the chat, its subscription, its mutes and its watchlist."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Boolean, Column, ForeignKey, Integer, UniqueConstraint
from sqlmodel import Field, SQLModel

from db.tables.columns import timestamp


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
    created_at: datetime = timestamp()
    updated_at: datetime = timestamp()


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
    created_at: datetime = timestamp()
    updated_at: datetime = timestamp()


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
    created_at: datetime = timestamp()


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
    created_at: datetime = timestamp()
