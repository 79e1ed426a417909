"""Scheduling: no feed polled twice at once, state survives a restart, Ctrl-C is clean."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from itertools import pairwise

from sqlalchemy import update

from bot import scheduler
from bot.pipeline import Pipeline
from bot.scheduler import Scheduler
from db.engine import session_scope
from db.feeds import add_feed, list_feeds
from db.models import Feed, utcnow
from tests.ingest.servers import serve, slow, static
from tests.pipeline.test_end_to_end import ARMS, html, rss


async def test_two_schedulers_never_poll_a_feed_twice(app, pipeline: Pipeline) -> None:
    with serve() as server:
        body = rss(server, [])
        with session_scope(app.engine) as session:
            for n in range(12):
                server.route(f"/f{n}.xml", slow(body, 0.2))
                add_feed(
                    session=session, url=server.url(f"/f{n}.xml", host="localhost"), interval_s=600
                )
        first, second = await asyncio.gather(
            Scheduler(pipeline, concurrency=4).run_once(),
            Scheduler(pipeline, concurrency=4).run_once(),
        )
        counts = [len(server.requests_to(f"/f{n}.xml")) for n in range(12)]
    assert counts == [1] * 12
    assert first.polled + second.polled == 12 and first.polled > 0 and second.polled > 0


async def test_run_polls_due_feeds_resumes_after_restart_and_stops_cleanly(
    app, pipeline: Pipeline, collector
) -> None:
    with serve() as server:
        server.route("/news/shells.html", html(ARMS))
        server.route(
            "/feed.xml",
            static(
                rss(server, [("a1", "Shells", "/news/shells.html")]),
                {"Content-Type": "application/rss+xml"},
            ),
        )
        with session_scope(app.engine) as session:
            add_feed(session=session, url=server.url("/feed.xml", host="localhost"), interval_s=600)

        stop = asyncio.Event()
        asyncio.get_running_loop().call_later(1.5, stop.set)
        report = await Scheduler(pipeline).run(stop)
        assert report.polled == 1 and report.new_alerts == 1
        with session_scope(app.engine) as session:
            (feed,) = list_feeds(session=session)
        assert feed.claimed_until is None
        assert (
            timedelta(seconds=530) < feed.next_due_at - feed.last_polled_at < timedelta(seconds=670)
        )  # 600s +-10%

        # a "restart": a new scheduler sees the stored schedule and polls nothing before it is due
        stop = asyncio.Event()
        asyncio.get_running_loop().call_later(1.0, stop.set)
        assert (await Scheduler(pipeline).run(stop)).polled == 0
        with session_scope(app.engine) as session:
            session.execute(update(Feed).values(next_due_at=utcnow() - timedelta(seconds=1)))
        stop = asyncio.Event()
        asyncio.get_running_loop().call_later(1.5, stop.set)
        again = await Scheduler(pipeline).run(stop)
        assert again.polled == 1 and again.new_items == 0 and again.new_alerts == 0
        assert len(server.requests_to("/feed.xml")) == 2
    assert len(collector.alerts) == 1


async def test_stop_cancels_polls_in_flight_and_releases_their_leases(
    app, pipeline: Pipeline
) -> None:
    with serve() as server:
        server.route("/slow.xml", slow(rss(server, []), 30))
        with session_scope(app.engine) as session:
            add_feed(session=session, url=server.url("/slow.xml", host="localhost"), interval_s=600)
        stop = asyncio.Event()
        asyncio.get_running_loop().call_later(0.5, stop.set)
        started = asyncio.get_running_loop().time()
        await Scheduler(pipeline, grace_s=0.2).run(stop)
        assert asyncio.get_running_loop().time() - started < 3
    with session_scope(app.engine) as session:
        (feed,) = list_feeds(session=session)
    assert feed.claimed_until is None and feed.last_polled_at is None  # nothing half-recorded


async def test_a_long_poll_keeps_its_lease_and_a_dead_workers_lease_runs_out(
    app, pipeline: Pipeline, monkeypatch
) -> None:
    """Leases are short and renewed while a poll runs: a slow feed is not taken by another
    worker meanwhile, and a feed claimed by a worker that died comes free after ``LEASE_S``."""
    monkeypatch.setattr(scheduler, "LEASE_S", 1.0)
    monkeypatch.setattr(scheduler, "RENEW_S", 0.2)
    with serve() as server:
        server.route("/slow.xml", slow(rss(server, []), 1.6))  # under the read timeout
        server.route("/orphan.xml", static(rss(server, [])))
        with session_scope(app.engine) as session:
            add_feed(session=session, url=server.url("/slow.xml", host="localhost"), interval_s=600)
            orphan = add_feed(
                session=session, url=server.url("/orphan.xml", host="localhost"), interval_s=600
            )
            # claimed by a worker that was killed: its lease is never renewed
            orphan.claimed_until = utcnow() + timedelta(seconds=1)
        first, second = await asyncio.gather(
            Scheduler(pipeline).run_once(),
            _later(1.2, Scheduler(pipeline).run_once()),  # the slow poll's first lease is over
        )
        slow_polls = [r.started for r in server.requests_to("/slow.xml")]
        assert len(server.requests_to("/orphan.xml")) == 1  # taken over once it ran out
    # renewed: the second worker never polled it while the first did (it may poll it after)
    assert all(b - a >= 1.5 for a, b in pairwise(slow_polls))
    assert first.polled >= 1 and second.polled >= 1


async def _later(seconds: float, step):
    await asyncio.sleep(seconds)
    return await step


async def test_a_slow_feed_holds_up_one_place_not_the_feeds_claimed_with_it(
    app, pipeline: Pipeline
) -> None:
    """``run_once`` keeps ``concurrency`` polls going: while one feed takes a second and a half, the
    other place polls every other feed (claimed together, they used to wait for it). The slow
    answer stays under the test fetcher's two-second read timeout."""
    with serve() as server:
        server.route("/slow.xml", slow(rss(server, []), 1.5))
        with session_scope(app.engine) as session:
            add_feed(session=session, url=server.url("/slow.xml", host="localhost"), interval_s=600)
            for n in range(6):
                server.route(f"/f{n}.xml", slow(rss(server, []), 0.05))
                add_feed(
                    session=session, url=server.url(f"/f{n}.xml", host="localhost"), interval_s=600
                )
        started = asyncio.get_running_loop().time()
        report = await Scheduler(pipeline, concurrency=2).run_once()
        took = asyncio.get_running_loop().time() - started
    assert report.polled == 7 and report.failed == 0
    assert report.results[-1].url.endswith("/slow.xml")  # every other feed finished first
    assert took < 3.0


async def test_a_cycle_cut_short_gives_its_leases_back(app, pipeline: Pipeline) -> None:
    with serve() as server:
        with session_scope(app.engine) as session:
            for n in range(4):
                server.route(f"/f{n}.xml", slow(rss(server, []), 30))
                add_feed(
                    session=session, url=server.url(f"/f{n}.xml", host="localhost"), interval_s=600
                )
        cycle = asyncio.ensure_future(Scheduler(pipeline, concurrency=2, grace_s=0.1).run_once())
        await asyncio.sleep(0.5)
        assert len(server.stats.requests) == 2  # two polls in flight, two feeds not claimed
        cycle.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await cycle
    with session_scope(app.engine) as session:
        feeds = list_feeds(session=session)
    assert [f.claimed_until for f in feeds] == [None] * 4
    assert [f.last_polled_at for f in feeds] == [None] * 4
