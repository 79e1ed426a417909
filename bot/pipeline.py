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
* **match and store** through the scan service every door uses (``bot.services.scan``):
  one article per URL identity (tracking parameters, http/https and AMP forms of one URL are
  one article); **one alert per story**: a near-duplicate of a recent article's body (simhash
  candidate, confirmed by shingle overlap; the headline is left out, so a copy under a new
  headline still joins) joins that article's story; alerts are keyed by (story, rule, regime),
  so another outlet's copy adds a *source* to the existing alert instead of a second alert;
* **stored before announced**: article, alerts, sources, the handled entry and (through
  ``hooks``) the Telegram outbox rows are written in one transaction; sinks see an alert
  only after that commit.

CPU-bound work stays off the event loop: a page is extracted, matched and fingerprinted in
one call to an extraction process (``bot.reading``; a thread with ``workers=0``), so this
process only fetches, parses feeds and stores. One writer stores (the story index's lock keeps stories and alert keys consistent):
articles matched while it writes wait for its next transaction together (``bot.batching``), so
a busy cycle commits a few dozen articles at a time instead of one, each article still all or
nothing with its feed entry.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import Engine

from bot.app import App
from bot.batching import Batcher
from bot.ingest.errors import ExtractError, FeedError, HTTPStatusError, IngestError
from bot.ingest.extractor import Extractor
from bot.ingest.feeds import FeedItem, ParsedFeed, parse_feed
from bot.ingest.http import PAGE_ACCEPT, Fetcher
from bot.matching.engine import Matcher
from bot.reading import Read, ReadJob, read_article
from bot.services.scan import (
    AlertHook,
    ArticleText,
    ExtraAlerts,
    FeedEntry,
    Matched,
    Scans,
    Stored,
    match_text,
)
from bot.services.stories import STORY_RELOAD_S, STORY_WINDOW
from bot.sinks import AlertSink, emit_all
from db.engine import session_scope
from db.feeds import PollOutcome, finish_poll, mark_entry, seen_entries
from db.models import Feed
from db.outage import outage_of

log = logging.getLogger(__name__)

__all__ = [
    "STORY_RELOAD_S",
    "STORY_WINDOW",
    "AlertHook",
    "ArticleInput",
    "ExtraAlerts",
    "IngestResult",
    "Pipeline",
    "PollResult",
]

MAX_ITEMS_PER_POLL = 500
# Pages fetched at once. It was 4: against servers 200 ms away that capped a cycle at 20 pages
# a second, half of what two cores extract and match (bench_feeds --latency-ms 200: 18.7
# articles/s, 38.7 with 16). The fetcher's own limits (overall and per host) still apply.
PAGE_CONCURRENCY = 16
FAILING_AFTER = 3  # consecutive failures after which a feed is reported as failing
MATCHER_CHECK_S = 1.0
STORE_LINGER_S = 0.1  # an article waits this long for others to share its transaction

IngestResult = Stored  # what ingesting one article did


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
        self.scans = Scans(app, hooks=hooks, extra_alerts=extra_alerts, announce=True)
        self.stores: Batcher[Matched, Stored] = Batcher(
            self.scans.store,
            linger_s=STORE_LINGER_S,
            retry_alone=lambda error: outage_of(error) is None,
        )
        self.fetch_pages = fetch_pages
        self.max_items = max_items
        self.extractor = extractor or Extractor(workers=0)
        self._page_slots = asyncio.Semaphore(PAGE_CONCURRENCY)
        self._current: Matcher | None = None
        self._current_file: Path | None = None
        self._current_at = float("-inf")

    async def _read(self, article: ArticleInput, matcher: Matcher, file: Path | None) -> Read:
        """Extract (the page, else the given text), match and fingerprint: in an extraction
        process when there are some (``bot.reading``), in a thread with ``workers=0``."""
        job = ReadJob(
            article.source,
            article.text,
            article.title,
            article.url,
            article.html,
            article.charset,
            str(file) if file else None,
            keep_analysis=bool(self.extra_alerts),  # the watchlists read the analysis
            timeout_s=self.extractor.timeout_s,
        )
        if self.extractor.workers <= 0:
            return await asyncio.to_thread(read_article, job, matcher)
        try:
            return await self.extractor.call(read_article, job)
        except ExtractError as error:  # the process died under it: the summary, matched here
            return Read(article.text, article.title, str(error))

    async def _matcher(self) -> tuple[Matcher, Path | None]:
        """The app's current matcher and its file, asked for at most every ``MATCHER_CHECK_S``.

        Asking checks rule files, lists and review changes; once per article is a waste when
        articles arrive by the hundred, once a second still applies a change "at once".
        """
        now = time.monotonic()
        if self._current is None or now - self._current_at >= MATCHER_CHECK_S:
            self._current = await asyncio.to_thread(self.app.matcher)
            self._current_file = await asyncio.to_thread(self.app.matcher_file)
            self._current_at = now
        return self._current, self._current_file

    # --- feeds --------------------------------------------------------------------------------

    async def poll(self, feed: Feed) -> PollResult:
        """Poll one (claimed) feed and record the outcome; never raises for bad input. A
        database outage (``db.outage``) is raised: nothing of the poll is recorded, its new
        entries stay unhandled, and the next poll after the outage reads them again."""
        assert feed.id is not None
        result = PollResult(feed_id=feed.id, url=feed.url, ok=False)
        etag, last_modified, retry_after = await self._fetch_into(feed, result)
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
        updated = await asyncio.to_thread(_finish, self.app.engine, feed.id, outcome)
        if updated is not None and updated.consecutive_failures >= FAILING_AFTER:
            log.error(
                "feed %s has failed %d times in a row (last: %s); next try %s",
                feed.url,
                updated.consecutive_failures,
                result.error,
                updated.next_due_at.isoformat(timespec="seconds"),
            )
        return result

    async def _fetch_into(
        self, feed: Feed, result: PollResult
    ) -> tuple[str | None, str | None, float | None]:
        """Fetch and handle the feed, filling ``result`` (its error too: nothing is raised);
        the validators to send next time and the server's Retry-After, if any."""
        etag = last_modified = None
        try:
            fetched = await self.fetcher.fetch(
                feed.url, etag=feed.etag, last_modified=feed.last_modified
            )
            etag, last_modified = fetched.etag, fetched.last_modified
            if fetched.not_modified:
                result.ok = result.not_modified = True
                log.info("feed %s: not modified", feed.url)
                return etag, last_modified, None
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
            return etag, last_modified, error.retry_after
        except IngestError as error:
            result.error = f"{type(error).__name__}: {error}"
        except Exception as error:  # a bug must not kill the scheduler; report it with the feed
            if outage_of(error) is not None:
                raise  # not the feed's failure: the scheduler waits the outage out (db.outage)
            log.exception("feed %s: unexpected error", feed.url)
            result.error = f"internal error: {type(error).__name__}: {error}"
        return etag, last_modified, None

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
        ids = [item.entry_id for item in parsed.items]
        seen = await asyncio.to_thread(_seen, self.app.engine, feed.id, ids)
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
            await asyncio.to_thread(_mark_skipped, self.app.engine, feed.id, item.entry_id)
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
        matcher, file = await self._matcher()
        read = await self._read(article, matcher, file)
        if read.extract_error:
            log.info("page %s: %s; using the feed summary", article.url, read.extract_error)
        text, title = read.text, read.title
        if not text.strip():
            return IngestResult(article_id=None)
        entry = None if feed_id is None or entry_id is None else FeedEntry(feed_id, entry_id)
        item = ArticleText(
            article.source, text, title, article.url, article.outlet, article.title, entry
        )
        if read.result is None:  # not matched where it was read (no matcher file there)
            keep = bool(self.extra_alerts)
            matched = await asyncio.to_thread(match_text, matcher, item, keep=keep)
        else:
            kept = matcher if read.analysis is not None else None
            matched = Matched(item, read.result, read.fingerprint, read.analysis, kept)
        stored = await self.stores.submit(matched)
        cut = matched.result.get("truncated")
        if cut:
            log.warning(
                "article %s: matched the first %d of %d characters (MATCH_MAX_CHARS)",
                article.url or title,
                cut["matched_chars"],
                cut["total_chars"],
            )
        for alert in stored.new_alerts:
            await emit_all(self.sinks, alert)
        return stored


# The feed bookkeeping: short transactions, run in a worker thread so the event loop goes on
# fetching while the database works (or waits for another writer's lock).
def _seen(engine: Engine, feed_id: int, entry_ids: list[str]) -> set[str]:
    with session_scope(engine) as session:
        return seen_entries(session=session, feed_id=feed_id, entry_ids=entry_ids)


def _finish(engine: Engine, feed_id: int, outcome: PollOutcome) -> Feed | None:
    with session_scope(engine) as session:
        return finish_poll(session=session, feed_id=feed_id, outcome=outcome)


def _mark_skipped(engine: Engine, feed_id: int, entry_id: str) -> None:
    with session_scope(engine) as session:
        mark_entry(session=session, feed_id=feed_id, entry_id=entry_id, article_id=None)
