"""Who gets an alert and when (``db.delivery``), and chats' settings (``db.chats``), on a real
SQLite database: filters, mutes, false positives per story, watchlists, digests, quiet hours."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from db import chats as chats_db
from db import delivery as outbox
from db.alerts import store_alerts
from db.articles import store_article
from db.engine import open_database, session_scope
from db.models import Alert, Chat, ChatMute, Delivery, Subscription, WatchItem
from db.review import mark_alert
from db.stories import new_story


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = open_database(f"sqlite:///{tmp_path / 'outbox.sqlite'}")
    yield engine
    engine.dispose()


def entity(key: str, name: str = "", in_evidence: bool = True) -> dict[str, Any]:
    return {
        "name": name or key,
        "matched": name or key,
        "score": 0.9,
        "source": key.split(":")[0],
        "id": key,
        "key": key,
        "type": "organization",
        "in_evidence": in_evidence,
    }


def alert_data(
    rule: str = "un-dprk-arms",
    severity: str = "high",
    regime: str = "UN-DPRK-1718",
    countries: tuple[str, ...] = ("KP",),
    parties: tuple[str, ...] = ("un:KPe.001",),
    **extra: Any,
) -> dict[str, Any]:
    return {
        "rule": rule,
        "title": rule,
        "severity": severity,
        "score": 0.9,
        "regime": regime,
        "references": [],
        "entities": [entity(k) for k in parties],
        "countries": [{"code": c, "matched": c} for c in countries],
        "evidence": [{"text": "x", "start": 0, "end": 1, "highlights": []}],
        **extra,
    }


def publish(
    session: Session,
    data: dict[str, Any],
    *,
    story: int | None = None,
    now: datetime | None = None,
    url: str = "",
) -> tuple[Alert, list[Delivery]]:
    article, _ = store_article(
        session=session,
        source="t",
        text=f"text {url} {data['rule']} {len(data['entities'])}",
        url=url or None,
        url_key=url or None,
        story_id=story,
    )
    stored = store_alerts(
        session=session, article=article, alerts=[data], story=f"story:{story}" if story else None
    )
    [row] = stored.new_alerts
    return row, outbox.enqueue_alert(session=session, alert=row, now=now)


def recipients(rows: list[Delivery], session: Session) -> set[int]:
    return {session.get(Chat, r.chat_id).tg_chat_id for r in rows}  # type: ignore[union-attr]


def test_filters_decide_the_recipients(engine: Engine) -> None:
    with session_scope(engine) as session:
        chats_db.subscribe(session=session, tg_chat_id=1, by="t")  # medium and up
        chats_db.subscribe(session=session, tg_chat_id=2, by="t", changes={"min_severity": "high"})
        chats_db.subscribe(
            session=session,
            tg_chat_id=3,
            by="t",
            changes={"min_severity": "info", "countries": ["ir"]},
        )
        chats_db.subscribe(
            session=session,
            tg_chat_id=4,
            by="t",
            changes={
                "min_severity": "info",
                "regimes": ["US-Russia"],
                "rules": ["un-dprk-workers"],
            },
        )
        chats_db.subscribe(
            session=session,
            tg_chat_id=5,
            by="t",
            changes={"min_severity": "info", "watchlist_only": True},
        )
        chats_db.add_watch(session=session, tg_chat_id=5, name="KOMID", entity_key="un:KPe.001")
        chats_db.subscribe(session=session, tg_chat_id=6, by="t")
        chats_db.unsubscribe(session=session, tg_chat_id=6, by="t")
        chats_db.subscribe(session=session, tg_chat_id=7, by="t")
        chats_db.mute(session=session, tg_chat_id=7, kind="rule", value="un-dprk-arms")
        chats_db.subscribe(session=session, tg_chat_id=8, by="t")
        chats_db.mute(session=session, tg_chat_id=8, kind="entity", value="un:KPe.001")

        _, rows = publish(session, alert_data())  # high, UN-DPRK, KP, KOMID
        assert recipients(rows, session) == {1, 2, 5}
        _, rows = publish(
            session,
            alert_data(
                rule="un-dprk-workers", severity="medium", parties=(), countries=("KP", "RU")
            ),
        )
        assert recipients(rows, session) == {1, 4, 7, 8}
        _, rows = publish(
            session,
            alert_data(
                rule="iran-oil",
                severity="low",
                regime="US-Iran",
                countries=("IR",),
                parties=("ofac-sdn:9",),
            ),
        )
        assert recipients(rows, session) == {3}
        _, rows = publish(
            session,
            alert_data(rule="wagner-arms", regime="US-Russia", parties=("un:KPe.001", "x:2")),
        )
        assert recipients(rows, session) == {
            1,
            2,
            4,
            5,
            7,
            8,
        }  # 7 muted another rule, 8 one party of two
        assert all(r.status == "pending" and not r.digest for r in rows)


def test_a_false_positive_stops_the_same_party_in_the_same_story_for_that_chat_only(
    engine: Engine,
) -> None:
    with session_scope(engine) as session:
        for chat in (1, 2):
            chats_db.subscribe(
                session=session, tg_chat_id=chat, by="t", changes={"min_severity": "info"}
            )
        story = new_story(session=session, fingerprint=1, title="s").id
        first, _ = publish(session, alert_data(), story=story, url="u1")
        mark_alert(
            session=session,
            alert_id=first.id or 0,
            verdict="false_positive",
            author="ann",
            chat_id=1,
        )
        _, rows = publish(
            session, alert_data(rule="listed-party-mention", severity="low"), story=story, url="u2"
        )
        assert recipients(rows, session) == {2}
        _, rows = publish(
            session,
            alert_data(rule="wagner-arms", parties=("un:KPe.001", "other:1")),
            story=story,
            url="u3",
        )
        assert recipients(rows, session) == {1, 2}  # names another party too
        other = new_story(session=session, fingerprint=2, title="t").id
        _, rows = publish(
            session, alert_data(rule="listed-party-mention", severity="low"), story=other, url="u4"
        )
        assert recipients(rows, session) == {1, 2}  # another story
        # changing one's mind: a later "relevant" mark lifts it
        mark_alert(
            session=session, alert_id=first.id or 0, verdict="relevant", author="ann", chat_id=1
        )
        _, rows = publish(session, alert_data(rule="un-dprk-exports"), story=story, url="u5")
        assert recipients(rows, session) == {1, 2}


def test_watchlist_alerts_go_only_to_the_watchers(engine: Engine) -> None:
    with session_scope(engine) as session:
        chats_db.add_watch(
            session=session, tg_chat_id=1, name="Acme Trading"
        )  # no subscription needed
        chats_db.add_watch(session=session, tg_chat_id=2, name="acme  TRADING")
        chats_db.subscribe(session=session, tg_chat_id=2, by="t", changes={"min_severity": "high"})
        chats_db.add_watch(session=session, tg_chat_id=3, name="Acme Trading")
        chats_db.unsubscribe(session=session, tg_chat_id=3, by="t")
        chats_db.subscribe(session=session, tg_chat_id=4, by="t", changes={"min_severity": "info"})
        watch = alert_data(
            rule="watchlist",
            severity="low",
            regime="watchlist",
            parties=("term:acme trading",),
            watch_key="term:acme trading",
        )
        _, rows = publish(session, watch)
        assert recipients(rows, session) == {1, 2}
        # two watched parties in one story are two alerts
        story = new_story(session=session, fingerprint=1, title="s").id
        chats_db.add_watch(session=session, tg_chat_id=4, name="Beta Shipping")
        a, rows_a = publish(session, watch, story=story, url="w1")
        b, rows_b = publish(
            session,
            alert_data(
                rule="watchlist",
                severity="low",
                regime="watchlist",
                parties=("term:beta shipping",),
                watch_key="term:beta shipping",
            ),
            story=story,
            url="w1",
        )
        assert (
            a.id != b.id
            and recipients(rows_a, session) == {1, 2}
            and recipients(rows_b, session) == {4}
        )


def test_a_watch_alert_is_not_repeated_after_a_rule_alert_naming_the_party(engine: Engine) -> None:
    with session_scope(engine) as session:
        chats_db.subscribe(session=session, tg_chat_id=1, by="t", changes={"min_severity": "info"})
        chats_db.add_watch(session=session, tg_chat_id=1, name="KOMID", entity_key="un:KPe.001")
        chats_db.add_watch(session=session, tg_chat_id=2, name="KOMID", entity_key="un:KPe.001")
        story = new_story(session=session, fingerprint=1, title="s").id
        _, rows = publish(session, alert_data(), story=story)
        assert recipients(rows, session) == {1}
        _, rows = publish(
            session,
            alert_data(
                rule="watchlist", severity="low", regime="watchlist", watch_key="un:KPe.001"
            ),
            story=story,
        )
        assert recipients(rows, session) == {2}


def test_digest_and_quiet_hour_times_in_the_chats_time_zone(engine: Engine) -> None:
    now = datetime(2026, 3, 10, 20, 15, tzinfo=UTC)  # 21:15 in Berlin
    with session_scope(engine) as session:
        chats_db.subscribe(session=session, tg_chat_id=1, by="t", changes={"mode": "hourly"})
        chats_db.subscribe(
            session=session,
            tg_chat_id=2,
            by="t",
            changes={"mode": "daily", "digest_hour": 8, "timezone": "Europe/Berlin"},
        )
        chats_db.subscribe(
            session=session,
            tg_chat_id=3,
            by="t",
            changes={"quiet": (21 * 60, 7 * 60), "timezone": "Europe/Berlin"},
        )
        chats_db.subscribe(
            session=session,
            tg_chat_id=4,
            by="t",
            changes={"mode": "daily", "digest_hour": 23, "quiet": (22 * 60, 6 * 60 + 30)},
        )
        chats_db.subscribe(
            session=session, tg_chat_id=5, by="t", changes={"quiet": (6 * 60, 7 * 60)}
        )
        _, rows = publish(session, alert_data(), now=now)
        due = {session.get(Chat, r.chat_id).tg_chat_id: (r.due_at, r.digest) for r in rows}  # type: ignore[union-attr]
    assert due[1] == (datetime(2026, 3, 10, 21, 0, tzinfo=UTC), True)
    assert due[2] == (datetime(2026, 3, 11, 7, 0, tzinfo=UTC), True)  # 08:00 CET
    assert due[3] == (
        datetime(2026, 3, 11, 6, 0, tzinfo=UTC),
        False,
    )  # quiet until 07:00 CET
    assert due[4] == (
        datetime(2026, 3, 11, 6, 30, tzinfo=UTC),
        True,
    )  # 23:00 is quiet: moved
    assert due[5] == (now, False)


def test_refilter_drops_what_is_no_longer_wanted_and_moves_the_rest(engine: Engine) -> None:
    now = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
    with session_scope(engine) as session:
        chats_db.subscribe(session=session, tg_chat_id=1, by="t", changes={"min_severity": "info"})
        publish(session, alert_data(), now=now, url="1")
        publish(
            session,
            alert_data(rule="wagner-arms", regime="US-Russia", parties=("x:1",)),
            now=now,
            url="2",
        )
        chats_db.mute(session=session, tg_chat_id=1, kind="rule", value="wagner-arms")
        chats_db.update_subscription(
            session=session, tg_chat_id=1, by="t", changes={"mode": "daily"}
        )
        assert outbox.refilter_chat(session=session, tg_chat_id=1, now=now) == (1, 1)
        rows = list(session.execute(select(Delivery).order_by(Delivery.id)).scalars())
        assert [(r.status, r.digest) for r in rows] == [("pending", True), ("dropped", False)]
        assert rows[1].last_error == "rule muted"
        chats_db.unsubscribe(session=session, tg_chat_id=1, by="t")
        assert outbox.refilter_chat(session=session, tg_chat_id=1, now=now) == (1, 0)


def test_settings_are_validated(engine: Engine) -> None:
    with session_scope(engine) as session:
        for changes in (
            {"min_severity": "urgent"},
            {"mode": "weekly"},
            {"timezone": "Nowhere/Here"},
            {"countries": ["KOR"]},
            {"regimes": ["bad regime!"]},
            {"digest_hour": 24},
            {"quiet": (60, 60)},
            {"colour": "red"},
        ):
            with pytest.raises(chats_db.ChatError):
                chats_db.subscribe(session=session, tg_chat_id=1, by="t", changes=changes)
        with pytest.raises(chats_db.ChatError):
            chats_db.add_watch(session=session, tg_chat_id=1, name="x" * 101)
        with pytest.raises(chats_db.ChatError):
            chats_db.add_watch(session=session, tg_chat_id=1, name="!!!")
        for i in range(3):
            chats_db.add_watch(session=session, tg_chat_id=1, name=f"Name {i}", limit=3)
        with pytest.raises(chats_db.ChatError, match="most allowed"):
            chats_db.add_watch(session=session, tg_chat_id=1, name="Name 4", limit=3)


def test_migration_moves_or_merges_a_chat(engine: Engine) -> None:
    with session_scope(engine) as session:
        chats_db.subscribe(
            session=session,
            tg_chat_id=-1,
            by="t",
            changes={"min_severity": "high"},
            chat_type="group",
        )
        chats_db.add_watch(session=session, tg_chat_id=-1, name="Acme")
        chats_db.mute(session=session, tg_chat_id=-1, kind="rule", value="r1")
        _, rows = publish(session, alert_data())
        mark_alert(
            session=session, alert_id=rows[0].alert_id, verdict="relevant", author="a", chat_id=-1
        )
        moved = chats_db.migrate_chat(session=session, old_id=-1, new_id=-1001)
        assert moved is not None and (moved.tg_chat_id, moved.migrated_from, moved.type) == (
            -1001,
            -1,
            "supergroup",
        )
        # merged into a row the supergroup already had
        chats_db.subscribe(session=session, tg_chat_id=-2, by="t", chat_type="group")
        chats_db.add_watch(session=session, tg_chat_id=-2, name="Acme")
        chats_db.add_watch(session=session, tg_chat_id=-2, name="Beta")
        chats_db.ensure_chat(session=session, tg_chat_id=-1002, type="supergroup")
        chats_db.add_watch(session=session, tg_chat_id=-1002, name="Acme")
        merged = chats_db.migrate_chat(session=session, old_id=-2, new_id=-1002)
        assert merged is not None and merged.tg_chat_id == -1002
        assert chats_db.get_chat(session=session, tg_chat_id=-2) is None
        assert sorted(i.name for i in chats_db.list_watch(session=session, tg_chat_id=-1002)) == [
            "Acme",
            "Beta",
        ]
        assert chats_db.chat_settings(session=session, tg_chat_id=-1002).subscribed
        assert session.execute(select(ChatMute.value)).scalars().all() == ["r1"]


def test_forbidden_deactivates_and_drops_the_queue(engine: Engine) -> None:
    with session_scope(engine) as session:
        chats_db.subscribe(session=session, tg_chat_id=1, by="t")
        publish(session, alert_data())
        assert chats_db.deactivate_chat(session=session, tg_chat_id=1, reason="blocked")
        assert session.execute(select(Delivery.status)).scalars().all() == ["dropped"]
        sub = session.execute(select(Subscription)).scalars().one()
        assert not sub.active
        _, rows = publish(session, alert_data(rule="other"))
        assert rows == []
        chat = chats_db.ensure_chat(session=session, tg_chat_id=1)  # writes again: reachable
        assert chat.active and not chats_db.chat_settings(session=session, tg_chat_id=1).subscribed
        assert session.execute(select(WatchItem)).scalars().all() == []
