"""What a chat asks for: its subscription (filters, digest mode, quiet hours), mutes, watchlist.

Plain functions taking a session, keyword-only arguments; a chat is always named by its
Telegram id (``tg_chat_id``). Input is validated here, whoever calls (the bot's handlers, a
future CLI): a bad value raises ``ChatError`` with a message fit to show the user.

The chat row itself (created, deactivated, migrated) is ``db.chatrecords``; the settings as
plain values for rendering, ``db.chatsettings``; who watches what, for the pipeline and the
outbox, ``db.watchers``. Their public names are re-exported here.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlmodel import Session, col, delete, select

from bot.domain.watch import MAX_NAME_CHARS, term_key
from bot.errors import UserInputError
from bot.matching.model import Severity
from db.chatrecords import deactivate_chat as deactivate_chat
from db.chatrecords import ensure_chat as ensure_chat
from db.chatrecords import get_chat as get_chat
from db.chatrecords import migrate_chat as migrate_chat
from db.chatrecords import note_message_id as note_message_id
from db.chatrecords import subscription_of
from db.chatsettings import ChatSettings as ChatSettings
from db.chatsettings import Mute as Mute
from db.chatsettings import chat_settings as chat_settings
from db.chatsettings import watch_count
from db.models import ChatMute, Subscription, WatchItem, utcnow
from db.watchers import watch_keys_of_chats as watch_keys_of_chats
from db.watchers import watch_targets as watch_targets
from db.watchers import watching_chats as watching_chats

SEVERITIES = tuple(
    s.value for s in sorted(Severity, key=lambda s: s.rank)
)  # info, low, medium, high
MODES = ("instant", "hourly", "daily")
MUTE_KINDS = ("entity", "rule")
MAX_FILTER_VALUES = 30
_TOKEN_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:{}\-]{0,63}$")


class ChatError(UserInputError):
    """A chat setting or watchlist change that cannot be made; the message says why."""


# --- checking changes ----------------------------------------------------------------------------


def _choice(name: str, choices: tuple[str, ...]) -> Callable[[str, Any], dict[str, Any]]:
    def check(key: str, value: Any) -> dict[str, Any]:
        if value not in choices:
            raise ChatError(f"{name} must be one of {', '.join(choices)}")
        return {key: value}

    return check


def _topics(key: str, value: Any) -> dict[str, Any]:
    values = list(dict.fromkeys(str(v).strip() for v in value if str(v).strip()))
    if len(values) > MAX_FILTER_VALUES or not all(_TOKEN_RE.match(v) for v in values):
        raise ChatError(
            f"{key}: up to {MAX_FILTER_VALUES} names of letters, digits and - _ . : only"
        )
    return {key: values}


def _countries(key: str, value: Any) -> dict[str, Any]:
    values = list(dict.fromkeys(str(v).strip().upper() for v in value if str(v).strip()))
    if len(values) > MAX_FILTER_VALUES or not all(re.fullmatch(r"[A-Z]{2}", v) for v in values):
        raise ChatError("countries: two-letter ISO codes such as KP, IR, RU")
    return {key: values}


def _digest_hour(key: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, int) or not 0 <= value <= 23:
        raise ChatError("the digest hour is 0 to 23")
    return {key: value}


def _timezone(key: str, value: Any) -> dict[str, Any]:
    try:
        ZoneInfo(str(value))
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ChatError(
            f"unknown time zone {str(value)[:64]!r} (use a name such as Europe/Berlin)"
        ) from error
    return {key: str(value)}


def _quiet(key: str, value: Any) -> dict[str, Any]:
    if value is None:
        return {"quiet_start": None, "quiet_end": None}
    start, end = value
    if not (0 <= start < 1440 and 0 <= end < 1440) or start == end:
        raise ChatError("quiet hours are two different times such as 22:00-07:00")
    return {"quiet_start": start, "quiet_end": end}


# Each setting a change may name, with its check: (key, value) -> the columns to set.
_CHECKS: dict[str, Callable[[str, Any], dict[str, Any]]] = {
    "min_severity": _choice("severity", SEVERITIES),
    "mode": _choice("delivery", MODES),
    "regimes": _topics,
    "rules": _topics,
    "countries": _countries,
    "watchlist_only": lambda key, value: {key: bool(value)},
    "digest_hour": _digest_hour,
    "timezone": _timezone,
    "quiet": _quiet,
}


def validate_changes(changes: dict[str, Any]) -> dict[str, Any]:
    """Check and normalise subscription changes; raises ``ChatError`` naming the bad value."""
    clean: dict[str, Any] = {}
    for key, value in changes.items():
        check = _CHECKS.get(key)
        if check is None:
            raise ChatError(f"unknown setting {key!r}")
        clean.update(check(key, value))
    return clean


def parse_quiet(text: str) -> tuple[int, int] | None:
    """``22:00-07:00`` / ``22-7`` -> minutes (start, end); ``off`` -> None; raises ChatError."""
    value = text.strip().lower()
    if value in ("off", "none", "no", "-"):
        return None
    match = re.fullmatch(r"(\d{1,2})(?::(\d{2}))?\s*[-–]\s*(\d{1,2})(?::(\d{2}))?", value)
    if not match:
        raise ChatError("quiet hours look like 22:00-07:00 (or off)")
    h1, m1, h2, m2 = (int(g or 0) for g in match.groups())
    if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
        raise ChatError("quiet hours look like 22:00-07:00 (or off)")
    return h1 * 60 + m1, h2 * 60 + m2


# --- subscriptions -----------------------------------------------------------------------------


def subscribe(
    *,
    session: Session,
    tg_chat_id: int,
    by: str,
    changes: dict[str, Any] | None = None,
    chat_type: str = "private",
    title: str = "",
) -> Subscription:
    """Turn alerts on for a chat (creating its subscription), applying any filter changes."""
    clean = validate_changes(changes or {})
    chat = ensure_chat(session=session, tg_chat_id=tg_chat_id, type=chat_type, title=title)
    assert chat.id is not None
    sub = subscription_of(session, chat.id) or Subscription(chat_id=chat.id)
    sub.active = True
    _apply(sub, clean, by)
    session.add(sub)
    session.flush()
    return sub


def update_subscription(
    *,
    session: Session,
    tg_chat_id: int,
    by: str,
    changes: dict[str, Any],
    chat_type: str = "private",
    title: str = "",
) -> Subscription:
    """Change settings; a chat without a subscription gets an inactive one holding them."""
    clean = validate_changes(changes)
    chat = ensure_chat(session=session, tg_chat_id=tg_chat_id, type=chat_type, title=title)
    assert chat.id is not None
    sub = subscription_of(session, chat.id) or Subscription(chat_id=chat.id, active=False)
    _apply(sub, clean, by)
    session.add(sub)
    session.flush()
    return sub


def _apply(sub: Subscription, clean: dict[str, Any], by: str) -> None:
    for key, value in clean.items():
        setattr(sub, key, value)
    sub.changed_by = by[:128]
    sub.updated_at = utcnow()


def unsubscribe(*, session: Session, tg_chat_id: int, by: str) -> bool:
    """Stop alerts (watchlist alerts too); settings and watchlist are kept. False if not subscribed."""
    chat = get_chat(session=session, tg_chat_id=tg_chat_id)
    if chat is None or chat.id is None:
        return False
    sub = subscription_of(session, chat.id)
    was_active = sub is not None and sub.active
    if sub is None:
        sub = Subscription(chat_id=chat.id)
    sub.active = False
    sub.changed_by = by[:128]
    sub.updated_at = utcnow()
    session.add(sub)
    session.flush()
    return was_active


# --- mutes -------------------------------------------------------------------------------------


def mute(
    *, session: Session, tg_chat_id: int, kind: str, value: str, label: str = "", by: str = ""
) -> bool:
    """Stop alerts about a party (``entity``) or from a rule (``rule``); False if already muted."""
    if kind not in MUTE_KINDS:
        raise ChatError(f"mute kind must be one of {', '.join(MUTE_KINDS)}")
    chat = ensure_chat(session=session, tg_chat_id=tg_chat_id)
    assert chat.id is not None
    exists = session.exec(
        select(ChatMute.id).where(
            ChatMute.chat_id == chat.id, ChatMute.kind == kind, ChatMute.value == value[:128]
        )
    ).first()
    if exists is not None:
        return False
    session.add(
        ChatMute(
            chat_id=chat.id, kind=kind, value=value[:128], label=label[:512], created_by=by[:128]
        )
    )
    session.flush()
    return True


def unmute_all(*, session: Session, tg_chat_id: int) -> int:
    chat = get_chat(session=session, tg_chat_id=tg_chat_id)
    if chat is None:
        return 0
    result = session.exec(delete(ChatMute).where(col(ChatMute.chat_id) == chat.id))
    return int(result.rowcount or 0)


# --- watchlists --------------------------------------------------------------------------------


def list_watch(*, session: Session, tg_chat_id: int) -> list[WatchItem]:
    chat = get_chat(session=session, tg_chat_id=tg_chat_id)
    if chat is None:
        return []
    return list(
        session.exec(
            select(WatchItem).where(WatchItem.chat_id == chat.id).order_by(col(WatchItem.id))
        )
    )


def _watched(name: str, entity_key: str | None) -> tuple[str, str, str]:
    """(name, kind, key) of a name to watch, checked: a listed party's key, or a free term."""
    name = " ".join(name.split())
    if not name or len(name) > MAX_NAME_CHARS:
        raise ChatError(f"a watched name is 1 to {MAX_NAME_CHARS} characters")
    if entity_key is not None:
        if not entity_key or len(entity_key) > 128:
            raise ChatError("not a listed party")
        return name, "entity", entity_key
    key = term_key(name)
    if key == term_key(""):
        raise ChatError("a watched name needs at least one letter or digit")
    return name, "term", key


def add_watch(
    *,
    session: Session,
    tg_chat_id: int,
    name: str,
    entity_key: str | None = None,
    by: str = "",
    limit: int = 50,
    chat_type: str = "private",
    title: str = "",
) -> tuple[WatchItem, bool]:
    """Watch a listed party (``entity_key``) or a free-text ``name``; returns (item, created)."""
    name, kind, key = _watched(name, entity_key)
    chat = ensure_chat(session=session, tg_chat_id=tg_chat_id, type=chat_type, title=title)
    assert chat.id is not None
    existing = session.exec(
        select(WatchItem).where(WatchItem.chat_id == chat.id, WatchItem.key == key)
    ).first()
    if existing is not None:
        return existing, False
    count = watch_count(session, chat.id)
    if count >= limit:
        raise ChatError(
            f"this chat already watches {count} names, the most allowed ({limit}); /unwatch one first"
        )
    item = WatchItem(
        chat_id=chat.id, kind=kind, key=key[:256], name=name[:256], created_by=by[:128]
    )
    session.add(item)
    session.flush()
    return item, True


def remove_watch(
    *, session: Session, tg_chat_id: int, item_id: int | None = None, name: str | None = None
) -> list[WatchItem]:
    """Stop watching by item id, or by name (as shown in /watchlist, or as typed); returns what went."""
    chat = get_chat(session=session, tg_chat_id=tg_chat_id)
    if chat is None:
        return []
    items = list_watch(session=session, tg_chat_id=tg_chat_id)
    if item_id is not None:
        gone = [i for i in items if i.id == item_id]
    else:
        wanted = " ".join((name or "").split()).casefold()
        gone = [i for i in items if i.name.casefold() == wanted or i.key == name]
        if not gone and wanted:
            key = term_key(wanted)
            gone = [i for i in items if i.key == key or term_key(i.name) == key]
    for item in gone:
        session.delete(item)
    session.flush()
    return gone
