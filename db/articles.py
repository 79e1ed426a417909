"""Articles: one row per URL identity, or per text when there is no URL, stored once."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime

from sqlmodel import Session, col, select

from db.models import Article
from db.stories import signed64
from db.unique import chunks, insert_or_ignore


def content_hash(text: str) -> str:
    """Identity of a text that survives whitespace differences."""
    return hashlib.sha256(" ".join(text.split()).encode("utf-8")).hexdigest()


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
    row = article_row(
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
    return _insert(session, row)


def article_row(
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


def _insert(session: Session, row: Article) -> tuple[Article, bool]:
    """(row as stored, True), or (the row that holds its key, False) when a concurrent writer
    stored the same article first."""
    new_id = insert_or_ignore(session, row)
    if new_id is None:
        winner = (
            _article_at(session, row.url_key)
            if row.url_key
            else _article_with(session, row.content_hash, url_key_null=True)
        )
        assert winner is not None, "an ignored insert leaves the row that holds its key"
        return winner, False
    stored = session.get(Article, new_id)
    assert stored is not None
    return stored, True


def _article_at(session: Session, url_key: str) -> Article | None:
    return session.exec(select(Article).where(Article.url_key == url_key)).first()


def _article_with(session: Session, digest: str, *, url_key_null: bool = False) -> Article | None:
    """The first article with this text; with ``url_key_null`` only among those without a URL
    identity (the ones the text's unique key covers)."""
    query = select(Article).where(Article.content_hash == digest)
    if url_key_null:
        query = query.where(col(Article.url_key).is_(None))
    return session.exec(query.order_by(col(Article.id))).first()


def articles_at(session: Session, url_keys: Sequence[str]) -> dict[str, Article]:
    """``_article_at`` for many URL identities: URL identity -> its article."""
    found: dict[str, Article] = {}
    for chunk in chunks(url_keys):
        for article in session.exec(select(Article).where(col(Article.url_key).in_(chunk))):
            found[article.url_key or ""] = article
    return found


def articles_with(
    session: Session, digests: Sequence[str], *, url_key_null: bool = False
) -> dict[str, Article]:
    """``_article_with`` for many texts: content hash -> the first article with it."""
    found: dict[str, Article] = {}
    for chunk in chunks(digests):
        query = select(Article).where(col(Article.content_hash).in_(chunk))
        if url_key_null:
            query = query.where(col(Article.url_key).is_(None))
        for article in session.exec(query.order_by(col(Article.id))):
            found.setdefault(article.content_hash, article)
    return found
