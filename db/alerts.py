"""Articles and alerts: storing a scan's results once, and reading alert history back."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from db.models import Alert, AlertEntity, AlertSource, Article, Story, utcnow


def content_hash(text: str) -> str:
    """Identity of a text that survives whitespace differences."""
    return hashlib.sha256(" ".join(text.split()).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class StoredScan:
    article: Article
    alerts: list[Alert]  # all alerts of the article, new ones included
    new_alerts: list[Alert]
    joined: list[Alert] = field(default_factory=list)  # existing alerts this article is a new source of


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
    story_id: int | None = None,
    simhash: int | None = None,
    same_text_is_same_article: bool = True,
) -> tuple[Article, bool]:
    """The stored article for this URL or text, creating it if new; returns (article, created).

    An article is identified by its URL identity. The same text without a URL (a pasted
    message, a file) is the same article; with ``same_text_is_same_article=False`` the same
    text at another URL is a new article (another outlet's copy, a source of the same story).
    """
    digest = content_hash(text)
    existing = None
    if url_key:
        existing = session.exec(select(Article).where(Article.url_key == url_key)).scalars().first()  # type: ignore[call-overload]
    if existing is None and (same_text_is_same_article or not url_key):
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
        story_id=story_id,
        simhash=signed64(simhash) if simhash is not None else None,
    )
    session.add(article)
    session.flush()
    return article, True


def store_alerts(*, session: Session, article: Article, alerts: Sequence[dict[str, Any]], story: str | None = None) -> StoredScan:
    """Store alerts (in the JSON contract's shape) for an article; each (story, rule, regime) once
    (watchlist alerts: each (story, watched party) once)."""
    assert article.id is not None
    scope = story or f"article:{article.id}"
    rows: list[Alert] = []
    new: list[Alert] = []
    joined: list[Alert] = []
    for data in alerts:
        # a watchlist alert is also keyed by its watched party: two parties watched in one story
        # are two alerts (each goes to the chats watching it)
        key = "|".join([scope, data["rule"], data["regime"], *([data["watch_key"]] if data.get("watch_key") else [])])[:256]
        row = session.exec(select(Alert).where(Alert.dedup_key == key)).scalars().first()  # type: ignore[call-overload]
        if row is not None:
            if add_source(session=session, alert_id=row.id or 0, article_id=article.id):
                joined.append(row)
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
            add_source(session=session, alert_id=row.id, article_id=article.id)
            new.append(row)
        rows.append(row)
    session.flush()
    return StoredScan(article, rows, new, joined)


def add_source(*, session: Session, alert_id: int, article_id: int) -> bool:
    """Record that an article tells an alert's story; False if it was already recorded."""
    exists = session.execute(
        select(AlertSource.id).where(AlertSource.alert_id == alert_id).where(AlertSource.article_id == article_id)
    ).first()
    if exists is not None:
        return False
    session.add(AlertSource(alert_id=alert_id, article_id=article_id))
    session.flush()
    return True


def alert_sources(*, session: Session, alert_id: int) -> list[Article]:
    """Every article of an alert, first seen first."""
    query = (
        select(Article)
        .join(AlertSource, AlertSource.article_id == Article.id)  # type: ignore[arg-type]
        .where(AlertSource.alert_id == alert_id)
        .order_by(AlertSource.id)
    )
    return list(session.execute(query).scalars())


# --- stories ----------------------------------------------------------------------------------


def signed64(value: int) -> int:
    """A 64-bit fingerprint as the signed integer a BIGINT column holds."""
    return value - (1 << 64) if value >= 1 << 63 else value


def unsigned64(value: int) -> int:
    return value + (1 << 64) if value < 0 else value


def recent_stories(*, session: Session, since: datetime) -> list[tuple[int, int]]:
    """(story id, unsigned fingerprint) of stories seen since ``since``."""
    rows = session.execute(select(Story.id, Story.simhash).where(Story.last_seen_at >= since))
    return [(story_id, unsigned64(fingerprint)) for story_id, fingerprint in rows]


def story_text(*, session: Session, story_id: int) -> str:
    """The text of a story's first article, to confirm a near-duplicate."""
    row = session.execute(select(Article.text).where(Article.story_id == story_id).order_by(Article.id).limit(1)).first()
    return row[0] if row else ""


def new_story(*, session: Session, fingerprint: int, title: str) -> Story:
    story = Story(simhash=signed64(fingerprint), title=title[:1024])
    session.add(story)
    session.flush()
    return story


def touch_story(*, session: Session, story_id: int) -> None:
    story = session.get(Story, story_id)
    if story is not None:
        story.last_seen_at = utcnow()
        session.add(story)



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


def alert_dict(alert: Alert, article: Article, sources: Sequence[Article] | None = None) -> dict[str, Any]:
    """A stored alert in the scan JSON shape plus ``id``, ``created_at`` and ``sources``.

    ``sources`` are all articles telling the alert's story (``alert_sources``); without them
    the alert's first article is its only source.
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
        "sources": [
            {"url": a.url or a.source, "title": a.title, "outlet": a.outlet} for a in (sources or [article])
        ],
    }


def recent_alerts(*, session: Session, since: datetime | None = None, limit: int = 1000) -> list[tuple[Alert, Article]]:
    """Newest first."""
    query = select(Alert, Article).join(Article, Article.id == Alert.article_id)  # type: ignore[arg-type]
    if since is not None:
        query = query.where(Alert.created_at >= since)
    query = query.order_by(Alert.created_at.desc(), Alert.id.desc()).limit(limit)  # type: ignore[union-attr, attr-defined]
    return [(alert, article) for alert, article in session.execute(query)]
