"""Webhook mode (``bot.tg.updates``) against the Bot API emulator: the bot as ``run_telegram``
runs it, its webhook server on a loopback port, the emulator's ``setWebhook`` making it POST each
update there with the secret header, as Telegram does through a reverse proxy.

The secret is python-telegram-bot's check; these tests hold it to it by posting updates
themselves, with no header, a wrong one and (the control) the right one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.settings import Settings
from bot.tg.app import build_application
from bot.tg.health import TelegramState, TokenRejected
from bot.tg.runner import run_telegram
from bot.tg.updates import WebhookListenError
from tests.conftest import ROOT
from tests.tg.conftest import (
    ANN,
    KOMID,
    World,
    alert_id_of,
    alert_messages,
    make_settings,
    subscribe,
)
from tests.tg.test_outage_cli import closed_port, finish, wait_until
from tests.tgemu import TEST_TOKEN, Emulator

pytestmark = pytest.mark.emulator

SECRET = "s3cret_Webhook-token_0123456789abcdef"
PATH = "/tg/hook-42"


def webhook_settings(world: World, port: int, *, public_port: int | None = None) -> Settings:
    """Webhook mode on ``port``; Telegram (the emulator) is told ``public_port`` (default the same)."""
    return make_settings(
        world.tmp,
        world.emu,
        telegram_webhook_url=f"http://127.0.0.1:{public_port or port}{PATH}",
        telegram_webhook_secret=SECRET,
        telegram_webhook_listen="127.0.0.1",
        telegram_webhook_port=port,
        telegram_webhook_check_s=0.2,
    )


def command_update(update_id: int, text: str, who: dict[str, Any] = ANN) -> dict[str, Any]:
    """A private-chat command as Telegram posts it to a webhook."""
    command = text.split()[0]
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": int(time.time()),
            "chat": {"id": who["id"], "type": "private", "first_name": who["first_name"]},
            "from": who,
            "text": text,
            "entities": [{"type": "bot_command", "offset": 0, "length": len(command)}],
        },
    }


async def post_update(port: int, update: dict[str, Any], secret: str | None) -> int:
    headers = {} if secret is None else {"X-Telegram-Bot-Api-Secret-Token": secret}
    async with httpx.AsyncClient() as client:
        response = await client.post(f"http://127.0.0.1:{port}{PATH}", json=update, headers=headers)
    return response.status_code


def refuses_connections(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


@contextlib.asynccontextmanager
async def webhook_bot(world: World, settings: Settings) -> AsyncIterator[Any]:
    """``world.bot`` until the webhook server listens: PTB marks the updater running before it
    calls setWebhook, and binds the port only after."""
    async with world.bot(settings) as application:
        port = settings.telegram_webhook_port
        await world.until(lambda: not refuses_connections(port), 10)
        yield application


def watch_tasks() -> list[asyncio.Task[Any]]:
    return [
        task
        for task in asyncio.all_tasks()
        if task.get_name() == "telegram-webhook-watch" and not task.done()
    ]


async def test_a_command_reaches_the_bot_through_the_webhook_and_is_answered(
    world: World,
) -> None:
    port = closed_port()
    settings = webhook_settings(world, port)
    async with webhook_bot(world, settings):
        [hook] = world.emu.calls("setWebhook")
        assert hook["params"]["url"] == f"http://127.0.0.1:{port}{PATH}"
        assert hook["params"]["secret_token"] == SECRET
        assert "callback_query" in hook["params"]["allowed_updates"]
        await subscribe(world, ANN["id"], ANN)  # the emulator POSTs it to the webhook
        [alert_id] = world.publish(KOMID, url="https://a.example/komid")
        await world.until(lambda: alert_messages(world.emu, ANN["id"]), 10)
        [message] = alert_messages(world.emu, ANN["id"])
        relevant = message["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
        assert await world.press(ANN["id"], ANN, message, relevant)  # a button press arrives too
        await world.settle()
    assert alert_id_of(message) == alert_id
    assert world.emu.call_count("getUpdates") == 0  # nothing polled
    assert world.emu.pending_updates() == []  # every update was taken by the webhook


async def test_a_post_without_the_secret_or_with_a_wrong_one_is_refused(world: World) -> None:
    port = closed_port()
    async with webhook_bot(world, webhook_settings(world, port)):
        assert await post_update(port, command_update(9001, "/subscribe high"), None) == 403
        assert await post_update(port, command_update(9002, "/subscribe high"), "wrong") == 403
        assert await post_update(port, command_update(9003, "/subscribe"), SECRET[:-1]) == 403
        assert await post_update(port, command_update(9004, "/start"), SECRET) == 200  # control
        [reply] = await world.emu.wait_for_messages(ANN["id"], 1)
        await world.settle(0.5)
    assert "/subscribe" in reply["text"]  # the /start text, which lists the commands
    assert len(world.emu.messages(ANN["id"])) == 1  # no answer to any refused update
    assert world.subscription(ANN["id"]) is None  # and none of them was acted on


async def test_on_stop_the_webhook_server_stops_and_the_webhook_stays_set(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="bot.tg")
    port = closed_port()
    async with webhook_bot(world, webhook_settings(world, port)) as application:
        await world.until(lambda: world.emu.call_count("getWebhookInfo") >= 2, 10)  # the watch
        assert watch_tasks()
    assert not watch_tasks()
    assert refuses_connections(port)  # the port is free again
    assert application.updater is not None and not application.updater.running
    assert not application.running
    assert world.emu.call_count("deleteWebhook") == 0  # Telegram keeps updates until we are back
    info = world.emu.bot_api("getWebhookInfo").json()["result"]
    assert info["url"] == f"http://127.0.0.1:{port}{PATH}"
    calls = world.emu.call_count("getWebhookInfo")
    await asyncio.sleep(0.6)
    assert world.emu.call_count("getWebhookInfo") == calls  # the watch stopped with it
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


async def test_a_port_in_use_is_a_clear_error(world: World) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        settings = webhook_settings(world, port)
        application = build_application(world.app, settings)
        stop = asyncio.Event()
        with pytest.raises(WebhookListenError, match=rf"on 127\.0\.0\.1:{port} \(TELEGRAM_WEBHOOK"):
            await asyncio.wait_for(
                run_telegram(world.app, settings, stop, application=application), 20
            )
    assert not application.running
    assert world.emu.call_count("setWebhook") == 0  # Telegram was never pointed at it


async def test_telegram_failing_to_reach_the_webhook_is_logged(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    """A proxy that forwards nowhere: Telegram is told one port, the bot listens on another."""
    caplog.set_level(logging.INFO, logger="bot.tg")
    async with webhook_bot(
        world, webhook_settings(world, closed_port(), public_port=closed_port())
    ):
        world.emu.send_command(ANN["id"], ANN, "/start")

        def warned() -> list[str]:
            return [
                r.getMessage()
                for r in caplog.records
                if r.levelno == logging.WARNING and "could not deliver updates" in r.getMessage()
            ]

        [warning] = await world.until(warned, 10)
    assert "Connection failed" in warning and "(1 waiting)" in warning
    assert world.emu.messages(ANN["id"]) == []


async def test_an_outage_pauses_delivery_in_webhook_mode_and_loses_nothing(world: World) -> None:
    async with webhook_bot(world, webhook_settings(world, closed_port())) as application:
        health = world.deps(application).health
        await subscribe(world, ANN["id"], ANN)
        world.emu.inject("*", 502, times=-1)
        await world.until(lambda: health.state is TelegramState.RETRYING, 10)  # getWebhookInfo
        [alert_id] = world.publish(KOMID, url="https://a.example/during")
        await asyncio.sleep(1.0)
        assert [(d.status, d.attempts) for d in world.deliveries(ANN["id"])] == [("pending", 0)]
        world.emu.clear_injections()
        await world.until(lambda: health.up, 15)
        await world.until(lambda: alert_messages(world.emu, ANN["id"]), 10)
        await world.settle(0.5)
    assert [alert_id_of(m) for m in alert_messages(world.emu, ANN["id"])] == [alert_id]


async def test_a_token_revoked_mid_run_ends_the_bot_in_webhook_mode(world: World) -> None:
    settings = webhook_settings(world, closed_port())
    async with world.crashable_bot(settings) as (application, task):
        world.emu.inject("getWebhookInfo", 401, times=-1)
        with pytest.raises(TokenRejected, match=r"HTTP 401 Unauthorized on getWebhookInfo"):
            await asyncio.wait_for(asyncio.shield(task), 15)
    assert world.deps(application).health.state is TelegramState.REJECTED
    assert application.updater is not None and not application.updater.running


def test_run_with_webhook_url_takes_commands_by_webhook_and_stops_cleanly(
    tmp_path: Path, tg_emulator: Emulator
) -> None:
    """The whole command as compose runs it: ``run --role bot --webhook-url URL``, then SIGTERM."""
    port = closed_port()
    url = f"http://127.0.0.1:{port}{PATH}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "FEEDS_"))}
    env.update(
        DATABASE_URL=f"sqlite:///{tmp_path / 'run.sqlite'}",
        DATA_DIR=str(tmp_path),
        RULES_DIR=str(ROOT / "rules"),
        EXTRACT_WORKERS="0",
        LOG_LEVEL="INFO",
        TELEGRAM_BOT_TOKEN=TEST_TOKEN,
        TELEGRAM_API_BASE_URL=tg_emulator.base_url,
        TELEGRAM_WEBHOOK_SECRET=SECRET,
        TELEGRAM_WEBHOOK_PORT=str(port),
    )
    tg_emulator.add_chat(ANN["id"])
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bot",
            "run",
            "--role",
            "bot",
            "--webhook-url",
            url,
            "--duration",
            "60s",
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until(lambda: not refuses_connections(port), 30, process)
        [hook] = tg_emulator.calls("setWebhook")
        assert (hook["params"]["url"], hook["params"]["secret_token"]) == (url, SECRET)
        tg_emulator.send_command(ANN["id"], ANN, "/start")
        [reply] = tg_emulator.wait_for_messages_sync(ANN["id"], 1, timeout=20)
        assert "/subscribe" in reply["text"]
    finally:
        process.send_signal(signal.SIGTERM)
    code, _, err = finish(process)
    assert code == 0, err
    assert f"receiving Telegram updates by webhook at {url}" in err
    assert refuses_connections(port)
    assert tg_emulator.call_count("getUpdates") == 0
    assert SECRET not in err
