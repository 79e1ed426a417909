"""In a group only its administrators change anything: every command and button that writes is
refused to a member (and the database is left exactly as it was), and a demoted administrator
loses the right once the admin cache's answer expires (a test clock, not a minute's sleep)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from bot.tg.auth import AdminCache
from db.models import ChatMute, Delivery, ReviewMark, Subscription, WatchItem
from tests.tg.conftest import ANN, BOB, GROUP, KOMID, World, alert_messages, subscribe

pytestmark = pytest.mark.emulator

ACME = "ACME TRADING shipped machine tools to a buyer in Tehran, Iran."
REFUSED = "Only this group's administrators can change its alerts."


def snapshot(world: World) -> dict[str, Any]:
    """Everything a group member could try to change, as plain values."""

    def rows(model: Any) -> list[dict[str, Any]]:
        return world.call(
            lambda session: [
                r.model_dump() for r in session.execute(select(model).order_by(model.id)).scalars()
            ]
        )

    return {
        model.__name__: rows(model)
        for model in (Subscription, WatchItem, ReviewMark, ChatMute, Delivery)
    }


def callback_data(message: dict[str, Any], prefix: str) -> str:
    return next(
        b["callback_data"]
        for row in message["reply_markup"]["inline_keyboard"]
        for b in row
        if b["callback_data"].startswith(prefix)
    )


async def test_a_member_is_refused_every_change_and_nothing_changes(world: World) -> None:
    world.emu.set_admins(GROUP["id"], [BOB])  # Ann is a plain member
    async with world.bot():
        await subscribe(world, GROUP, BOB, "info")
        [watching] = await world.command(GROUP, BOB, "/watch Acme Trading")
        assert "Now watching the name Acme Trading" in watching["text"]
        world.publish(KOMID, url="https://a.example/komid")
        world.publish(ACME, url="https://a.example/acme")
        await world.until(lambda: len(alert_messages(world.emu, GROUP["id"])) >= 2, 15)
        await world.settle()
        alerts = alert_messages(world.emu, GROUP["id"])
        rule_alert = next(m for m in alerts if not m["text"].startswith("👁"))
        watch_alert = next(m for m in alerts if m["text"].startswith("👁 Watchlist: Acme Trading"))
        [listing] = await world.command(GROUP, ANN, "/watchlist")  # looking is allowed
        assert "Acme Trading" in listing["text"]
        before = snapshot(world)

        for text in (
            "/unsubscribe",
            "/unwatch Acme Trading",
            "/unwatch 1",
            "/settings countries KP,IR",
            "/settings severity high",
            "/settings watchlist on",
        ):
            [answer] = await world.command(GROUP, ANN, text)
            assert answer["text"] == REFUSED, (text, answer["text"])
        presses = [
            (listing, callback_data(listing, "wl:")),  # ✖ under /watchlist
            (watch_alert, callback_data(watch_alert, "uw:")),  # 👁 stop watching
            (rule_alert, callback_data(rule_alert, "rv:r:")),  # ✅ relevant
            (rule_alert, callback_data(rule_alert, "rv:f:")),  # 🚫 false positive
            (watch_alert, callback_data(watch_alert, "rv:f:")),
            (rule_alert, callback_data(rule_alert, "mu:e:")),  # 🔕 mute the party
        ]
        for message, data in presses:
            answer = await world.press(GROUP["id"], ANN, message, data)
            assert (
                answer is not None and answer["text"] == REFUSED and answer["show_alert"] is True
            ), (data, answer)
        await world.settle()
        after = snapshot(world)
    assert after == before
    assert (
        [w["name"] for w in after["WatchItem"]] == ["Acme Trading"]
        and after["ReviewMark"] == []
        and after["ChatMute"] == []
    )
    assert after["Subscription"][0]["active"] and after["Subscription"][0]["min_severity"] == "info"
    # the buttons are untouched too: no "reviewed" keyboard, the watchlist message as it was
    assert alert_messages(world.emu, GROUP["id"]) == alerts
    assert (
        next(m for m in world.emu.messages(GROUP["id"]) if m["message_id"] == listing["message_id"])
        == listing
    )
    assert world.emu.counters()["errors"] == {}


async def test_a_demoted_admin_loses_the_right_when_the_cache_expires(world: World) -> None:
    now = [1000.0]
    admins = AdminCache(ttl_s=60.0, clock=lambda: now[0])
    world.emu.set_admins(GROUP["id"], [ANN, BOB])
    async with world.bot(admins=admins) as application:
        assert world.deps(application).admins is admins
        await subscribe(world, GROUP, ANN, "high")
        asked = world.emu.call_count("getChatMember")
        world.emu.set_admins(GROUP["id"], [BOB])  # Ann is demoted

        now[0] += 59.0  # still within the cached answer: Ann keeps the right
        [kept] = await world.command(GROUP, ANN, "/settings countries KP")
        assert kept["text"].startswith("✅ Saved")
        assert world.emu.call_count("getChatMember") == asked  # answered from the cache

        now[0] += 2.0  # expired: asked again, refused
        [refused] = await world.command(GROUP, ANN, "/settings countries IR")
        [refused_stop] = await world.command(GROUP, ANN, "/unsubscribe")
        assert refused["text"] == REFUSED and refused_stop["text"] == REFUSED
        assert world.emu.call_count("getChatMember") == asked + 1  # the refusal is cached too
        [bob] = await world.command(
            GROUP, BOB, "/settings countries RU"
        )  # the other admin still may
        assert bob["text"].startswith("✅ Saved")
    sub = world.subscription(GROUP["id"])
    assert sub is not None and sub.active and sub.countries == ["RU"] and sub.min_severity == "high"
