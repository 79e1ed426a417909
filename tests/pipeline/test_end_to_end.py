"""A loopback site: feed -> pages -> one alert; a second poll adds nothing; a copy joins it."""

from __future__ import annotations

from email.utils import formatdate

from sqlalchemy import select

from bot.pipeline import Pipeline
from bot.scheduler import Scheduler
from db.alerts import alert_sources
from db.engine import session_scope
from db.feeds import add_feed, list_feeds
from db.models import Alert, AlertSource, Article, FeedEntry
from tests.ingest.servers import LoopbackServer, serve, static, with_etag
from tests.pipeline.conftest import Collector

ARMS = (
    "<html><head><title>Shells by rail</title></head><body><nav>Home | World | Sport</nav><article><h1>Shells by rail</h1>"
    "<p>North Korea shipped artillery shells and rockets to Russia by rail last month, officials said on Tuesday.</p>"
    "<p>Satellite images of the border crossing show long trains of covered freight cars moving north at night, "
    "according to researchers who have followed the traffic since the summer.</p>"
    "<p>Any transfer of arms from North Korea is banned by UN Security Council resolutions.</p></article>"
    "<footer>Subscribe to our newsletter</footer></body></html>"
)
COPY = ARMS.replace("officials said on Tuesday", "officials told reporters on Tuesday").replace(
    "Shells by rail", "North Korean shells moved by rail"
)
BENIGN = (
    "<html><head><title>Harvest festival</title></head><body><article><h1>Harvest festival</h1>"
    "<p>The village celebrated its harvest festival with music, dancing and a parade of tractors on Sunday.</p>"
    "<p>Organisers said the crowd was the largest in ten years and the weather held until the evening.</p>"
    "</article></body></html>"
)


def rss(server: LoopbackServer, items: list[tuple[str, str, str]]) -> bytes:
    entries = "".join(
        f"<item><title>{title}</title><link>{server.url(path, host='localhost')}</link><guid>{guid}</guid>"
        f"<pubDate>{formatdate(0, usegmt=True)}</pubDate><description>{title}</description></item>"
        for guid, title, path in items
    )
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>Loopback Wire</title>{entries}</channel></rss>'.encode()


def html(body: str) -> object:
    return static(body.encode(), {"Content-Type": "text/html; charset=utf-8"})


async def test_feed_to_one_alert_then_nothing_then_a_copy_joins(
    app, pipeline: Pipeline, collector: Collector
) -> None:
    with serve() as server:
        server.route("/news/shells.html", html(ARMS))
        server.route("/news/festival.html", html(BENIGN))
        server.route(
            "/feed.xml",
            with_etag(
                rss(
                    server,
                    [
                        ("a1", "Shells by rail", "/news/shells.html"),
                        ("a2", "Harvest festival", "/news/festival.html"),
                    ],
                ),
                '"v1"',
            ),
        )
        with session_scope(app.engine) as session:
            add_feed(session=session, url=server.url("/feed.xml", host="localhost"), interval_s=600)
        scheduler = Scheduler(pipeline)

        first = await scheduler.run_once()
        assert (first.polled, first.failed, first.new_items, first.articles, first.new_alerts) == (
            1,
            0,
            2,
            2,
            1,
        )
        assert [a["rule"] for a in collector.alerts] == ["un-dprk-arms"]
        alert = collector.alerts[0]
        assert alert["severity"] in {"high", "medium"} and alert["id"] and alert["created_at"]
        assert alert["sources"] == [
            {
                "url": server.url("/news/shells.html", host="localhost"),
                "title": "Shells by rail",
                "outlet": "Loopback Wire",
            }
        ]

        second = await scheduler.run_once()
        assert (second.polled, second.not_modified, second.new_items, second.new_alerts) == (
            1,
            1,
            0,
            0,
        )
        assert len(server.requests_to("/news/shells.html")) == 1  # pages are not fetched again
        assert server.requests_to("/feed.xml")[-1].headers.get("If-None-Match") == '"v1"'

        # the same story at another outlet's URL, and the first page again with tracking parameters
        server.route("/other/copy.html", html(COPY))
        server.route(
            "/feed.xml",
            with_etag(
                rss(
                    server,
                    [
                        ("a1", "Shells by rail", "/news/shells.html"),
                        ("a2", "Harvest festival", "/news/festival.html"),
                        ("a3", "North Korean shells moved by rail", "/other/copy.html"),
                        (
                            "a4",
                            "Shells by rail (again)",
                            "/news/shells.html?utm_source=rss&utm_medium=feed",
                        ),
                    ],
                ),
                '"v2"',
            ),
        )
        third = await scheduler.run_once()
        assert (third.new_items, third.new_alerts, third.joined_alerts) == (2, 0, 1)
        assert len(collector.alerts) == 1

    with session_scope(app.engine) as session:
        alerts = list(session.exec(select(Alert)).scalars())  # type: ignore[call-overload]
        assert [a.rule_id for a in alerts] == ["un-dprk-arms"]
        sources = alert_sources(session=session, alert_id=alerts[0].id)
        assert [s.url.rsplit("/", 1)[-1] for s in sources] == ["shells.html", "copy.html"]
        articles = list(session.exec(select(Article)).scalars())  # type: ignore[call-overload]
        assert len(articles) == 3  # the tracking-parameter URL is the same article
        assert len(list(session.exec(select(FeedEntry)).scalars())) == 4  # type: ignore[call-overload]
        (feed,) = list_feeds(session=session)
        assert (
            feed.consecutive_failures == 0
            and feed.last_success_at is not None
            and feed.etag == '"v2"'
        )
        assert feed.items_seen == 4 and feed.articles == 3 and feed.alerts == 1


async def test_ingest_directly_is_idempotent(app, pipeline: Pipeline, collector: Collector) -> None:
    from bot.pipeline import ArticleInput

    article = ArticleInput(
        source="pasted",
        text="North Korea delivered rockets and missiles to Russia last month.",
        title="Rockets",
    )
    first = await pipeline.ingest(article)
    again = await pipeline.ingest(article)
    assert len(first.new_alerts) == 1 and again.duplicate and again.new_alerts == []
    with session_scope(app.engine) as session:
        assert len(list(session.exec(select(AlertSource)).scalars())) == 1  # type: ignore[call-overload]
