"""Watched feeds: adding and removing them, claiming due ones, and recording how polls went.

Polling state lives in the database so a restart resumes where it stopped: the next due time,
the validators for conditional GET, the failure count that drives back-off. A feed is
*claimed* before it is polled (a lease in ``claimed_until``) so no feed is polled twice at
once, whether by two tasks of one process or by two processes sharing PostgreSQL.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy import ColumnElement
from sqlmodel import Session, col, or_, select, update

from bot.errors import UserInputError
from db.models import Feed, FeedEntry, utcnow
from db.unique import insert_or_ignore

MIN_INTERVAL_S = 60
MAX_BACKOFF_S = 6 * 3600
JITTER = 0.1


class FeedInputError(UserInputError):
    """A feed URL or setting that cannot be used; the message says why."""


def validate_url(url: str) -> str:
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise FeedInputError(f"{url!r} is not an http(s) URL")
    if parts.username or parts.password:
        raise FeedInputError(f"{url!r} carries credentials; put them nowhere near a feed list")
    if len(url) > 2048:
        raise FeedInputError("URL longer than 2048 characters")
    return url


def add_feed(
    *,
    session: Session,
    url: str,
    interval_s: int = 600,
    title: str = "",
    origin: str = "cli",
    added_by: str = "",
) -> Feed:
    """Add a feed, or update the interval and title of one already watched (same URL)."""
    url = validate_url(url)
    if interval_s < MIN_INTERVAL_S:
        raise FeedInputError(f"interval {interval_s}s is below the {MIN_INTERVAL_S}s minimum")
    feed = session.exec(select(Feed).where(Feed.url == url)).first()
    if feed is None:
        feed = Feed(
            url=url,
            interval_s=interval_s,
            title=title[:512],
            origin=origin,
            added_by=added_by[:128],
        )
    else:
        feed.interval_s = interval_s
        feed.title = title[:512] or feed.title
        feed.enabled = True
    session.add(feed)
    session.flush()
    return feed


def remove_feed(*, session: Session, url_or_id: str) -> bool:
    """Stop watching a feed (by URL or id); its articles and alerts stay."""
    query = (
        select(Feed).where(Feed.id == int(url_or_id))
        if url_or_id.isdigit()
        else select(Feed).where(Feed.url == url_or_id.strip())
    )
    feed = session.exec(query).first()
    if feed is None:
        return False
    session.delete(feed)
    session.flush()
    return True


def list_feeds(*, session: Session) -> list[Feed]:
    return list(session.exec(select(Feed).order_by(col(Feed.id))))


def claim_feeds(
    *,
    session: Session,
    now: datetime,
    lease_s: float,
    limit: int,
    due_only: bool = True,
    skip_backoff: bool = True,
    exclude_ids: Iterable[int] = (),
    not_polled_since: datetime | None = None,
) -> list[Feed]:
    """Claim up to ``limit`` feeds to poll: due ones (or all), none already claimed.

    ``SELECT ... FOR UPDATE SKIP LOCKED`` keeps concurrent claimers off each other's rows,
    and the conditional UPDATE is the lock: only one claimer sees its row count go to 1.
    With ``due_only=False`` (``run --once``) every enabled feed is taken except those
    backing off after failures, whose next poll must still wait.
    """
    query = select(Feed).where(col(Feed.enabled).is_(True)).where(_unclaimed(now))
    if due_only:
        query = query.where(col(Feed.next_due_at) <= now)
    elif skip_backoff:
        query = query.where(or_(Feed.consecutive_failures == 0, col(Feed.next_due_at) <= now))
    if not_polled_since is not None:
        query = query.where(
            or_(col(Feed.last_polled_at).is_(None), col(Feed.last_polled_at) < not_polled_since)
        )
    excluded = list(exclude_ids)
    if excluded:
        query = query.where(col(Feed.id).not_in(excluded))
    # PostgreSQL: rows another claimer is looking at are skipped, not waited for (SQLite's
    # writers take turns anyway); the conditional UPDATE below still decides.
    query = query.order_by(col(Feed.next_due_at)).limit(limit).with_for_update(skip_locked=True)
    candidates = list(session.exec(query))
    claimed = []
    until = now + timedelta(seconds=lease_s)
    for feed in candidates:
        result = session.exec(
            update(Feed)
            .where(col(Feed.id) == feed.id)
            .where(_unclaimed(now))
            .values(claimed_until=until)
        )
        if result.rowcount == 1:
            session.refresh(feed)
            claimed.append(feed)
    return claimed


def _unclaimed(now: datetime) -> ColumnElement[bool]:
    """No lease on the feed, or one that ran out before ``now``."""
    return or_(col(Feed.claimed_until).is_(None), col(Feed.claimed_until) < now)


@dataclass(frozen=True)
class PollOutcome:
    ok: bool
    error: str = ""
    etag: str | None = None
    last_modified: str | None = None
    items_seen: int = 0
    articles: int = 0
    alerts: int = 0
    retry_after_s: float | None = None


def finish_poll(
    *, session: Session, feed_id: int, outcome: PollOutcome, now: datetime | None = None
) -> Feed | None:
    """Record a poll, schedule the next one (jittered; backing off after failures), release."""
    now = now or utcnow()
    feed = session.get(Feed, feed_id)
    if feed is None:
        return None
    feed.last_polled_at = now
    feed.claimed_until = None
    feed.items_seen += outcome.items_seen
    feed.articles += outcome.articles
    feed.alerts += outcome.alerts
    if outcome.ok:
        feed.consecutive_failures = 0
        feed.last_success_at = now
        feed.etag = outcome.etag or feed.etag
        feed.last_modified = outcome.last_modified or feed.last_modified
        delay = feed.interval_s * random.uniform(1 - JITTER, 1 + JITTER)
    else:
        feed.consecutive_failures += 1
        feed.last_error = outcome.error[:1000]
        feed.last_error_at = now
        backoff = min(feed.interval_s * 2 ** min(feed.consecutive_failures - 1, 10), MAX_BACKOFF_S)
        delay = max(backoff * random.uniform(1 - JITTER, 1 + JITTER), outcome.retry_after_s or 0.0)
    feed.next_due_at = now + timedelta(seconds=delay)
    session.add(feed)
    session.flush()
    return feed


def release_claims(*, session: Session, feed_ids: Iterable[int]) -> None:
    """Give back leases of feeds not polled after all (shutting down)."""
    ids = list(feed_ids)
    if ids:
        session.exec(update(Feed).where(col(Feed.id).in_(ids)).values(claimed_until=None))


def renew_claims(
    *, session: Session, feed_ids: Iterable[int], now: datetime, lease_s: float
) -> None:
    """Push back the leases of feeds still being polled (the scheduler, every half minute)."""
    ids = list(feed_ids)
    if ids:
        session.exec(
            update(Feed)
            .where(col(Feed.id).in_(ids), col(Feed.claimed_until).is_not(None))
            .values(claimed_until=now + timedelta(seconds=lease_s))
        )


def seen_entries(*, session: Session, feed_id: int, entry_ids: Iterable[str]) -> set[str]:
    ids = list(entry_ids)
    seen: set[str] = set()
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        rows = session.exec(
            select(FeedEntry.entry_id)
            .where(FeedEntry.feed_id == feed_id)
            .where(col(FeedEntry.entry_id).in_(chunk))
        )
        seen.update(rows)
    return seen


def mark_entry(*, session: Session, feed_id: int, entry_id: str, article_id: int | None) -> None:
    """Record a handled entry; one already recorded (by a concurrent poll, say) stays as it is."""
    insert_or_ignore(
        session, FeedEntry(feed_id=feed_id, entry_id=entry_id[:1024], article_id=article_id)
    )


@dataclass(frozen=True)
class SyncResult:
    added: int
    updated: int
    removed: int


def sync_file_feeds(*, session: Session, specs: Iterable[tuple[str, int, str]]) -> SyncResult:
    """Make the feeds that came from the feeds file match it: (url, interval_s, title) each."""
    wanted = {url: (interval, title) for url, interval, title in specs}
    current = {feed.url: feed for feed in list_feeds(session=session)}
    added = updated = removed = 0
    for url, (interval, title) in wanted.items():
        feed = current.get(url)
        if feed is None:
            add_feed(session=session, url=url, interval_s=interval, title=title, origin="file")
            added += 1
        elif feed.interval_s != interval or (title and feed.title != title):
            add_feed(session=session, url=url, interval_s=interval, title=title, origin=feed.origin)
            updated += 1
    for url, feed in current.items():
        if feed.origin == "file" and url not in wanted:
            session.delete(feed)
            removed += 1
    session.flush()
    return SyncResult(added, updated, removed)
