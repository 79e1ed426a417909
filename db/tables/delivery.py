"""The delivery outbox table: one row per (alert, chat), and the states a row goes through."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, Column, ForeignKey, Index, Integer, UniqueConstraint
from sqlmodel import Field, SQLModel

from db.tables.columns import UTCDateTime, timestamp

# The values of ``Delivery.status`` (see the class docstring and ``bot.tg.delivery``).
PENDING, SENDING, SENT, FAILED, DROPPED = "pending", "sending", "sent", "failed", "dropped"


class Delivery(SQLModel, table=True):
    """The outbox: one row per (alert, chat), written in the transaction that stores the alert.

    ``status``: ``pending`` (waiting for ``due_at``), ``sending`` (claimed: the send may be in
    flight; a crash leaves it here and the worker reconciles it on start), ``sent`` (with the
    Telegram ``message_id``), ``failed`` (gave up, ``last_error`` says why) or ``dropped``
    (no longer wanted: unsubscribed, muted, marked false positive before it went out).
    ``probe_after`` is the chat's highest known message id when the row was claimed.
    """

    __tablename__ = "delivery"
    __table_args__ = (
        UniqueConstraint("alert_id", "chat_id", name="uq_delivery_alert_chat"),
        Index("ix_delivery_status_due_at", "status", "due_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    alert_id: int = Field(
        sa_column=Column(
            Integer,
            ForeignKey("alert.id", ondelete="CASCADE", name="fk_delivery_alert_id"),
            index=True,
            nullable=False,
        )
    )
    chat_id: int = Field(
        sa_column=Column(
            Integer,
            ForeignKey("chat.id", ondelete="CASCADE", name="fk_delivery_chat_id"),
            index=True,
            nullable=False,
        )
    )
    status: str = Field(default=PENDING, max_length=16)
    digest: bool = Field(default=False, sa_column=Column(Boolean, nullable=False, default=False))
    due_at: datetime = timestamp()
    attempts: int = 0
    claimed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    probe_after: int | None = Field(default=None, sa_column=Column(BigInteger))
    batch: int | None = Field(
        default=None, sa_column=Column(BigInteger)
    )  # digest: the batch's first delivery id
    message_id: int | None = Field(default=None, sa_column=Column(BigInteger))
    sent_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    last_error: str = Field(default="", max_length=1000)
    created_at: datetime = timestamp()


# The kinds of ``ChatLock`` (see its docstring).
SERVE, SEND = "serve", "send"


class ChatLock(SQLModel, table=True):
    """Expiring locks on a chat, shared by every process that sends to it (``db.chatlocks``).

    ``serve``: one delivery worker serves the chat's queue, in order, until it lets go or its
    lease runs out (a killed worker's chats are taken over then). ``send``: one message is in
    flight in the chat, an alert (from claim to mark) or a command's reply from another
    process; the exactly-once probe relies on no other bot message following a claimed row.
    """

    __tablename__ = "chat_lock"

    chat_id: int = Field(
        sa_column=Column(
            Integer,
            ForeignKey("chat.id", ondelete="CASCADE", name="fk_chat_lock_chat_id"),
            primary_key=True,
        )
    )
    kind: str = Field(primary_key=True, max_length=8)
    holder: str = Field(max_length=128)
    until: datetime = timestamp()
