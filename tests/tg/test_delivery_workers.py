"""Several delivery workers on one outbox (``run --role deliver`` twice; ``db.chatlocks``):
every message once, in order per chat; a chat another process serves is left alone until its
lock runs out; a reply from another process waits for the alert in flight in its chat.
The real bot (python-telegram-bot) against the Bot API emulator, on PostgreSQL and SQLite."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from bot.matching.engine import Matcher
from bot.tg.app import build_application
from bot.tg.runner import run_telegram
from db import chatlocks
from db import chats as chats_db
from db.models import Delivery, utcnow
from db.tables.delivery import SEND, SERVE
from tests.pg import pg_server, pg_url  # noqa: F401
from tests.tg.conftest import (
    ANN,
    KOMID,
    FixedApp,
    World,
    alert_id_of,
    alert_messages,
    make_settings,
)
from tests.tgemu import Emulator

CHATS = [7001 + n for n in range(12)]
WAVES = 6
TEXTS = [f"{KOMID} The payment was number {n} in the series." for n in range(WAVES)]


@contextlib.asynccontextmanager
async def deliverer(world: World) -> AsyncIterator[Any]:
    """One delivery worker (``--role deliver``): its own Application, limiter and lock holder."""
    application = build_application(world.app, world.settings)
    stop = asyncio.Event()
    task = asyncio.create_task(
        run_telegram(
            world.app, world.settings, stop, receive=False, deliver=True, application=application
        )
    )
    try:
        yield application
    finally:
        stop.set()
        await asyncio.wait_for(task, 40)


def make_world(tmp: Path, emu: Emulator, matcher: Matcher, url: str) -> World:
    settings = make_settings(tmp, emu, database_url=url)
    app = FixedApp.open(settings)
    assert isinstance(app, FixedApp)
    app.fixed = matcher
    for chat in CHATS:
        emu.add_chat(chat)
    emu.add_chat(ANN["id"])
    return World(emu, settings, app, tmp)


@pytest.fixture
def pg_world(
    tmp_path: Path,
    tg_emulator: Emulator,
    rules_matcher: Matcher,
    pg_url: str,  # noqa: F811
) -> Iterator[World]:
    world = make_world(tmp_path, tg_emulator, rules_matcher, pg_url)
    yield world
    world.app.engine.dispose()


def subscribe_all(world: World, chats: list[int]) -> None:
    for chat in chats:
        world.emu.add_chat(chat)
        world.call(chats_db.subscribe, tg_chat_id=chat, by="test")


@pytest.mark.postgres
async def test_two_workers_send_every_message_once_and_in_order(pg_world: World) -> None:
    world = pg_world
    subscribe_all(world, CHATS)
    expected: list[int] = []
    async with deliverer(world) as first, deliverer(world) as second:
        for text in TEXTS:  # waves, so that both workers find chats to take
            expected += world.publish(text)
            await asyncio.sleep(0.15)
        await world.until(
            lambda: all(len(alert_messages(world.emu, c)) >= len(expected) for c in CHATS), 30
        )
        await asyncio.sleep(0.5)  # a duplicate would arrive now
        sent = [world.deps(a).worker.stats["sent"] for a in (first, second)]  # type: ignore[union-attr]
    assert len(expected) == WAVES
    for chat in CHATS:
        ids = [alert_id_of(m) for m in alert_messages(world.emu, chat)]
        assert ids == sorted(expected), (chat, ids)  # once each, in the order they came
    assert sum(sent) == len(CHATS) * WAVES, sent
    assert all(r.status == "sent" for r in world.deliveries())
    with_locks = world.call(chatlocks.holders, kind=SERVE, now=utcnow())
    assert with_locks == {}  # a worker that stops lets go of its chats


async def test_a_chat_served_elsewhere_waits_for_its_lock_to_run_out(world: World) -> None:
    subscribe_all(world, CHATS[:2])
    [taken, free] = [world.chat(c) for c in CHATS[:2]]
    assert taken is not None and free is not None and taken.id is not None
    world.call(
        chatlocks.take,
        kind=SERVE,
        holder="another-worker",
        chat_pks=[taken.id],
        now=utcnow() - timedelta(seconds=4),
        lease_s=5,  # runs out in a second
    )
    async with deliverer(world):
        [alert_id] = world.publish(KOMID)
        await world.until(lambda: alert_messages(world.emu, CHATS[1]), 10)
        assert alert_messages(world.emu, CHATS[0]) == []  # another worker serves it
        [message] = await world.until(lambda: alert_messages(world.emu, CHATS[0]), 10)
    assert alert_id_of(message) == alert_id


async def test_a_reply_waits_while_another_process_has_an_alert_in_flight(world: World) -> None:
    world.call(chats_db.subscribe, tg_chat_id=ANN["id"], by="test")
    chat = world.chat(ANN["id"])
    assert chat is not None and chat.id is not None
    world.call(
        chatlocks.take,
        kind=SEND,
        holder="deliverer-elsewhere",
        chat_pks=[chat.id],
        now=utcnow(),
        lease_s=30,
    )
    async with world.bot():
        before = len(world.emu.messages(ANN["id"]))
        world.emu.send_command(ANN["id"], ANN, "/help")
        await asyncio.sleep(1.0)
        assert len(world.emu.messages(ANN["id"])) == before  # held back
        world.call(chatlocks.release, kind=SEND, holder="deliverer-elsewhere")
        await world.emu.wait_for_messages(ANN["id"], before + 1, timeout=10)
        await world.until(lambda: world.call(chatlocks.holders, kind=SEND, now=utcnow()) == {})


async def test_a_row_in_flight_under_a_live_send_lock_is_not_reconciled(world: World) -> None:
    """A starting worker resolves rows left "sending" only where no one holds the chat's send
    lock: a live worker renews it while its request is out, and probing then (and sending
    again) would duplicate the message it is about to create."""
    subscribe_all(world, [ANN["id"]])
    world.publish(KOMID)
    [row] = world.deliveries(ANN["id"])
    chat = world.chat(ANN["id"])
    assert chat is not None and chat.id is not None
    world.call(
        lambda session: session.execute(
            update(Delivery)
            .where(Delivery.id == row.id)
            .values(status="sending", claimed_at=utcnow(), probe_after=0, attempts=1)
        )
    )
    world.call(
        chatlocks.take, kind=SEND, holder="live", chat_pks=[chat.id], now=utcnow(), lease_s=30
    )
    async with deliverer(world):
        await asyncio.sleep(1.5)
    assert world.deliveries(ANN["id"])[0].status == "sending"
    touched = [c for c in world.emu.calls() if str(c["params"].get("chat_id")) == str(ANN["id"])]
    assert touched == []  # neither probed nor sent
    world.call(chatlocks.release, kind=SEND, holder="live")  # the "live" worker died after all
    async with deliverer(world):
        [message] = await world.until(lambda: alert_messages(world.emu, ANN["id"]), 10)
    assert world.deliveries(ANN["id"])[0].status == "sent"
    assert alert_id_of(message) == row.alert_id


async def test_a_hung_send_is_looked_for_by_whichever_worker_sends_it_next(world: World) -> None:
    """A send that got no answer and was not found goes back to pending with its
    ``probe_after`` kept: the next worker to send it (another process, which never saw the
    hang) looks for it first, and finds it if Telegram carried the request out late."""
    subscribe_all(world, [ANN["id"]])
    async with deliverer(world):
        world.publish(KOMID)
        [message] = await world.until(lambda: alert_messages(world.emu, ANN["id"]), 10)
    [row] = world.deliveries(ANN["id"])
    # as the hung worker left it: the request was carried out, but too late for its probe
    world.call(
        lambda session: session.execute(
            update(Delivery)
            .where(Delivery.id == row.id)
            .values(status="pending", message_id=None, probe_after=message["message_id"] - 1)
        )
    )
    async with deliverer(world):
        await world.until(lambda: world.deliveries(ANN["id"])[0].status == "sent", 10)
    assert world.deliveries(ANN["id"])[0].message_id == message["message_id"]
    assert len(alert_messages(world.emu, ANN["id"])) == 1
