"""A feed's pages are fetched together, within the fetcher's limits."""

from __future__ import annotations

from bot.app import App
from bot.ingest.http import Fetcher
from bot.ingest.urlguard import URLGuard
from bot.pipeline import Pipeline
from bot.scheduler import Scheduler
from db.engine import session_scope
from db.feeds import add_feed
from tests.ingest.servers import serve, slow, static
from tests.pipeline.conftest import loopback_only, policy
from tests.pipeline.test_end_to_end import BENIGN, rss


async def test_a_feed_of_slow_pages_fetches_them_at_once(app: App) -> None:
    """Eight pages a third of a second away: fetched together, the poll takes about a third of
    a second (four at a time, as before, took two rounds)."""
    chosen = policy(max_connections=20, max_per_host=20)
    guard = URLGuard(allow_private=False, allow_hosts=chosen.allow_hosts, resolver=loopback_only)
    with serve() as server:
        items = [(f"p{n}", f"Festival {n}", f"/p{n}.html") for n in range(8)]
        for _, _, path in items:
            server.route(path, slow(BENIGN.replace("harvest", f"harvest {path}").encode(), 0.35))
        server.route(
            "/feed.xml", static(rss(server, items), {"Content-Type": "application/rss+xml"})
        )
        with session_scope(app.engine) as session:
            add_feed(session=session, url=server.url("/feed.xml", host="localhost"), interval_s=600)
        async with Fetcher.create(chosen, guard=guard) as fetcher:
            report = await Scheduler(Pipeline(app, fetcher)).run_once()
        peak = server.stats.peak_in_flight
    assert report.articles == 8 and report.failed == 0
    assert peak == 8
