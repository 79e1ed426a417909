"""Every feed file in ../shared served over real HTTP, fetched and parsed: counts are pinned."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path

import pytest

from bot.ingest.errors import FeedError
from bot.ingest.feeds import ParsedFeed, parse_feed
from bot.ingest.http import Fetcher, FetchPolicy, FetchResult
from tests.conftest import require_shared
from tests.ingest.servers import serve

pytestmark = pytest.mark.shared
TAG = re.compile(r"<(script|style|p|div|a|img|br|span|b|i)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Outcome:
    path: str
    result: FetchResult
    feed: ParsedFeed | None
    error: FeedError | None


@pytest.fixture(scope="module")
def feeds_root() -> Path:
    return require_shared("data", "feeds")


@pytest.fixture(scope="module")
def outcomes(feeds_root: Path) -> Iterator[list[Outcome]]:
    files = sorted(p for p in feeds_root.rglob("*") if p.is_file())
    with serve(feeds_root) as server:
        yield asyncio.run(_fetch_and_parse(server.url, files, feeds_root))


async def _fetch_and_parse(
    url_of: Callable[[str], str], files: list[Path], root: Path
) -> list[Outcome]:
    policy = FetchPolicy(allow_private=True, max_per_host=8, timeout_s=5)
    async with Fetcher.create(policy) as fetcher:
        paths = [str(p.relative_to(root)) for p in files]
        results = await asyncio.gather(*(fetcher.fetch(url_of("/" + p)) for p in paths))
    outcomes = []
    for path, result in zip(paths, results, strict=True):
        try:
            feed = parse_feed(result.content, url=result.final_url, headers=result.headers)
            outcomes.append(Outcome(path, result, feed, None))
        except FeedError as error:  # anything else fails the test
            outcomes.append(Outcome(path, result, None, error))
    return outcomes


def _group(outcomes: list[Outcome], prefix: str) -> list[Outcome]:
    return [o for o in outcomes if o.path.startswith(prefix)]


def test_every_file_is_served_and_fetched(outcomes: list[Outcome]) -> None:
    assert len(outcomes) == 297
    assert all(o.result.status == 200 and not o.result.truncated for o in outcomes)


def test_feedparser_cases_counts(outcomes: list[Outcome]) -> None:
    cases = _group(outcomes, "feedparser_cases/")
    readable = [o.feed for o in cases if o.feed]
    assert len(cases) == 272
    assert len(readable) == 271
    assert sum(1 for f in readable if f.items) == 152
    assert sum(len(f.items) for f in readable) == 154
    assert sum(1 for f in readable if f.bozo) == 22


def test_real_world_feed_counts(outcomes: list[Outcome]) -> None:
    real = _group(outcomes, "real_world_rss_parser/")
    readable = {Path(o.path).name: o.feed for o in real if o.feed}
    assert len(real) == 25 and len(readable) == 24
    assert sum(1 for f in readable.values() if f.items) == 22
    assert sum(len(f.items) for f in readable.values()) == 412
    assert {name for name, f in readable.items() if f.bozo} == {
        "daily_sci_tech_news.xml",
        "rss091.rss",
        "uolNoticias.rss",
    }
    assert len(readable["guardian.rss"].items) == 55
    assert readable["encoding-gb2312.xml"].items[0].title  # GB2312 decoded (expat cannot)
    assert readable["latin2.rss"].encoding == "iso-8859-2"


def test_only_non_feeds_raise_and_they_say_why(outcomes: list[Outcome]) -> None:
    errors = {o.path: o.error.reason for o in outcomes if o.error}
    assert sorted(errors) == [
        "feedparser_cases/illformed/rss_empty_document.xml",
        "real_world_rss_parser/unrecognized.rss",
    ]
    html_page = errors["real_world_rss_parser/unrecognized.rss"]
    assert html_page == "HTML page, not a feed (found <head>)"
    empty = errors["feedparser_cases/illformed/rss_empty_document.xml"]
    assert empty.startswith("no feed element found")


def test_bozo_feeds_carry_a_reason_and_agree_with_feedparsers_expectations(
    outcomes: list[Outcome],
) -> None:
    checked = 0
    for outcome in outcomes:
        if outcome.feed is None:
            continue
        assert outcome.feed.bozo == (outcome.feed.bozo_reason is not None)
        content = outcome.result.content.replace(b"\0", b"")  # UTF-16/32 comments too
        expect = re.search(rb"Expect:\s*(not bozo|bozo)", content)
        if expect:
            checked += 1
            assert outcome.feed.bozo == (expect.group(1) == b"bozo"), outcome.path
    assert checked >= 60


def test_items_are_well_formed(outcomes: list[Outcome]) -> None:
    for outcome in outcomes:
        for item in outcome.feed.items if outcome.feed else ():
            assert item.entry_id
            assert item.link is None or item.link.startswith(("http://", "https://"))
            assert item.published is None or item.published.tzinfo == UTC
            assert "<script" not in item.summary.lower(), outcome.path
            if "/sanitize/" in outcome.path:  # hostile markup: nothing of it may survive
                assert not TAG.search(item.summary), (outcome.path, item.summary)


def test_truncated_prefixes_of_real_feeds_still_parse_or_fail_cleanly(feeds_root: Path) -> None:
    """What the fetcher's byte cap hands over: a prefix. It must be readable or a FeedError."""
    readable_with_items = 0
    total = 0
    for path in sorted((feeds_root / "real_world_rss_parser").iterdir()):
        data = path.read_bytes()
        for fraction in (0.1, 0.5, 0.9):
            total += 1
            try:
                feed = parse_feed(data[: int(len(data) * fraction)])
            except FeedError:
                continue
            readable_with_items += bool(feed.items)
    assert total == 75
    assert readable_with_items >= 50
