"""Who watches what: the watch items of the chats that take watchlist alerts.

Read by the pipeline's watchlist hook and the re-screen (``watch_targets``) and by the outbox
(``watch_keys_of_chats``); changing a watchlist is in ``db.chats``.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlmodel import Session, col, or_, select

from bot.domain.watch import WatchTarget, targets_from_items
from db.models import Chat, Subscription, WatchItem


def watching_chats(*, session: Session) -> list[tuple[int, str, str]]:
    """(item id, key, name) of every watch item whose chat still takes alerts.

    A chat takes watchlist alerts while it is active and has not unsubscribed: watching a name
    is itself a request for alerts, so no /subscribe is needed; /unsubscribe stops them too.
    """
    query = (
        select(WatchItem.id, WatchItem.key, WatchItem.name)
        .join(Chat, col(Chat.id) == WatchItem.chat_id)
        .outerjoin(Subscription, col(Subscription.chat_id) == Chat.id)
        .where(col(Chat.active).is_(True))
        .where(or_(col(Subscription.id).is_(None), col(Subscription.active).is_(True)))
        .order_by(col(WatchItem.id))
    )
    return [(int(i or 0), k, n) for i, k, n in session.exec(query)]


def watch_targets(*, session: Session) -> list[WatchTarget]:
    return targets_from_items(watching_chats(session=session))


def watch_keys_of_chats(*, session: Session, chat_pks: Iterable[int]) -> dict[int, set[str]]:
    """Chat pk -> the keys it watches."""
    ids = list(chat_pks)
    found: dict[int, set[str]] = {pk: set() for pk in ids}
    for start in range(0, len(ids), 500):
        rows = session.exec(
            select(WatchItem.chat_id, WatchItem.key).where(
                col(WatchItem.chat_id).in_(ids[start : start + 500])
            )
        )
        for chat_pk, key in rows:
            found[chat_pk].add(key)
    return found
