"""Commands end to end: /start, /help, the command menu, /subscribe, /settings and its buttons,
/unsubscribe, group administrators only, bad arguments answered with the usage text."""

from __future__ import annotations

import time

import pytest

from tests.tg.conftest import ANN, BOB, CAROL, GROUP, World, subscribe

pytestmark = pytest.mark.emulator


async def test_start_help_and_the_command_menu(world: World) -> None:
    async with world.bot():
        [start] = await world.command(ANN["id"], ANN, "/start")
        [help_] = await world.command(ANN["id"], ANN, "/help")
    assert "sanctions violation" in start["text"] and "/subscribe" in start["text"]
    assert (
        "/watch" in help_["text"] and "/history" in help_["text"] and "/feeds" not in help_["text"]
    )
    commands = [c["command"] for c in world.emu.commands()]
    assert commands[:4] == ["start", "help", "subscribe", "unsubscribe"]
    assert {
        "watch",
        "unwatch",
        "watchlist",
        "history",
        "alert",
        "export",
        "scan",
        "stats",
        "settings",
    } <= set(commands)
    assert world.emu.commands({"type": "all_group_chats"}) == world.emu.commands()
    assert world.emu.counters()["errors"] == {}


async def test_subscribe_with_filters_then_settings_buttons(world: World) -> None:
    async with world.bot():
        await subscribe(
            world, ANN["id"], ANN, "high country=KP,ru daily quiet=22:00-07:00 tz=Europe/Berlin"
        )
        sub = world.subscription(ANN["id"])
        assert sub is not None and sub.active
        assert (sub.min_severity, sub.countries, sub.mode, sub.timezone) == (
            "high",
            ["KP", "RU"],
            "daily",
            "Europe/Berlin",
        )
        assert (sub.quiet_start, sub.quiet_end) == (22 * 60, 7 * 60)

        [shown] = await world.command(ANN["id"], ANN, "/settings")
        assert "Minimum severity: high" in shown["text"] and "Countries: KP, RU" in shown["text"]
        assert "daily digest at 08:00" in shown["text"] and "22:00–07:00" in shown["text"]
        answer = await world.press(ANN["id"], ANN, shown, "st:sev")  # high -> info (cycles)
        assert answer["text"] == "Saved"
        await world.press(ANN["id"], ANN, shown, "st:mode")  # daily -> instant
        await world.press(ANN["id"], ANN, shown, "st:wl")
        await world.press(ANN["id"], ANN, shown, "st:rg:0")
        regimes = world.emu.messages(ANN["id"])[-1]["reply_markup"]["inline_keyboard"]
        toggles = [b for row in regimes for b in row if b["callback_data"].startswith("st:rt:")]
        dprk = next(b for b in toggles if "UN-DPRK-1718" in b["text"])
        await world.press(ANN["id"], ANN, shown, dprk["callback_data"])
        await world.press(ANN["id"], ANN, shown, "st:show")
        await world.settle()
    sub = world.subscription(ANN["id"])
    assert sub is not None
    assert (sub.min_severity, sub.mode, sub.watchlist_only, sub.regimes) == (
        "info",
        "instant",
        True,
        ["UN-DPRK-1718"],
    )
    edited = world.emu.messages(ANN["id"])[-1]
    assert edited["message_id"] == shown["message_id"]  # edited in place
    assert "Minimum severity: info" in edited["text"] and "Only my watchlist: yes" in edited["text"]
    assert "Regimes and rules: UN-DPRK-1718" in edited["text"]
    assert world.emu.counters()["errors"] == {}


async def test_typed_settings_and_unsubscribe(world: World) -> None:
    async with world.bot():
        await subscribe(world, ANN["id"], ANN)
        [saved] = await world.command(ANN["id"], ANN, "/settings countries IR,KP")
        assert saved["text"].startswith("✅ Saved") and "Countries: IR, KP" in saved["text"]
        await world.command(ANN["id"], ANN, "/settings digest daily 7")
        await world.command(ANN["id"], ANN, "/settings rules wagner-arms")
        [bad] = await world.command(ANN["id"], ANN, "/settings tz Mars/Olympus")
        assert "unknown time zone" in bad["text"] and "Usage: /settings" in bad["text"]
        [stop] = await world.command(ANN["id"], ANN, "/unsubscribe")
        assert "Unsubscribed" in stop["text"]
    sub = world.subscription(ANN["id"])
    assert sub is not None and not sub.active
    assert (sub.countries, sub.mode, sub.digest_hour, sub.rules, sub.timezone) == (
        ["IR", "KP"],
        "daily",
        7,
        ["wagner-arms"],
        "UTC",
    )


@pytest.mark.parametrize(
    "text",
    [
        "/subscribe hourly severity=extreme",
        "/subscribe country=Korea",
        "/subscribe nonsense",
        "/subscribe " + "x" * 600,
    ],
)
async def test_bad_filters_get_the_usage_text(world: World, text: str) -> None:
    async with world.bot():
        [answer] = await world.command(ANN["id"], ANN, text)
    assert "Usage: /subscribe" in answer["text"]
    assert world.subscription(ANN["id"]) is None


async def test_only_group_admins_change_the_group(world: World) -> None:
    world.emu.set_admins(GROUP["id"], [BOB], creator=CAROL)
    async with world.bot():
        [refused] = await world.command(GROUP, ANN, "/subscribe high")
        assert refused["text"] == "Only this group's administrators can change its alerts."
        assert world.subscription(GROUP["id"]) is None
        [refused_watch] = await world.command(GROUP, ANN, "/watch Acme Trading")
        assert "administrators" in refused_watch["text"]
        [shown] = await world.command(GROUP, ANN, "/settings")  # looking is allowed
        answer = await world.press(GROUP["id"], ANN, shown, "st:sev")
        assert "administrators" in answer["text"] and answer["show_alert"] is True

        await subscribe(world, GROUP, BOB, "high")  # an administrator
        await subscribe(world, GROUP, CAROL, "medium")  # the creator
        # an anonymous administrator writes as the group itself
        anonymous = {
            "id": 1087968824,
            "is_bot": True,
            "first_name": "Group",
            "username": "GroupAnonymousBot",
        }
        chat = {"id": GROUP["id"], "type": "group", "title": GROUP["title"]}
        world.emu.send_update(
            {
                "message": {
                    "message_id": 999,
                    "from": anonymous,
                    "sender_chat": chat,
                    "chat": chat,
                    "date": int(time.time()),
                    "text": "/unsubscribe",
                    "entities": [{"type": "bot_command", "offset": 0, "length": 12}],
                }
            }
        )
        await world.emu.wait_for_messages(GROUP["id"], 6)
        await world.settle()
    sub = world.subscription(GROUP["id"])
    assert sub is not None and not sub.active and sub.min_severity == "medium"
    assert sub.changed_by.startswith("Sanctions watchers") or "1087968824" in sub.changed_by
    assert world.emu.counters()["errors"] == {}
