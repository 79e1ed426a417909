"""PostgreSQL restarted under a running ``sanctions-bot run``: nothing lost, nothing repeated.

A real ``run`` process (scheduler, pipeline, Telegram bot and delivery worker in one) works
against its own PostgreSQL server, a loopback wire whose stories appear over time, and the
Bot API emulator with two subscribed chats. The server is stopped as an operator's restart
stops it (``pg_ctl stop -m fast``: every connection cut) while two messages are on their way
(Telegram has them, its answers are slow), a story is published while it is down, and it is
started again on the same port. Afterwards every story has exactly one alert, each alert
reached each chat exactly once (read from the emulator) in one attempt, every outbox row says
``sent``; the process stayed up, said once that the database was unreachable and once that it
was back, and wrote no traceback.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.world import (
    assert_reported_clearly,
    delivered,
    prepare_database,
    run_env,
    start_run,
    stored,
    tail,
    wait_for,
    wire,
)
from tests.pg import PgServer, start_or_skip
from tests.tgemu import Emulator

pytestmark = [pytest.mark.postgres, pytest.mark.emulator]

CHATS = [5101, 5102]


@pytest.fixture
def own_server() -> Iterator[PgServer]:
    """A PostgreSQL server of this test's own: restarting the session's would cut every other
    test's connections."""
    server = start_or_skip()
    try:
        yield server
    finally:
        server.stop()


def test_postgres_restarted_mid_run_loses_and_repeats_nothing(
    tmp_path: Path, own_server: PgServer, tg_emulator: Emulator
) -> None:
    url = own_server.url(own_server.create_database())
    for chat in CHATS:
        tg_emulator.add_chat(chat)
    log = tmp_path / "run.log"
    with wire() as news:
        prepare_database(url, news, CHATS, tmp_path)
        news.publish(1)
        process = start_run(tmp_path, run_env(tmp_path, url, tg_emulator.base_url), seconds=150)
        try:

            def each_chat_has(count: int) -> bool:
                return all(len(delivered(tg_emulator, chat)) >= count for chat in CHATS)

            wait_for(lambda: each_chat_has(1), 40, process, log)
            # Story 2's messages reach the chats, but Telegram's answers take 3 s: the server
            # goes down meanwhile, so the bot learns the message ids with nowhere to write them.
            tg_emulator.inject("sendMessage", delay=3.0, after=True, times=len(CHATS))
            news.publish(2)
            wait_for(lambda: each_chat_has(2), 30, process, log)
            own_server.halt()
            news.publish(3)  # appears while the database is down
            time.sleep(6)  # the answers arrive; polls and delivery passes fail meanwhile
            assert process.poll() is None, tail(log)
            own_server.resume()
            news.publish(4)
            wait_for(lambda: each_chat_has(4), 60, process, log)
            time.sleep(1.0)  # time enough for a second copy, were one on its way
            process.send_signal(signal.SIGINT)
            code = process.wait(60)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    assert code == 0, tail(log)
    alerts, rows = stored(url)
    assert sorted(rule for _, rule in alerts) == ["un-dprk-arms"] * 4, alerts  # one per story
    ids = sorted(alert_id for alert_id, _ in alerts)
    for chat in CHATS:
        assert sorted(delivered(tg_emulator, chat)) == ids, chat  # each once, none missing
    assert [(status, attempts) for *_, status, attempts in rows] == [("sent", 1)] * 8, rows
    # refused at the port, or the connection in use cut by the server's fast shutdown
    assert_reported_clearly(
        log.read_text(errors="replace"), "port", "terminating connection due to administrator"
    )
