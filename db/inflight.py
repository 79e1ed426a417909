"""Rows left ``sending``: the messages whose send a previous process started and never recorded.

The worker (``bot.tg.reconcile``) looks for each such message in its chat before sending it
again; these are the reads it needs. Recording what it found is ``db.sending``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from sqlmodel import Session, col, func, select

from db.models import Chat, Delivery
from db.queries import select_columns
from db.tables.delivery import SENDING, SENT


@dataclass(frozen=True)
class InFlight:
    """One message whose send a previous process started and never recorded."""

    delivery_ids: tuple[int, ...]
    alert_ids: tuple[int, ...]
    chat_pk: int
    tg_chat_id: int
    chat_type: str
    digest: bool
    probe_after: int | None
    attempts: int


class _Row(NamedTuple):
    id: int
    alert_id: int
    batch: int | None
    probe_after: int | None
    attempts: int
    digest: bool
    chat_id: int
    tg_chat_id: int
    type: str


def in_flight(
    *,
    session: Session,
    claimed_before: datetime | None = None,
    chat_pks: Sequence[int] | None = None,
) -> list[InFlight]:
    """Messages whose rows are ``sending`` (claimed before ``claimed_before``, in ``chat_pks``,
    if given)."""
    query = (
        select_columns(
            Delivery.id,
            Delivery.alert_id,
            Delivery.batch,
            Delivery.probe_after,
            Delivery.attempts,
            Delivery.digest,
            Chat.id,
            Chat.tg_chat_id,
            Chat.type,
        )
        .join(Chat, col(Chat.id) == Delivery.chat_id)
        .where(Delivery.status == SENDING)
    )
    if claimed_before is not None:
        query = query.where(col(Delivery.claimed_at) < claimed_before)
    if chat_pks is not None:
        query = query.where(col(Delivery.chat_id).in_(list(chat_pks)))
    rows = [_Row(*row) for row in session.exec(query.order_by(col(Delivery.id)))]
    batches: dict[int, list[_Row]] = defaultdict(list)
    for row in rows:
        batches[row.batch if row.batch is not None else row.id].append(row)
    return [
        InFlight(
            delivery_ids=tuple(r.id for r in group),
            alert_ids=tuple(r.alert_id for r in group),
            chat_pk=group[0].chat_id,
            tg_chat_id=group[0].tg_chat_id,
            chat_type=group[0].type,
            digest=group[0].digest,
            probe_after=group[0].probe_after,
            attempts=max(r.attempts for r in group),
        )
        for _, group in sorted(batches.items())
    ]


def still_sending(*, session: Session, delivery_ids: Sequence[int]) -> bool:
    statuses = set(
        session.exec(select(Delivery.status).where(col(Delivery.id).in_(list(delivery_ids))))
    )
    return statuses == {SENDING}


def recent_shared_id(*, session: Session) -> int | None:
    """The highest message id the bot got back in any private chat or basic group.

    Telegram documents message ids as unique within a chat; in MTProto, private chats and basic
    groups number messages per account. Should a bot's ids follow its own counter across chats,
    this is where a lost message's id would be just above (the worker probes there too).
    """
    query = (
        select(func.max(Delivery.message_id))
        .join(Chat, col(Chat.id) == Delivery.chat_id)
        .where(col(Chat.type).in_(("private", "group")), Delivery.status == SENT)
    )
    return session.exec(query).one_or_none()
