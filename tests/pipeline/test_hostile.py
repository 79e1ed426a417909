"""Hostile feeds are refused with a clear, recorded reason; nothing else is lost."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import select

from bot.ingest.http import Fetcher
from bot.ingest.urlguard import URLGuard
from bot.pipeline import Pipeline
from bot.scheduler import Scheduler
from db.engine import session_scope
from db.feeds import add_feed, list_feeds
from db.models import Alert
from tests.ingest.servers import big_body, endless_chunked, never_answer, redirect, serve, static
from tests.pipeline.conftest import Collector, loopback_only, policy
from tests.pipeline.test_end_to_end import ARMS, html, rss


def huge_feed(count: int) -> bytes:
    items = "".join(
        f"<item><title>Item {i}</title><guid isPermaLink='false'>g{i}</guid><description>Nothing here {i}</description></item>"
        for i in range(count)
    )
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>Flood</title>{items}</channel></rss>'.encode()


async def test_hostile_feeds_fail_clearly_and_good_ones_still_alert(
    app, collector: Collector, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    # every feed lives on one loopback host here; the real per-host cap (2) would queue them.
    # The server shares this process's GIL with its endless and 50 MB writers, so the good
    # feed's answers can be slow: a generous per-read timeout, the deadline stops the silent one.
    chosen = policy(timeout_s=4.0, deadline_s=10.0, max_per_host=16, max_connections=32)
    guard = URLGuard(allow_private=False, allow_hosts=chosen.allow_hosts, resolver=loopback_only)
    with serve() as server:
        host = "localhost"
        server.route("/news/shells.html", html(ARMS))
        # The good entry also carries its story in the summary: if its page is slow to come on
        # this loaded loopback server, the pipeline's summary fallback must still raise the alert.
        good = rss(server, [("a1", "Shells by rail", "/news/shells.html")]).replace(
            b"<description>Shells by rail</description>",
            b"<description>North Korea shipped artillery shells and rockets to Russia by rail last month.</description>",
        )
        server.route("/good.xml", static(good, {"Content-Type": "application/rss+xml"}))
        server.route("/to-loopback.xml", redirect(server.url("/good.xml", host="127.0.0.1")))
        server.route("/to-metadata.xml", redirect("http://169.254.169.254/latest/meta-data/"))
        server.route("/endless.xml", endless_chunked())
        server.route("/huge.xml", big_body(50 * 1024 * 1024))
        server.route(
            "/page.html",
            static(
                b'<html><head><link rel="alternate" type="application/rss+xml" href="/good.xml"></head><body><p>Hello</p></body></html>',
                {"Content-Type": "text/html"},
            ),
        )
        server.route("/silent.xml", never_answer())
        names = ["good", "to-loopback", "to-metadata", "endless", "huge", "page", "silent"]
        with session_scope(app.engine) as session:
            for name in names:
                suffix = ".html" if name == "page" else ".xml"
                add_feed(
                    session=session, url=server.url(f"/{name}{suffix}", host=host), interval_s=600
                )
        async with Fetcher.create(chosen, guard=guard) as fetcher:
            pipeline = Pipeline(app, fetcher, [collector], fetch_pages=True, max_items=500)
            report = await Scheduler(pipeline, concurrency=8).run_once()

    assert report.polled == len(names)
    good = next(r for r in report.results if r.url.endswith("/good.xml"))
    assert [a["rule"] for a in collector.alerts] == ["un-dprk-arms"], good
    with session_scope(app.engine) as session:
        feeds = {f.url.rsplit("/", 1)[-1].split(".")[0]: f for f in list_feeds(session=session)}
        assert len(list(session.execute(select(Alert)).scalars())) == 1
    assert feeds["good"].consecutive_failures == 0 and feeds["good"].alerts == 1
    assert (
        "127.0.0.1" in feeds["to-loopback"].last_error
        and "loopback" in feeds["to-loopback"].last_error
    )
    assert "169.254.169.254" in feeds["to-metadata"].last_error
    assert (
        feeds["page"].consecutive_failures == 1
        and "not a readable feed" in feeds["page"].last_error
    )
    assert "/good.xml" in feeds["page"].last_error  # the feeds the page links to are suggested
    assert feeds["silent"].consecutive_failures == 1 and "Timeout" in feeds["silent"].last_error
    # an endless or 50 MB response is cut at the byte cap (the prefix is read, never the whole),
    # or, on a loaded machine, stopped by the deadline: either way a clear, recorded outcome
    for name in ("endless", "huge"):
        feed = feeds[name]
        assert feed.consecutive_failures == 0 or any(
            reason in feed.last_error for reason in ("not a readable feed", "deadline", "TooLarge")
        ), feed.last_error
    assert any(
        "response cut at" in r.getMessage() or "deadline" in r.getMessage() for r in caplog.records
    )
    for name in ("to-loopback", "to-metadata", "page", "silent"):
        assert feeds[name].next_due_at > feeds[name].last_polled_at  # backed off, rescheduled


async def test_a_feed_of_10000_entries_is_capped_and_the_rest_reported(
    app, collector: Collector, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    chosen = policy(timeout_s=4.0, deadline_s=10.0)
    guard = URLGuard(allow_private=False, allow_hosts=chosen.allow_hosts, resolver=loopback_only)
    with serve() as server:
        server.route(
            "/flood.xml", static(huge_feed(10_000), {"Content-Type": "application/rss+xml"})
        )
        with session_scope(app.engine) as session:
            add_feed(
                session=session, url=server.url("/flood.xml", host="localhost"), interval_s=600
            )
        async with Fetcher.create(chosen, guard=guard) as fetcher:
            report = await Scheduler(Pipeline(app, fetcher, [collector], max_items=500)).run_once()
    assert report.polled == 1 and report.failed == 0
    with session_scope(app.engine) as session:
        (feed,) = list_feeds(session=session)
    # the newest 500 are read, the rest reported, not silently dropped
    assert feed.items_seen == 500 and feed.articles == 500
    assert any(
        "9500 older entries beyond the 500-entry cap" in r.getMessage() for r in caplog.records
    )
