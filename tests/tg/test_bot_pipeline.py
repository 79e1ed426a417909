"""The whole product in one test: a loopback feed, the real pipeline, the outbox, the bot."""

from __future__ import annotations

import pytest

from bot.ingest.http import Fetcher, FetchPolicy
from bot.pipeline import Pipeline
from bot.scheduler import Scheduler
from bot.watchalerts import watch_alerts_for
from db.delivery import outbox_hook
from db.engine import session_scope
from db.feeds import add_feed
from tests.ingest.servers import serve, static
from tests.pipeline.test_end_to_end import ARMS, BENIGN, COPY, html, rss
from tests.tg.conftest import ANN, BOB, CAROL, World, alert_messages, subscribe

pytestmark = pytest.mark.emulator


async def test_a_feed_article_reaches_subscribed_chats_once_through_the_pipeline(
    world: World,
) -> None:
    with serve() as server:
        server.route("/shells.html", html(ARMS))
        server.route("/festival.html", html(BENIGN))
        server.route("/copy.html", html(COPY))
        items = [
            ("1", "Shells by rail", "/shells.html"),
            ("2", "Festival", "/festival.html"),
            ("3", "Shells again", "/copy.html"),
        ]
        server.route(
            "/feed.xml", static(rss(server, items), {"Content-Type": "application/rss+xml"})
        )
        with session_scope(world.app.engine) as session:
            add_feed(session=session, url=server.url("/feed.xml", host="localhost"), interval_s=600)
        async with world.bot():
            await subscribe(world, ANN["id"], ANN)  # medium and up
            await subscribe(world, BOB["id"], BOB, "country=IR")  # Iran only: not this story
            policy = FetchPolicy(timeout_s=3, deadline_s=6, allow_hosts=frozenset({"localhost"}))
            async with Fetcher.create(policy) as fetcher:
                pipeline = Pipeline(
                    world.app, fetcher, [], hooks=[outbox_hook], extra_alerts=[watch_alerts_for]
                )
                report = await Scheduler(pipeline).run_once()
            assert (report.new_items, report.new_alerts, report.joined_alerts) == (3, 1, 1)
            await world.until(lambda: len(alert_messages(world.emu, ANN["id"])) == 1)
            await world.settle(0.5)
    [message] = alert_messages(world.emu, ANN["id"])
    assert "North Korea" in message["text"] and (
        "HIGH" in message["text"] or "MEDIUM" in message["text"]
    )
    assert alert_messages(world.emu, BOB["id"]) == [] and world.emu.messages(CAROL["id"]) == []
    assert [row.status for row in world.deliveries()] == ["sent"]
    assert world.emu.counters()["errors"] == {}
