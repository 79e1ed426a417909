"""Tables of alerts: the alert with its whole explanation, the parties it names, its sources.

Alerts keep their whole explanation (entities with matched spans and scores, countries with
roles, evidence sentences with offsets, the rule's references) as JSON, because history must
show *why* an alert fired exactly as it fired then, even after rules or lists change. The
columns that history is searched and filtered by (rule, severity, regime, time, the parties
named) are real columns or rows of their own, indexed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, ForeignKey, Index, Integer, UniqueConstraint
from sqlmodel import Field, SQLModel

from db.tables.columns import timestamp


class Alert(SQLModel, table=True):
    """A rule that fired on an article (or a story told by several articles)."""

    __tablename__ = "alert"
    __table_args__ = (
        UniqueConstraint("dedup_key", name="uq_alert_dedup_key"),
        Index("ix_alert_created_at", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    article_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("article.id", ondelete="CASCADE"), index=True, nullable=False
        )
    )
    dedup_key: str = Field(max_length=256)
    rule_id: str = Field(index=True, max_length=128)
    title: str = Field(max_length=512)
    severity: str = Field(index=True, max_length=16)
    score: float
    regime: str = Field(index=True, max_length=128)
    rule_source: str = Field(default="", max_length=256)
    references: list[dict[str, str]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    entities: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    countries: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    terms: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    evidence: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    explanation: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    found_by: str = Field(default="scan", max_length=32)  # "scan", or "list-update" (a re-screen)
    created_at: datetime = timestamp()


class AlertEntity(SQLModel, table=True):
    """The parties an alert names, one row each, so history can be searched by party."""

    __tablename__ = "alert_entity"

    id: int | None = Field(default=None, primary_key=True)
    alert_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("alert.id", ondelete="CASCADE"), index=True, nullable=False
        )
    )
    entity_key: str = Field(index=True, max_length=128)
    caption: str = Field(max_length=512)
    matched: str = Field(max_length=512)
    score: float


class AlertSource(SQLModel, table=True):
    """Every article that told an alert's story: one alert, all its sources."""

    __tablename__ = "alert_source"
    __table_args__ = (UniqueConstraint("alert_id", "article_id", name="uq_alert_source"),)

    id: int | None = Field(default=None, primary_key=True)
    alert_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("alert.id", ondelete="CASCADE"), index=True, nullable=False
        )
    )
    article_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("article.id", ondelete="CASCADE"), index=True, nullable=False
        )
    )
    added_at: datetime = timestamp()
