"""Watched feeds: add (under the same address rules as ``scan``), remove, list, OPML in and out,
and the feeds file (``FEEDS_FILE``) kept in step with the database."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path

from bot.app import App
from bot.errors import UserInputError
from bot.feedconfig import parse_duration, read_feeds_file, read_opml, write_opml
from bot.ingest.errors import BlockedURL
from bot.ingest.urlguard import refuse_blocked
from bot.services.common import reading_files
from bot.settings import Settings
from db.engine import session_scope
from db.feeds import SyncResult, add_feed, list_feeds, remove_feed, sync_file_feeds
from db.models import Feed


class FeedAddressRefused(UserInputError):
    """A feed URL whose address the guard refuses (private, loopback, link-local...)."""


def check_feed_address(url: str, settings: Settings) -> None:
    """Refuse at once a feed ``scan`` would refuse, instead of failing at every poll (a name
    that does not resolve now is no verdict: polling reports it)."""
    try:
        asyncio.run(refuse_blocked(url, allow_private=settings.allow_private_urls))
    except BlockedURL as error:
        raise FeedAddressRefused(
            f"{error}; feeds are fetched under the same address rules as scan (ALLOW_PRIVATE_URLS)"
        ) from error


def feed_interval(interval: str | None, settings: Settings) -> int:
    """Seconds between polls: ``interval`` (90s, 10m, 1h) or ``DEFAULT_FEED_INTERVAL_S``."""
    return parse_duration(interval) if interval else settings.default_feed_interval_s


def watch_feed(
    app: App, url: str, *, interval_s: int, title: str, origin: str, added_by: str = ""
) -> Feed:
    """Watch a feed (or update the one at this URL)."""
    with session_scope(app.engine) as session:
        return add_feed(
            session=session,
            url=url,
            interval_s=interval_s,
            title=title,
            origin=origin,
            added_by=added_by,
        )


def unwatch_feed(app: App, url_or_id: str) -> bool:
    """Stop watching a feed (its articles and alerts stay); False if there is no such feed."""
    with session_scope(app.engine) as session:
        return remove_feed(session=session, url_or_id=url_or_id)


def watched_feeds(app: App) -> list[Feed]:
    """Every watched feed with its health figures."""
    with session_scope(app.engine) as session:
        return list_feeds(session=session)


def read_opml_file(file: Path) -> list[tuple[str, str]]:
    """(url, title) of every feed of an OPML file (as feed readers export them)."""
    with reading_files():
        return [(spec.url, spec.title) for spec in read_opml(file.read_bytes(), str(file))]


def watch_feeds(
    app: App, feeds: list[tuple[str, str]], *, interval_s: int, origin: str, added_by: str = ""
) -> None:
    """Watch every (url, title) in one transaction."""
    with session_scope(app.engine) as session:
        for url, title in feeds:
            add_feed(
                session=session,
                url=url,
                interval_s=interval_s,
                title=title,
                origin=origin,
                added_by=added_by,
            )


def opml_document(app: App) -> str:
    """The watched feeds as an OPML document."""
    return write_opml([(feed.url, feed.title) for feed in watched_feeds(app)])


def sync_feeds_file(app: App, settings: Settings) -> SyncResult | None:
    """Make the feeds that came from ``FEEDS_FILE`` match it; None when it is not set."""
    if not settings.feeds_file:
        return None
    specs = read_feeds_file(settings.feeds_file)
    with session_scope(app.engine) as session:
        return sync_file_feeds(
            session=session,
            specs=[
                (s.url, s.interval_s or settings.default_feed_interval_s, s.title) for s in specs
            ],
        )


def feed_dict(feed: Feed) -> dict[str, object]:
    """A feed and its health in the JSON shape of ``feeds list --format json``."""

    def when(value: datetime | None) -> str | None:
        return value.isoformat() if value else None

    return {
        "id": feed.id,
        "url": feed.url,
        "title": feed.title,
        "interval_s": feed.interval_s,
        "enabled": feed.enabled,
        "origin": feed.origin,
        "last_success_at": when(feed.last_success_at),
        "last_polled_at": when(feed.last_polled_at),
        "last_error": feed.last_error,
        "last_error_at": when(feed.last_error_at),
        "consecutive_failures": feed.consecutive_failures,
        "next_due_at": when(feed.next_due_at),
        "items_seen": feed.items_seen,
        "articles": feed.articles,
        "alerts": feed.alerts,
    }
