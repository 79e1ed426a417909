"""Pages extracted and matched in an extraction process: the same alerts and stories as when
this process matches, the matcher read from the app's file, a dead worker replaced."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import select

from bot import pipeline as pipeline_module
from bot.app import App
from bot.ingest.errors import ExtractError
from bot.ingest.extractor import Extractor
from bot.ingest.http import Fetcher
from bot.matching.engine import Analysis, Matcher
from bot.pipeline import ArticleInput, Pipeline
from bot.reading import ReadJob, read_article
from bot.scheduler import Scheduler
from db.engine import session_scope
from db.feeds import add_feed
from db.models import Alert, Article, FeedEntry
from tests.ingest.servers import serve, static
from tests.pipeline.conftest import Collector
from tests.pipeline.test_end_to_end import ARMS, BENIGN, COPY, html, rss


@pytest.fixture
def extractor() -> Iterator[Extractor]:
    made = Extractor(workers=1)
    yield made
    made.close()


def _no_matching_here(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("matched in the event loop's process")


async def test_a_feed_read_in_a_worker_gives_the_alert_and_the_story(
    app: App, fetcher: Fetcher, extractor: Extractor, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The whole cycle with one extraction process, this process forbidden to match: one
    alert, and a copy at another outlet joins its story (the fingerprint came back too)."""
    monkeypatch.setattr(pipeline_module, "match_text", _no_matching_here)
    collector = Collector()
    pipeline = Pipeline(app, fetcher, [collector], extractor=extractor)
    with serve() as server:
        server.route("/news/shells.html", html(ARMS))
        server.route("/news/festival.html", html(BENIGN))
        server.route("/other/copy.html", html(COPY))
        items = [
            ("a1", "Shells by rail", "/news/shells.html"),
            ("a2", "Harvest festival", "/news/festival.html"),
            ("a3", "North Korean shells moved by rail", "/other/copy.html"),
        ]
        server.route(
            "/feed.xml", static(rss(server, items), {"Content-Type": "application/rss+xml"})
        )
        with session_scope(app.engine) as session:
            add_feed(session=session, url=server.url("/feed.xml", host="localhost"), interval_s=600)
        report = await Scheduler(pipeline).run_once()
    assert (report.failed, report.articles, report.new_alerts, report.joined_alerts) == (0, 3, 1, 1)
    assert [a["rule"] for a in collector.alerts] == ["un-dprk-arms"]
    with session_scope(app.engine) as session:
        assert len(session.execute(select(Alert)).all()) == 1
        assert len(session.execute(select(Article)).all()) == 3
        assert len(session.execute(select(FeedEntry)).all()) == 3


async def test_without_a_matcher_file_this_process_matches(
    fetcher: Fetcher, extractor: Extractor, app: App
) -> None:
    no_cache = App.open(app.settings.model_copy(update={"matcher_cache": False}))
    no_cache.matcher()
    assert no_cache.matcher_file() is None
    stored = await Pipeline(no_cache, fetcher, extractor=extractor).ingest(
        ArticleInput("pasted", "", "Rockets", html=ARMS.encode())
    )
    assert len(stored.new_alerts) == 1


async def test_the_watchlists_get_the_analysis_from_the_worker(
    app: App, fetcher: Fetcher, extractor: Extractor, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pipeline_module, "match_text", _no_matching_here)
    seen: list[tuple[Matcher, Analysis]] = []

    def watch(session: Any, matcher: Matcher, analysis: Analysis) -> list[dict[str, Any]]:
        seen.append((matcher, analysis))
        return []

    pipeline = Pipeline(app, fetcher, extra_alerts=[watch], extractor=extractor)
    await pipeline.ingest(ArticleInput("pasted", "", "Shells", html=ARMS.encode()))
    ((matcher, analysis),) = seen
    assert matcher is app.matcher() and "artillery shells" in analysis.text


def test_read_article_reads_the_matcher_from_its_file_like_the_app_has_it(app: App) -> None:
    """In this process, as a worker would: the same result from the file as from the app's
    matcher; an unreadable file leaves the matching to the caller."""
    matcher = app.matcher()
    file = app.matcher_file()
    assert file is not None
    job = ReadJob("s", "", "Shells", "https://news.example/s", ARMS.encode(), "utf-8", str(file))
    from_file = read_article(job)
    here = read_article(replace(job, matcher_file=None), matcher)
    assert from_file.result == here.result and from_file.fingerprint == here.fingerprint
    assert [a["rule"] for a in here.result["alerts"]] == ["un-dprk-arms"]
    broken = file.with_name("broken.pickle")
    broken.write_bytes(b"not a pickle")
    unread = read_article(replace(job, matcher_file=str(broken)))
    assert unread.result is None and "artillery shells" in unread.text


def test_a_page_without_text_falls_back_to_the_summary_in_the_worker(app: App) -> None:
    job = ReadJob("s", "North Korea shipped rockets to Russia.", "Rockets", html=b"%PDF-1.7")
    read = read_article(job, app.matcher())
    assert read.extract_error and "PDF" in read.extract_error
    assert read.text == job.text and read.result is not None


async def test_a_worker_that_dies_is_replaced(extractor: Extractor) -> None:
    page = b"<html><body><article><p>" + b"A normal article about a port. " * 20 + b"</p></article>"
    assert "normal article" in (await extractor.extract(page)).text
    (first,) = extractor.worker_pids()
    with pytest.raises(ExtractError, match="died"):
        await extractor.call(os._exit, 3)
    assert "normal article" in (await extractor.extract(page)).text
    assert extractor.worker_pids() != [first]
