"""``sanctions-bot status``: figures read back from what a real watch cycle and the outbox wrote,
on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
import os
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import select
from typer.testing import CliRunner

from bot.cli import app
from db.chats import subscribe
from db.delivery import enqueue_alert
from db.engine import make_engine, session_scope
from db.models import Alert, Chat, Delivery, Feed, FeedEntry, utcnow
from db.sending import claim, mark_failed, mark_sent
from db.status import percentile
from tests.conftest import ROOT
from tests.ingest.servers import serve, static
from tests.pg import db_url, pg_server, pg_url  # noqa: F401
from tests.pipeline.test_end_to_end import ARMS, BENIGN, html, rss

runner = CliRunner()


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, db_url: str) -> Path:  # noqa: F811
    """SQLite, then PostgreSQL: the figures are aggregate queries both must answer alike."""
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("RULES_DIR", str(ROOT / "rules"))
    monkeypatch.setenv("ALLOW_PRIVATE_URLS", "true")  # the loopback test server
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    monkeypatch.delenv("FEEDS_FILE", raising=False)
    return tmp_path


def _status() -> dict[str, object]:
    done = runner.invoke(app, ["status", "--format", "json"])
    assert done.exit_code == 0, done.output
    figures: dict[str, object] = json.loads(done.stdout)
    return figures


def test_a_fresh_database_reports_nothing_to_do(env: Path) -> None:
    figures = _status()
    assert figures["feeds"] == 0 and figures["ingest_lag_s"] is None
    assert figures["deliveries"] == {
        "pending": 0,
        "sending": 0,
        "sent": 0,
        "failed": 0,
        "dropped": 0,
    }
    assert figures["latency_p50_s"] is None and figures["latency_sample"] == 0
    text = runner.invoke(app, ["status"]).stdout
    assert "feeds: 0 enabled" in text and "no message sent in the last day" in text


def test_status_after_a_watch_cycle_and_deliveries(env: Path) -> None:
    with serve() as server:
        server.route("/a.html", html(ARMS))
        server.route("/b.html", html(BENIGN))
        feed = rss(server, [("1", "Shells", "/a.html"), ("2", "Festival", "/b.html")])
        server.route("/feed.xml", static(feed, {"Content-Type": "application/rss+xml"}))
        server.route("/down.xml", static(b"not a feed", {"Content-Type": "text/html"}))
        for path in ("/feed.xml", "/down.xml"):
            url = server.url(path, host="localhost")
            assert runner.invoke(app, ["feeds", "add", url]).exit_code == 0
        assert runner.invoke(app, ["run", "--once"]).exit_code == 0

    engine = make_engine(os.environ["DATABASE_URL"])
    now = utcnow()
    with session_scope(engine) as session:
        for tg_chat_id in (101, 102, 103):
            subscribe(session=session, tg_chat_id=tg_chat_id, by="test")
        (alert,) = [a for a in session.exec(select(Alert)) if a.severity in ("high", "medium")]
        rows = enqueue_alert(session=session, alert=alert, now=now)
        assert len(rows) == 3
        seen = session.exec(
            select(FeedEntry.seen_at).where(FeedEntry.article_id == alert.article_id)
        ).one()
        ids = [r.id for r in rows if r.id is not None]
        # one message 30 s after the entry was seen, one 90 s after; the third gave up
        for delivery_id, delay, message_id in ((ids[0], 30, 1), (ids[1], 90, 2)):
            claim(session=session, delivery_ids=[delivery_id], probe_after=None)
            delivery = session.get(Delivery, delivery_id)
            chat = session.get(Chat, delivery.chat_id) if delivery else None
            assert chat is not None
            mark_sent(
                session=session,
                delivery_ids=[delivery_id],
                tg_chat_id=chat.tg_chat_id,
                message_id=message_id,
                now=seen + timedelta(seconds=delay),
            )
        mark_failed(session=session, delivery_ids=[ids[2]], error="chat not found")
        overdue = session.exec(select(Feed).where(Feed.url.endswith("/feed.xml"))).one()
        overdue.next_due_at = now - timedelta(minutes=5)
        session.add(overdue)
    engine.dispose()

    figures = _status()
    assert figures["feeds"] == 2
    assert figures["feeds_failing"] == 1  # the page that is not a feed
    assert figures["feeds_due"] == 1
    lag = figures["ingest_lag_s"]
    assert isinstance(lag, float) and 295 <= lag <= 400
    assert figures["last_poll_at"] is not None
    assert figures["deliveries"] == {
        "pending": 0,
        "sending": 0,
        "sent": 2,
        "failed": 1,
        "dropped": 0,
    }
    assert figures["alerts_last_hour"] == figures["alerts_last_day"] == 1
    assert figures["latency_sample"] == 2
    assert figures["latency_p50_s"] == pytest.approx(30, abs=0.01)
    assert figures["latency_p95_s"] == pytest.approx(90, abs=0.01)
    text = runner.invoke(app, ["status"]).stdout
    assert "2 enabled, 1 due, 1 failing" in text
    assert "2 sent, 1 failed" in text and "p50 30.0 s, p95 90.0 s (2 messages)" in text


@pytest.mark.parametrize(
    ("values", "share", "expected"),
    [
        ([], 0.5, None),
        ([1.0], 0.95, 1.0),
        ([1.0, 2.0], 0.5, 1.0),
        ([float(i) for i in range(1, 101)], 0.95, 95.0),
    ],
)
def test_percentile_is_the_nearest_rank(
    values: list[float], share: float, expected: float | None
) -> None:
    assert percentile(values, share) == expected
