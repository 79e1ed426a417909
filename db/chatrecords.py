"""The chat row itself: made on first contact, deactivated when Telegram refuses it, moved when a
group becomes a supergroup, and the highest message id the bot has seen in it.

Plain functions taking a session, keyword-only arguments; a chat is named by its Telegram id
(``tg_chat_id``). What a chat asks for (subscription, mutes, watchlist) is in ``db.chats``.
"""

from __future__ import annotations

from typing import TypeVar

from sqlmodel import Session, col, or_, select, update

from db.models import Chat, ChatMute, Delivery, ReviewMark, Subscription, WatchItem, utcnow
from db.tables.delivery import DROPPED, PENDING


def get_chat(*, session: Session, tg_chat_id: int) -> Chat | None:
    return session.exec(select(Chat).where(Chat.tg_chat_id == tg_chat_id)).first()


def subscription_of(session: Session, chat_pk: int) -> Subscription | None:
    """The chat's subscription row (by our chat id), active or not."""
    return session.exec(select(Subscription).where(Subscription.chat_id == chat_pk)).first()


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
    session.exec(
        update(Subscription)
        .where(col(Subscription.chat_id) == chat.id)
        .values(active=False, updated_at=utcnow())
    )
    session.exec(
        update(Delivery)
        .where(col(Delivery.chat_id) == chat.id)
        .where(col(Delivery.status) == PENDING)
        .values(status=DROPPED, last_error=f"chat deactivated: {reason}"[:1000])
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
    session.exec(update(ReviewMark).where(col(ReviewMark.chat_id) == old_id).values(chat_id=new_id))
    if new is None:
        old.tg_chat_id = new_id
        old.migrated_from = old_id
        old.type = "supergroup"
        old.updated_at = utcnow()
        session.add(old)
        session.flush()
        return old
    assert old.id is not None and new.id is not None
    _merge_rows(session, old.id, new.id)
    new.migrated_from = old_id
    new.last_message_id = max(new.last_message_id or 0, old.last_message_id or 0) or None
    session.add(new)
    session.delete(old)
    session.flush()
    return new


_Row = TypeVar("_Row", WatchItem, ChatMute, Delivery)


def _rows_of(session: Session, model: type[_Row], chat_pk: int) -> list[_Row]:
    return list(session.exec(select(model).where(model.chat_id == chat_pk)))


def _merge_rows(session: Session, old_pk: int, new_pk: int) -> None:
    """Move the old chat's subscription (if the new one has none), watchlist, mutes and queue;
    rows whose like the new chat already has stay behind (and go with the old chat)."""
    if subscription_of(session, new_pk) is None:
        session.exec(
            update(Subscription).where(col(Subscription.chat_id) == old_pk).values(chat_id=new_pk)
        )
    keys = set(session.exec(select(WatchItem.key).where(WatchItem.chat_id == new_pk)))
    mutes = {
        (kind, value)
        for kind, value in session.exec(
            select(ChatMute.kind, ChatMute.value).where(ChatMute.chat_id == new_pk)
        )
    }
    queued = set(session.exec(select(Delivery.alert_id).where(Delivery.chat_id == new_pk)))
    moving: list[WatchItem | ChatMute | Delivery] = [
        *(w for w in _rows_of(session, WatchItem, old_pk) if w.key not in keys),
        *(m for m in _rows_of(session, ChatMute, old_pk) if (m.kind, m.value) not in mutes),
        *(d for d in _rows_of(session, Delivery, old_pk) if d.alert_id not in queued),
    ]
    for row in moving:
        row.chat_id = new_pk
        session.add(row)
    session.flush()


def note_message_id(*, session: Session, tg_chat_id: int, message_id: int) -> None:
    """Remember the highest message id the bot has sent or seen in a chat (see ``Delivery``)."""
    session.exec(
        update(Chat)
        .where(col(Chat.tg_chat_id) == tg_chat_id)
        .where(or_(col(Chat.last_message_id).is_(None), col(Chat.last_message_id) < message_id))
        .values(last_message_id=message_id)
    )
