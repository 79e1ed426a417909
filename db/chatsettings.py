"""A chat's settings as plain values, read for rendering (``/settings``, its buttons, ``/start``).

Changing them is ``db.chats``, which re-exports these names.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from sqlmodel import Session, col, func, select

from db.chatrecords import get_chat, subscription_of
from db.models import ChatMute, WatchItem


@dataclass(frozen=True)
class Mute:
    kind: str
    value: str
    label: str


@dataclass(frozen=True)
class ChatSettings:
    """A chat's subscription and related counts, as plain values for rendering."""

    tg_chat_id: int
    subscribed: bool  # a subscription exists and is active
    exists: bool  # a subscription row exists (active or not)
    min_severity: str = "medium"
    regimes: tuple[str, ...] = ()
    rules: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    watchlist_only: bool = False
    mode: str = "instant"
    digest_hour: int = 8
    timezone: str = "UTC"
    quiet_start: int | None = None
    quiet_end: int | None = None
    mutes: tuple[Mute, ...] = ()
    watch_items: int = 0
    chat_active: bool = True
    inactive_reason: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def watch_count(session: Session, chat_pk: int | None) -> int:
    """How many names the chat (our id) watches."""
    return session.exec(
        select(func.count()).select_from(WatchItem).where(WatchItem.chat_id == chat_pk)
    ).one()


def chat_settings(*, session: Session, tg_chat_id: int) -> ChatSettings:
    chat = get_chat(session=session, tg_chat_id=tg_chat_id)
    if chat is None or chat.id is None:
        return ChatSettings(tg_chat_id=tg_chat_id, subscribed=False, exists=False)
    sub = subscription_of(session, chat.id)
    mutes = tuple(
        Mute(m.kind, m.value, m.label)
        for m in session.exec(
            select(ChatMute).where(ChatMute.chat_id == chat.id).order_by(col(ChatMute.id))
        )
    )
    view = ChatSettings(
        tg_chat_id=tg_chat_id,
        subscribed=False,
        exists=False,
        mutes=mutes,
        watch_items=watch_count(session, chat.id),
        chat_active=chat.active,
        inactive_reason=chat.inactive_reason,
    )
    if sub is None:
        return view
    return replace(
        view,
        subscribed=sub.active and chat.active,
        exists=True,
        min_severity=sub.min_severity,
        regimes=tuple(sub.regimes),
        rules=tuple(sub.rules),
        countries=tuple(sub.countries),
        watchlist_only=sub.watchlist_only,
        mode=sub.mode,
        digest_hour=sub.digest_hour,
        timezone=sub.timezone,
        quiet_start=sub.quiet_start,
        quiet_end=sub.quiet_end,
    )
