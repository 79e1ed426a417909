"""The delivery outbox: which chats get an alert, queued in the transaction that stores it.

``enqueue_alert`` runs inside the transaction that stores a new alert, so an alert is never
stored without its deliveries nor the other way round. It decides the recipients
(``db.recipients.wanted``):

* chats with an active subscription whose filters the alert passes: minimum severity; topics
  (regimes and rules: either may match); countries; "only my watchlist" (the alert must name a
  watched party); no muted rule; not only muted parties in its evidence;
* not a chat that marked a party of the same story (the article's story, else the article) a
  false positive, when the alert names no other party;
* watchlist alerts (rule ``watchlist``) only to the chats watching the alert's ``watch_key``,
  whatever their filters, unless they unsubscribed, and not to a chat that already has an
  alert of the same story naming that party (the watch alert would repeat it).

Each row gets its ``due_at`` (``db.deliverytimes``): now for instant chats (or the end of their
quiet hours), the next digest time for hourly/daily chats. The worker (``bot.tg.delivery``)
claims, sends and marks rows with ``db.sending``, and resolves rows a crash left in flight
with ``db.inflight``; its docstring explains the states and the crash window.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from db.deliverytimes import due_time
from db.models import Alert, Article, Chat, Delivery, Subscription, utcnow
from db.recipients import AlertFacts, already_told, candidates, chat_facts, wanted
from db.sending import load_alerts as load_alerts
from db.tables.delivery import DROPPED, PENDING


def enqueue_alert(*, session: Session, alert: Alert, now: datetime | None = None) -> list[Delivery]:
    """Write one outbox row per chat that wants this new alert; call in the alert's transaction.

    ``alert`` is the stored row just flushed (it has its id). Returns the rows written; an
    alert already queued for a chat is not queued again (unique (alert, chat)).
    """
    assert alert.id is not None, "enqueue_alert needs a flushed alert (with an id)"
    now = now or utcnow()
    article = session.get(Article, alert.article_id)
    facts = AlertFacts.of(alert, article)
    chats = candidates(session, facts)
    if not chats:
        return []
    told = already_told(session, facts, [c.id for c, _ in chats if c.id is not None])
    queued = set(session.exec(select(Delivery.chat_id).where(Delivery.alert_id == alert.id)))
    rows = []
    for chat in chat_facts(session, chats, facts):
        if chat.chat_pk in queued or chat.chat_pk in told or wanted(chat, facts):
            continue
        due, digest = due_time(chat.sub, now)
        rows.append(
            Delivery(
                alert_id=alert.id,
                chat_id=chat.chat_pk,
                status=PENDING,
                digest=digest,
                due_at=due,
                created_at=now,
            )
        )
    session.add_all(rows)
    session.flush()
    return rows


def outbox_hook(session: Session, alert: Alert) -> None:
    """``enqueue_alert`` in the shape of the pipeline's ``AlertHook`` (positional, no result)."""
    enqueue_alert(session=session, alert=alert)


def refilter_chat(
    *, session: Session, tg_chat_id: int, now: datetime | None = None
) -> tuple[int, int]:
    """After a chat's settings, mutes, watchlist or review marks change: drop the pending rows it
    no longer wants and move the others to the right time. Returns (dropped, rescheduled)."""
    now = now or utcnow()
    row = session.exec(
        select(Chat, Subscription)
        .outerjoin(Subscription, col(Subscription.chat_id) == Chat.id)
        .where(Chat.tg_chat_id == tg_chat_id)
    ).first()
    if row is None:
        return 0, 0
    chat, sub = row
    pending = session.exec(
        select(Delivery, Alert, Article)
        .join(Alert, col(Alert.id) == Delivery.alert_id)
        .join(Article, col(Article.id) == Alert.article_id)
        .where(Delivery.chat_id == chat.id, Delivery.status == PENDING)
    ).all()
    dropped = moved = 0
    for delivery, alert, article in pending:
        facts = AlertFacts.of(alert, article)
        [facts_of_chat] = chat_facts(session, [(chat, sub)], facts)
        reason = wanted(facts_of_chat, facts) if chat.active else "chat inactive"
        if reason:
            delivery.status, delivery.last_error = DROPPED, reason
            dropped += 1
        else:
            due, digest = due_time(sub, now)
            if (delivery.digest, delivery.due_at) != (digest, due) and (
                digest or delivery.digest or due > delivery.due_at
            ):
                delivery.digest, delivery.due_at = digest, due
                moved += 1
        session.add(delivery)
    session.flush()
    return dropped, moved
