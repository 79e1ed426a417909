"""Expiring chat locks shared by every process that sends to a chat (``ChatLock``).

Several delivery workers (``run --role deliver``) share one outbox. Per-chat order and the
exactly-once probe need two things no in-process lock gives across processes:

- **serve**: one worker at a time serves a chat's queue, in order. It takes the lock when it
  starts on the chat, renews it while it works and lets go when the queue is done. A worker
  killed with SIGKILL lets go of nothing: its locks run out after the lease and another
  worker takes the chat over, resolving the rows it left in flight first.
- **send**: one message is in flight in the chat at a time, whoever sends it: the worker
  takes it in the transaction that claims a row and lets go when the answer is recorded; a
  command's reply sent by another process takes it around the request. The probe after a
  crash may only ever find the bot's own alert after ``probe_after``.

A lock is taken with one ``INSERT ... ON CONFLICT DO UPDATE ... WHERE`` (SQLite and PostgreSQL
alike): it goes to the caller when there is none, when the one there has run out or when the
caller holds it already. PostgreSQL makes a concurrent taker wait for the row and evaluate the
condition again against the winner's values, so two takers never both win. Expiry uses each
worker's clock: machines sharing a database need their clocks kept (NTP), well within a lease.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, inspect
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapper
from sqlmodel import Session, col, delete, or_, select, update
from sqlmodel.sql.expression import SelectOfScalar

from db.tables.chats import Chat
from db.tables.delivery import ChatLock

_INSERTS: dict[str, Any] = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}


def _table() -> Table:
    mapper: Mapper[ChatLock] = inspect(ChatLock)
    table = mapper.local_table
    assert isinstance(table, Table)
    return table


def take(
    *,
    session: Session,
    kind: str,
    holder: str,
    chat_pks: Iterable[int],
    now: datetime,
    lease_s: float,
) -> set[int]:
    """Take (or renew) the ``kind`` lock of each chat that is free, run out or ours already;
    returns the chats whose lock the caller now holds."""
    pks = sorted(set(chat_pks))
    if not pks:
        return set()
    table = _table()
    until = now + timedelta(seconds=lease_s)
    rows = [{"chat_id": pk, "kind": kind, "holder": holder, "until": until} for pk in pks]
    insert = _INSERTS[session.get_bind().dialect.name](table).values(rows)
    statement = insert.on_conflict_do_update(
        index_elements=[table.c.chat_id, table.c.kind],
        set_={"holder": insert.excluded.holder, "until": insert.excluded.until},
        where=or_(table.c.until < now, table.c.holder == holder),
    ).returning(table.c.chat_id)
    return {row[0] for row in session.exec(statement)}


def take_in_tg_chat(
    *, session: Session, kind: str, holder: str, tg_chat_id: int, now: datetime, lease_s: float
) -> bool:
    """``take`` by Telegram chat id, for a command's reply: True when the lock is the caller's
    now, or when the chat is not stored (nothing can be in flight there)."""
    chat_pk = session.exec(select(Chat.id).where(col(Chat.tg_chat_id) == tg_chat_id)).first()
    if chat_pk is None:
        return True
    taken = take(
        session=session, kind=kind, holder=holder, chat_pks=[chat_pk], now=now, lease_s=lease_s
    )
    return chat_pk in taken


def renew(*, session: Session, kind: str, holder: str, now: datetime, lease_s: float) -> int:
    """Push back every ``kind`` lock the caller holds that has not run out; how many."""
    mine = _locked_in_order(
        select(ChatLock.chat_id).where(
            col(ChatLock.kind) == kind, col(ChatLock.holder) == holder, col(ChatLock.until) >= now
        )
    )
    result = session.exec(
        update(ChatLock)
        .where(col(ChatLock.kind) == kind, col(ChatLock.holder) == holder)
        .where(col(ChatLock.chat_id).in_(mine))
        .values(until=now + timedelta(seconds=lease_s))
    )
    return int(result.rowcount)


def _locked_in_order(query: SelectOfScalar[int]) -> Any:
    """``query``'s rows locked in chat order (PostgreSQL: ``FOR UPDATE``) before a statement
    changes several of them. Takers lock rows in chat order (``take`` sorts), and a renewal or
    release that locked them in the table's order could wait for a taker that waits for it:
    PostgreSQL would end one of the two with "deadlock detected"."""
    return query.order_by(col(ChatLock.chat_id)).with_for_update().scalar_subquery()


def release(
    *, session: Session, kind: str, holder: str, chat_pks: Iterable[int] | None = None
) -> None:
    """Let go of the caller's ``kind`` locks (of ``chat_pks``, or all of them)."""
    mine = select(ChatLock.chat_id).where(
        col(ChatLock.kind) == kind, col(ChatLock.holder) == holder
    )
    if chat_pks is not None:
        mine = mine.where(col(ChatLock.chat_id).in_(sorted(set(chat_pks))))
    session.exec(
        delete(ChatLock).where(
            col(ChatLock.kind) == kind,
            col(ChatLock.holder) == holder,
            col(ChatLock.chat_id).in_(_locked_in_order(mine)),
        )
    )


def release_in_tg_chat(*, session: Session, kind: str, holder: str, tg_chat_id: int) -> None:
    """``release`` by Telegram chat id (see ``take_in_tg_chat``)."""
    chat_pks = select(Chat.id).where(col(Chat.tg_chat_id) == tg_chat_id)
    session.exec(
        delete(ChatLock).where(
            col(ChatLock.kind) == kind,
            col(ChatLock.holder) == holder,
            col(ChatLock.chat_id).in_(chat_pks.scalar_subquery()),
        )
    )


def holders(*, session: Session, kind: str, now: datetime) -> dict[int, str]:
    """Who holds each ``kind`` lock that has not run out (for tests and ``status``)."""
    rows = session.exec(
        select(ChatLock.chat_id, ChatLock.holder).where(
            col(ChatLock.kind) == kind, col(ChatLock.until) >= now
        )
    )
    return dict(rows.all())
