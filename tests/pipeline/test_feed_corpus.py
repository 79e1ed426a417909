"""Every feed sample of ../shared/data/feeds through the whole pipeline over loopback HTTP.

feedparser's 272 hand-made cases (RSS 0.9x/1.0/2.0, Atom, RDF, bad encodings, ill-formed XML)
and 25 real-world feeds: none may raise, the entries feedparser can read are stored, and a
feed that cannot be read is recorded with its reason.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from sqlalchemy import func, select

from bot.ingest.errors import FeedError
from bot.ingest.feeds import parse_feed
from bot.pipeline import Pipeline
from bot.scheduler import Scheduler
from db.engine import session_scope
from db.feeds import add_feed
from db.models import Feed, FeedEntry
from tests.conftest import require_shared
from tests.ingest.servers import case_headers, serve


def _expected(path: Path, url: str) -> int | None:
    """Entries the parser reads from the file itself (None: not a feed)."""
    data = path.read_bytes()
    try:
        return len(
            {
                item.entry_id
                for item in parse_feed(
                    data, url=url, headers=case_headers(data), max_items=500
                ).items
            }
        )
    except FeedError:
        return None


async def test_every_feed_sample_is_ingested(app, pipeline: Pipeline) -> None:
    root = require_shared("data", "feeds")
    files = sorted(p for p in root.rglob("*") if p.is_file())
    assert len(files) == 297
    pipeline.max_items = 500
    with serve(root) as server:
        urls = {}
        with session_scope(app.engine) as session:
            for path in files:
                url = server.url("/" + str(path.relative_to(root)), host="localhost")
                add_feed(session=session, url=url, interval_s=600)
                urls[url] = path
        report = await Scheduler(pipeline, concurrency=16).run_once()

    assert report.polled == 297
    assert not [r for r in report.results if "internal error" in r.error]
    with session_scope(app.engine) as session:
        stored = dict(
            session.execute(
                select(Feed.url, func.count(FeedEntry.id))
                .join(FeedEntry, FeedEntry.feed_id == Feed.id, isouter=True)
                .group_by(Feed.url)
            ).all()
        )
        feeds = {f.url: f for f in session.execute(select(Feed)).scalars()}
    outcomes = Counter()
    for url, path in urls.items():
        expected = _expected(path, url)
        feed = feeds[url]
        if expected is None:
            assert feed.consecutive_failures == 1 and feed.last_error.startswith(
                "not a readable feed"
            ), (path, feed.last_error)
            outcomes["refused"] += 1
        else:
            assert feed.consecutive_failures == 0, (path, feed.last_error)
            assert stored[url] == expected, (path, stored[url], expected)
            outcomes["with entries" if expected else "empty"] += 1
    assert outcomes["refused"] == 2  # an empty document and an HTML "Document Moved" page
    assert outcomes["with entries"] >= 170
    assert sum(stored.values()) >= 500
