"""Scanning texts and storing what was found: the one path every door takes.

The pipeline (a feed's entries), ``sanctions-bot scan`` (files, URLs, standard input) and the
Telegram ``/scan`` all call ``Scans.scan_and_store``: match each text, then (unless told not to
store, as ``/scan`` is) store it with its alerts, grouped into stories the same way whichever door
it came through:

* **one article per identity**: its URL identity (tracking parameters, http/https and AMP forms of
  one URL are one article; the same text at another URL is another outlet's copy, a source of the
  same story), or for a text without a URL the text itself (a file scanned twice is one article);
* **one alert per story**: a new article joins the recent story its body retells, or starts one
  (``bot.services.stories``); alerts are keyed by (story, rule, regime), so a copy adds a
  *source* to the story's alert instead of a second alert. An article stored before gets the
  alerts it now raises that its story lacks (after a rule change, what is printed is stored);
* **one transaction per batch**: articles, stories, alerts, sources, the handled feed entries and
  what the ``hooks`` write (the Telegram outbox) are committed together, with a few multi-row
  statements (``db.scans.store_scans``) and bulk look-ups for the stories, whether the batch is
  one article (the pipeline) or a hundred (``scan``). Results are handed out only after the
  commit: what is printed or announced is stored.

Many texts are matched in forked worker processes (``bot.scanpool``), which also take each
text's story fingerprint; the storing stays in the calling process, one batch at a time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from bot.app import App
from bot.ingest.urls import url_identity
from bot.matching.engine import Analysis, Matcher
from bot.matching.model import Document
from bot.report import scan_result
from bot.scanpool import scanned
from bot.services.stories import NewText, StoryIndex, fingerprint
from db.alerts import StoredScan, alert_dict, alert_sources
from db.articles import content_hash
from db.engine import session_scope
from db.feeds import mark_entry
from db.models import Alert, Article
from db.scans import Identity, ScannedText, find_articles, scan_identity, store_scans
from db.stories import touch_stories

log = logging.getLogger(__name__)

# Called inside the storing transaction for every new alert (the Telegram outbox uses it).
AlertHook = Callable[[Session, Alert], None]
# Extra alerts for a matched text beyond the rules' (the Telegram watchlists use it).
ExtraAlerts = Callable[[Session, Matcher, Analysis], list[dict[str, Any]]]


@dataclass(frozen=True)
class FeedEntry:
    """The feed entry a text came from, recorded as handled in the same transaction."""

    feed_id: int
    entry_id: str


@dataclass(frozen=True)
class ArticleText:
    """A text to scan: from a feed entry, a page, a file, a URL, standard input or a message.

    ``headline``: another title the text came with (a feed entry's), left out of the story body
    like ``title``. ``url`` gives the article its URL identity.
    """

    source: str
    text: str
    title: str = ""
    url: str | None = None
    outlet: str = ""
    headline: str = ""
    entry: FeedEntry | None = None

    @cached_property
    def content_hash(self) -> str:
        """The text's identity as stored (``db.articles.content_hash``): asked when the texts
        already stored are looked for and again when each batch is stored, made once."""
        return content_hash(self.text)


@dataclass(frozen=True)
class Matched:
    """A text matched: its scan result in the JSON contract (``scan --format json``), its story
    fingerprint when it is to be stored, and the analysis when asked for (matched here)."""

    item: ArticleText
    result: dict[str, Any]
    fingerprint: int | None = None
    analysis: Analysis | None = None
    matcher: Matcher | None = None

    @property
    def alerts(self) -> list[dict[str, Any]]:
        alerts: list[dict[str, Any]] = self.result["alerts"]
        return alerts


@dataclass
class Stored:
    """What storing one text did. ``duplicate``: the article was stored before; ``new_alerts``:
    the alerts it raised first, in the stored shape (``alert_dict``) when the service announces,
    else empty; ``joined_alerts``: ids of existing alerts it is a new source of."""

    article_id: int | None
    duplicate: bool = False
    story_id: int | None = None
    new_alerts: list[dict[str, Any]] = field(default_factory=list)
    joined_alerts: list[int] = field(default_factory=list)


def match_text(
    matcher: Matcher, item: ArticleText, *, fingerprinted: bool = False, keep: bool = False
) -> Matched:
    """Match one text; with ``fingerprinted`` take its story fingerprint, with ``keep`` keep the
    analysis (for watchlists)."""
    analysis = matcher.analyze(Document(item.text, item.title))
    cut = (len(analysis.text), analysis.total_chars) if analysis.cut else None
    result = scan_result(item.source, item.title, matcher.alerts(analysis), cut)
    story = fingerprint(item.text, item.title, item.headline) if fingerprinted else None
    return Matched(item, result, story, analysis if keep else None, matcher if keep else None)


def _match_in_worker(matcher: Matcher, job: tuple[ArticleText, bool]) -> tuple[Any, int | None]:
    """``match_text`` in a forked worker: only the result and fingerprint travel back."""
    item, fingerprinted = job
    matched = match_text(matcher, item, fingerprinted=fingerprinted)
    return matched.result, matched.fingerprint


class Scans:
    """The scan service of one door. ``stories`` is shared by every ``Scans`` of a process
    that stores (one writer at a time keeps the recent stories in memory true); ``hooks`` and
    ``extra_alerts`` run inside the storing transaction; with ``announce`` each new alert is
    returned in the stored shape with its sources (for the sinks)."""

    def __init__(
        self,
        app: App,
        *,
        stories: StoryIndex | None = None,
        hooks: Sequence[AlertHook] = (),
        extra_alerts: Sequence[ExtraAlerts] = (),
        announce: bool = False,
    ) -> None:
        self.app = app
        self.stories = stories or StoryIndex()
        self.hooks = list(hooks)
        self.extra_alerts = list(extra_alerts)
        self.announce = announce

    def scan_and_store(
        self,
        items: Iterable[ArticleText],
        *,
        matcher: Matcher | None = None,
        store: bool = True,
        workers: int = 1,
        batch_size: int = 100,
        keep_analysis: bool = False,
    ) -> Iterator[tuple[Matched, Stored | None]]:
        """Match every text (on ``workers`` processes) and store them ``batch_size`` at a time;
        each (matched, stored) comes out, in input order, once its batch is committed
        (``stored`` is None when not storing)."""
        matcher = matcher or self.app.matcher()
        keep = keep_analysis or (store and bool(self.extra_alerts))
        with self._matching(matcher, items, workers, store, keep) as results:
            batch: list[Matched] = []
            for matched in results:
                if not store:
                    yield matched, None
                    continue
                batch.append(matched)
                if len(batch) >= batch_size:
                    yield from zip(batch, self.store(batch), strict=True)
                    batch = []
            if batch:
                yield from zip(batch, self.store(batch), strict=True)

    @contextmanager
    def _matching(
        self, matcher: Matcher, items: Iterable[ArticleText], workers: int, store: bool, keep: bool
    ) -> Iterator[Iterator[Matched]]:
        """Matched texts in order. Story fingerprints (for new articles only) are taken when
        storing, or by the workers for the texts not stored yet when matching began."""
        if workers <= 1 or keep:
            yield (match_text(matcher, item, keep=keep) for item in items)
            return
        items = list(items)
        stored = self._stored_identities(items) if store else set()
        jobs = ((item, store and _identity(item) not in stored) for item in items)
        with scanned(matcher, jobs, workers, _match_in_worker) as results:
            yield (
                Matched(item, result, story)
                for item, (result, story) in zip(items, results, strict=True)
            )

    def _stored_identities(self, items: Sequence[ArticleText]) -> set[Identity]:
        with session_scope(self.app.engine) as session:
            return set(find_articles(session=session, scans=[_scanned(i, []) for i in items]))

    def store(self, batch: Sequence[Matched]) -> list[Stored]:
        """Store matched texts in one transaction; retried when another process stored the
        same article, story or alert key at the same moment (we then find theirs)."""
        with self.stories.lock:
            for attempt in range(3):
                try:
                    return self._store_once(batch)
                except IntegrityError:
                    if attempt == 2:
                        raise
                    log.info("storing %s raced another writer; retrying", batch[0].item.source)
        raise AssertionError("unreachable")

    def _store_once(self, batch: Sequence[Matched]) -> list[Stored]:
        with session_scope(self.app.engine) as session:
            scans = [_scanned(m.item, self._alerts_of(session, m)) for m in batch]
            known = find_articles(session=session, scans=scans)
            scans = self._with_stories(session, batch, scans, known)
            stored = store_scans(session=session, scans=scans, known=known)
            self._record(session, batch, stored)
            return [self._report(session, result) for result in stored]

    def _alerts_of(self, session: Session, matched: Matched) -> list[dict[str, Any]]:
        """The rules' alerts, then the extra ones (watchlists) for texts matched here."""
        alerts = matched.alerts
        if matched.analysis is not None and matched.matcher is not None:
            for extra in self.extra_alerts:
                alerts = alerts + extra(session, matched.matcher, matched.analysis)
        return alerts

    def _with_stories(
        self,
        session: Session,
        batch: Sequence[Matched],
        scans: list[ScannedText],
        known: dict[Identity, Article],
    ) -> list[ScannedText]:
        """The scans, each first one of an article not stored yet given its story."""
        first: dict[Identity, int] = {}
        for position, scan in enumerate(scans):
            identity = scan_identity(scan)
            if identity not in known:
                first.setdefault(identity, position)
        texts = [_new_text(batch[position]) for position in first.values()]
        story_ids = self.stories.assign(session, texts)
        for position, text, story_id in zip(first.values(), texts, story_ids, strict=True):
            scans[position] = replace(scans[position], story_id=story_id, simhash=text.fingerprint)
        return scans

    def _record(
        self, session: Session, batch: Sequence[Matched], stored: Sequence[StoredScan]
    ) -> None:
        """The handled feed entries, the stories told again, and the hooks of new alerts."""
        for matched, result in zip(batch, stored, strict=True):
            entry = matched.item.entry
            if entry is not None:
                mark_entry(
                    session=session,
                    feed_id=entry.feed_id,
                    entry_id=entry.entry_id,
                    article_id=result.article.id,
                )
            for alert in result.new_alerts:
                for hook in self.hooks:
                    hook(session, alert)
        told = [r.article.story_id or 0 for r in stored if r.created and r.article.story_id]
        touch_stories(session=session, story_ids=told)

    def _report(self, session: Session, result: StoredScan) -> Stored:
        article = result.article
        new = (
            [
                alert_dict(a, article, alert_sources(session=session, alert_id=a.id or 0))
                for a in result.new_alerts
            ]
            if self.announce
            else []
        )
        joined = [a.id or 0 for a in result.joined]
        return Stored(article.id, not result.created, article.story_id, new, joined)


def _scanned(item: ArticleText, alerts: list[dict[str, Any]]) -> ScannedText:
    url_key = url_identity(item.url) if item.url else None
    return ScannedText(
        item.source,
        item.text,
        item.title,
        item.url,
        alerts,
        url_key or None,
        item.outlet,
        digest=item.content_hash,
    )


def _identity(item: ArticleText) -> Identity:
    return scan_identity(_scanned(item, []))


def _new_text(matched: Matched) -> NewText:
    item = matched.item
    story = matched.fingerprint
    if story is None:
        story = fingerprint(item.text, item.title, item.headline)
    return NewText(story, item.text, item.title, item.headline)


def scan_and_store(
    app: App, items: Iterable[ArticleText], **options: Any
) -> Iterator[tuple[Matched, Stored | None]]:
    """``Scans(app).scan_and_store(items, **options)``: a one-off scan (a command, a message),
    with no hooks, no extra alerts and a story index of its own."""
    return Scans(app).scan_and_store(items, **options)
