"""Articles and alerts: storing a scan's results once, and reading alert history back."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from db.models import Alert, AlertEntity, Article


def content_hash(text: str) -> str:
    """Identity of a text that survives whitespace differences."""
    return hashlib.sha256(" ".join(text.split()).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class StoredScan:
    article: Article
    alerts: list[Alert]  # all alerts of the article, new ones included
    new_alerts: list[Alert]


def store_article(
    *,
    session: Session,
    source: str,
    text: str,
    title: str = "",
    url: str | None = None,
    url_key: str | None = None,
    outlet: str = "",
    published_at: datetime | None = None,
) -> tuple[Article, bool]:
    """The stored article for this URL or text, creating it if new; returns (article, created)."""
    digest = content_hash(text)
    existing = None
    if url_key:
        existing = session.exec(select(Article).where(Article.url_key == url_key)).scalars().first()  # type: ignore[call-overload]
    if existing is None:
        existing = session.exec(select(Article).where(Article.content_hash == digest)).scalars().first()  # type: ignore[call-overload]
    if existing is not None:
        return existing, False
    article = Article(
        source=source[:2048],
        url=url,
        url_key=url_key,
        content_hash=digest,
        title=title[:1024],
        outlet=outlet[:256],
        text=text,
        published_at=published_at,
    )
    session.add(article)
    session.flush()
    return article, True


def store_alerts(*, session: Session, article: Article, alerts: Sequence[dict[str, Any]], story: str | None = None) -> StoredScan:
    """Store alerts (in the JSON contract's shape) for an article; each (story, rule, regime) once."""
    assert article.id is not None
    scope = story or f"article:{article.id}"
    rows: list[Alert] = []
    new: list[Alert] = []
    for data in alerts:
        key = f"{scope}|{data['rule']}|{data['regime']}"[:256]
        row = session.exec(select(Alert).where(Alert.dedup_key == key)).scalars().first()  # type: ignore[call-overload]
        if row is None:
            row = _alert_row(article.id, key, data)
            session.add(row)
            session.flush()
            assert row.id is not None
            session.add_all(
                AlertEntity(
                    alert_id=row.id,
                    entity_key=e["key"],
                    caption=e["name"][:512],
                    matched=e["matched"][:512],
                    score=e["score"],
                )
                for e in data["entities"]
            )
            new.append(row)
        rows.append(row)
    session.flush()
    return StoredScan(article, rows, new)


def _alert_row(article_id: int, key: str, data: dict[str, Any]) -> Alert:
    return Alert(
        article_id=article_id,
        dedup_key=key,
        rule_id=data["rule"],
        title=data["title"][:512],
        severity=data["severity"],
        score=data["score"],
        regime=data["regime"],
        rule_source=data.get("rule_file", ""),
        references=data.get("reference_links") or [{"text": r, "url": ""} for r in data["references"]],
        entities=data["entities"],
        countries=data["countries"],
        terms=data.get("terms", []),
        evidence=data["evidence"],
        explanation=data.get("explanation", []),
    )


def alert_dict(alert: Alert, article: Article) -> dict[str, Any]:
    """A stored alert in the scan JSON shape plus ``id``, ``created_at`` and ``sources``."""
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
        "sources": [{"url": article.url or article.source, "title": article.title, "outlet": article.outlet}],
    }


def recent_alerts(*, session: Session, since: datetime | None = None, limit: int = 1000) -> list[tuple[Alert, Article]]:
    """Newest first."""
    query = select(Alert, Article).join(Article, Article.id == Alert.article_id)  # type: ignore[arg-type]
    if since is not None:
        query = query.where(Alert.created_at >= since)
    query = query.order_by(Alert.created_at.desc(), Alert.id.desc()).limit(limit)  # type: ignore[union-attr, attr-defined]
    return [(alert, article) for alert, article in session.execute(query)]
