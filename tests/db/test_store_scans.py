"""``store_scans`` (many scanned texts per transaction) stores what ``store_article`` then
``store_alerts`` store for each text in turn: the same rows, ids included, and the same reports."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from bot.matching.engine import Matcher
from bot.matching.model import Document
from bot.report import scan_result
from bot.rulefiles import load_rules
from db.alerts import StoredScan, store_alerts
from db.articles import store_article
from db.engine import open_database, session_scope
from db.models import Alert, AlertEntity, AlertSource, Article
from db.scans import ScannedText, store_scans
from tests.pg import db_url, pg_server, pg_url  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]
WAGNER = "Last month North Korea delivered infantry rockets and missiles into Russia for use by the Wagner Group."
COAL = "A North Korean vessel delivered coal to a port in China in a ship-to-ship transfer, breaching the sanctions."


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    return Matcher(load_rules(ROOT / "rules"))


def scanned_text(matcher: Matcher, source: str, text: str) -> ScannedText:
    title = text.split(".")[0][:40]
    alerts = scan_result(source, title, matcher.scan(Document(text, title)))["alerts"]
    return ScannedText(source, text, title, None, alerts)


def inputs(matcher: Matcher) -> list[ScannedText]:
    """Texts with and without alerts, one stored before (by a feed, at a URL), one twice."""
    return [
        scanned_text(matcher, "a.txt", WAGNER),
        scanned_text(matcher, "b.txt", "The weather in Pyongyang was mild."),
        scanned_text(matcher, "c.txt", COAL),
        scanned_text(
            matcher, "a-again.txt", " " + WAGNER.replace(" ", "  ")
        ),  # the same text, spaced out
        scanned_text(matcher, "d.txt", f"{COAL} Officials said so on Monday."),
        scanned_text(matcher, "fed.txt", f"{WAGNER} A feed had it first."),
    ]


def prepare(engine: Engine, matcher: Matcher) -> None:
    """A feed article (URL identity) with the last text, and the first text with its alerts."""
    with session_scope(engine) as session:
        store_article(
            session=session,
            source="https://feed.example/x",
            url="https://feed.example/x",
            url_key="feed.example/x",
            text=f"{WAGNER} A feed had it first.",
        )
        first = inputs(matcher)[2]
        article, _ = store_article(
            session=session, source=first.source, text=first.text, title=first.title
        )
        store_alerts(session=session, article=article, alerts=first.alerts)


def one_by_one(engine: Engine, scans: Sequence[ScannedText]) -> list[StoredScan]:
    results = []
    for scan in scans:
        with session_scope(engine) as session:
            article, _ = store_article(
                session=session, source=scan.source, text=scan.text, title=scan.title, url=scan.url
            )
            results.append(store_alerts(session=session, article=article, alerts=scan.alerts))
    return results


def batched(engine: Engine, scans: Sequence[ScannedText]) -> list[StoredScan]:
    with session_scope(engine) as session:
        return store_scans(session=session, scans=scans)


def summary(results: list[StoredScan]) -> list[tuple[Any, ...]]:
    return [
        (
            r.article.id,
            r.article.source,
            [a.id for a in r.alerts],
            [a.id for a in r.new_alerts],
            [a.id for a in r.joined],
        )
        for r in results
    ]


def snapshot(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    with session_scope(engine) as session:

        def rows(*columns: Any) -> list[tuple[Any, ...]]:
            return [
                tuple(row) for row in session.execute(select(*columns).order_by(columns[0])).all()
            ]

        return {
            "articles": rows(
                Article.id,
                Article.source,
                Article.url,
                Article.url_key,
                Article.content_hash,
                Article.title,
                Article.text,
            ),
            "alerts": rows(
                Alert.id,
                Alert.article_id,
                Alert.dedup_key,
                Alert.rule_id,
                Alert.regime,
                Alert.severity,
                Alert.score,
                Alert.title,
                Alert.entities,
                Alert.countries,
                Alert.terms,
                Alert.evidence,
                Alert.explanation,
                Alert.references,
            ),
            "parties": sorted(
                rows(
                    AlertEntity.alert_id,
                    AlertEntity.entity_key,
                    AlertEntity.caption,
                    AlertEntity.matched,
                    AlertEntity.score,
                )
            ),
            "sources": rows(AlertSource.id, AlertSource.alert_id, AlertSource.article_id),
        }


def test_batched_and_one_by_one_store_the_same(tmp_path: Path, matcher: Matcher) -> None:
    engines = [open_database(f"sqlite:///{tmp_path / name}") for name in ("one.db", "batch.db")]
    try:
        for engine in engines:
            prepare(engine, matcher)
        scans = inputs(matcher)
        assert sum(len(s.alerts) for s in scans) >= 6
        expected, got = summary(one_by_one(engines[0], scans)), summary(batched(engines[1], scans))
        assert got == expected
        assert snapshot(engines[1]) == snapshot(engines[0])
        # again: nothing new, the same rows reported
        again_expected, again = (
            summary(one_by_one(engines[0], scans)),
            summary(batched(engines[1], scans)),
        )
        assert again == again_expected
        assert all(not new and not joined for *_, new, joined in again)
        assert snapshot(engines[1]) == snapshot(engines[0])
    finally:
        for engine in engines:
            engine.dispose()


def test_store_scans_on_each_backend(db_url: str, matcher: Matcher) -> None:  # noqa: F811
    """Each text once (the feed's copy is that text's article), each (article, rule, regime) once."""
    engine = open_database(db_url)
    try:
        prepare(engine, matcher)
        before = snapshot(engine)
        scans = inputs(matcher)
        results = batched(engine, scans)
        after = snapshot(engine)
        assert results[0].article.id == results[3].article.id  # the same text twice in one batch
        assert results[5].article.url_key == "feed.example/x"  # stored before by a feed
        assert results[2].new_alerts == [] and results[2].alerts  # stored before with its alerts
        assert [len(r.new_alerts) for r in results] == [
            len(scans[0].alerts),
            0,
            0,
            0,
            len(scans[4].alerts),
            len(scans[5].alerts),
        ]
        assert len(after["articles"]) == len(before["articles"]) + 3  # a, b, d
        new_alerts = len(scans[0].alerts) + len(scans[4].alerts) + len(scans[5].alerts)
        assert len(after["alerts"]) == len(before["alerts"]) + new_alerts
        assert len(after["sources"]) == len(after["alerts"])  # each alert's one article
        assert batched(engine, scans) and snapshot(engine) == after
    finally:
        engine.dispose()


def test_batches_stored_together_in_opposite_orders(db_url: str) -> None:  # noqa: F811
    """Two batches of the same texts, one reversed, stored at the same moment: neither fails (on
    PostgreSQL, without taking turns, they wait for each other's uncommitted rows: a deadlock), and
    each text is stored once."""
    engine = open_database(db_url)
    try:
        texts = [
            ScannedText(f"{n}.txt", f"Text number {n}, with nothing to report.")
            for n in range(3000)
        ]
        barrier = threading.Barrier(2)
        failures: list[BaseException] = []

        def store(scans: list[ScannedText]) -> None:
            try:
                with session_scope(engine) as session:
                    barrier.wait(timeout=30)
                    store_scans(session=session, scans=scans)
            except BaseException as error:  # noqa: BLE001 (reported by the test below)
                failures.append(error)

        threads = [threading.Thread(target=store, args=(order,)) for order in (texts, texts[::-1])]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert failures == []
        with session_scope(engine) as session:
            assert session.execute(select(func.count(Article.id))).scalar_one() == len(texts)
    finally:
        engine.dispose()
