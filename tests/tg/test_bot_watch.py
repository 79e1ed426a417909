"""/watch with suggestion buttons from a real (small) OFAC list, free-text names, /watchlist,
/unwatch, limits, and watchlist alerts reaching only the chats that watch."""

from __future__ import annotations

from typing import Any

import pytest

from bot.matching.engine import Matcher
from bot.rulefiles import load_rules
from tests.conftest import ROOT
from tests.tg.conftest import ANN, BOB, CAROL, World, alert_messages, subscribe

pytestmark = pytest.mark.emulator

NS_LEADER = "The tanker NS Leader loaded Russian crude at Primorsk on Monday."
ACME = "ACME TRADING shipped machine tools to a buyer in Tehran, Iran."


@pytest.fixture(scope="module")
def list_matcher(sample_list_entities: list[Any]) -> Matcher:
    return Matcher(load_rules(ROOT / "rules"), sample_list_entities)


@pytest.fixture
def listed(world: World, list_matcher: Matcher) -> World:
    world.app.fixed = list_matcher
    return world


def buttons(message: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (b["text"], b["callback_data"])
        for row in message["reply_markup"]["inline_keyboard"]
        for b in row
    ]


async def test_watch_suggests_listed_parties_and_alerts_only_the_watchers(listed: World) -> None:
    world = listed
    async with world.bot():
        [offer] = await world.command(ANN["id"], ANN, "/watch ns leadr")
        assert "Which one do you mean" in offer["text"] and "NS LEADER" in offer["text"]
        choices = buttons(offer)
        assert choices[0] == ("NS LEADER · ofac-sdn vessel", "w:e:0")
        assert choices[-2:] == [("✏️ Watch “ns leadr” as typed", "w:t"), ("Cancel", "w:x")]
        answer = await world.press(ANN["id"], ANN, offer, "w:e:0")
        assert answer is not None
        await world.settle()
        confirmed = world.emu.messages(ANN["id"])[-1]
        assert (
            confirmed["message_id"] == offer["message_id"]
            and "Now watching the listed party NS LEADER" in confirmed["text"]
        )
        [watchlist] = await world.command(ANN["id"], ANN, "/watchlist")
        assert "1. NS LEADER — listed party ofac-sdn:47371" in watchlist["text"]

        # Carol both subscribes and watches: the rule's alert already names the party, once is enough
        await subscribe(world, CAROL["id"], CAROL, "info")
        [offer] = await world.command(CAROL["id"], CAROL, "/watch NS Leader")
        await world.press(CAROL["id"], CAROL, offer, "w:e:0")
        await subscribe(
            world, BOB["id"], BOB, "high"
        )  # subscribed, but neither watching nor wanting "low"
        await world.settle()

        world.publish(NS_LEADER, url="https://tankers.example/ns-leader")
        await world.until(
            lambda: alert_messages(world.emu, ANN["id"]) and alert_messages(world.emu, CAROL["id"])
        )
        await world.settle(0.5)
    [ann] = alert_messages(world.emu, ANN["id"])  # Ann never subscribed: her watchlist is enough
    assert ann["text"].startswith("👁 Watchlist: NS LEADER")
    assert [b[1].split(":")[0] for b in buttons(ann)] == ["rv", "rv", "uw"]
    [carol] = alert_messages(world.emu, CAROL["id"])
    assert carol["text"].startswith("🟡 LOW · A listed party is mentioned")
    assert alert_messages(world.emu, BOB["id"]) == []
    assert world.emu.counters()["errors"] == {}


async def test_free_text_names_and_the_watchlist_buttons(listed: World) -> None:
    world = listed
    async with world.bot():
        [added] = await world.command(
            ANN["id"], ANN, "/watch Acme Trading"
        )  # no listed party like it
        assert "Now watching the name Acme Trading" in added["text"]
        [offer] = await world.command(ANN["id"], ANN, "/watch Tasca")
        await world.press(ANN["id"], ANN, offer, "w:t")  # as typed, not the listed vessel
        [again] = await world.command(ANN["id"], ANN, "/watch acme   trading")
        assert "Already watching" in again["text"]

        world.publish(ACME, url="https://a.example/acme")
        [alert] = await world.until(lambda: alert_messages(world.emu, ANN["id"]))
        assert (
            alert["text"].startswith("👁 Watchlist: Acme Trading")
            and "ACME TRADING" in alert["text"]
        )
        assert alert_messages(world.emu, BOB["id"]) == []

        answer = await world.press(ANN["id"], ANN, alert, buttons(alert)[-1][1])  # Stop watching
        assert answer is not None and answer["text"] == "Stopped watching Acme Trading"
        [listing] = await world.command(ANN["id"], ANN, "/watchlist")
        assert "1. Tasca — name or term" in listing["text"]
        await world.press(ANN["id"], ANN, listing, buttons(listing)[0][1])
        await world.settle()
        assert "Empty" in world.emu.messages(ANN["id"])[-1]["text"]


async def test_watch_limits_and_bad_input(world: World) -> None:
    settings = world.settings.model_copy(update={"watchlist_max_items": 2})
    async with world.bot(settings):
        for name in ("Alpha Shipping", "Beta Shipping"):
            await world.command(ANN["id"], ANN, f"/watch {name}")
        [full] = await world.command(ANN["id"], ANN, "/watch Gamma Shipping")
        assert "already watches 2 names, the most allowed (2)" in full["text"]
        [empty] = await world.command(ANN["id"], ANN, "/watch")
        [long] = await world.command(ANN["id"], ANN, "/watch " + "x" * 101)
        [gone] = await world.command(ANN["id"], ANN, "/unwatch 1")
        [unknown] = await world.command(ANN["id"], ANN, "/unwatch Delta <b>")
    assert "Usage: /watch NAME" in empty["text"] and "Usage: /watch NAME" in long["text"]
    assert gone["text"] == "Stopped watching Alpha Shipping."
    assert "Not on this chat's watchlist: “Delta <b>”" in unknown["text"]
