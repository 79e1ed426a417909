"""Review buttons, history with paging and search, /alert in full, /export, /stats."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from db.alerts import add_source
from db.articles import store_article
from db.models import Alert, ChatMute, Delivery, ReviewMark
from tests.tg.conftest import (
    ANN,
    BOB,
    GROUP,
    KOMID,
    WAGNER_DPRK,
    World,
    alert_id_of,
    alert_messages,
    subscribe,
)

pytestmark = pytest.mark.emulator

KOMID_MENTION = "KOMID officials attended a trade fair in Pyongyang, North Korea."
MORE = [
    "The Wagner Group mercenaries were seen in Mali.",
    "Iran shipped drones to Russia last month, officials said.",
    "North Korea sent workers to Russia to work on construction sites.",
    "The North Korean tanker did a ship-to-ship transfer of refined petroleum at sea.",
]


async def test_false_positive_is_stored_shown_and_stops_repeats_of_the_story_in_that_chat(
    world: World,
) -> None:
    story = world.new_story("KOMID payments")
    async with world.bot():
        await subscribe(world, ANN["id"], ANN, "info")
        await subscribe(world, BOB["id"], BOB, "info")
        [first] = world.publish(KOMID, url="https://a.example/1", story=story)
        await world.until(
            lambda: alert_messages(world.emu, ANN["id"]) and alert_messages(world.emu, BOB["id"])
        )
        [message] = alert_messages(world.emu, ANN["id"])
        answer = await world.press(ANN["id"], ANN, message, f"rv:f:{first}")
        assert answer is not None and answer["text"].startswith("Marked false positive")
        await world.settle()
        [edited] = alert_messages(world.emu, ANN["id"])
        assert edited["reply_markup"]["inline_keyboard"][0] == [
            {"text": "🚫 False positive · Ann", "callback_data": f"rv:f:{first}"}
        ]

        # another outlet, same story, another rule, the same party only: not again for Ann
        [second] = world.publish(KOMID_MENTION, url="https://b.example/2", story=story)
        await world.until(lambda: len(alert_messages(world.emu, BOB["id"])) == 2)
        # the same party in another story is news again
        [third] = world.publish(
            KOMID_MENTION, url="https://c.example/3", story=world.new_story("other")
        )
        await world.until(lambda: len(alert_messages(world.emu, ANN["id"])) == 2)
        [history] = await world.command(ANN["id"], ANN, "/history")
        await world.settle()
    assert [alert_id_of(m) for m in alert_messages(world.emu, ANN["id"])] == [first, third]
    assert [alert_id_of(m) for m in alert_messages(world.emu, BOB["id"])] == [first, second, third]
    assert second not in {r.alert_id for r in world.deliveries(ANN["id"])}
    [mark] = world.call(lambda session: list(session.execute(select(ReviewMark)).scalars()))
    assert (mark.alert_id, mark.verdict, mark.chat_id, mark.author) == (
        first,
        "false_positive",
        ANN["id"],
        "Ann (@ann, 42)",
    )
    assert abs((datetime.now(UTC) - mark.created_at).total_seconds()) < 60
    assert (
        f"#{first}" in history["text"] and "🚫 false positive by Ann (@ann, 42)" in history["text"]
    )


async def test_relevant_and_mute_buttons(world: World) -> None:
    world.emu.set_admins(GROUP["id"], [BOB])
    async with world.bot():
        await subscribe(world, GROUP, BOB, "info")
        [alert_id] = world.publish(MORE[0], url="https://a.example/w")  # wagner-operations
        [message] = await world.until(lambda: alert_messages(world.emu, GROUP["id"]))
        refused = await world.press(GROUP["id"], ANN, message, f"mu:r:{alert_id}")  # not an admin
        assert refused is not None and "administrators" in refused["text"]
        ok = await world.press(GROUP["id"], BOB, message, f"rv:r:{alert_id}")
        assert ok is not None and ok["text"] == "Marked relevant. Thank you."
        muted = await world.press(GROUP["id"], BOB, message, f"mu:e:{alert_id}")
        assert muted is not None and muted["text"].startswith("Muted Wagner Group")
        # a client may send any callback data: another chat's alert is refused
        world.emu.send_update(
            {
                "callback_query": {
                    "id": "forged-1",
                    "from": BOB,
                    "message": message,
                    "chat_instance": "1",
                    "data": "rv:f:999",
                }
            }
        )
        await world.settle()
        # Wagner again, in another article: muted here
        world.publish(
            "Wagner Group fighters were seen near Bamako, Mali.", url="https://a.example/w2"
        )
        world.publish(MORE[1], url="https://a.example/iran")  # not muted
        await world.until(lambda: len(alert_messages(world.emu, GROUP["id"])) == 2)
        await world.settle()
    texts = [m["text"] for m in alert_messages(world.emu, GROUP["id"])]
    assert ("Wagner" in texts[0] and "Iranian" in texts[1]) or "Iran" in texts[1]
    mutes = world.call(
        lambda session: [
            (m.kind, m.value, m.created_by) for m in session.execute(select(ChatMute)).scalars()
        ]
    )
    assert mutes == [("entity", "rules:russia-wagner/wagner-group", "Bob (@bob, 43)")]
    marks = world.call(
        lambda session: [
            (m.alert_id, m.verdict) for m in session.execute(select(ReviewMark)).scalars()
        ]
    )
    assert marks == [(alert_id, "relevant")]  # the forged press stored nothing


async def test_history_pages_search_and_filters(world: World) -> None:
    async with world.bot():
        await subscribe(world, ANN["id"], ANN, "info")
        ids = [
            i
            for index, text in enumerate([WAGNER_DPRK, KOMID, *MORE])
            for i in world.publish(text, url=f"https://h.example/{index}", outlet="Hist & Co")
        ]
        # how many alerts, and how high, is the scorer's call: the test follows what was stored
        count = len(ids)
        assert 6 <= count <= 10
        await world.until(lambda: len(alert_messages(world.emu, ANN["id"])) == count, 15)
        old = [i for i in ids if i <= 2]
        # make the Wagner/North Korea article old
        world.call(
            lambda session: session.execute(
                update(Alert)
                .where(Alert.id <= 2)
                .values(created_at=datetime.now(UTC) - timedelta(days=10))
            )
        )
        highs = world.call(
            lambda session: len(
                session.execute(select(Alert.id).where(Alert.severity == "high")).all()
            )
        )
        [page1] = await world.command(ANN["id"], ANN, "/history")
        assert f"{count} alerts, page 1/2" in page1["text"]
        nav = page1["reply_markup"]["inline_keyboard"][-1]
        assert [b["text"] for b in nav] == ["Older ›"]
        await world.press(ANN["id"], ANN, page1, nav[0]["callback_data"])
        await world.settle()
        page2 = next(
            m for m in world.emu.messages(ANN["id"]) if m["message_id"] == page1["message_id"]
        )
        assert "page 2/2" in page2["text"] and [
            b["text"] for b in page2["reply_markup"]["inline_keyboard"][-1]
        ] == ["‹ Newer"]
        assert f"#{ids[0]} " in page2["text"] and f"#{ids[-1]} " in page1["text"]  # newest first

        [komid] = await world.command(ANN["id"], ANN, "/history komid")
        [high] = await world.command(ANN["id"], ANN, "/history --severity high")
        [recent] = await world.command(ANN["id"], ANN, "/history --since 7d")
        [iran] = await world.command(ANN["id"], ANN, "/history Iran")  # a country, by name
        [rule] = await world.command(ANN["id"], ANN, "/history un-dprk-workers")
        [text] = await world.command(ANN["id"], ANN, "/history construction sites")  # evidence text
        [none] = await world.command(ANN["id"], ANN, "/history zzz --since 1d")
        [bad] = await world.command(ANN["id"], ANN, "/history --since yesterday")
    assert (
        "1 alert," in komid["text"]
        and "Korea Mining Development Trading Corporation" in komid["text"]
    )
    assert highs >= 1 and f"{highs} alert" in high["text"] and "MEDIUM" not in high["text"]
    assert f"{count - len(old)} alerts" in recent["text"] and "since 7d" in recent["text"]
    assert "Iran" in iran["text"] and "1 alert," in iran["text"]
    assert "1 alert," in rule["text"] and "1 alert," in text["text"]
    assert "No alerts yet." in none["text"]
    assert "Usage: /history" in bad["text"]
    assert world.emu.counters()["errors"] == {}


async def test_alert_in_full_and_only_for_its_chats(world: World) -> None:
    async with world.bot():
        await subscribe(world, ANN["id"], ANN, "info")
        [alert_id] = world.publish(
            KOMID, title="KOMID paid", url="https://a.example/k", outlet="First & Co"
        )

        def second_source(session):  # type: ignore[no-untyped-def]
            article, _ = store_article(
                session=session,
                source="https://b.example/k",
                url="https://b.example/k",
                url_key="https://b.example/k",
                text=KOMID + " More.",
                title="Copy <2>",
                outlet="Second",
            )
            add_source(session=session, alert_id=alert_id, article_id=article.id or 0)

        def delivered(session):  # type: ignore[no-untyped-def]
            statuses = select(Delivery.status).where(Delivery.alert_id == alert_id)
            return list(session.execute(statuses).scalars()) == ["sent"]

        world.call(second_source)
        await world.until(lambda: alert_messages(world.emu, ANN["id"]))
        # the message reaches the emulator a moment before the outbox row says "sent"
        await world.until(lambda: world.call(delivered))
        full = await world.command(ANN["id"], ANN, f"/alert {alert_id}")
        [missing] = await world.command(BOB["id"], BOB, f"/alert {alert_id}")
        [usage] = await world.command(ANN["id"], ANN, "/alert twelve")
    text = "\n".join(m["text"] for m in full)
    for expected in (
        "KOMID",
        "First & Co",
        "Second",
        "Copy <2>",
        "Evidence 1",
        "Evidence 2",
        "similarity",
        "coverage",
        "Rule un-dprk-designated-dealing",
        "UNSCR",
        "Why",
        "In this chat: sent",
    ):
        assert expected in text, expected
    assert f"No alert #{alert_id} in this chat's history" in missing["text"]
    assert "Usage: /alert ID" in usage["text"]


async def test_export_sends_the_history_as_csv_and_json(world: World) -> None:
    async with world.bot():
        await subscribe(world, ANN["id"], ANN, "info")
        ids = world.publish(
            WAGNER_DPRK, url="https://e.example/1", title='Rockets, "quoted"'
        ) + world.publish(KOMID, url="https://e.example/2")
        await world.until(lambda: len(alert_messages(world.emu, ANN["id"])) == 3)
        message = alert_messages(world.emu, ANN["id"])[0]
        await world.press(ANN["id"], ANN, message, f"rv:r:{alert_id_of(message)}")
        before = len(world.emu.messages(ANN["id"]))
        world.emu.send_command(ANN["id"], ANN, "/export")
        await world.emu.wait_for_messages(ANN["id"], before + 2)
    csv_doc, json_doc = world.emu.documents(ANN["id"])
    assert csv_doc.file_name.endswith(".csv") and json_doc.file_name.endswith(".json")
    assert csv_doc.caption == "3 alerts of this chat"
    rows = list(csv.DictReader(io.StringIO(csv_doc.data.decode("utf-8-sig"))))
    assert sorted(int(r["alert_id"]) for r in rows) == sorted(ids)
    assert {r["status"] for r in rows} == {"sent"}
    assert any("relevant by Ann" in r["marks"] for r in rows)
    data = json.loads(json_doc.data)
    assert len(data["alerts"]) == 3 and data["alerts"][0]["alert"]["sources"][0]["url"].startswith(
        "https://e.example/"
    )
    assert {e["key"] for row in data["alerts"] for e in row["alert"]["entities"]} >= {
        "rules:un-dprk/komid"
    }


async def test_stats_for_the_chat_and_for_admins(world: World) -> None:
    admin = {"id": 99, "is_bot": False, "first_name": "Root"}
    world.emu.add_chat(99)
    async with world.bot():
        await subscribe(world, ANN["id"], ANN, "info")
        world.publish(KOMID)
        # the message reaches the chat a moment before its row is marked sent: wait for both
        await world.until(
            lambda: (
                alert_messages(world.emu, ANN["id"])
                and [r.status for r in world.deliveries()] == ["sent"]
            )
        )
        [mine] = await world.command(ANN["id"], ANN, "/stats")
        [overall] = await world.command(99, admin, "/stats")
    assert "alerts sent 1" in mine["text"] and "Overall" not in mine["text"]
    assert (
        "Overall" in overall["text"]
        and "subscribed 1" in overall["text"]
        and "alerts 1 (1 in 24 h)" in overall["text"]
    )
