"""Feed parsing rules: not-a-feed vs ill-formed, identity, links, dates, caps, hostile input."""

from __future__ import annotations

import contextlib
import random
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from bot.ingest.errors import FeedError
from bot.ingest.feeds import discover_feeds, html_to_text, parse_feed
from bot.ingest.http import Fetcher, FetchPolicy
from tests.ingest.servers import LoopbackServer, serve, static

HTML_PAGE = b"""<!DOCTYPE html>
<html><head><title>News</title>
<base href="https://news.example/section/">
<link rel="alternate" type="application/rss+xml" title="RSS" href="/rss.xml">
<link rel="alternate" type="application/atom+xml" href="atom.xml">
<link rel="stylesheet" href="/style.css">
<link rel="alternate" hreflang="fr" href="/fr/">
</head><body><h1>Hello</h1></body></html>"""


def rss(items: str, channel_link: str = "https://site.example/") -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Site</title>'
        f"<link>{channel_link}</link>{items}</channel></rss>"
    ).encode()


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with serve() as running:
        yield running


def test_html_page_is_not_a_feed_and_its_feeds_are_suggested() -> None:
    with pytest.raises(FeedError) as info:
        parse_feed(HTML_PAGE, url="https://news.example/section/page")
    assert info.value.reason == "HTML page, not a feed (found <html>)"
    assert info.value.discovered == (
        "https://news.example/rss.xml",
        "https://news.example/section/atom.xml",
    )


async def test_html_page_served_as_a_feed_over_http(server: LoopbackServer) -> None:
    page = HTML_PAGE.replace(b'<base href="https://news.example/section/">', b"")
    url = server.route("/news/", static(page, {"Content-Type": "text/html; charset=utf-8"}))
    async with Fetcher.create(FetchPolicy(allow_private=True)) as fetcher:
        result = await fetcher.fetch(url)
    with pytest.raises(FeedError, match="HTML page") as info:
        parse_feed(result.content, url=result.final_url, headers=result.headers)
    assert info.value.discovered == (server.url("/rss.xml"), server.url("/news/atom.xml"))


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "empty document"),
        (b"   \n\t ", "empty document"),
        (b'{"version": "https://jsonfeed.org/version/1.1", "items": []}', "JSON document"),
        (b"<!-- nothing -->", "no feed element found"),
        (b"\x00\x01\x02binary\xff\xfe", "no feed element found"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'></svg>", "first element: <svg>"),
    ],
)
def test_not_a_feed_reasons(content: bytes, reason: str) -> None:
    with pytest.raises(FeedError, match=reason):
        parse_feed(content)


def test_ill_formed_but_readable_feed_keeps_entries_and_reports_why() -> None:
    broken = rss("<item><title>Fish & Chips</title><link>https://site.example/a</link></item>")
    feed = parse_feed(broken)
    assert feed.bozo and feed.bozo_reason and "not well-formed" in feed.bozo_reason
    assert [item.title for item in feed.items] == ["Fish & Chips"]


def test_well_formed_feed_is_not_bozo_and_has_metadata() -> None:
    feed = parse_feed(
        rss(
            "<item><guid>id-1</guid><title>A &amp; B</title><link>https://site.example/a</link>"
            "<description>&lt;p&gt;Hello &lt;b&gt;world&lt;/b&gt;&lt;script&gt;x()&lt;/script&gt;"
            "&lt;/p&gt;</description><author>ed@site.example (Ed)</author>"
            "<pubDate>Tue, 03 Jun 2025 14:30:00 +0200</pubDate></item>"
        )
    )
    assert not feed.bozo and feed.bozo_reason is None
    assert (feed.title, feed.link, feed.format) == ("Site", "https://site.example/", "rss20")
    item = feed.items[0]
    assert item.entry_id == "id-1" and item.title == "A & B"
    assert item.summary == "Hello world"
    assert item.published == datetime(2025, 6, 3, 12, 30, tzinfo=UTC)
    assert item.author and "ed@site.example" in item.author


def test_entry_identity_falls_back_to_canonical_link_then_content_hash() -> None:
    feed = parse_feed(
        rss(
            "<item><title>Linked</title>"
            "<link>https://site.example/story/?utm_source=rss#top</link></item>"
            "<item><title>Unlinked</title><description>Body text</description></item>"
        )
    )
    by_title = {item.title: item for item in feed.items}
    assert by_title["Linked"].entry_id == "https://site.example/story"
    assert by_title["Unlinked"].entry_id.startswith("sha256:")
    again = parse_feed(
        rss("<item><title>Unlinked</title><description>Body text</description></item>")
    )
    assert again.items[0].entry_id == by_title["Unlinked"].entry_id


def test_relative_links_resolve_against_xml_base_then_feed_link_then_fetch_url() -> None:
    atom = b"""<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"
        xml:base="https://atom.example/blog/"><title>T</title><id>urn:x</id>
        <entry><id>urn:1</id><title>One</title><link href="posts/1"/></entry></feed>"""
    assert parse_feed(atom).items[0].link == "https://atom.example/blog/posts/1"
    with_channel_link = rss(
        "<item><title>t</title><link>/a/1</link></item>", "https://site.example/"
    )
    assert parse_feed(with_channel_link, url="https://cdn.example/feed").items[0].link == (
        "https://site.example/a/1"
    )
    without = rss("<item><title>t</title><link>a/1</link></item>", "")
    assert parse_feed(without, url="https://cdn.example/feeds/main.xml").items[0].link == (
        "https://cdn.example/feeds/a/1"
    )
    assert parse_feed(without).items[0].link is None  # nothing to resolve against


def test_duplicate_and_empty_entries_are_skipped_and_counted() -> None:
    feed = parse_feed(
        rss(
            "<item><guid>x</guid><title>1</title></item><item><guid>x</guid><title>2</title></item>"
            "<item></item>"
        )
    )
    assert [item.title for item in feed.items] == ["1"]
    assert feed.skipped == 2 and feed.dropped == 0


def _big_feed(count: int) -> bytes:
    start = datetime(2025, 1, 1, tzinfo=UTC)
    order = list(range(count))
    random.Random(3).shuffle(order)  # document order is not date order
    items = "".join(
        f"<item><guid>g{n}</guid><title>Item {n}</title><link>https://big.example/{n}</link>"
        f"<pubDate>{format_datetime(start + timedelta(minutes=n))}</pubDate></item>"
        for n in order
    )
    return rss(items)


async def test_ten_thousand_item_feed_is_capped_newest_first(server: LoopbackServer) -> None:
    big = static(_big_feed(10_000), {"Content-Type": "application/rss+xml"})
    url = server.route("/big.xml", big)
    async with Fetcher.create(FetchPolicy(allow_private=True)) as fetcher:
        result = await fetcher.fetch(url)
    started = time.monotonic()
    feed = parse_feed(result.content, url=url, headers=result.headers)
    assert time.monotonic() - started < 20
    assert len(feed.items) == 500 and feed.dropped == 9_500
    assert feed.items[0].title == "Item 9999" and feed.items[-1].title == "Item 9500"
    smaller = parse_feed(result.content, max_items=10)
    assert len(smaller.items) == 10 and smaller.dropped == 9_990


def test_random_and_mangled_bytes_raise_only_feed_error() -> None:
    rng = random.Random(42)
    seed = _big_feed(5)
    samples = [bytes(rng.randrange(256) for _ in range(rng.randrange(1, 400))) for _ in range(150)]
    for _ in range(150):
        mangled = bytearray(seed)
        for _ in range(rng.randrange(1, 30)):
            mangled[rng.randrange(len(mangled))] = rng.randrange(256)
        samples.append(bytes(mangled[: rng.randrange(1, len(mangled))]))
    samples += [b"<rss>" * 5000, b"<!DOCTYPE x [<!ENTITY a 'aaaa'>]><rss>&a;</rss>", b"/etc/passwd"]
    for sample in samples:
        with contextlib.suppress(FeedError):
            parse_feed(sample)


def test_bytes_that_look_like_a_path_are_not_opened_as_a_file() -> None:
    """feedparser opens a *file name* given as bytes; we hand it a stream instead."""
    with pytest.raises(FeedError):
        parse_feed(b"/etc/hostname")


def test_discover_feeds_and_html_to_text_helpers() -> None:
    script = b"<link rel='alternate' type='application/rss+xml' href='javascript:x'>"
    assert discover_feeds(script) == ()
    protocol_relative = (
        "<link rel='ALTERNATE feed' type='application/atom+xml' href='//cdn.example/a'>"
    )
    assert discover_feeds(protocol_relative, "https://site.example/") == ("https://cdn.example/a",)
    fragment = "<p>One</p><p>Two&nbsp;&amp; three</p><style>p{}</style>"
    assert html_to_text(fragment) == "One Two & three"  # nbsp folds to a space
    assert html_to_text("<![weird[ x") in ("", "x", "<![weird[ x")
