"""Telegram lost and found while the bot runs (``run_telegram`` against the emulator), the
connection state a status command reads (``bot.tg.health``), and its backoff.

The whole command is driven in ``test_outage_cli.py``; here the emulator fails on cue under a
running bot: every Bot API call answering 502 for a while, then a token revoked mid-run.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

import pytest

from bot.tg.app import build_application
from bot.tg.health import Backoff, TelegramHealth, TelegramState, TokenRejected
from bot.tg.runner import run_telegram
from tests.tg.conftest import (
    ANN,
    KOMID,
    World,
    alert_id_of,
    alert_messages,
    make_settings,
    subscribe,
)
from tests.tg.test_outage_cli import closed_port

pytestmark = pytest.mark.emulator


async def test_an_outage_mid_run_pauses_delivery_and_loses_nothing(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.tg")
    async with world.bot() as application:
        health = world.deps(application).health
        assert health.state is TelegramState.CONNECTED
        await subscribe(world, ANN["id"], ANN)
        world.emu.inject("*", 502, times=-1)  # Telegram answers nothing useful
        await world.until(lambda: health.state is TelegramState.RETRYING, 10)
        assert health.snapshot()["state"] == "retrying" and "HTTP 502" in str(
            health.snapshot()["last_error"]
        )
        [alert_id] = world.publish(KOMID, url="https://a.example/during")
        await asyncio.sleep(1.5)  # the worker would have tried by now
        assert world.emu.counters()["errors"].get("sendMessage") is None  # paused, no attempt spent
        assert [(d.status, d.attempts) for d in world.deliveries(ANN["id"])] == [("pending", 0)]
        world.emu.clear_injections()
        await world.until(lambda: health.up, 15)
        await world.until(lambda: alert_messages(world.emu, ANN["id"]), 10)
        await world.settle(0.5)
    assert [alert_id_of(m) for m in alert_messages(world.emu, ANN["id"])] == [alert_id]  # once
    assert [(d.status, d.attempts) for d in world.deliveries(ANN["id"])] == [("sent", 1)]
    lost = [
        r
        for r in caplog.records
        if r.levelno == logging.ERROR and "Telegram unreachable" in r.getMessage()
    ]
    back = [
        r
        for r in caplog.records
        if r.levelno == logging.INFO and "Telegram reachable again" in r.getMessage()
    ]
    assert len(lost) == 1 and "HTTP 502" in lost[0].getMessage() and len(back) == 1


async def test_a_token_revoked_mid_run_ends_the_bot(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.tg")
    async with world.crashable_bot() as (application, task):
        world.emu.inject("getUpdates", 401, times=-1)
        with pytest.raises(
            TokenRejected, match=r"rejected the bot token \(HTTP 401 Unauthorized on getUpdates\)"
        ) as raised:
            await asyncio.wait_for(asyncio.shield(task), 15)
    assert raised.value.exit_code == 4
    assert world.deps(application).health.state is TelegramState.REJECTED
    assert [r.levelname for r in caplog.records if "rejected the bot token" in r.getMessage()] == [
        "ERROR"
    ]


async def test_stop_while_waiting_to_retry_returns_at_once(world: World) -> None:
    settings = make_settings(
        world.tmp, world.emu, telegram_api_base_url=f"http://127.0.0.1:{closed_port()}/bot"
    )
    health = TelegramHealth()
    application = build_application(world.app, settings, health=health)
    stop = asyncio.Event()
    task = asyncio.create_task(
        run_telegram(
            world.app, settings, stop, application=application, backoff=Backoff(initial_s=30)
        )
    )
    await world.until(lambda: health.state is TelegramState.RETRYING, 10)
    stop.set()
    await asyncio.wait_for(task, 15)  # the retry it was waiting for is 30 s away
    assert "ConnectionRefusedError" in (health.last_error or "") and health.failures == 1


def test_health_logs_each_transition_once_and_keeps_rejected(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="bot.tg.health")
    now = [datetime(2026, 1, 1, 12, 0, tzinfo=UTC)]
    health = TelegramHealth(server="https://api.telegram.org", clock=lambda: now[0])
    health.reachable()
    health.unreachable("ConnectError: refused")
    now[0] += timedelta(seconds=42)
    health.unreachable("ReadTimeout")
    assert (
        health.describe()
        == "retrying since 2026-01-01 12:00:00 UTC (2 failed attempts): ReadTimeout"
    )
    health.reachable()
    assert health.snapshot() == {
        "state": "connected",
        "since": "2026-01-01T12:00:42+00:00",
        "server": "https://api.telegram.org",
        "last_error": "ReadTimeout",
        "failures": 0,
    }
    error = health.reject("HTTP 401 Unauthorized on getUpdates")
    health.reachable()  # final: a late answer does not undo it
    assert (
        health.state is TelegramState.REJECTED
        and health.rejected_event.is_set()
        and error.exit_code == 4
    )
    assert [(r.levelname, r.getMessage().split(":")[0]) for r in caplog.records] == [
        ("ERROR", "Telegram unreachable at https"),
        ("WARNING", "Telegram still unreachable at https"),
        ("INFO", "Telegram reachable again at https"),
        ("ERROR", "Telegram rejected the bot token at https"),
    ]
    assert "after 42 s and 2 failed attempts" in caplog.records[2].getMessage()


def test_backoff_doubles_up_to_its_cap_with_jitter() -> None:
    backoff = Backoff(initial_s=1, cap_s=8, rng=lambda: 1.0)
    assert [backoff.next_delay() for _ in range(6)] == [1, 2, 4, 8, 8, 8]
    low = Backoff(initial_s=1, cap_s=8, rng=lambda: 0.0)
    assert low.next_delay() == 0.75
    backoff.reset()
    assert backoff.next_delay() == 1
