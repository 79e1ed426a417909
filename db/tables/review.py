"""Tables of review: analysts' verdicts on alerts, and the tuning changes made from them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, ForeignKey, Integer, Text
from sqlmodel import Field, SQLModel

from db.tables.columns import timestamp


class ReviewMark(SQLModel, table=True):
    """An analyst's verdict on an alert (or on one party in it): relevant or a false positive."""

    __tablename__ = "review_mark"

    id: int | None = Field(default=None, primary_key=True)
    alert_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("alert.id", ondelete="CASCADE"), index=True, nullable=False
        )
    )
    verdict: str = Field(max_length=16)  # "relevant" | "false_positive"
    entity_key: str | None = Field(default=None, index=True, max_length=128)
    chat_id: int | None = Field(default=None, index=True)
    author: str = Field(max_length=128)
    note: str = Field(default="", max_length=1000)
    created_at: datetime = timestamp()


class TuningChange(SQLModel, table=True):
    """One versioned change to detection made from review: its id is the tuning version.

    ``kind``: ``suppress_entity`` (the party is no longer matched), ``demote_alias`` (one of its
    names only counts with support), ``negative_example`` (a text the rule must not fire on,
    run by ``rules check``), ``revert`` (undoes change ``target_id``).
    """

    __tablename__ = "tuning_change"

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=32)
    entity_key: str | None = Field(default=None, max_length=128)
    alias: str | None = Field(default=None, max_length=512)
    rule_id: str | None = Field(default=None, max_length=128)
    text: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    target_id: int | None = Field(default=None)
    author: str = Field(max_length=128)
    reason: str = Field(default="", max_length=1000)
    created_at: datetime = timestamp()
