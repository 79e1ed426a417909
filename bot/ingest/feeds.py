"""Feed bytes → typed items, with feedparser doing the tolerant parsing.

Three outcomes, because the bot must tell a user different things:

* a readable feed → ``ParsedFeed`` (``bozo=False``);
* an ill-formed but readable feed (bad encoding, broken XML that feedparser's loose parser still
  reads) → ``ParsedFeed`` with ``bozo=True`` and the reason, entries kept;
* not a feed at all (an HTML page, JSON, an empty body, anything without a feed element and
  without entries) → ``FeedError(reason, discovered=...)`` where ``discovered`` lists the feeds
  an HTML page advertises with ``<link rel="alternate">``, so the bot can suggest them.

``parse_feed`` raises nothing but ``FeedError``, whatever the bytes: a hostile feed must cost us
one failed source, never a crashed monitor loop.
"""

from __future__ import annotations

import calendar
import hashlib
import io
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any

import feedparser

from .errors import FeedError
from .urls import canonical_url, resolve_link

__all__ = ["FeedItem", "ParsedFeed", "discover_feeds", "html_to_text", "parse_feed"]

DEFAULT_MAX_ITEMS = 500
FEED_TYPES = frozenset(
    {
        "application/rss+xml",
        "application/atom+xml",
        "application/rdf+xml",
        "application/feed+json",
        "application/json",
        "text/xml",
        "application/xml",
    }
)
_BLOCK_TAGS = frozenset(
    {"p", "br", "div", "li", "ul", "ol", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote"}
)
_SKIP_TAGS = frozenset({"script", "style", "template", "noscript"})
_HTML_TAGS = frozenset({"html", "head", "body", "meta", "title", "div", "script", "link", "p"})
_PREAMBLE = re.compile(rb"(<\?.*?\?>|<!--.*?-->|<!\[CDATA\[.*?\]\]>|\s+)", re.DOTALL)


@dataclass(frozen=True)
class FeedItem:
    """One entry; ``entry_id`` is stable across fetches (guid, else canonical link, else hash)."""

    entry_id: str
    link: str | None
    title: str
    summary: str  # plain text, HTML stripped
    published: datetime | None  # UTC
    author: str | None


@dataclass(frozen=True)
class ParsedFeed:
    """A readable feed. ``dropped``: entries cut by ``max_items``; ``skipped``: empty/duplicates."""

    title: str
    link: str | None
    items: tuple[FeedItem, ...]
    bozo: bool
    bozo_reason: str | None
    format: str  # feedparser's version: rss20, atom10, rss10, rss091u, cdf, ...
    dropped: int = 0
    skipped: int = 0
    encoding: str | None = None


class _TextCollector(HTMLParser):
    """Visible text of an HTML fragment, block elements separated by spaces."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            self._skip += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS and self._skip:
            self._skip -= 1
        elif tag in _BLOCK_TAGS:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def _collapse(text: str) -> str:
    return " ".join(text.split())


def html_to_text(fragment: str | None) -> str:
    """Plain text of an HTML fragment (feed summaries, titles), whitespace collapsed."""
    if not fragment:
        return ""
    if "<" not in fragment and "&" not in fragment:
        return _collapse(fragment)
    collector = _TextCollector()
    try:
        collector.feed(fragment)
        collector.close()
    except AssertionError:  # stdlib HTMLParser asserts on some marked sections: strip tags crudely
        return _collapse(re.sub(r"<[^>]*>", " ", fragment))
    return _collapse("".join(collector.parts))


class _FeedLinkFinder(HTMLParser):
    """Collects ``<link rel=alternate type=feed>`` hrefs and ``<base href>`` of an HTML page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.base: str | None = None
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: (value or "") for name, value in attrs}
        if tag == "base" and values.get("href") and self.base is None:
            self.base = values["href"]
        rels = values.get("rel", "").lower().split()
        kind = values.get("type", "").lower().split(";")[0].strip()
        if tag == "link" and "alternate" in rels and kind in FEED_TYPES and values.get("href"):
            self.hrefs.append(values["href"])


def discover_feeds(html: bytes | str, base_url: str | None = None) -> tuple[str, ...]:
    """Feed URLs an HTML page advertises (absolute, de-duplicated, page order)."""
    text = html.decode("utf-8", "replace") if isinstance(html, bytes) else html
    finder = _FeedLinkFinder()
    try:
        finder.feed(text[:1_000_000])
        finder.close()
    except AssertionError:  # HTMLParser asserts on a broken page, maybe after some links
        pass
    base = resolve_link(base_url, finder.base) or base_url
    found = (resolve_link(base, href) for href in finder.hrefs)
    return tuple(dict.fromkeys(url for url in found if url))


def _first_tag(content: bytes) -> str | None:
    """Name of the first element (after BOM, XML declaration, comments, whitespace)."""
    head = content[:4096]
    boms = ((b"\xef\xbb\xbf", None), (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"))
    for bom, codec in boms:
        if head.startswith(bom):
            head = head[len(bom) :]
            if codec:
                head = head.decode(codec, "replace").encode("utf-8", "replace")
            break
    position = 0
    while match := _PREAMBLE.match(head, position):
        if match.end() == position:
            break
        position = match.end()
    tag = re.match(rb"<\s*(!doctype\s+)?([A-Za-z][\w:.-]*)", head[position:], re.IGNORECASE)
    return tag.group(2).decode("ascii", "replace").lower() if tag else None


def _not_a_feed(content: bytes, parsed: Any, url: str | None) -> FeedError:
    """The most helpful reason for bytes that yielded no feed element and no entries."""
    tag = _first_tag(content)
    stripped = content.lstrip(b"\xef\xbb\xbf \t\r\n")
    if tag is not None and tag.split(":")[-1] in _HTML_TAGS:
        return FeedError(
            f"HTML page, not a feed (found <{tag}>)", discovered=discover_feeds(content, url)
        )
    if stripped[:1] in (b"{", b"["):
        return FeedError("JSON document, not a feed (JSON Feed is not supported)")
    reason = f"no feed element found (first element: <{tag}>)" if tag else "no feed element found"
    if parsed.get("bozo"):
        reason += f"; {_bozo_reason(parsed)}"
    return FeedError(reason)


def _bozo_reason(parsed: Any) -> str:
    exc = parsed.get("bozo_exception")
    return f"{type(exc).__name__}: {exc}" if exc is not None else "ill-formed feed"


def _run_feedparser(content: bytes, headers: Mapping[str, str] | None) -> Any:
    """feedparser on a stream (bytes would be tried as a file name) with only the charset hint.

    Content-Encoding is never passed: the fetcher already decoded the body.
    """
    hints = {}
    for key, value in (headers or {}).items():
        if key.lower() == "content-type" and value:
            hints["content-type"] = value
    try:
        return feedparser.parse(io.BytesIO(content), response_headers=hints)
    except Exception as exc:  # feedparser promises not to raise; we do not rely on it
        raise FeedError(f"feed parser failed: {type(exc).__name__}: {exc}") from exc


def _utc(entry: Mapping[str, Any]) -> datetime | None:
    """First usable date of an entry, as an aware UTC datetime (feedparser gives UTC tuples)."""
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        value = entry.get(key)
        if isinstance(value, time.struct_time):
            try:
                return datetime.fromtimestamp(calendar.timegm(value), tz=UTC)
            except (OverflowError, OSError, ValueError):
                continue
    return None


def _entry_link(entry: Mapping[str, Any], base: str | None) -> str | None:
    link = resolve_link(base, entry.get("link"))
    if link:
        return link
    for candidate in entry.get("links") or ():
        if candidate.get("rel", "alternate") == "alternate":
            link = resolve_link(base, candidate.get("href"))
            if link:
                return link
    return None


def _entry_summary(entry: Mapping[str, Any]) -> str:
    summary = html_to_text(entry.get("summary"))
    if summary:
        return summary
    for content in entry.get("content") or ():
        text = html_to_text(content.get("value"))
        if text:
            return text
    return ""


def _entry_id(entry: Mapping[str, Any], link: str | None, title: str, summary: str) -> str:
    """guid/id, else the canonical link, else a hash of title+summary."""
    guid = str(entry.get("id") or "").strip()
    if guid:
        return guid
    if link:
        return canonical_url(link)
    digest = hashlib.sha256(f"{title}\n{summary}".encode("utf-8", "replace")).hexdigest()
    return f"sha256:{digest[:32]}"


def _to_item(entry: Mapping[str, Any], base: str | None) -> FeedItem | None:
    title = html_to_text(entry.get("title"))
    summary = _entry_summary(entry)
    link = _entry_link(entry, base)
    if not (title or summary or link):
        return None
    author = html_to_text(entry.get("author")) or None
    entry_id = _entry_id(entry, link, title, summary)
    return FeedItem(entry_id, link, title, summary, _utc(entry), author)


def _newest_first(entries: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Dated entries newest first; undated ones after them in document order (stable sort)."""
    floor = datetime.min.replace(tzinfo=UTC)
    return sorted(entries, key=lambda e: _utc(e) or floor, reverse=True)


def _select(
    entries: list[Mapping[str, Any]], base: str | None, max_items: int
) -> tuple[list[FeedItem], int, int]:
    """Build at most ``max_items`` unique items, newest first; count dropped and skipped."""
    items: list[FeedItem] = []
    seen: set[str] = set()
    skipped = 0
    ordered = _newest_first(entries)
    for index, entry in enumerate(ordered):
        if len(items) >= max_items:
            return items, len(ordered) - index, skipped
        item = _to_item(entry, base)
        if item is None or item.entry_id in seen:
            skipped += 1
            continue
        seen.add(item.entry_id)
        items.append(item)
    return items, 0, skipped


def parse_feed(
    content: bytes,
    *,
    url: str | None = None,
    headers: Mapping[str, str] | None = None,
    max_items: int = DEFAULT_MAX_ITEMS,
) -> ParsedFeed:
    """Parse feed bytes fetched from ``url`` (``headers``: the response's, for the charset).

    Relative links resolve against xml:base (feedparser), then the feed's own link, then ``url``.
    Raises ``FeedError`` only.
    """
    if not content or not content.strip():
        raise FeedError("empty document")
    parsed = _run_feedparser(content, headers)
    try:
        return _build(parsed, content, url, max_items)
    except FeedError:
        raise
    except Exception as exc:  # defensive: odd feedparser values must not crash the monitor
        raise FeedError(f"unreadable feed: {type(exc).__name__}: {exc}") from exc


def _build(parsed: Any, content: bytes, url: str | None, max_items: int) -> ParsedFeed:
    version = str(parsed.get("version") or "")
    entries = list(parsed.get("entries") or [])
    if not version and not entries:
        raise _not_a_feed(content, parsed, url)
    feed = parsed.get("feed") or {}
    feed_link = resolve_link(url, feed.get("link"))
    items, dropped, skipped = _select(entries, feed_link or url, max_items)
    bozo = bool(parsed.get("bozo"))
    return ParsedFeed(
        title=html_to_text(feed.get("title")),
        link=feed_link,
        items=tuple(items),
        bozo=bozo,
        bozo_reason=_bozo_reason(parsed) if bozo else None,
        format=version or "unknown",
        dropped=dropped,
        skipped=skipped,
        encoding=parsed.get("encoding") or None,
    )
