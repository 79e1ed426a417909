"""Articles and alerts on SQLite and PostgreSQL, with alert dicts made by the real engine."""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.engine import Engine

from bot.matching.engine import Matcher
from bot.matching.model import Document
from bot.report import scan_result
from bot.rulefiles import load_rules
from db.alerts import alert_dict, recent_alerts, store_alerts
from db.articles import content_hash, store_article
from db.engine import open_database, session_scope
from db.models import Alert, AlertEntity, Article
from tests.pg import db_url, pg_server, pg_url  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]
WAGNER = "Last month North Korea delivered infantry rockets and missiles into Russia for use by the Wagner Group."
PLUS_0545 = timezone(timedelta(hours=5, minutes=45))


@pytest.fixture(scope="module")
def scanned() -> list[dict[str, Any]]:
    """The real alerts for WAGNER (two rules, one party), in the scan JSON shape."""
    matcher = Matcher(load_rules(ROOT / "rules"))
    alerts = scan_result("test", "Wagner", matcher.scan(Document(WAGNER, "Wagner")))["alerts"]
    assert {(a["rule"], a["regime"]) for a in alerts} == {
        ("un-dprk-arms", "UN-DPRK-1718"),
        ("wagner-arms", "US-Russia"),
    }
    assert all(a["entities"] for a in alerts)
    return alerts  # type: ignore[no-any-return]


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:  # noqa: F811
    engine = open_database(db_url)
    yield engine
    engine.dispose()


def count(engine: Engine, column: Any) -> int:
    with session_scope(engine) as session:
        return int(session.execute(select(func.count(column))).scalar_one())


def is_utc(value: datetime) -> bool:
    return value.tzinfo is not None and value.utcoffset() == timedelta(0)


def new_article(engine: Engine, text_: str, **kwargs: Any) -> Article:
    with session_scope(engine) as session:
        article, created = store_article(
            session=session,
            source=kwargs.pop("source", "https://example.org/a"),
            text=text_,
            **kwargs,
        )
        assert created
        return article


# -- articles ---------------------------------------------------------------------------------


def test_store_article_dedups_by_url_key(engine: Engine) -> None:
    with session_scope(engine) as session:
        first, created = store_article(
            session=session,
            source="https://example.org/a?utm=1",
            url="https://example.org/a?utm=1",
            url_key="example.org/a",
            text="First version.",
            title="A",
            outlet="Example",
        )
    assert created and first.id is not None
    with session_scope(engine) as session:
        again, created = store_article(
            session=session,
            source="https://example.org/a",
            url_key="example.org/a",
            text="Edited later, different text.",
        )
    assert (again.id, created) == (first.id, False)
    assert again.text == "First version." and again.title == "A"
    with session_scope(engine) as session:
        other, created = store_article(
            session=session,
            source="https://example.org/b",
            url_key="example.org/b",
            text="Another story.",
        )
    assert created and other.id != first.id
    assert count(engine, Article.id) == 2


def test_store_article_dedups_by_content_ignoring_whitespace(engine: Engine) -> None:
    with session_scope(engine) as session:
        first, created = store_article(
            session=session,
            source="feed-1",
            url_key="one.example/x",
            text="North Korea  shipped\n\tcoal to   China.\n",
        )
    assert created
    with session_scope(engine) as session:
        same, created = store_article(
            session=session,
            source="feed-2",
            url_key="two.example/y",
            text=" North Korea shipped coal to China.",
        )
    assert (same.id, created) == (first.id, False)
    with session_scope(engine) as session:
        different, created = store_article(
            session=session, source="feed-3", text="North Korea shipped coal to Vietnam."
        )
    assert created and different.id != first.id
    assert count(engine, Article.id) == 2
    assert (
        first.content_hash
        == content_hash("North Korea shipped coal to China.")
        != different.content_hash
    )


# -- alerts -----------------------------------------------------------------------------------


def test_store_alerts_once_per_scope_rule_and_regime(
    engine: Engine, scanned: list[dict[str, Any]]
) -> None:
    article = new_article(engine, WAGNER)
    with session_scope(engine) as session:
        first = store_alerts(session=session, article=article, alerts=scanned)
    assert len(first.new_alerts) == len(first.alerts) == 2
    ids = [a.id for a in first.alerts]
    assert all(ids)
    with session_scope(engine) as session:
        second = store_alerts(session=session, article=article, alerts=scanned)
    assert second.new_alerts == []
    assert [a.id for a in second.alerts] == ids
    assert count(engine, Alert.id) == 2
    assert count(engine, AlertEntity.id) == sum(len(a["entities"]) for a in scanned)

    with session_scope(engine) as session:
        rows = session.execute(
            select(Alert.rule_id, Alert.regime, Alert.dedup_key, Alert.article_id).order_by(
                Alert.rule_id
            )
        ).all()
        parties = session.execute(
            select(
                AlertEntity.alert_id,
                AlertEntity.entity_key,
                AlertEntity.caption,
                AlertEntity.matched,
                AlertEntity.score,
            )
        ).all()
    assert rows == [
        (
            "un-dprk-arms",
            "UN-DPRK-1718",
            f"article:{article.id}|un-dprk-arms|UN-DPRK-1718",
            article.id,
        ),
        ("wagner-arms", "US-Russia", f"article:{article.id}|wagner-arms|US-Russia", article.id),
    ]
    expected = {
        (alert.id, e["key"], e["name"], e["matched"], e["score"])
        for alert, data in zip(first.alerts, scanned, strict=True)
        for e in data["entities"]
    }
    assert set(parties) == expected
    assert {p[1:4] for p in parties} == {
        ("rules:russia-wagner/wagner-group", "Wagner Group", "Wagner Group")
    }


def test_store_alerts_scopes(engine: Engine, scanned: list[dict[str, Any]]) -> None:
    """Without a story each article has its own alerts; articles of one story share them."""
    one = new_article(engine, WAGNER, source="one")
    two = new_article(engine, WAGNER + " Officials denied it.", source="two")
    three = new_article(engine, WAGNER + " Moscow did not comment.", source="three")
    with session_scope(engine) as session:
        assert len(store_alerts(session=session, article=one, alerts=scanned).new_alerts) == 2
        assert len(store_alerts(session=session, article=two, alerts=scanned).new_alerts) == 2
    with session_scope(engine) as session:
        told = store_alerts(session=session, article=three, alerts=scanned, story="story:7")
        retold = store_alerts(session=session, article=one, alerts=scanned, story="story:7")
    assert len(told.new_alerts) == 2 and retold.new_alerts == []
    assert {a.article_id for a in retold.alerts} == {three.id}
    assert count(engine, Alert.id) == 6


def test_alert_dict(engine: Engine, scanned: list[dict[str, Any]]) -> None:
    article = new_article(
        engine,
        WAGNER,
        source="https://example.org/wagner",
        url="https://example.org/wagner",
        title="Rockets for Wagner",
        outlet="Example News",
    )
    with session_scope(engine) as session:
        stored = store_alerts(session=session, article=article, alerts=copy.deepcopy(scanned))
    with session_scope(engine) as session:
        history = recent_alerts(session=session)
    assert len(history) == 2
    by_rule = {alert.rule_id: alert_dict(alert, art) for alert, art in history}
    for data in scanned:
        result = by_rule[data["rule"]]
        assert set(result) == set(data) | {"id", "created_at", "sources", "found_by"}
        assert result["found_by"] == "scan"  # not a list update's re-screen
        assert {
            k: v for k, v in result.items() if k in data
        } == data  # everything survives the JSON columns
        assert result["id"] in {a.id for a in stored.alerts}
        created = datetime.fromisoformat(result["created_at"])
        assert is_utc(created) and result["created_at"].endswith("+00:00")
        assert abs(datetime.now(UTC) - created) < timedelta(minutes=5)
        assert result["sources"] == [
            {
                "url": "https://example.org/wagner",
                "title": "Rockets for Wagner",
                "outlet": "Example News",
            }
        ]


def test_alert_dict_source_falls_back_to_what_was_scanned(
    engine: Engine, scanned: list[dict[str, Any]]
) -> None:
    article = new_article(engine, WAGNER, source="/tmp/pasted.txt")
    with session_scope(engine) as session:
        alert = store_alerts(session=session, article=article, alerts=scanned[:1]).alerts[0]
    assert alert_dict(alert, article)["sources"] == [
        {"url": "/tmp/pasted.txt", "title": "", "outlet": ""}
    ]


def test_recent_alerts_newest_first_and_since(
    engine: Engine, scanned: list[dict[str, Any]]
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    ages = {"old": timedelta(days=3), "middle": timedelta(hours=2), "new": timedelta(minutes=5)}
    created: dict[str, list[int]] = {}
    for label, age in ages.items():
        article = new_article(engine, f"{label}: {WAGNER}", source=label)
        with session_scope(engine) as session:
            alerts = store_alerts(session=session, article=article, alerts=scanned).alerts
            created[label] = [a.id for a in alerts]  # type: ignore[misc]
            session.execute(
                update(Alert).where(Alert.article_id == article.id).values(created_at=now - age)
            )

    with session_scope(engine) as session:
        everything = recent_alerts(session=session)
        since_3h = recent_alerts(session=session, since=now - timedelta(hours=3))
        # the same instant written in another time zone selects the same alerts
        since_3h_local = recent_alerts(
            session=session, since=(now - timedelta(hours=3)).astimezone(PLUS_0545)
        )
        since_1h = recent_alerts(session=session, since=now - timedelta(hours=1))
        limited = recent_alerts(session=session, limit=3)
        future = recent_alerts(session=session, since=now + timedelta(minutes=1))

    assert [art.source for _, art in everything] == ["new", "new", "middle", "middle", "old", "old"]
    stamps = [alert.created_at for alert, _ in everything]
    assert stamps == sorted(stamps, reverse=True)
    assert all(is_utc(s) for s in stamps)
    assert stamps[0] == now - ages["new"] and stamps[-1] == now - ages["old"]
    # equal times: newest id first
    assert [alert.id for alert, _ in everything[:2]] == sorted(created["new"], reverse=True)
    assert [art.source for _, art in since_3h] == ["new", "new", "middle", "middle"]
    assert [alert.id for alert, _ in since_3h_local] == [alert.id for alert, _ in since_3h]
    assert [art.source for _, art in since_1h] == ["new", "new"]
    assert [alert.id for alert, _ in limited] == [alert.id for alert, _ in everything[:3]]
    assert future == []


# -- timestamps -------------------------------------------------------------------------------


def test_timestamps_come_back_aware_utc(engine: Engine, scanned: list[dict[str, Any]]) -> None:
    published = datetime(2024, 3, 1, 12, 0, tzinfo=PLUS_0545)  # 06:15 UTC
    before = datetime.now(UTC)
    article = new_article(engine, WAGNER, published_at=published)
    with session_scope(engine) as session:
        store_alerts(session=session, article=article, alerts=scanned)
    after = datetime.now(UTC)

    with session_scope(engine) as session:  # a new session: values come from the database
        loaded = session.execute(select(Article)).scalars().one()
        alerts = session.execute(select(Alert)).scalars().all()
        stored_published = session.execute(text("SELECT published_at FROM article")).scalar_one()
    assert is_utc(loaded.published_at)  # type: ignore[arg-type]
    assert loaded.published_at == published
    assert (loaded.published_at.hour, loaded.published_at.minute) == (6, 15)  # type: ignore[union-attr]
    assert is_utc(loaded.fetched_at) and before <= loaded.fetched_at <= after
    assert len(alerts) == 2
    for alert in alerts:
        assert is_utc(alert.created_at) and before <= alert.created_at <= after
    # the stored value is the right instant, not the wall-clock digits of another zone
    if engine.dialect.name == "sqlite":
        assert str(stored_published).startswith("2024-03-01 06:15:00")
    else:
        assert stored_published == published


def test_naive_datetimes_are_taken_as_utc(engine: Engine) -> None:
    article = new_article(engine, "naive", published_at=datetime(2024, 3, 1, 12, 0))
    with session_scope(engine) as session:
        loaded = session.get(Article, article.id)
        assert loaded is not None
        assert loaded.published_at == datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


# -- concurrency (SQLite) ---------------------------------------------------------------------


@pytest.mark.parametrize("engines", ["one engine", "two engines"])
def test_sqlite_concurrent_writers(
    tmp_path: Path, scanned: list[dict[str, Any]], engines: str
) -> None:
    """Two threads storing alerts at the same time both succeed: WAL and the busy timeout make
    the second writer wait instead of failing with "database is locked"."""
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    first = open_database(url)
    shared = [first, first if engines == "one engine" else open_database(url)]
    with first.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
        assert connection.execute(text("PRAGMA busy_timeout")).scalar_one() >= 5000
    rounds = 15
    start = threading.Barrier(2)
    errors: list[BaseException] = []
    overlaps = [0]

    def writer(worker: int) -> None:
        try:
            start.wait(timeout=10)
            for i in range(rounds):
                with session_scope(shared[worker]) as session:
                    article, created = store_article(
                        session=session, source=f"w{worker}", text=f"{worker}-{i} {WAGNER}"
                    )
                    assert created
                    store_alerts(session=session, article=article, alerts=scanned)
                    time.sleep(0.005)  # hold the write lock so the other thread has to wait
                    overlaps[0] += 1
        except BaseException as exc:  # noqa: BLE001  (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in (0, 1)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    elapsed = time.perf_counter() - began
    try:
        assert errors == []
        assert not any(t.is_alive() for t in threads)
        assert overlaps[0] == 2 * rounds
        assert count(first, Article.id) == 2 * rounds
        assert count(first, Alert.id) == 2 * rounds * len(scanned)
        assert count(first, AlertEntity.id) == 2 * rounds * sum(len(a["entities"]) for a in scanned)
        assert elapsed < 30
    finally:
        for engine in {id(e): e for e in shared}.values():
            engine.dispose()
