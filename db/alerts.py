"""Alerts: each (story or article, rule, regime) stored once, its sources, and reading it back."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from db.models import Alert, AlertEntity, AlertSource, Article
from db.unique import chunks, insert_or_ignore


@dataclass(frozen=True)
class StoredScan:
    article: Article
    alerts: list[Alert]  # all alerts of the article, new ones included
    new_alerts: list[Alert]
    joined: list[Alert] = field(
        default_factory=list
    )  # existing alerts this article is a new source of
    created: bool = False  # the article was stored by this call (not found stored)


def store_alerts(
    *,
    session: Session,
    article: Article,
    alerts: Sequence[dict[str, Any]],
    story: str | None = None,
) -> StoredScan:
    """Store alerts (in the JSON contract's shape) for an article; each (story, rule, regime) once
    (watchlist alerts: each (story, watched party) once)."""
    assert article.id is not None
    scope = story or f"article:{article.id}"
    rows: list[Alert] = []
    new: list[Alert] = []
    joined: list[Alert] = []
    for data in alerts:
        row, created = _alert_for(session, article.id, dedup_key(scope, data), data)
        if created:
            new.append(row)
        elif add_source(session=session, alert_id=row.id or 0, article_id=article.id):
            joined.append(row)
        rows.append(row)
    session.flush()
    return StoredScan(article, rows, new, joined)


def dedup_key(scope: str, data: dict[str, Any]) -> str:
    """(story or article, rule, regime): a watchlist alert is also keyed by its watched party, so
    two parties watched in one story are two alerts (each goes to the chats watching it)."""
    return "|".join(
        [
            scope,
            data["rule"],
            data["regime"],
            *([data["watch_key"]] if data.get("watch_key") else []),
        ]
    )[:256]


def _alert_for(
    session: Session, article_id: int, key: str, data: dict[str, Any]
) -> tuple[Alert, bool]:
    """The alert with ``key``, stored with its parties and first source if new; (alert, created).

    ``dedup_key`` is unique: when a concurrent writer stores the same key first, ours is
    ignored and theirs returned, to which this article is then added as a source.
    """
    existing = _alert_keyed(session, key)
    if existing is not None:
        return existing, False
    new_id = insert_or_ignore(session, alert_row(article_id, key, data))
    if new_id is None:
        winner = _alert_keyed(session, key)
        assert winner is not None, "an ignored insert leaves the row that holds its key"
        return winner, False
    session.add_all(entity_rows(new_id, data["entities"]))
    add_source(session=session, alert_id=new_id, article_id=article_id)
    alert = session.get(Alert, new_id)
    assert alert is not None
    return alert, True


def _alert_keyed(session: Session, key: str) -> Alert | None:
    return session.exec(select(Alert).where(Alert.dedup_key == key)).first()


def alerts_keyed(session: Session, keys: Sequence[str]) -> dict[str, Alert]:
    """``_alert_keyed`` for many keys: dedup key -> its alert."""
    found: dict[str, Alert] = {}
    for chunk in chunks(keys):
        for alert in session.exec(select(Alert).where(col(Alert.dedup_key).in_(chunk))):
            found[alert.dedup_key] = alert
    return found


def add_source(*, session: Session, alert_id: int, article_id: int) -> bool:
    """Record that an article tells an alert's story; False if it was already recorded (by us
    or, at the same moment, by another process: the pair is a unique key)."""
    return (
        insert_or_ignore(session, AlertSource(alert_id=alert_id, article_id=article_id)) is not None
    )


def alert_sources(*, session: Session, alert_id: int) -> list[Article]:
    """Every article of an alert, first seen first."""
    query = (
        select(Article)
        .join(AlertSource, col(AlertSource.article_id) == col(Article.id))
        .where(AlertSource.alert_id == alert_id)
        .order_by(col(AlertSource.id))
    )
    return list(session.exec(query))


def alert_row(article_id: int, key: str, data: dict[str, Any]) -> Alert:
    """A new alert row from the JSON contract's shape (the one place that shapes it)."""
    return Alert(
        article_id=article_id,
        dedup_key=key,
        rule_id=data["rule"],
        title=data["title"][:512],
        severity=data["severity"],
        score=data["score"],
        regime=data["regime"],
        rule_source=data.get("rule_file", ""),
        references=data.get("reference_links")
        or [{"text": r, "url": ""} for r in data["references"]],
        entities=data["entities"],
        countries=data["countries"],
        terms=data.get("terms", []),
        evidence=data["evidence"],
        explanation=data.get("explanation", []),
        found_by=data.get("found_by", "scan"),
    )


def entity_rows(alert_id: int, entities: Sequence[dict[str, Any]]) -> list[AlertEntity]:
    """The parties of a new alert, one row each, for look-ups by party."""
    return [
        AlertEntity(
            alert_id=alert_id,
            entity_key=e["key"],
            caption=e["name"][:512],
            matched=e["matched"][:512],
            score=e["score"],
        )
        for e in entities
    ]


def alert_dict(
    alert: Alert, article: Article, sources: Sequence[Article] | None = None
) -> dict[str, Any]:
    """A stored alert in the scan JSON shape plus ``id``, ``created_at`` and ``sources``.

    ``sources`` are all articles telling the alert's story (``alert_sources``);
    without them the alert's first article is its only source.
    """
    return {
        "id": alert.id,
        "created_at": alert.created_at.isoformat(),
        "rule": alert.rule_id,
        "title": alert.title,
        "severity": alert.severity,
        "score": alert.score,
        "regime": alert.regime,
        "references": [ref["text"] for ref in alert.references],
        "reference_links": alert.references,
        "entities": alert.entities,
        "countries": alert.countries,
        "terms": alert.terms,
        "evidence": alert.evidence,
        "explanation": alert.explanation,
        "rule_file": alert.rule_source,
        "found_by": alert.found_by,
        "sources": [
            {"url": a.url or a.source, "title": a.title, "outlet": a.outlet}
            for a in (sources or [article])
        ],
    }


def recent_alerts(
    *, session: Session, since: datetime | None = None, limit: int = 1000
) -> list[tuple[Alert, Article]]:
    """Newest first."""
    query = select(Alert, Article).join(Article, col(Article.id) == col(Alert.article_id))
    if since is not None:
        query = query.where(Alert.created_at >= since)
    query = query.order_by(col(Alert.created_at).desc(), col(Alert.id).desc()).limit(limit)
    return [(alert, article) for alert, article in session.exec(query)]
