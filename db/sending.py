"""The worker's side of the outbox: which rows are due, claiming them, recording the send.

A row goes ``pending`` -> ``sending`` (``claim``, committed before the request) -> ``sent``
(``mark_sent``), back to ``pending`` (``retry_later``) or ``failed``/``dropped``
(``mark_failed``). ``bot.tg.delivery`` explains the states and the crash window; rows a crash
left ``sending`` are found with ``db.inflight``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, func, select, update

from bot.domain.watch import RULE_ID as WATCH_RULE
from db import chatlocks
from db.alerts import alert_dict, alert_sources
from db.chatrecords import note_message_id
from db.models import Alert, Article, Chat, Delivery, Subscription, utcnow
from db.queries import select_columns
from db.tables.delivery import FAILED, PENDING, SEND, SENDING, SENT, SERVE


@dataclass(frozen=True)
class Due:
    """A row ready to be sent, with what the worker needs to route it."""

    delivery_id: int
    alert_id: int
    chat_pk: int
    tg_chat_id: int
    chat_type: str
    digest: bool
    hung_after: int | None = None  # its last send got no answer: look after this id first


def due_deliveries(
    *, session: Session, now: datetime, limit: int = 500, skip_chats: Iterable[int] = ()
) -> list[Due]:
    """Pending rows whose time has come, oldest first, of active chats not being served."""
    query = (
        select_columns(
            Delivery.id,
            Delivery.alert_id,
            Chat.id,
            Chat.tg_chat_id,
            Chat.type,
            Delivery.digest,
            Delivery.probe_after,
        )
        .join(Chat, col(Chat.id) == Delivery.chat_id)
        .where(Delivery.status == PENDING, col(Delivery.due_at) <= now, col(Chat.active).is_(True))
    )
    skip = list(skip_chats)
    if skip:
        query = query.where(col(Chat.id).not_in(skip))
    rows = session.exec(query.order_by(col(Delivery.due_at), col(Delivery.id)).limit(limit))
    return [Due(*row) for row in rows]


@dataclass(frozen=True)
class Work:
    """Everything the worker needs to send some due rows, read in one go (one transaction),
    so that sending costs only the claim and the mark per message."""

    subscriptions: dict[int, Subscription | None]  # chat pk ->
    last_ids: dict[int, int]  # tg chat id -> highest message id recorded
    alerts: dict[int, dict[str, Any]]  # alert id -> load_alerts()


def work_for(*, session: Session, due: Sequence[Due]) -> Work:
    pks = sorted({d.chat_pk for d in due})
    subs: dict[int, Subscription | None] = dict.fromkeys(pks)
    last_ids: dict[int, int] = {}
    for start in range(0, len(pks), 500):
        chunk = pks[start : start + 500]
        for sub in session.exec(select(Subscription).where(col(Subscription.chat_id).in_(chunk))):
            subs[sub.chat_id] = sub
        for tg_chat_id, last in session.exec(
            select(Chat.tg_chat_id, Chat.last_message_id).where(col(Chat.id).in_(chunk))
        ):
            last_ids[tg_chat_id] = last or 0
    return Work(subs, last_ids, load_alerts(session=session, alert_ids={d.alert_id for d in due}))


def claim(
    *,
    session: Session,
    delivery_ids: Sequence[int],
    probe_after: int | None,
    now: datetime | None = None,
) -> list[int]:
    """Mark rows in flight before sending them (one message: one row, or a digest's rows).

    Only rows still pending are taken (a row dropped meanwhile is not sent). ``batch`` ties a
    digest's rows to its one message; ``probe_after`` is where the search for that message
    starts if the outcome of the send is lost (see ``bot.tg.delivery``).
    """
    if not delivery_ids:
        return []
    now = now or utcnow()
    batch = min(delivery_ids)
    session.exec(
        update(Delivery)
        .where(col(Delivery.id).in_(list(delivery_ids)), col(Delivery.status) == PENDING)
        .values(
            status=SENDING,
            claimed_at=now,
            attempts=col(Delivery.attempts) + 1,
            probe_after=probe_after,
            batch=batch,
        )
    )
    claimed = session.exec(
        select(col(Delivery.id)).where(
            col(Delivery.id).in_(list(delivery_ids)),
            Delivery.status == SENDING,
            Delivery.batch == batch,
        )
    )
    return sorted(row_id for row_id in claimed if row_id is not None)


@dataclass(frozen=True)
class Claimed:
    """What ``claim_in_chat`` got: the rows now in flight and where a probe would start, or
    why none: ``busy`` (another process's message is in flight in the chat: try again in a
    moment) or ``lost`` (the chat is served by another worker now: stop serving it)."""

    delivery_ids: list[int]
    probe_after: int
    busy: bool = False
    lost: bool = False


def claim_in_chat(
    *,
    session: Session,
    delivery_ids: Sequence[int],
    chat_pk: int,
    holder: str,
    lease_s: float,
    probe_after: int,
    now: datetime,
) -> Claimed:
    """``claim`` for a worker that shares the outbox with others (see ``db.chatlocks``): in the
    same transaction, the chat's serve lock is renewed (it must still be ``holder``'s) and its
    send lock taken, and ``probe_after`` is raised to the highest id any process recorded."""
    if chat_pk not in chatlocks.take(
        session=session, kind=SERVE, holder=holder, chat_pks=[chat_pk], now=now, lease_s=lease_s
    ):
        return Claimed([], probe_after, lost=True)
    if chat_pk not in chatlocks.take(
        session=session, kind=SEND, holder=holder, chat_pks=[chat_pk], now=now, lease_s=lease_s
    ):
        return Claimed([], probe_after, busy=True)
    recorded = session.exec(select(Chat.last_message_id).where(col(Chat.id) == chat_pk)).first()
    known = max(probe_after, recorded or 0)
    return Claimed(
        claim(session=session, delivery_ids=delivery_ids, probe_after=known, now=now), known
    )


def _set(session: Session, delivery_ids: Sequence[int], **values: Any) -> None:
    """Set ``values`` on the rows."""
    session.exec(update(Delivery).where(col(Delivery.id).in_(list(delivery_ids))).values(**values))


def mark_sent(
    *,
    session: Session,
    delivery_ids: Sequence[int],
    tg_chat_id: int,
    message_id: int,
    now: datetime | None = None,
) -> None:
    now = now or utcnow()
    _set(session, delivery_ids, status=SENT, message_id=message_id, sent_at=now, last_error="")
    note_message_id(session=session, tg_chat_id=tg_chat_id, message_id=message_id)


def retry_later(
    *,
    session: Session,
    delivery_ids: Sequence[int],
    due_at: datetime,
    error: str = "",
    hung: bool = False,
) -> None:
    """Back to pending, to be tried at ``due_at``: the send did not happen, or (``hung``) it
    got no answer and was not found, and Telegram may still carry it out late. Such a row
    keeps its ``probe_after``, so whichever worker sends it next looks for it there first."""
    probe = {} if hung else {"probe_after": None}
    _set(session, delivery_ids, status=PENDING, due_at=due_at, last_error=error[:1000], **probe)


def mark_failed(
    *, session: Session, delivery_ids: Sequence[int], error: str, status: str = FAILED
) -> None:
    _set(session, delivery_ids, status=status, last_error=error[:1000])


def attempts_of(*, session: Session, delivery_ids: Sequence[int]) -> int:
    """The most attempts any of these rows has had."""
    value = session.exec(
        select(func.max(Delivery.attempts)).where(col(Delivery.id).in_(list(delivery_ids)))
    ).one_or_none()
    return int(value or 0)


def reschedule_chat(
    *, session: Session, chat_pk: int, due_at: datetime, delivery_ids: Sequence[int]
) -> None:
    """Quiet hours began: move the chat's due rows to their end."""
    session.exec(
        update(Delivery)
        .where(col(Delivery.id).in_(list(delivery_ids)), col(Delivery.status) == PENDING)
        .values(due_at=due_at)
    )


def load_alerts(*, session: Session, alert_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """Alert id -> the stored alert in the JSON shape (``db.alerts.alert_dict``), every source."""
    ids = sorted(set(alert_ids))
    rows = session.exec(
        select(Alert, Article)
        .join(Article, col(Article.id) == Alert.article_id)
        .where(col(Alert.id).in_(ids))
    ).all()
    found: dict[int, dict[str, Any]] = {}
    for alert, article in rows:
        data = alert_dict(
            alert, article, alert_sources(session=session, alert_id=alert.id or 0) or None
        )
        if alert.rule_id == WATCH_RULE and data["entities"]:
            data["watch_key"] = data["entities"][0]["key"]
        found[alert.id or 0] = data
    return found
