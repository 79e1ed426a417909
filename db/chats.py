"""Chats, their subscription (filters, digest mode, quiet hours), mutes and watchlists.

Plain functions taking a session, keyword-only arguments; a chat is always named by its
Telegram id (``tg_chat_id``). Input is validated here, whoever calls (the bot's handlers, a
future CLI): a bad value raises ``ChatError`` with a message fit to show the user.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import delete, func, or_, select, update
from sqlmodel import Session

from bot.matching.model import Severity
from bot.watch import MAX_NAME_CHARS, WatchTarget, targets_from_items, term_key
from db.models import Chat, ChatMute, Delivery, ReviewMark, Subscription, WatchItem, utcnow

SEVERITIES = tuple(
    s.value for s in sorted(Severity, key=lambda s: s.rank)
)  # info, low, medium, high
MODES = ("instant", "hourly", "daily")
MUTE_KINDS = ("entity", "rule")
MAX_FILTER_VALUES = 30
_TOKEN_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:{}\-]{0,63}$")


class ChatError(ValueError):
    """A chat setting or watchlist change that cannot be made; the message says why."""


# --- chats -------------------------------------------------------------------------------------


def get_chat(*, session: Session, tg_chat_id: int) -> Chat | None:
    return session.exec(select(Chat).where(Chat.tg_chat_id == tg_chat_id)).scalars().first()  # type: ignore[call-overload, no-any-return]


def ensure_chat(
    *, session: Session, tg_chat_id: int, type: str = "private", title: str = ""
) -> Chat:
    """The chat's row, created on first contact; type and title kept current.

    A chat that writes to the bot can evidently be written to again, so an inactive chat
    (blocked, removed) becomes active; its subscription stays as it was (the user resubscribes).
    """
    chat = get_chat(session=session, tg_chat_id=tg_chat_id)
    if chat is None:
        chat = Chat(tg_chat_id=tg_chat_id, type=type[:16], title=title[:256])
    else:
        if (chat.type, chat.title, chat.active) == (type[:16], title[:256] or chat.title, True):
            return chat
        chat.type = type[:16]
        chat.title = title[:256] or chat.title
        chat.active = True
        chat.updated_at = utcnow()
    session.add(chat)
    session.flush()
    return chat


def deactivate_chat(*, session: Session, tg_chat_id: int, reason: str) -> bool:
    """Telegram refuses to deliver here (blocked, removed): stop sending, drop what was queued."""
    chat = get_chat(session=session, tg_chat_id=tg_chat_id)
    if chat is None:
        return False
    chat.active = False
    chat.inactive_reason = reason[:256]
    chat.updated_at = utcnow()
    session.add(chat)
    session.execute(
        update(Subscription)
        .where(Subscription.chat_id == chat.id)
        .values(active=False, updated_at=utcnow())
    )  # type: ignore[arg-type]
    session.execute(
        update(Delivery)
        .where(Delivery.chat_id == chat.id)  # type: ignore[arg-type]
        .where(Delivery.status == "pending")  # type: ignore[arg-type]
        .values(status="dropped", last_error=f"chat deactivated: {reason}"[:1000])
    )
    session.flush()
    return True


def migrate_chat(*, session: Session, old_id: int, new_id: int) -> Chat | None:
    """A group became a supergroup: move everything to the new Telegram id.

    If the new id already has a row (someone used the bot in the supergroup first), the old
    chat's subscription, watchlist, mutes and queue are merged into it where they do not clash.
    """
    old = get_chat(session=session, tg_chat_id=old_id)
    if old is None or old_id == new_id:
        return get_chat(session=session, tg_chat_id=new_id)
    new = get_chat(session=session, tg_chat_id=new_id)
    session.execute(update(ReviewMark).where(ReviewMark.chat_id == old_id).values(chat_id=new_id))  # type: ignore[arg-type]
    if new is None:
        old.tg_chat_id = new_id
        old.migrated_from = old_id
        old.type = "supergroup"
        old.updated_at = utcnow()
        session.add(old)
        session.flush()
        return old
    assert old.id is not None and new.id is not None
    if _subscription(session, new.id) is None:
        session.execute(
            update(Subscription).where(Subscription.chat_id == old.id).values(chat_id=new.id)
        )  # type: ignore[arg-type]
    for model, unique in (
        (WatchItem, (WatchItem.key,)),
        (ChatMute, (ChatMute.kind, ChatMute.value)),
        (Delivery, (Delivery.alert_id,)),
    ):
        taken = {
            tuple(row) for row in session.execute(select(*unique).where(model.chat_id == new.id))
        }  # type: ignore[attr-defined]
        for row in session.exec(select(model).where(model.chat_id == old.id)).scalars():  # type: ignore[attr-defined, call-overload]
            if tuple(getattr(row, c.key) for c in unique) not in taken:
                row.chat_id = new.id
                session.add(row)
    session.flush()
    new.migrated_from = old_id
    new.last_message_id = max(new.last_message_id or 0, old.last_message_id or 0) or None
    session.add(new)
    session.delete(old)
    session.flush()
    return new


def note_message_id(*, session: Session, tg_chat_id: int, message_id: int) -> None:
    """Remember the highest message id the bot has sent or seen in a chat (see ``Delivery``)."""
    session.execute(
        update(Chat)
        .where(Chat.tg_chat_id == tg_chat_id)  # type: ignore[arg-type]
        .where(or_(Chat.last_message_id.is_(None), Chat.last_message_id < message_id))  # type: ignore[union-attr, operator]
        .values(last_message_id=message_id)
    )


# --- subscriptions -----------------------------------------------------------------------------


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


def _subscription(session: Session, chat_pk: int) -> Subscription | None:
    return (
        session.exec(select(Subscription).where(Subscription.chat_id == chat_pk)).scalars().first()
    )  # type: ignore[call-overload, no-any-return]


def chat_settings(*, session: Session, tg_chat_id: int) -> ChatSettings:
    chat = get_chat(session=session, tg_chat_id=tg_chat_id)
    if chat is None or chat.id is None:
        return ChatSettings(tg_chat_id=tg_chat_id, subscribed=False, exists=False)
    sub = _subscription(session, chat.id)
    mutes = tuple(
        Mute(m.kind, m.value, m.label)
        for m in session.exec(
            select(ChatMute).where(ChatMute.chat_id == chat.id).order_by(ChatMute.id)
        ).scalars()  # type: ignore[call-overload]
    )
    watch_count = int(
        session.execute(
            select(func.count()).select_from(WatchItem).where(WatchItem.chat_id == chat.id)
        ).scalar_one()
    )  # type: ignore[arg-type]
    common = dict(
        mutes=mutes,
        watch_items=watch_count,
        chat_active=chat.active,
        inactive_reason=chat.inactive_reason,
    )
    if sub is None:
        return ChatSettings(tg_chat_id=tg_chat_id, subscribed=False, exists=False, **common)  # type: ignore[arg-type]
    return ChatSettings(
        tg_chat_id=tg_chat_id,
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
        **common,  # type: ignore[arg-type]
    )


def validate_changes(changes: dict[str, Any]) -> dict[str, Any]:
    """Check and normalise subscription changes; raises ``ChatError`` naming the bad value."""
    clean: dict[str, Any] = {}
    for key, value in changes.items():
        if key == "min_severity":
            if value not in SEVERITIES:
                raise ChatError(f"severity must be one of {', '.join(SEVERITIES)}")
            clean[key] = value
        elif key == "mode":
            if value not in MODES:
                raise ChatError(f"delivery must be one of {', '.join(MODES)}")
            clean[key] = value
        elif key in ("regimes", "rules"):
            values = list(dict.fromkeys(str(v).strip() for v in value if str(v).strip()))
            if len(values) > MAX_FILTER_VALUES or not all(_TOKEN_RE.match(v) for v in values):
                raise ChatError(
                    f"{key}: up to {MAX_FILTER_VALUES} names of letters, digits and - _ . : only"
                )
            clean[key] = values
        elif key == "countries":
            values = list(dict.fromkeys(str(v).strip().upper() for v in value if str(v).strip()))
            if len(values) > MAX_FILTER_VALUES or not all(
                re.fullmatch(r"[A-Z]{2}", v) for v in values
            ):
                raise ChatError("countries: two-letter ISO codes such as KP, IR, RU")
            clean[key] = values
        elif key == "watchlist_only":
            clean[key] = bool(value)
        elif key == "digest_hour":
            if not isinstance(value, int) or not 0 <= value <= 23:
                raise ChatError("the digest hour is 0 to 23")
            clean[key] = value
        elif key == "timezone":
            try:
                ZoneInfo(str(value))
            except (ZoneInfoNotFoundError, ValueError) as error:
                raise ChatError(
                    f"unknown time zone {str(value)[:64]!r} (use a name such as Europe/Berlin)"
                ) from error
            clean[key] = str(value)
        elif key == "quiet":
            if value is None:
                clean["quiet_start"] = clean["quiet_end"] = None
            else:
                start, end = value
                if not (0 <= start < 1440 and 0 <= end < 1440) or start == end:
                    raise ChatError("quiet hours are two different times such as 22:00-07:00")
                clean["quiet_start"], clean["quiet_end"] = start, end
        else:
            raise ChatError(f"unknown setting {key!r}")
    return clean


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
    sub = _subscription(session, chat.id) or Subscription(chat_id=chat.id)
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
    sub = _subscription(session, chat.id) or Subscription(chat_id=chat.id, active=False)
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
    sub = _subscription(session, chat.id)
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
    exists = session.execute(
        select(ChatMute.id).where(
            ChatMute.chat_id == chat.id, ChatMute.kind == kind, ChatMute.value == value[:128]
        )  # type: ignore[arg-type]
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
    result = session.execute(delete(ChatMute).where(ChatMute.chat_id == chat.id))  # type: ignore[arg-type]
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


# --- watchlists --------------------------------------------------------------------------------


def list_watch(*, session: Session, tg_chat_id: int) -> list[WatchItem]:
    chat = get_chat(session=session, tg_chat_id=tg_chat_id)
    if chat is None:
        return []
    return list(
        session.exec(
            select(WatchItem).where(WatchItem.chat_id == chat.id).order_by(WatchItem.id)
        ).scalars()
    )  # type: ignore[call-overload]


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
    name = " ".join(name.split())
    if not name or len(name) > MAX_NAME_CHARS:
        raise ChatError(f"a watched name is 1 to {MAX_NAME_CHARS} characters")
    if entity_key is not None:
        if not entity_key or len(entity_key) > 128:
            raise ChatError("not a listed party")
        kind, key = "entity", entity_key
    else:
        kind, key = "term", term_key(name)
        if key == term_key(""):
            raise ChatError("a watched name needs at least one letter or digit")
    chat = ensure_chat(session=session, tg_chat_id=tg_chat_id, type=chat_type, title=title)
    existing = (
        session.exec(select(WatchItem).where(WatchItem.chat_id == chat.id, WatchItem.key == key))
        .scalars()
        .first()
    )  # type: ignore[call-overload, arg-type]
    if existing is not None:
        return existing, False
    count = int(
        session.execute(
            select(func.count()).select_from(WatchItem).where(WatchItem.chat_id == chat.id)
        ).scalar_one()
    )  # type: ignore[arg-type]
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


def watching_chats(*, session: Session) -> list[tuple[int, str, str]]:
    """(item id, key, name) of every watch item whose chat still takes alerts.

    A chat takes watchlist alerts while it is active and has not unsubscribed: watching a name
    is itself a request for alerts, so no /subscribe is needed; /unsubscribe stops them too.
    """
    query = (
        select(WatchItem.id, WatchItem.key, WatchItem.name)
        .join(Chat, Chat.id == WatchItem.chat_id)  # type: ignore[arg-type]
        .outerjoin(Subscription, Subscription.chat_id == Chat.id)  # type: ignore[arg-type]
        .where(Chat.active.is_(True))  # type: ignore[attr-defined]
        .where(or_(Subscription.id.is_(None), Subscription.active.is_(True)))  # type: ignore[union-attr, attr-defined]
        .order_by(WatchItem.id)
    )
    return [(int(i), k, n) for i, k, n in session.execute(query)]


def watch_targets(*, session: Session) -> list[WatchTarget]:
    return targets_from_items(watching_chats(session=session))


def watch_keys_of_chats(*, session: Session, chat_pks: Iterable[int]) -> dict[int, set[str]]:
    """Chat pk -> the keys it watches."""
    ids = list(chat_pks)
    found: dict[int, set[str]] = {pk: set() for pk in ids}
    for start in range(0, len(ids), 500):
        rows = session.execute(
            select(WatchItem.chat_id, WatchItem.key).where(
                WatchItem.chat_id.in_(ids[start : start + 500])
            )
        )  # type: ignore[attr-defined]
        for chat_pk, key in rows:
            found[chat_pk].add(key)
    return found


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
