"""Telegram's ``sendMessage`` unwell for a while under a running bot: 500s and hanging
requests, then recovery. Every alert reaches every subscribed chat exactly once.

``test_outage_bot.py`` covers Telegram gone as a whole (every call failing: the connection
state turns "retrying" and the worker pauses). Here only sending fails while polling works, as
when one of Telegram's back ends is in trouble, so the delivery worker meets each failure
itself: a 500 (nothing was created), a request that hangs past the client's timeout after the
message was created (the answer is lost: the probe must find the message, not send it again),
and a request that hangs before anything is created and is only carried out later (the probe
finds nothing; the row is retried). Read back from the emulator: each alert once per chat.
"""

from __future__ import annotations

import logging

import pytest

from tests.tg.conftest import (
    ANN,
    BOB,
    KOMID,
    WAGNER_DPRK,
    World,
    alert_id_of,
    alert_messages,
    subscribe,
)

pytestmark = pytest.mark.emulator

HANG_S = 6.0  # past python-telegram-bot's 5 s read timeout


async def test_500s_and_timeouts_on_sends_then_recovery_deliver_each_alert_once(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with world.bot():
        await subscribe(world, ANN["id"], ANN)
        await subscribe(world, BOB["id"], BOB)
        # Ann: two 500s, then a send that creates the message but whose answer comes too late.
        world.emu.inject("sendMessage", 500, times=2, chat_id=ANN["id"])
        world.emu.inject("sendMessage", delay=HANG_S, after=True, chat_id=ANN["id"])
        # Bob: a send that hangs before anything happens (created late), then two 502s.
        world.emu.inject("sendMessage", delay=HANG_S, chat_id=BOB["id"])
        world.emu.inject("sendMessage", 502, times=2, chat_id=BOB["id"])
        ids = sorted(
            world.publish(KOMID, url="https://a.example/komid")
            + world.publish(WAGNER_DPRK, url="https://b.example/wagner")
        )
        assert len(ids) >= 2

        def complete() -> bool:
            return all(
                len(alert_messages(world.emu, chat["id"])) >= len(ids) for chat in (ANN, BOB)
            )

        await world.until(complete, 60, interval=0.2)
        await world.until(
            lambda: all(d.status == "sent" for d in world.deliveries()), 15, interval=0.2
        )
        await world.settle(2.0)  # time enough for a second copy, were one on its way
        assert not world.emu.counters()["injections"]  # every failure was served
    for chat in (ANN, BOB):
        assert sorted(alert_id_of(m) for m in alert_messages(world.emu, chat["id"])) == ids
    errors = world.emu.counters()["errors"]["sendMessage"]
    assert errors.get("500") == 2 and errors.get("502") == 2, errors
    assert [d.status for d in world.deliveries()] == ["sent"] * (2 * len(ids))
    said = [r.getMessage() for r in caplog.records if r.name == "bot.tg.delivery"]
    assert any("did reach chat" in m and "despite Timed out" in m for m in said), said  # probe
    assert any("did reach chat" in m and m.endswith("late") for m in said), said  # looked again
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], [
        r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR
    ]
