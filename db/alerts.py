"""Articles and alerts: storing a scan's results once, and reading alert history back."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, SQLModel

from db.models import Alert, AlertEntity, AlertSource, Article, Story, utcnow
from db.unique import insert_or_ignore


def content_hash(text: str) -> str:
    """Identity of a text that survives whitespace differences."""
    return hashlib.sha256(" ".join(text.split()).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class StoredScan:
    article: Article
    alerts: list[Alert]  # all alerts of the article, new ones included
    new_alerts: list[Alert]
    joined: list[Alert] = field(
        default_factory=list
    )  # existing alerts this article is a new source of


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
    Both identities are unique keys, so two processes storing the same article at the same
    moment store it once: the later insert is ignored and returns the earlier one's row.
    """
    digest = content_hash(text)
    existing = _article_at(session, url_key) if url_key else None
    if existing is None and (same_text_is_same_article or not url_key):
        existing = _article_with(session, digest)
    if existing is not None:
        return existing, False
    article = _article_row(
        source=source,
        text=text,
        digest=digest,
        title=title,
        url=url,
        url_key=url_key,
        outlet=outlet,
        published_at=published_at,
        story_id=story_id,
        simhash=simhash,
    )
    new_id = insert_or_ignore(session, article)
    if new_id is None:  # a concurrent writer stored it first: the row holding the key won
        winner = (
            _article_at(session, url_key)
            if url_key
            else _article_with(session, digest, url_key_null=True)
        )
        assert winner is not None, "an ignored insert leaves the row that holds its key"
        return winner, False
    stored = session.get(Article, new_id)
    assert stored is not None
    return stored, True


def _article_row(
    *,
    source: str,
    text: str,
    digest: str,
    title: str = "",
    url: str | None = None,
    url_key: str | None = None,
    outlet: str = "",
    published_at: datetime | None = None,
    story_id: int | None = None,
    simhash: int | None = None,
) -> Article:
    """A new article row, fields cut to their columns (the one place that shapes it)."""
    return Article(
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


def _article_at(session: Session, url_key: str) -> Article | None:
    found: Article | None = (
        session.execute(select(Article).where(Article.url_key == url_key)).scalars().first()
    )
    return found


def _article_with(session: Session, digest: str, *, url_key_null: bool = False) -> Article | None:
    """The first article with this text; with ``url_key_null`` only among those without a URL
    identity (the ones the text's unique key covers)."""
    query = select(Article).where(Article.content_hash == digest)
    if url_key_null:
        query = query.where(Article.url_key.is_(None))  # type: ignore[union-attr]
    found: Article | None = session.execute(query.order_by(Article.id)).scalars().first()  # type: ignore[arg-type]
    return found


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
        row, created = _alert_for(session, article.id, _dedup_key(scope, data), data)
        if created:
            new.append(row)
        elif add_source(session=session, alert_id=row.id or 0, article_id=article.id):
            joined.append(row)
        rows.append(row)
    session.flush()
    return StoredScan(article, rows, new, joined)


def _dedup_key(scope: str, data: dict[str, Any]) -> str:
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
    new_id = insert_or_ignore(session, _alert_row(article_id, key, data))
    if new_id is None:
        winner = _alert_keyed(session, key)
        assert winner is not None, "an ignored insert leaves the row that holds its key"
        return winner, False
    session.add_all(
        AlertEntity(
            alert_id=new_id,
            entity_key=e["key"],
            caption=e["name"][:512],
            matched=e["matched"][:512],
            score=e["score"],
        )
        for e in data["entities"]
    )
    add_source(session=session, alert_id=new_id, article_id=article_id)
    alert = session.get(Alert, new_id)
    assert alert is not None
    return alert, True


def _alert_keyed(session: Session, key: str) -> Alert | None:
    found: Alert | None = (
        session.execute(select(Alert).where(Alert.dedup_key == key)).scalars().first()
    )
    return found


def add_source(*, session: Session, alert_id: int, article_id: int) -> bool:
    """Record that an article tells an alert's story; False if it was already recorded (by us
    or, at the same moment, by another process: the pair is a unique key)."""
    return (
        insert_or_ignore(session, AlertSource(alert_id=alert_id, article_id=article_id)) is not None
    )


# --- many scanned texts at once ---------------------------------------------------------------

_INSERTS: dict[str, Any] = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}
# pg_advisory_xact_lock key held while a batch of scans is stored: "sbscanst".
PG_SCAN_LOCK = 0x73627363616E7374


@dataclass(frozen=True)
class ScannedText:
    """One scanned input to store: the article's fields and its alerts in the JSON contract's shape."""

    source: str
    text: str
    title: str = ""
    url: str | None = None
    alerts: Sequence[dict[str, Any]] = ()


def store_scans(*, session: Session, scans: Sequence[ScannedText]) -> list[StoredScan]:
    """Store many scanned texts and their alerts with a few statements; one ``StoredScan`` each.

    The rows, keys and sources are those of ``store_article`` (the text is the identity, as for
    a file) then ``store_alerts`` called for each text in turn, ids aside: a text stored before
    or earlier in the batch is that article, each (article, rule, regime) is one alert, each
    (alert, article) pair one source. Every row goes in with ``INSERT ... ON CONFLICT DO
    NOTHING`` and the rows holding the keys are read back, so processes storing the same texts
    at the same moment still store each once.
    """
    if session.get_bind().dialect.name == "postgresql":
        # Two batches inserting the same keys in different orders would each wait for the other's
        # uncommitted rows (a deadlock): batches take turns, as SQLite's writers always do.
        session.execute(select(func.pg_advisory_xact_lock(PG_SCAN_LOCK)))
    digests = [content_hash(scan.text) for scan in scans]
    articles = _articles_with(session, digests)
    unseen: dict[str, ScannedText] = {}  # the first of each text not stored yet, in order
    for digest, scan in zip(digests, scans):
        if digest not in articles:
            unseen.setdefault(digest, scan)
    _insert_many_or_ignore(
        session,
        [
            _article_row(
                source=scan.source, text=scan.text, digest=digest, title=scan.title, url=scan.url
            )
            for digest, scan in unseen.items()
        ],
    )
    articles.update(
        _articles_with(session, list(unseen), url_key_null=True)
    )  # ours, or a concurrent writer's

    keyed = [
        [(_dedup_key(f"article:{articles[digest].id}", data), data) for data in scan.alerts]
        for digest, scan in zip(digests, scans)
    ]
    alerts = _alerts_keyed(session, [key for pairs in keyed for key, _ in pairs])
    unseen_alerts: dict[str, Alert] = {}
    for digest, pairs in zip(digests, keyed):
        for key, data in pairs:
            if key not in alerts and key not in unseen_alerts:
                unseen_alerts[key] = _alert_row(articles[digest].id or 0, key, data)
    created = {row.id for row in _insert_many_or_ignore(session, list(unseen_alerts.values()))}
    alerts.update(_alerts_keyed(session, list(unseen_alerts)))
    session.add_all(
        AlertEntity(
            alert_id=alerts[key].id or 0,
            entity_key=e["key"],
            caption=e["name"][:512],
            matched=e["matched"][:512],
            score=e["score"],
        )
        for key, row in unseen_alerts.items()
        if alerts[key].id in created
        for e in row.entities
    )
    pairs_in_order = dict.fromkeys(
        (alerts[key].id or 0, articles[digest].id or 0)
        for digest, pairs in zip(digests, keyed)
        for key, _ in pairs
    )
    added = {
        (row.alert_id, row.article_id)
        for row in _insert_many_or_ignore(
            session,
            [AlertSource(alert_id=alert, article_id=article) for alert, article in pairs_in_order],
            "alert_id",
            "article_id",
        )
    }
    session.flush()

    results: list[StoredScan] = []
    told: set[int] = set()  # created alerts already reported as new
    counted: set[tuple[int, int]] = set()  # (alert, article) pairs already reported
    for digest, pairs in zip(digests, keyed):
        article = articles[digest]
        rows: list[Alert] = []
        new: list[Alert] = []
        joined: list[Alert] = []
        for key, _ in pairs:
            alert = alerts[key]
            pair = (alert.id or 0, article.id or 0)
            if alert.id in created and alert.id not in told:
                told.add(alert.id or 0)
                counted.add(pair)
                new.append(alert)
            elif pair in added and pair not in counted:
                counted.add(pair)
                joined.append(alert)
            rows.append(alert)
        results.append(StoredScan(article, rows, new, joined))
    return results


def _articles_with(
    session: Session, digests: Sequence[str], *, url_key_null: bool = False
) -> dict[str, Article]:
    """``_article_with`` for many texts: content hash -> the first article with it."""
    found: dict[str, Article] = {}
    for chunk in _chunks(list(dict.fromkeys(digests)), 1000):
        query = select(Article).where(Article.content_hash.in_(chunk))  # type: ignore[attr-defined]
        if url_key_null:
            query = query.where(Article.url_key.is_(None))  # type: ignore[union-attr]
        for article in session.execute(query.order_by(Article.id)).scalars():  # type: ignore[arg-type]
            found.setdefault(article.content_hash, article)
    return found


def _alerts_keyed(session: Session, keys: Sequence[str]) -> dict[str, Alert]:
    found: dict[str, Alert] = {}
    for chunk in _chunks(list(dict.fromkeys(keys)), 1000):
        for alert in session.execute(select(Alert).where(Alert.dedup_key.in_(chunk))).scalars():  # type: ignore[attr-defined]
            found[alert.dedup_key] = alert
    return found


def _insert_many_or_ignore(
    session: Session, rows: Sequence[SQLModel], *returning: str
) -> list[Any]:
    """``insert_or_ignore`` for many new rows of one table, in order, with multi-row statements;
    the ``returning`` columns (default: ``id``) of the rows inserted, none of the ignored ones."""
    if not rows:
        return []
    table = rows[0].__table__  # type: ignore[attr-defined]
    columns = [column.key for column in table.columns if column.key != "id"]
    values = [{column: getattr(row, column) for column in columns} for row in rows]
    insert = _INSERTS[session.get_bind().dialect.name]
    session.flush()  # pending ORM rows first, so they count as existing
    # One statement, compiled once and cached; given many parameter sets, SQLAlchemy sends them
    # as multi-row VALUES ("insertmanyvalues", batches within the drivers' parameter limits).
    statement = (
        insert(table)
        .on_conflict_do_nothing()
        .returning(*(table.c[name] for name in returning or ("id",)))
    )
    return list(session.execute(statement, values).all())


def _chunks(items: list[Any], size: int) -> list[list[Any]]:
    return [items[start : start + size] for start in range(0, len(items), size)]


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


def story_text(*, session: Session, story_id: int) -> tuple[str, str]:
    """(text, title) of a story's first article, to confirm a near-duplicate on its body."""
    query = (
        select(Article.text, Article.title)
        .where(Article.story_id == story_id)
        .order_by(Article.id)
        .limit(1)
    )
    row = session.execute(query).first()
    return (row[0], row[1]) if row else ("", "")


def story_key(fingerprint: int, title: str) -> str:
    """A story's unique key: its first article's fingerprint (signed, as stored) and title.

    Two processes starting a story for the same text at the same moment compute the same key
    and so start one story. The same text told again later joins its story however old.
    Hashed, because a 1,024-character title is too long for a PostgreSQL index entry.
    """
    return hashlib.sha256(f"{signed64(fingerprint)}\n{title[:1024]}".encode()).hexdigest()


def new_story(*, session: Session, fingerprint: int, title: str) -> Story:
    """A story started by a text with this fingerprint and title (``story_key``): a new one, or
    the one already holding the key (a concurrent writer's)."""
    story = Story(
        key=story_key(fingerprint, title), simhash=signed64(fingerprint), title=title[:1024]
    )
    new_id = insert_or_ignore(session, story)
    if new_id is None:  # a concurrent writer started it first
        found = session.execute(select(Story).where(Story.key == story.key)).scalars().first()
    else:
        found = session.get(Story, new_id)
    assert found is not None, "an ignored insert leaves the row that holds its key"
    return found


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
        references=data.get("reference_links")
        or [{"text": r, "url": ""} for r in data["references"]],
        entities=data["entities"],
        countries=data["countries"],
        terms=data.get("terms", []),
        evidence=data["evidence"],
        explanation=data.get("explanation", []),
        found_by=data.get("found_by", "scan"),
    )


def alert_dict(
    alert: Alert, article: Article, sources: Sequence[Article] | None = None
) -> dict[str, Any]:
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
    query = select(Alert, Article).join(Article, Article.id == Alert.article_id)  # type: ignore[arg-type]
    if since is not None:
        query = query.where(Alert.created_at >= since)
    query = query.order_by(Alert.created_at.desc(), Alert.id.desc()).limit(limit)  # type: ignore[union-attr, attr-defined]
    return [(alert, article) for alert, article in session.execute(query)]
