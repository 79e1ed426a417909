"""From a feed to stored alerts: fetch -> parse -> fetch pages -> extract -> match -> store -> sinks.

One ``Pipeline`` per process; it owns nothing but references (the app, the one shared
fetcher, the sinks, the hooks), so tests build one around a loopback server and the bot runs
the same code.

What each stage guarantees:

* **fetch**: through the guarded fetcher (address guard on every hop, size and time caps,
  conditional GET with the feed's stored validators: a 304 costs one request and nothing else);
* **parse**: feedparser; an ill-formed feed still yields its readable entries (logged with
  the reason), a non-feed (an HTML page, garbage) is a failure with the reason and, for HTML,
  the feeds the page advertises;
* **new entries only**: an entry already handled for this feed (``feed_entry``) is skipped, so
  a second poll adds nothing even without a 304;
* **one article per URL identity**: tracking parameters, http/https and AMP forms of one URL
  are one article;
* **one alert per story**: a near-duplicate of a recent article's body (simhash candidate,
  confirmed by shingle overlap; the headline is left out, so a copy under a new headline still
  joins) joins that article's story; alerts are keyed by (story, rule, regime), so
  another outlet's copy adds a *source* to the existing alert instead of a second alert;
* **stored before announced**: article, alerts, sources, the handled entry and (through
  ``hooks``) the Telegram outbox rows are written in one transaction; sinks see an alert
  only after that commit.

CPU-bound work (extraction, matching) runs in worker threads so the event loop keeps polling.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from bot.app import App
from bot.ingest.errors import ExtractError, FeedError, HTTPStatusError, IngestError
from bot.ingest.extractor import Extractor
from bot.ingest.feeds import FeedItem, ParsedFeed, parse_feed
from bot.ingest.fingerprint import CANDIDATE_THRESHOLD, hamming, same_story, simhash64, story_body
from bot.ingest.http import PAGE_ACCEPT, Fetcher
from bot.ingest.urls import url_identity
from bot.matching.engine import Analysis, Matcher
from bot.matching.model import Document
from bot.report import alert_to_dict
from bot.sinks import AlertSink, emit_all
from db.alerts import (
    alert_dict,
    alert_sources,
    new_story,
    recent_stories,
    store_alerts,
    store_article,
    story_text,
    touch_story,
)
from db.engine import session_scope
from db.feeds import PollOutcome, finish_poll, mark_entry, seen_entries
from db.models import Alert, Article, Feed, utcnow

log = logging.getLogger(__name__)

STORY_WINDOW = timedelta(days=7)
MAX_ITEMS_PER_POLL = 500
PAGE_CONCURRENCY = 4
FAILING_AFTER = 3  # consecutive failures after which a feed is reported as failing
MATCHER_CHECK_S = 1.0
STORY_RELOAD_S = 60.0

# Called inside the storing transaction for every new alert (the Telegram outbox uses it).
AlertHook = Callable[[Session, Alert], None]
# Extra alerts for an article beyond the rules' (the Telegram watchlists use it).
ExtraAlerts = Callable[[Session, Matcher, Analysis, Article], list[dict[str, Any]]]


@dataclass(frozen=True)
class ArticleInput:
    """An article to ingest, from a feed item, a page, a user or a file."""

    source: str
    text: str
    title: str = ""
    url: str | None = None
    outlet: str = ""
    html: bytes | None = None  # when given, extracted first (falling back to ``text``)
    charset: str | None = None


@dataclass(frozen=True)
class _Scanned:
    """An article matched and ready to store."""

    article: ArticleInput
    text: str
    title: str
    matcher: Matcher
    analysis: Analysis
    alerts: list[dict[str, Any]]


@dataclass
class IngestResult:
    article_id: int | None
    duplicate: bool = False
    story_id: int | None = None
    new_alerts: list[dict[str, Any]] = field(default_factory=list)
    joined_alerts: list[int] = field(default_factory=list)


@dataclass
class PollResult:
    feed_id: int
    url: str
    ok: bool
    not_modified: bool = False
    error: str = ""
    items: int = 0
    new_items: int = 0
    articles: int = 0
    new_alerts: int = 0
    joined_alerts: int = 0
    dropped: int = 0


class Pipeline:
    def __init__(
        self,
        app: App,
        fetcher: Fetcher,
        sinks: Sequence[AlertSink] = (),
        *,
        hooks: Sequence[AlertHook] = (),
        extra_alerts: Sequence[ExtraAlerts] = (),
        fetch_pages: bool = True,
        max_items: int = MAX_ITEMS_PER_POLL,
        extractor: Extractor | None = None,
    ) -> None:
        self.app = app
        self.fetcher = fetcher
        self.sinks = list(sinks)
        self.hooks = list(hooks)
        self.extra_alerts = list(extra_alerts)
        self.fetch_pages = fetch_pages
        self.max_items = max_items
        self.extractor = extractor or Extractor(workers=0)
        self._page_slots = asyncio.Semaphore(PAGE_CONCURRENCY)
        self._store_lock = asyncio.Lock()
        self._current: Matcher | None = None
        self._current_at = float("-inf")
        self._stories: list[tuple[int, int]] = []
        self._stories_at = float("-inf")

    async def _text_of(self, article: ArticleInput) -> tuple[str, str]:
        """The text to match and its title: the extracted page, else the given text."""
        if article.html is not None:
            try:
                extracted = await self.extractor.extract(article.html, article.url, article.charset)
                return extracted.text, extracted.title or article.title
            except ExtractError as error:
                log.info("page %s: %s; using the feed summary", article.url, error)
        return article.text, article.title

    async def _matcher(self) -> Matcher:
        """The app's current matcher, asked for at most every ``MATCHER_CHECK_S`` seconds.

        Asking checks rule files, lists and review changes; once per article is a waste when
        articles arrive by the hundred, once a second still applies a change "at once".
        """
        now = time.monotonic()
        if self._current is None or now - self._current_at >= MATCHER_CHECK_S:
            self._current = await asyncio.to_thread(self.app.matcher)
            self._current_at = now
        return self._current

    # --- feeds --------------------------------------------------------------------------------

    async def poll(self, feed: Feed) -> PollResult:
        """Poll one (claimed) feed and record the outcome; never raises for bad input."""
        assert feed.id is not None
        result = PollResult(feed_id=feed.id, url=feed.url, ok=False)
        retry_after: float | None = None
        etag = last_modified = None
        try:
            fetched = await self.fetcher.fetch(
                feed.url, etag=feed.etag, last_modified=feed.last_modified
            )
            etag, last_modified = fetched.etag, fetched.last_modified
            if fetched.not_modified:
                result.ok = result.not_modified = True
                log.info("feed %s: not modified", feed.url)
            else:
                parsed = parse_feed(
                    fetched.content,
                    url=fetched.final_url,
                    headers=fetched.headers,
                    max_items=self.max_items,
                )
                await self._handle_items(feed, parsed, result)
                result.ok = True
                if fetched.truncated:
                    log.warning(
                        "feed %s: response cut at %d bytes; entries read from the prefix",
                        feed.url,
                        len(fetched.content),
                    )
        except FeedError as error:
            result.error = f"not a readable feed: {error}"
            if error.discovered:
                result.error += f" (the page links to feeds: {', '.join(error.discovered[:3])})"
        except HTTPStatusError as error:
            result.error = f"HTTP {error.status}: {error}"
            retry_after = error.retry_after
        except IngestError as error:
            result.error = f"{type(error).__name__}: {error}"
        except Exception as error:  # a bug must not kill the scheduler; report it with the feed
            log.exception("feed %s: unexpected error", feed.url)
            result.error = f"internal error: {type(error).__name__}: {error}"
        if result.error:
            log.warning("feed %s: poll failed: %s", feed.url, result.error)
        outcome = PollOutcome(
            ok=result.ok,
            error=result.error,
            etag=etag,
            last_modified=last_modified,
            items_seen=result.new_items,
            articles=result.articles,
            alerts=result.new_alerts,
            retry_after_s=retry_after,
        )
        with session_scope(self.app.engine) as session:
            updated = finish_poll(session=session, feed_id=feed.id, outcome=outcome)
        if updated is not None and updated.consecutive_failures >= FAILING_AFTER:
            log.error(
                "feed %s has failed %d times in a row (last: %s); next try %s",
                feed.url,
                updated.consecutive_failures,
                result.error,
                updated.next_due_at.isoformat(timespec="seconds"),
            )
        return result

    async def _handle_items(self, feed: Feed, parsed: ParsedFeed, result: PollResult) -> None:
        assert feed.id is not None
        if parsed.bozo:
            log.info("feed %s: ill-formed but readable (%s)", feed.url, parsed.bozo_reason)
        if parsed.dropped:
            log.warning(
                "feed %s: %d older entries beyond the %d-entry cap were not read",
                feed.url,
                parsed.dropped,
                self.max_items,
            )
            result.dropped = parsed.dropped
        result.items = len(parsed.items)
        with session_scope(self.app.engine) as session:
            seen = seen_entries(
                session=session, feed_id=feed.id, entry_ids=[item.entry_id for item in parsed.items]
            )
        fresh = [item for item in parsed.items if item.entry_id not in seen]
        result.new_items = len(fresh)
        outlet = parsed.title or feed.title
        outcomes = await asyncio.gather(*(self._handle_item(feed, item, outlet) for item in fresh))
        for outcome in outcomes:
            if outcome is None:
                continue
            result.articles += 0 if outcome.duplicate else 1
            result.new_alerts += len(outcome.new_alerts)
            result.joined_alerts += len(outcome.joined_alerts)

    async def _handle_item(self, feed: Feed, item: FeedItem, outlet: str) -> IngestResult | None:
        assert feed.id is not None
        article = await self._article_for(item, outlet)
        if article is None:
            log.info(
                "feed %s: entry %s has no text (no page, no summary); skipped",
                feed.url,
                item.entry_id,
            )
            with session_scope(self.app.engine) as session:
                mark_entry(
                    session=session, feed_id=feed.id, entry_id=item.entry_id, article_id=None
                )
            return None
        return await self.ingest(article, feed_id=feed.id, entry_id=item.entry_id)

    async def _article_for(self, item: FeedItem, outlet: str) -> ArticleInput | None:
        """The item's page, extracted; the feed's summary when the page cannot be had."""
        title = item.title or ""
        if item.link and self.fetch_pages:
            async with self._page_slots:
                try:
                    page = await self.fetcher.fetch(item.link, accept=PAGE_ACCEPT)
                    return ArticleInput(
                        item.link,
                        item.summary,
                        title,
                        page.final_url,
                        outlet,
                        page.content,
                        page.charset,
                    )
                except IngestError as error:
                    log.info("page %s: %s; using the feed summary", item.link, error)
        if not item.summary.strip():
            return None
        return ArticleInput(item.link or item.entry_id, item.summary, title, item.link, outlet)

    # --- articles -----------------------------------------------------------------------------

    async def ingest(
        self, article: ArticleInput, *, feed_id: int | None = None, entry_id: str | None = None
    ) -> IngestResult:
        """Extract, match and store one article; announce its new alerts. Safe to call directly."""
        text, title = await self._text_of(article)
        if not text.strip():
            return IngestResult(article_id=None)
        matcher = await self._matcher()
        document = Document(text, title)
        analysis = await asyncio.to_thread(matcher.analyze, document)
        if analysis.cut:
            log.warning(
                "article %s: matched the first %d of %d characters (MATCH_MAX_CHARS)",
                article.url or title,
                len(analysis.text),
                analysis.total_chars,
            )
        alerts = [alert_to_dict(a) for a in await asyncio.to_thread(matcher.alerts, analysis)]
        scanned = _Scanned(article, text, title, matcher, analysis, alerts)
        async with self._store_lock:  # one writer at a time: stories and alert keys stay consistent
            stored = await asyncio.to_thread(self._store, scanned, feed_id, entry_id)
        for alert in stored.new_alerts:
            await emit_all(self.sinks, alert)
        return stored

    def _store(self, scanned: _Scanned, feed_id: int | None, entry_id: str | None) -> IngestResult:
        for attempt in range(3):
            try:
                return self._store_once(scanned, feed_id, entry_id)
            except IntegrityError:
                # Another process stored the same article or alert key at the same moment:
                # run again and we find theirs.
                if attempt == 2:
                    raise
                log.info("store of %s raced another writer; retrying", scanned.article.source)
        raise AssertionError("unreachable")

    def _store_once(
        self, scanned: _Scanned, feed_id: int | None, entry_id: str | None
    ) -> IngestResult:
        article, text, title, alerts = scanned.article, scanned.text, scanned.title, scanned.alerts
        url_key = url_identity(article.url) if article.url else None
        body = story_body(
            text, title, article.title
        )  # the headline is not part of a story's identity
        fingerprint = simhash64(body)
        with session_scope(self.app.engine) as session:
            story_id = self._story_for(session, fingerprint, body, title)
            row, created = store_article(
                session=session,
                source=article.source,
                text=text,
                title=title,
                url=article.url,
                url_key=url_key,
                outlet=article.outlet,
                story_id=story_id,
                simhash=fingerprint,
                same_text_is_same_article=False,
            )
            if feed_id is not None and entry_id is not None:
                mark_entry(session=session, feed_id=feed_id, entry_id=entry_id, article_id=row.id)
            if not created:
                return IngestResult(article_id=row.id, duplicate=True, story_id=row.story_id)
            for extra in self.extra_alerts:
                alerts = alerts + extra(session, scanned.matcher, scanned.analysis, row)
            scope = f"story:{story_id}"
            stored = store_alerts(session=session, article=row, alerts=alerts, story=scope)
            for alert in stored.new_alerts:
                for hook in self.hooks:
                    hook(session, alert)
            touch_story(session=session, story_id=story_id)
            new = [
                alert_dict(a, row, alert_sources(session=session, alert_id=a.id or 0))
                for a in stored.new_alerts
            ]
            return IngestResult(row.id, False, story_id, new, [a.id or 0 for a in stored.joined])

    def _story_for(self, session: Session, fingerprint: int, body: str, title: str) -> int:
        """The recent story this body (``story_body``: the text without its headline) retells,
        or a new one.

        Fingerprints of the last week's stories are kept in memory and reloaded from the
        database every ``STORY_RELOAD_S`` (other processes add stories too); candidates within
        ``CANDIDATE_THRESHOLD`` bits are confirmed by shingle overlap (``same_story``) with the
        body of the story's first article, recomputed from its stored text and title. Stories
        stored before fingerprints were taken on the body keep a fingerprint of the whole text;
        that is a few bits from the body's, well inside the candidate threshold for all but
        the shortest texts, and such stories leave the window within ``STORY_WINDOW``.
        """
        now = time.monotonic()
        if now - self._stories_at >= STORY_RELOAD_S:
            self._stories = recent_stories(session=session, since=utcnow() - STORY_WINDOW)
            self._stories_at = now
        candidates = sorted(
            (distance, story_id)
            for story_id, other in self._stories
            if (distance := hamming(fingerprint, other)) <= CANDIDATE_THRESHOLD
        )
        for _, story_id in candidates[:5]:
            first_text, first_title = story_text(session=session, story_id=story_id)
            if same_story(body, story_body(first_text, first_title)):
                return story_id
        story = new_story(session=session, fingerprint=fingerprint, title=title)
        assert story.id is not None
        self._stories.append((story.id, fingerprint))
        return story.id
