"""Stories: the rows that group the articles telling one event, found by a text fingerprint.

A fingerprint is an unsigned 64-bit SimHash; the ``BIGINT`` column holds it signed
(``signed64``/``unsigned64``). Which article joins which story is decided in
``bot.services.stories``; this module only reads and writes the rows.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime

from sqlmodel import Session, col, func, select, update

from db.models import Article, Story, utcnow
from db.unique import chunks, insert_many_or_ignore, insert_or_ignore


def signed64(value: int) -> int:
    """A 64-bit fingerprint as the signed integer a BIGINT column holds."""
    return value - (1 << 64) if value >= 1 << 63 else value


def unsigned64(value: int) -> int:
    return value + (1 << 64) if value < 0 else value


def recent_stories(*, session: Session, since: datetime) -> list[tuple[int, int]]:
    """(story id, unsigned fingerprint) of stories seen since ``since``."""
    rows = session.exec(select(Story.id, Story.simhash).where(Story.last_seen_at >= since))
    return [(story_id or 0, unsigned64(fingerprint)) for story_id, fingerprint in rows]


def story_text(*, session: Session, story_id: int) -> tuple[str, str]:
    """(text, title) of a story's first article, to confirm a near-duplicate on its body."""
    query = (
        select(Article.text, Article.title)
        .where(Article.story_id == story_id)
        .order_by(col(Article.id))
        .limit(1)
    )
    row = session.exec(query).first()
    return (row[0], row[1]) if row else ("", "")


def story_texts(*, session: Session, story_ids: Sequence[int]) -> dict[int, tuple[str, str]]:
    """``story_text`` for many stories in one query: story id -> (text, title) of its first article."""
    found: dict[int, tuple[str, str]] = {}
    for chunk in chunks(story_ids):
        first = (
            select(func.min(Article.id))
            .where(col(Article.story_id).in_(chunk))
            .group_by(col(Article.story_id))
        )
        query = select(Article.story_id, Article.text, Article.title).where(
            col(Article.id).in_(first)
        )
        found.update({story or 0: (text, title) for story, text, title in session.exec(query)})
    return found


def story_key(fingerprint: int, title: str) -> str:
    """A story's unique key: its first article's fingerprint (signed, as stored) and title.

    Two processes starting a story for the same text at the same moment compute the same key
    and so start one story. The same text told again later joins its story however old.
    Hashed, because a 1,024-character title is too long for a PostgreSQL index entry.
    """
    return hashlib.sha256(f"{signed64(fingerprint)}\n{title[:1024]}".encode()).hexdigest()


def _story_row(fingerprint: int, title: str) -> Story:
    return Story(
        key=story_key(fingerprint, title), simhash=signed64(fingerprint), title=title[:1024]
    )


def new_story(*, session: Session, fingerprint: int, title: str) -> Story:
    """A story started by a text with this fingerprint and title (``story_key``): a new one, or
    the one already holding the key (a concurrent writer's)."""
    story = _story_row(fingerprint, title)
    new_id = insert_or_ignore(session, story)
    if new_id is None:  # a concurrent writer started it first
        found = session.exec(select(Story).where(Story.key == story.key)).first()
    else:
        found = session.get(Story, new_id)
    assert found is not None, "an ignored insert leaves the row that holds its key"
    return found


def new_stories(*, session: Session, starts: Sequence[tuple[int, str]]) -> list[int]:
    """``new_story`` for many (fingerprint, title) pairs in a few statements, in order: the id of
    each story started, or of the one already holding its key (a concurrent writer's, or one
    started earlier by the same text and title)."""
    rows = [_story_row(*start) for start in starts]
    insert_many_or_ignore(session, list({row.key: row for row in rows}.values()))
    ids: dict[str, int] = {}
    for chunk in chunks([row.key for row in rows]):
        query = select(Story.key, Story.id).where(col(Story.key).in_(chunk))
        ids.update({key: story_id or 0 for key, story_id in session.exec(query)})
    return [ids[row.key] for row in rows]


def touch_story(*, session: Session, story_id: int) -> None:
    story = session.get(Story, story_id)
    if story is not None:
        story.last_seen_at = utcnow()
        session.add(story)


def touch_stories(*, session: Session, story_ids: Sequence[int]) -> None:
    """``touch_story`` for many stories, in one statement per thousand."""
    for chunk in chunks(sorted(set(story_ids))):
        session.exec(update(Story).where(col(Story.id).in_(chunk)).values(last_seen_at=utcnow()))
