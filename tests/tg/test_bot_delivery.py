"""Alerts out: one message per subscribed chat, escaped HTML Telegram accepts, and a delivery that
neither loses nor repeats through 429s, 403s, migrations, lost answers and crashes."""

from __future__ import annotations

import asyncio
import itertools
import re
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from bot.tg.messages import MAX_TEXT, utf16_len
from db.models import Delivery
from tests.tg.conftest import (
    ANN,
    BOB,
    CAROL,
    GROUP,
    KOMID,
    WAGNER_DPRK,
    World,
    alert_id_of,
    alert_messages,
    subscribe,
)

pytestmark = pytest.mark.emulator

HOSTILE_TITLE = "<b>Acme & Sons</b> <script>"


async def test_an_article_reaches_every_subscribed_chat_once_and_no_other(world: World) -> None:
    world.emu.set_admins(GROUP["id"], [BOB])
    async with world.bot():
        await subscribe(world, ANN["id"], ANN)  # medium and up
        await subscribe(world, BOB["id"], BOB, "country=IR")  # about Iran only
        await subscribe(world, GROUP, BOB, "medium")
        [alert_id] = world.publish(
            KOMID, title="KOMID paid", url="https://news.example/komid", outlet="Example News"
        )
        await world.until(
            lambda: (
                len(alert_messages(world.emu, ANN["id"])) == 1
                and len(alert_messages(world.emu, GROUP["id"])) == 1
            )
        )
        await world.settle(0.5)
    [ann] = alert_messages(world.emu, ANN["id"])
    [grp] = alert_messages(world.emu, GROUP["id"])
    assert alert_messages(world.emu, BOB["id"]) == [] and world.emu.messages(CAROL["id"]) == []
    for message in (ann, grp):
        assert alert_id_of(message) == alert_id
        assert (
            message["text"].startswith("🟠 MEDIUM · Dealings of designated North Korean parties")
            or "KOMID" in message["text"]
        )
        assert "KOMID" in message["text"] and "Example News" in message["text"]
        bold = {
            message["text"]
            .encode("utf-16-le")[2 * e["offset"] : 2 * (e["offset"] + e["length"])]
            .decode("utf-16-le")
            for e in message["entities"]
            if e["type"] == "bold"
        }
        assert {
            "KOMID",
            "paid",
            "front company",
        } <= bold  # the matched words of the evidence, in bold
    rows = world.deliveries()
    assert [(r.status, r.alert_id) for r in rows] == [("sent", alert_id), ("sent", alert_id)]
    assert sorted(r.message_id for r in rows) == sorted([ann["message_id"], grp["message_id"]])
    assert world.emu.counters()["errors"] == {}


async def test_hostile_titles_are_escaped_and_every_message_is_accepted(world: World) -> None:
    long_sentence = (
        "North Korea delivered rockets to Russia for the Wagner Group "
        + "and more crates " * 600
        + "."
    )
    async with world.bot():
        await subscribe(world, ANN["id"], ANN, "info")
        world.publish(
            f"{HOSTILE_TITLE} shipped rockets from North Korea to Russia for Wagner.",
            title=HOSTILE_TITLE,
            url="https://x.example/a?b=1&c=<2>",
            outlet="R&D <Daily>",
        )
        world.publish(long_sentence, title="A very long one")
        await world.until(lambda: len(alert_messages(world.emu, ANN["id"])) >= 3, 15)
        await world.settle(0.5)
    messages = alert_messages(world.emu, ANN["id"])
    assert (
        world.emu.counters()["errors"] == {}
    )  # the emulator parses HTML like Telegram and accepted all
    hostile = [m for m in messages if HOSTILE_TITLE in m["text"]]
    assert hostile and "R&D <Daily>" in hostile[0]["text"]
    assert any(
        e["type"] == "text_link" and e["url"] == "https://x.example/a?b=1&c=<2>"
        for e in hostile[0]["entities"]
    )
    assert all(utf16_len(m["text"]) <= MAX_TEXT for m in messages)
    longest = max(messages, key=lambda m: len(m["text"]))
    assert "…" in longest["text"]  # the evidence was trimmed, not the message split
    for call in world.emu.calls("sendMessage"):
        if (
            call["params"]
            .get("reply_markup", {})
            .get("inline_keyboard", [[{}]])[0][0]
            .get("callback_data", "")
            .startswith("rv:")
        ):
            assert call["params"]["parse_mode"] == "HTML"
            assert call["params"]["link_preview_options"] == {"is_disabled": True}


async def test_an_injected_429_is_honoured(world: World) -> None:
    async with world.bot() as application:
        await subscribe(world, ANN["id"], ANN)
        world.emu.inject("sendMessage", 429, chat_id=ANN["id"], retry_after=2)
        world.publish(KOMID)
        await world.until(lambda: alert_messages(world.emu, ANN["id"]), 15)
        await world.settle()
        stats = world.deps(application).limiter.stats
    calls = [
        c
        for c in world.emu.calls("sendMessage")
        if c["params"]["chat_id"] in (ANN["id"], str(ANN["id"]))
    ][-2:]
    assert [c["status"] for c in calls] == [429, 200]
    assert calls[1]["time"] - calls[0]["time"] >= 2.0
    assert stats["retry_after"] == 1
    assert len(alert_messages(world.emu, ANN["id"])) == 1
    assert [r.status for r in world.deliveries(ANN["id"])] == ["sent"]


async def test_a_403_deactivates_the_subscription(world: World) -> None:
    async with world.bot():
        await subscribe(world, ANN["id"], ANN)
        await subscribe(world, BOB["id"], BOB)
        world.emu.block(ANN["id"])
        world.publish(KOMID)
        await world.until(lambda: alert_messages(world.emu, BOB["id"]))
        # the delivery is marked failed, then the chat switched off, in two transactions
        await world.until(
            lambda: (
                world.deliveries(ANN["id"])
                and world.deliveries(ANN["id"])[0].status == "failed"
                and not getattr(world.chat(ANN["id"]), "active", True)
            )
        )
        sub, chat = world.subscription(ANN["id"]), world.chat(ANN["id"])
        assert sub is not None and not sub.active and chat is not None and not chat.active
        assert "forbidden" in chat.inactive_reason
        world.publish(WAGNER_DPRK)  # nothing more is queued for a chat that blocked the bot
        await world.until(lambda: len(alert_messages(world.emu, BOB["id"])) == 3)
        assert len(world.deliveries(ANN["id"])) == 1
        world.emu.block(ANN["id"], blocked=False)
        [back] = await world.command(ANN["id"], ANN, "/start")
        assert "switched off" in back["text"] and "/subscribe" in back["text"]
    chat = world.chat(ANN["id"])
    assert chat is not None and chat.active


async def test_a_migrated_group_gets_its_alerts_at_the_new_id(world: World) -> None:
    world.emu.set_admins(GROUP["id"], [BOB])
    async with world.bot():
        await subscribe(world, GROUP, BOB)
        new_id = world.emu.migrate(GROUP["id"], notify=False)
        [alert_id] = world.publish(KOMID)
        await world.until(lambda: alert_messages(world.emu, new_id), 15)
        await world.settle()
    [message] = alert_messages(world.emu, new_id)
    assert alert_id_of(message) == alert_id and message["chat"]["type"] == "supergroup"
    chat = world.chat(new_id)
    assert chat is not None and chat.migrated_from == GROUP["id"] and chat.type == "supergroup"
    assert world.chat(GROUP["id"]) is None
    assert [(r.status, r.message_id) for r in world.deliveries(new_id)] == [
        ("sent", message["message_id"])
    ]


async def test_a_lost_answer_is_found_in_the_chat_not_sent_twice(world: World) -> None:
    async with world.bot() as application:
        await subscribe(world, ANN["id"], ANN)
        # Telegram stores the message, then the connection drops before the answer
        world.emu.inject("sendMessage", chat_id=ANN["id"], disconnect=True, after=True)
        world.publish(KOMID)
        await world.until(
            lambda: world.deliveries(ANN["id"]) and world.deliveries(ANN["id"])[0].status == "sent",
            15,
        )
        await world.settle()
        stats = world.deps(application).worker.stats  # type: ignore[union-attr]
    [message] = alert_messages(world.emu, ANN["id"])
    [row] = world.deliveries(ANN["id"])
    assert row.message_id == message["message_id"] and row.attempts == 1
    assert stats["uncertain"] == 1 and stats["recovered"] == 1 and stats["sent"] == 0
    assert world.emu.counters()["errors"]["editMessageReplyMarkup"] == {
        "400": 1
    }  # one probe: "not modified"


async def test_a_5xx_without_a_message_is_retried_with_backoff(world: World) -> None:
    async with world.bot() as application:
        worker = world.deps(application).worker
        assert worker is not None
        worker._rng = lambda: 0.0  # backoff without jitter: 2^attempts / 2 s
        await subscribe(world, ANN["id"], ANN)
        world.emu.inject("sendMessage", 502, chat_id=ANN["id"])
        world.publish(KOMID)
        await world.until(lambda: alert_messages(world.emu, ANN["id"]), 15)
        await world.settle()
    [row] = world.deliveries(ANN["id"])
    assert (row.status, row.attempts) == ("sent", 2)
    calls = [
        c for c in world.emu.calls("sendMessage") if str(c["params"]["chat_id"]) == str(ANN["id"])
    ][-2:]
    assert [c["status"] for c in calls] == [502, 200] and calls[1]["time"] - calls[0]["time"] >= 0.9
    assert len(alert_messages(world.emu, ANN["id"])) == 1


async def _crash(world: World, task: asyncio.Task[None]) -> None:
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_a_crash_between_send_and_mark_delivers_exactly_once(world: World) -> None:
    async with world.bot():
        await subscribe(world, ANN["id"], ANN)
    # Telegram takes the message but its answer is held back: the process dies waiting for it
    world.emu.inject("sendMessage", chat_id=ANN["id"], delay=30, after=True)
    async with world.crashable_bot() as (_, task):
        [alert_id] = world.publish(KOMID)
        await world.until(lambda: alert_messages(world.emu, ANN["id"]), 10)
        [row] = world.deliveries(ANN["id"])
        assert row.status == "sending" and row.message_id is None
        await _crash(world, task)
    [row] = world.deliveries(ANN["id"])
    assert row.status == "sending"  # the crash left it in flight
    world.emu.clear_injections()
    seq = max(c["seq"] for c in world.emu.calls())
    async with world.bot() as application:
        await world.until(lambda: world.deliveries(ANN["id"])[0].status == "sent", 10)
        await world.settle()
        report = world.deps(application).worker.stats  # type: ignore[union-attr]
    [message] = alert_messages(world.emu, ANN["id"])
    [row] = world.deliveries(ANN["id"])
    assert alert_id_of(message) == alert_id and row.message_id == message["message_id"]
    assert report["reconcile_found"] == 1
    resent = [
        c
        for c in world.emu.calls("sendMessage")
        if c["seq"] > seq and str(c["params"]["chat_id"]) == str(ANN["id"])
    ]
    assert resent == []


async def test_a_crash_before_the_send_delivers_exactly_once(world: World) -> None:
    async with world.bot():
        await subscribe(world, ANN["id"], ANN)
    # the first send gets a 429: the row is in flight while the bot waits, and then it dies
    world.emu.inject("sendMessage", 429, chat_id=ANN["id"], retry_after=30)
    async with world.crashable_bot() as (_, task):
        world.publish(KOMID)
        await world.until(
            lambda: world.emu.counters()["errors"].get("sendMessage", {}).get("429"), 10
        )
        assert world.deliveries(ANN["id"])[0].status == "sending"
        await _crash(world, task)
    assert alert_messages(world.emu, ANN["id"]) == []
    async with world.bot() as application:
        await world.until(lambda: alert_messages(world.emu, ANN["id"]), 10)
        await world.settle()
        report = world.deps(application).worker.stats  # type: ignore[union-attr]
    assert len(alert_messages(world.emu, ANN["id"])) == 1
    assert report["reconcile_resent"] == 1
    [row] = world.deliveries(ANN["id"])
    assert row.status == "sent" and row.attempts == 2


async def test_digests_wait_for_their_hour_and_come_as_one_message(world: World) -> None:
    async with world.bot():
        await subscribe(world, ANN["id"], ANN, "hourly info")
        ids = world.publish(WAGNER_DPRK) + world.publish(KOMID)
        assert len(ids) == 3
        rows = world.deliveries(ANN["id"])
        assert all(r.digest and r.status == "pending" for r in rows)
        now = datetime.now(UTC)
        assert all(
            now < r.due_at <= now + timedelta(hours=1) and r.due_at.minute == 0 for r in rows
        )
        await asyncio.sleep(0.3)
        assert alert_messages(world.emu, ANN["id"]) == []
        # the hour comes
        world.call(
            lambda session: session.execute(
                update(Delivery).values(due_at=now - timedelta(seconds=1))
            )
        )
        digest = await world.until(
            lambda: [m for m in world.emu.messages(ANN["id"]) if "Digest" in (m.get("text") or "")],
            10,
        )
        await world.settle()
    [message] = digest
    # how many are high or medium is the scorer's call; together they are the three alerts
    summary = re.match(r"🗞 Digest: 3 alerts \(([^)]*)\)", message["text"])
    assert summary, message["text"]
    counts = {level: int(n) for n, level in re.findall(r"(\d+) (high|medium)", summary[1])}
    assert sum(counts.values()) == 3 and summary[1] == ", ".join(
        f"{counts[k]} {k}" for k in ("high", "medium") if k in counts
    )
    buttons = [
        b["callback_data"] for row in message["reply_markup"]["inline_keyboard"] for b in row
    ]
    assert buttons == [f"al:{i}" for i in ids]
    rows = world.deliveries(ANN["id"])
    assert {(r.status, r.message_id, r.batch) for r in rows} == {
        ("sent", message["message_id"], rows[0].id)
    }


async def test_quiet_hours_hold_instant_alerts_until_they_end(world: World) -> None:
    now = datetime.now(UTC)
    start, end = (now - timedelta(hours=1)), (now + timedelta(hours=2))
    quiet = f"{start:%H}:00-{end:%H}:00"
    async with world.bot():
        await subscribe(world, ANN["id"], ANN, f"quiet={quiet}")
        world.publish(KOMID)
        [row] = world.deliveries(ANN["id"])
        assert not row.digest and row.due_at == end.replace(minute=0, second=0, microsecond=0)
        await asyncio.sleep(0.3)
        assert alert_messages(world.emu, ANN["id"]) == []


async def test_the_pace_stays_within_telegram_limits(world: World) -> None:
    world.emu.flood_limits(per_second=30, per_chat_per_second=1, per_group_per_minute=20)
    settings = world.settings.model_copy(update={"telegram_chat_interval_s": 1.0})
    async with world.bot(settings):
        await subscribe(world, ANN["id"], ANN, "info")
        began = time.monotonic()
        world.publish(WAGNER_DPRK)  # two alerts
        world.publish(KOMID)  # one more
        await world.until(lambda: len(alert_messages(world.emu, ANN["id"])) == 3, 15)
        elapsed = time.monotonic() - began
        await world.settle()
    times = [c["time"] for c in world.emu.calls("sendMessage") if c["status"] == 200][-3:]
    assert all(b - a >= 1.0 for a, b in itertools.pairwise(times))
    assert elapsed >= 2.0
    assert world.emu.counters()["flood_rejections"] == 0
